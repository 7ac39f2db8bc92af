#include "common.h"
#include "base64.h"
#include "builtin.h"
#include "clickhouse.h"
#include "config.h"
#include "escape.h"
#include "http-client.h"
#include "log.h"
#include "logs-clickhouse.h"
#include "logs-sink.h"
#include "migrations.h"
#include "output.h"
#include "parse-options.h"
#include "redact.h"
#include "timeutil.h"
#include "token.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

/* Bytes of lines per POST: well under logs.max_body's default. */
#define INGEST_BATCH (1 << 20)
#define INGEST_TIMEOUT 300
#define FOLLOW_INTERVAL_MS 1000
#define PASSWORD_BYTES 24

static const char *const logs_serve_usage[] = {
	"nimbus logs serve [--listen HOST:PORT] [--log-format text|json]",
	NULL,
};

static const char *const logs_ingest_usage[] = {
	"nimbus logs ingest --job JOB --token-file FILE [--seq N] [--stream stdout|stderr] "
	"[--timeout SECONDS] [--json]",
	NULL,
};

static const char *const logs_query_usage[] = {
	"nimbus logs query --token-file FILE [--org ORG] [--repo OWNER/NAME] [--job JOB] "
	"[--since TIME] [--until TIME] [--grep TEXT] [--limit N] [--follow] [--json]",
	NULL,
};

static const char *const logs_schema_usage[] = {
	"nimbus logs schema [--clickhouse]",
	"nimbus logs schema --row-policy [--password-dir DIR] ORG...",
	"nimbus logs schema --per-org-databases ORG...",
	NULL,
};

static const char *const logs_migrate_usage[] = {
	"nimbus logs migrate",
	"nimbus logs migrate --per-org-databases [--password-dir DIR] ORG...",
	NULL,
};

static const char *const logs_prune_usage[] = {
	"nimbus logs prune [--before TIME] [--json]",
	NULL,
};

static int logs_serve(int argc, const char **argv)
{
	return serve_main(argc, argv, logs_serve_usage, "logs");
}

/* A token from a file (or stdin for "-"), registered for redaction. */
static void read_token_file(struct strbuf *sb, const char *path)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;

	if (fd < 0)
		die_code(errno == ENOENT ? EXIT_NOTFOUND : EXIT_FAIL, "cannot open %s: %s", path,
			 strerror(errno));
	if (strbuf_read_fd(sb, fd, TOKEN_MAX_LEN + 1024) < 0)
		die_errno("cannot read the token from %s", path);
	if (fd)
		close(fd);
	strbuf_trim(sb);
	if (!sb->len)
		die_code(EXIT_REJECTED, "%s holds no token", path);
	redact_register_mem(sb->buf, sb->len);
}

/* The client side of the service: its URL, and Authorization with the token. */
struct service {
	struct http_client *http;
	struct strbuf url;
	struct strvec headers;
};

static void service_open(struct service *svc, const char *token_file)
{
	struct strbuf token = STRBUF_INIT;

	read_token_file(&token, token_file);
	svc->http = http_client_new();
	strbuf_init(&svc->url, 0);
	strbuf_addstr(&svc->url, cfg_str("logs.url"));
	strbuf_rtrim(&svc->url);
	while (ends_with(svc->url.buf, "/"))
		strbuf_setlen(&svc->url, svc->url.len - 1);
	strbuf_addstr(&svc->url, "/logs?");
	svc->headers = (struct strvec)STRVEC_INIT;
	strvec_pushf(&svc->headers, "Authorization: Bearer %s", token.buf);
	strbuf_release_secret(&token);
}

static void service_close(struct service *svc)
{
	http_client_free(svc->http);
	strbuf_release(&svc->url);
	strvec_clear_secret(&svc->headers);
}

static void add_param(struct strbuf *url, const char *name, const char *value)
{
	if (!value)
		return;
	if (!ends_with(url->buf, "?"))
		strbuf_addch(url, '&');
	strbuf_addf(url, "%s=", name);
	strbuf_add_urlencoded(url, value, strlen(value));
}

/* A reply other than 200: its message, and the exit code its status stands for. */
static int reply_failed(const struct http_client_response *resp)
{
	json_t *doc = json_loadb(resp->body.buf, resp->body.len, 0, NULL);
	const char *msg = NULL;
	int rc;

	json_unpack(doc, "{s:[{s:s}]}", "errors", "message", &msg);
	rc = fail(http_status_exit_code(resp->status), "the log service answered %ld: %s", resp->status,
		  msg ? msg : "no message");
	json_decref(doc);
	return rc;
}

/* Milliseconds to wait before trying again: Retry-After's, or the backoff. */
static int64_t retry_delay_ms(const struct http_client_response *resp, int64_t backoff_ms)
{
	const char *v = http_client_response_header(resp, "Retry-After");
	int64_t secs;

	if (v && !parse_i64(v, 0, 3600, &secs))
		return secs * 1000;
	return backoff_ms;
}

/* POST one body of lines, again and again while the service is unavailable. */
static int ingest_post(struct service *svc, const char *job, const char *stream, int64_t seq,
		       const char *body, size_t len, int64_t timeout_s, int64_t *next_seq)
{
	static const char *const type = "Content-Type: text/plain; charset=utf-8";
	struct strbuf url = STRBUF_INIT;
	struct strvec headers = STRVEC_INIT;
	int64_t deadline = mono_ms() + timeout_s * 1000, backoff = 100;
	json_t *doc = NULL;
	char n[24];
	int rc;

	xsnprintf(n, sizeof(n), "%" PRId64, seq);
	strbuf_addbuf(&url, &svc->url);
	add_param(&url, "job", job);
	add_param(&url, "seq", n);
	add_param(&url, "stream", stream);
	strvec_push(&headers, svc->headers.v[0]);
	strvec_push(&headers, type);
	for (;;) {
		struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
		struct http_client_request req = { .method = "POST", .url = url.buf, .headers = headers.v,
						   .body = body, .body_len = len };
		int64_t wait;

		rc = http_client_do(svc->http, &req, &resp);
		if (!rc && resp.status == 200) {
			json_int_t next;

			doc = json_loadb(resp.body.buf, resp.body.len, 0, NULL);
			if (json_unpack(doc, "{s:I}", "next_seq", &next))
				rc = fail(EXIT_FAIL, "the log service answered 200 without next_seq");
			else
				*next_seq = next;
		} else if (!rc) {
			rc = reply_failed(&resp);
		}
		wait = retry_delay_ms(&resp, backoff);
		http_client_response_release(&resp);
		if (fail_code(rc) != EXIT_UNAVAILABLE || mono_ms() + wait > deadline)
			break;
		log_debug("%s; trying again in %" PRId64 " ms", fail_message(), wait);
		sleep_ms(wait);
		backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
	}
	json_decref(doc);
	strvec_clear_secret(&headers);
	strbuf_release(&url);
	return rc;
}

/* Lines in a body as the service counts them: a last line may lack its newline. */
static int64_t count_lines(const char *s, size_t len)
{
	int64_t n = 0;

	for (const char *p = s, *end = s + len; (p = memchr(p, '\n', end - p)); p++)
		n++;
	return n + (len && s[len - 1] != '\n');
}

static int logs_ingest(int argc, const char **argv)
{
	const char *job = NULL, *token_file = NULL, *stream = "stdout";
	int64_t seq = 0, timeout = INGEST_TIMEOUT;
	const struct option options[] = {
		OPT_STRING(0, "job", &job, "JOB", "the job of the token"),
		OPT_STRING(0, "token-file", &token_file, "FILE", "the runner token"),
		OPT_INT(0, "seq", &seq, "N", "sequence number of the first line (default 0)", 0, LOG_SEQ_MAX),
		OPT_STRING(0, "stream", &stream, "stdout|stderr", "the stream of the lines"),
		OPT_SECONDS(0, "timeout", &timeout, "how long to retry while the service is unavailable",
			    0, 86400),
		OPT_JSON(),
		OPT_END(),
	};
	enum log_stream st;
	struct service svc;
	struct strbuf buf = STRBUF_INIT;
	int64_t lines = 0;
	bool eof = false;

	argc = parse_options(argc, argv, options, logs_ingest_usage, 0);
	if (argc)
		usage_msg(logs_ingest_usage, options, "too many arguments");
	if (!job || !token_file)
		usage_msg(logs_ingest_usage, options, "--job and --token-file are required");
	if (!token_word_valid(job, TOKEN_WORD_MAX))
		usage_msg(logs_ingest_usage, options, "--job wants 1 to %d printable characters",
			  TOKEN_WORD_MAX);
	if (log_stream_parse(stream, &st))
		usage_msg(logs_ingest_usage, options, "--stream wants stdout or stderr");
	if (!strcmp(token_file, "-"))
		usage_msg(logs_ingest_usage, options, "the lines come on stdin: --token-file must be a file");
	service_open(&svc, token_file);
	for (size_t want = INGEST_BATCH;;) {
		const char *nl;
		size_t cut;
		int64_t next = 0;
		int rc;

		while (!eof && buf.len < want) {
			ssize_t n;

			strbuf_grow(&buf, 65536);
			n = read(0, buf.buf + buf.len, 65536);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die_errno("cannot read the lines from standard input");
			eof = !n;
			strbuf_setlen(&buf, buf.len + n);
		}
		if (!buf.len)
			break;
		/* whole lines, a batch at most, unless one line is longer */
		nl = memrchr(buf.buf, '\n', buf.len < INGEST_BATCH ? buf.len : INGEST_BATCH);
		if (!nl && buf.len > INGEST_BATCH)
			nl = memchr(buf.buf + INGEST_BATCH, '\n', buf.len - INGEST_BATCH);
		if (!nl && !eof) {
			want = buf.len * 2;
			continue;
		}
		want = INGEST_BATCH;
		cut = nl ? (size_t)(nl - buf.buf) + 1 : buf.len;
		rc = ingest_post(&svc, job, stream, seq, buf.buf, cut, timeout, &next);
		if (rc)
			die_fail(rc);
		if (next != seq + count_lines(buf.buf, cut))
			die("the log service took %" PRId64 " lines of %" PRId64, next - seq,
			    count_lines(buf.buf, cut));
		lines += next - seq;
		seq = next;
		strbuf_remove(&buf, 0, cut);
	}
	service_close(&svc);
	strbuf_release(&buf);
	out_result(json_pack("{s:I, s:I}", "lines", (json_int_t)lines, "next_seq", (json_int_t)seq));
	return 0;
}

static void print_line(json_t *e)
{
	struct strbuf sb = STRBUF_INIT;
	const char *line = json_string_value(json_object_get(e, "line"));

	strbuf_addf(&sb, "%s %s %s %s ", json_string_value(json_object_get(e, "ts")),
		    json_string_value(json_object_get(e, "repo")),
		    json_string_value(json_object_get(e, "job")),
		    json_string_value(json_object_get(e, "stream")));
	strbuf_add_printable(&sb, line, json_string_length(json_object_get(e, "line")));
	out_textf("%s\n", sb.buf);
	if (out_stream(json_incref(e)) < 0)
		die_errno("write error on stdout");
	strbuf_release(&sb);
}

/* One page of the query at base: its lines printed, the cursor after them, whether more wait. */
static int query_page(struct service *svc, const char *base, int64_t limit, struct strbuf *cursor,
		      bool *more, int64_t *printed)
{
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	struct strbuf url = STRBUF_INIT;
	char n[24];
	json_t *doc = NULL, *lines, *next, *e;
	size_t i;
	int rc, has_more;

	xsnprintf(n, sizeof(n), "%" PRId64, limit);
	strbuf_addstr(&url, base);
	add_param(&url, "limit", n);
	add_param(&url, "after", cursor->len ? cursor->buf : NULL);
	rc = http_client_do(svc->http, &(struct http_client_request){ .url = url.buf,
		.headers = svc->headers.v, .max_body = 256 << 20 }, &resp);
	if (!rc && resp.status != 200)
		rc = reply_failed(&resp);
	if (!rc) {
		doc = json_loadb(resp.body.buf, resp.body.len, 0, NULL);
		if (json_unpack(doc, "{s:o, s:o, s:b}", "lines", &lines, "cursor", &next, "more", &has_more) ||
		    !json_is_array(lines) || !(json_is_string(next) || json_is_null(next)))
			rc = fail(EXIT_FAIL, "the log service answered 200 with something else than lines");
	}
	if (!rc) {
		json_array_foreach(lines, i, e)
			print_line(e);
		*printed += json_array_size(lines);
		*more = has_more;
		strbuf_reset(cursor);
		if (json_is_string(next))
			strbuf_addstr(cursor, json_string_value(next));
	}
	json_decref(doc);
	http_client_response_release(&resp);
	strbuf_release(&url);
	return rc;
}

static void check_time(const char *name, const char *v, const char *const *usage,
		       const struct option *opts)
{
	int64_t t;

	if (v && parse_rfc3339(v, &t))
		usage_msg(usage, opts, "%s wants an RFC 3339 time (2026-11-28T22:06:12Z)", name);
}

static int logs_query(int argc, const char **argv)
{
	const char *token_file = NULL, *org = NULL, *repo = NULL, *job = NULL, *since = NULL,
		   *until = NULL, *grep = NULL;
	int64_t limit = 0;
	int follow = 0;
	const struct option options[] = {
		OPT_STRING(0, "token-file", &token_file, "FILE", "a token with pull:ORG (- for stdin)"),
		OPT_STRING(0, "org", &org, "ORG", "the org, when the token may pull from several"),
		OPT_STRING(0, "repo", &repo, "OWNER/NAME", "lines of this repository"),
		OPT_STRING(0, "job", &job, "JOB", "lines of this job"),
		OPT_STRING(0, "since", &since, "TIME", "lines at TIME or later (RFC 3339)"),
		OPT_STRING(0, "until", &until, "TIME", "lines before TIME (RFC 3339)"),
		OPT_STRING(0, "grep", &grep, "TEXT", "lines that contain TEXT"),
		OPT_INT(0, "limit", &limit, "N", "print N lines at most", 1, INT64_MAX),
		OPT_BOOL(0, "follow", &follow, "wait for more lines, and print them as they come"),
		OPT_JSON(),
		OPT_END(),
	};
	struct strbuf base = STRBUF_INIT, cursor = STRBUF_INIT;
	struct service svc;
	int64_t printed = 0;

	argc = parse_options(argc, argv, options, logs_query_usage, 0);
	if (argc)
		usage_msg(logs_query_usage, options, "too many arguments");
	if (!token_file)
		usage_msg(logs_query_usage, options, "--token-file is required");
	check_time("--since", since, logs_query_usage, options);
	check_time("--until", until, logs_query_usage, options);
	if (follow && limit)
		usage_msg(logs_query_usage, options, "--follow and --limit do not go together");
	service_open(&svc, token_file);
	strbuf_addbuf(&base, &svc.url);
	add_param(&base, "org", org);
	add_param(&base, "repo", repo);
	add_param(&base, "job", job);
	add_param(&base, "since", since);
	add_param(&base, "until", until);
	add_param(&base, "grep", grep);
	for (;;) {
		int64_t page = limit && limit - printed < LOG_QUERY_LIMIT_MAX ? limit - printed :
			       LOG_QUERY_LIMIT_MAX;
		bool more = false;
		int rc = query_page(&svc, base.buf, page, &cursor, &more, &printed);

		if (rc)
			die_fail(rc);
		if (limit && printed >= limit)
			break;
		if (more)
			continue;
		if (!follow)
			break;
		sleep_ms(FOLLOW_INTERVAL_MS);
	}
	service_close(&svc);
	strbuf_release(&base);
	strbuf_release(&cursor);
	return 0;
}

/* The SQL of the store's logs migration for a driver ("sqlite", "postgres"). */
static const char *store_schema(const char *driver)
{
	for (const struct migration *m = migrations; m->driver; m++)
		if (!strcmp(m->driver, driver) && !strcmp(m->name, "logs"))
			return m->sql;
	BUG("no logs migration for %s", driver);
}

static void check_orgs(int argc, const char **argv, const char *const *usage, const struct option *opts)
{
	if (!argc)
		usage_msg(usage, opts, "which orgs? (ORG...)");
	for (int i = 0; i < argc; i++)
		if (!org_id_valid(argv[i], strlen(argv[i])))
			usage_msg(usage, opts, "'%s' is not an org id ([a-z0-9][a-z0-9-]{0,38})", argv[i]);
}

/* --password-dir, or its default in core.state_dir. */
static const char *password_dir(const char *opt, struct strbuf *sb)
{
	if (opt)
		return opt;
	strbuf_addf(sb, "%s/logs-passwords", cfg_str("core.state_dir"));
	return sb->buf;
}

/*
 * The password of user, kept in DIR/USER.password (0600; made on first
 * use), as the hex SHA-256 that ClickHouse wants to be told.
 */
static void password_hash(const char *dir, const char *user, char hex[2 * 32 + 1])
{
	struct strbuf path = STRBUF_INIT, pw = STRBUF_INIT;
	unsigned char md[32], raw[PASSWORD_BYTES];
	struct stat st;
	int rc = mkdir_parents(dir), fd;

	if (rc)
		die_fail(rc);
	strbuf_addf(&path, "%s/%s.password", dir, user);
	fd = open(path.buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			die_code(EXIT_FAIL, "%s is not a regular file", path.buf);
		if (st.st_mode & 077)
			die_code(EXIT_PERM, "%s is open to group or others (mode %04o); chmod 600 it",
				 path.buf, (unsigned)st.st_mode & 07777);
		if (strbuf_read_fd(&pw, fd, 1024) < 0)
			die_errno("cannot read %s", path.buf);
		close(fd);
		strbuf_trim(&pw);
	} else if (errno == ENOENT) {
		if (RAND_bytes(raw, sizeof(raw)) != 1)
			die("no randomness for a password");
		base64url_encode(&pw, raw, sizeof(raw));
		OPENSSL_cleanse(raw, sizeof(raw));
		fd = open(path.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || write_in_full(fd, pw.buf, pw.len) < 0 || write_in_full(fd, "\n", 1) < 0 ||
		    fsync(fd) < 0 || close(fd) < 0)
			die_errno("cannot write %s", path.buf);
	} else {
		die_errno("cannot open %s", path.buf);
	}
	if (!pw.len)
		die_code(EXIT_CONFIG, "%s is empty", path.buf);
	redact_register(pw.buf);
	if (!EVP_Digest(pw.buf, pw.len, md, NULL, EVP_sha256(), NULL))
		die("cannot hash a password");
	for (int i = 0; i < 32; i++)
		xsnprintf(hex + 2 * i, 3, "%02x", md[i]);
	strbuf_release_secret(&pw);
	strbuf_release(&path);
}

static int logs_schema(int argc, const char **argv)
{
	int clickhouse = 0, row_policy = 0, per_org = 0;
	const char *pw_opt = NULL, *pw_dir, *db;
	const struct option options[] = {
		OPT_BOOL(0, "clickhouse", &clickhouse, "ClickHouse's schema, not the store's"),
		OPT_BOOL(0, "row-policy", &row_policy, "row policies and a readonly user per org"),
		OPT_BOOL(0, "per-org-databases", &per_org, "a database per org, copied by a view"),
		OPT_STRING(0, "password-dir", &pw_opt, "DIR", "the users' passwords, one file each"),
		OPT_END(),
	};
	struct strvec stmts = STRVEC_INIT;
	struct strbuf out = STRBUF_INIT, pw_sb = STRBUF_INIT;

	argc = parse_options(argc, argv, options, logs_schema_usage, 0);
	if (row_policy + per_org > 1 || ((row_policy || per_org) && clickhouse))
		usage_msg(logs_schema_usage, options, "--clickhouse, --row-policy and --per-org-databases "
			  "do not go together");
	if (pw_opt && !row_policy)
		usage_msg(logs_schema_usage, options, "--password-dir goes with --row-policy");
	if (row_policy || per_org)
		check_orgs(argc, argv, logs_schema_usage, options);
	else if (argc)
		usage_msg(logs_schema_usage, options, "too many arguments");
	pw_dir = password_dir(pw_opt, &pw_sb);
	db = cfg_str("logs.clickhouse_database");
	for (int i = 0; i < argc; i++) {
		struct strbuf user = STRBUF_INIT;
		char hash[2 * 32 + 1];

		if (per_org) {
			logs_ch_per_org(&stmts, db, argv[i]);
			continue;
		}
		logs_ch_org_name(&user, db, argv[i]);
		password_hash(pw_dir, user.buf, hash);
		logs_ch_row_policy(&stmts, db, argv[i], hash);
		strbuf_release(&user);
	}
	if (clickhouse) {
		logs_ch_schema(&stmts, db, cfg_int("logs.retention_days"), true);
		/* 18.16 has no TTL: the ALTER is for later versions, prune drops months on older ones */
		for (size_t i = 0; i + 1 < stmts.nr; i++)
			strbuf_addf(&out, "%s;\n", stmts.v[i]);
		strbuf_addf(&out, "-- ClickHouse %d.%d and later (nimbus logs migrate runs it there):\n-- %s;\n",
			    LOGS_CH_TTL_VERSION / 1000, LOGS_CH_TTL_VERSION % 1000, stmts.v[stmts.nr - 1]);
	} else if (row_policy || per_org) {
		for (size_t i = 0; i < stmts.nr; i++)
			strbuf_addf(&out, "%s;\n", stmts.v[i]);
	} else {
		strbuf_addstr(&out, store_schema(starts_with(cfg_str("store.url"), "sqlite:") ? "sqlite" :
						 "postgres"));
	}
	out_textf("%s", out.buf);
	out_result(xjson_string(out.buf));
	strbuf_release(&out);
	strbuf_release(&pw_sb);
	strvec_clear(&stmts);
	return 0;
}

/* The per-org databases on the server, as org ids. */
static void per_org_databases(struct clickhouse *ch, struct strvec *orgs)
{
	struct strbuf sql = STRBUF_INIT, out = STRBUF_INIT, prefix = STRBUF_INIT;
	struct strvec names = STRVEC_INIT;
	int rc;

	logs_ch_org_name(&prefix, clickhouse_database(ch), "");
	strbuf_addstr(&sql, "SELECT name FROM system.databases WHERE startsWith(name, ");
	clickhouse_quote(&sql, prefix.buf, prefix.len);
	strbuf_addstr(&sql, ") ORDER BY name FORMAT TabSeparated");
	rc = clickhouse_exec(ch, CLICKHOUSE_READONLY, sql.buf, NULL, 0, &out);
	if (rc)
		die_fail(rc);
	strvec_split(&names, out.buf, '\n');
	for (size_t i = 0; i < names.nr; i++) {
		/* org ids have no '_': each one in a name was a '-' */
		char *org = xstrdup(names.v[i] + prefix.len);

		for (char *p = org; *p; p++)
			if (*p == '_')
				*p = '-';
		if (org_id_valid(org, strlen(org)))
			strvec_push(orgs, org);
		free(org);
	}
	strvec_clear(&names);
	strbuf_release(&sql);
	strbuf_release(&out);
	strbuf_release(&prefix);
}

/* Apply the per-org statements, then print users.d/nimbus-logs.xml for every per-org database. */
static void migrate_per_org(int argc, const char **argv, const char *password_dir)
{
	struct strvec stmts = STRVEC_INIT, orgs = STRVEC_INIT, hashes = STRVEC_INIT;
	struct strbuf xml = STRBUF_INIT, user = STRBUF_INIT;
	struct clickhouse *ch;
	int rc = clickhouse_open(&ch);

	if (!rc)
		rc = logs_ch_migrate(ch, cfg_int("logs.retention_days"));
	for (int i = 0; i < argc && !rc; i++)
		logs_ch_per_org(&stmts, clickhouse_database(ch), argv[i]);
	for (size_t i = 0; i < stmts.nr && !rc; i++)
		rc = clickhouse_exec(ch, 0, stmts.v[i], NULL, 0, NULL);
	if (rc)
		die_fail(rc);
	per_org_databases(ch, &orgs);
	for (size_t i = 0; i < orgs.nr; i++) {
		char hash[2 * 32 + 1];

		strbuf_reset(&user);
		logs_ch_org_name(&user, clickhouse_database(ch), orgs.v[i]);
		password_hash(password_dir, user.buf, hash);
		strvec_push(&hashes, hash);
	}
	logs_ch_users_xml(&xml, clickhouse_database(ch), orgs.v, hashes.v, orgs.nr);
	out_textf("%s", xml.buf);
	out_result(xjson_string(xml.buf));
	clickhouse_close(ch);
	strbuf_release(&xml);
	strbuf_release(&user);
	strvec_clear(&stmts);
	strvec_clear(&orgs);
	strvec_clear(&hashes);
}

static int logs_migrate(int argc, const char **argv)
{
	int per_org = 0;
	const char *pw_opt = NULL;
	const struct option options[] = {
		OPT_BOOL(0, "per-org-databases", &per_org, "also a database per org, copied by a view"),
		OPT_STRING(0, "password-dir", &pw_opt, "DIR", "the users' passwords, one file each"),
		OPT_END(),
	};
	struct log_sink *sink;
	int rc;

	argc = parse_options(argc, argv, options, logs_migrate_usage, 0);
	if (pw_opt && !per_org)
		usage_msg(logs_migrate_usage, options, "--password-dir goes with --per-org-databases");
	if (per_org) {
		struct strbuf pw_sb = STRBUF_INIT;

		check_orgs(argc, argv, logs_migrate_usage, options);
		migrate_per_org(argc, argv, password_dir(pw_opt, &pw_sb));
		strbuf_release(&pw_sb);
		return 0;
	}
	if (argc)
		usage_msg(logs_migrate_usage, options, "too many arguments");
	rc = log_sink_open(&sink);
	if (!rc)
		rc = log_sink_migrate(sink);
	if (rc)
		die_fail(rc);
	log_info("the %s schema of the logs is up to date", log_sink_name(sink));
	log_sink_close(sink);
	return 0;
}

static int logs_prune(int argc, const char **argv)
{
	const char *before_arg = NULL;
	const struct option options[] = {
		OPT_STRING(0, "before", &before_arg, "TIME",
			   "delete lines older than TIME (default: logs.retention_days ago)"),
		OPT_JSON(),
		OPT_END(),
	};
	struct log_sink *sink;
	int64_t before, deleted;
	int rc;

	argc = parse_options(argc, argv, options, logs_prune_usage, 0);
	if (argc)
		usage_msg(logs_prune_usage, options, "too many arguments");
	check_time("--before", before_arg, logs_prune_usage, options);
	if (before_arg)
		parse_rfc3339(before_arg, &before);
	else
		before = now_ms() / 1000 - cfg_int("logs.retention_days") * 86400;
	rc = log_sink_open(&sink);
	if (!rc)
		rc = log_sink_prune(sink, before, &deleted);
	if (rc)
		die_fail(rc);
	out_result(json_pack("{s:s, s:o, s:I}", "sink", log_sink_name(sink), "before",
			     xjson_time(before), "deleted", (json_int_t)deleted));
	log_sink_close(sink);
	return 0;
}

static const struct subcommand logs_subcommands[] = {
	{ "ingest", logs_ingest, logs_ingest_usage, "send lines from stdin with a runner token" },
	{ "migrate", logs_migrate, logs_migrate_usage, "create or update the logs tables" },
	{ "prune", logs_prune, logs_prune_usage, "delete lines older than the retention" },
	{ "query", logs_query, logs_query_usage, "print an org's lines, page by page or as they come" },
	{ "schema", logs_schema, logs_schema_usage, "print the logs tables and access statements" },
	{ "serve", logs_serve, logs_serve_usage, "run the log service alone" },
	{ NULL },
};

int cmd_logs(int argc, const char **argv)
{
	return run_subcommand(argc, argv, logs_subcommands);
}
