#include "common.h"
#include "config.h"
#include "log.h"
#include "logs-service.h"
#include "logs-sink.h"
#include "logs-spool.h"
#include "metrics.h"
#include "output.h"
#include "timeutil.h"
#include "token.h"

#include <pthread.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/*
 * A batch this big is stored as soon as its lines stop coming for
 * IDLE_MS, rather than at logs.flush_interval: still the thousand rows
 * or more per insert that ClickHouse asks for.
 */
#define IDLE_BATCH_BYTES (128 << 10)
#define IDLE_MS 50
/* A flusher that fell behind stores this many waiting segments in one insert: fewer parts to merge. */
#define FLUSH_SEGMENTS_MAX 4

static struct {
	struct token_verifier *verifier;
	struct log_spool *spool;
	pthread_t flusher;
	bool running;
	/* what 503 answers tell clients: seconds until the spool may have room */
	int64_t retry_after;
	/* sinks for queries, one per worker thread at most */
	pthread_mutex_t lock;
	struct log_sink **idle;
	size_t idle_nr, idle_alloc;
	struct metric *received, *stored, *sink_errors, *spool_bytes;
} svc = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void update_spool_gauge(void)
{
	metric_set(svc.spool_bytes, NULL, log_spool_bytes(svc.spool));
}

/* The claims of a valid token for the log service; false when answered (401). */
static bool authenticate(struct http_request *req, struct token_claims *c)
{
	const struct token_want want = { .aud = "logs" };
	const char *jwt = http_bearer(req);
	int rc;

	if (!jwt) {
		http_reply_header(req, "WWW-Authenticate", "Bearer realm=\"nimbus\"");
		http_reply_error(req, 401, "UNAUTHORIZED", "a token is required (Authorization: Bearer)");
		return false;
	}
	rc = token_verify(svc.verifier, jwt, strlen(jwt), &want, c);
	if (!rc)
		return true;
	if (fail_code(rc) != EXIT_REJECTED) {
		http_reply_fail(req, rc);
		return false;
	}
	http_reply_header(req, "WWW-Authenticate", "Bearer realm=\"nimbus\", error=\"invalid_token\"");
	http_reply_error(req, 401, "UNAUTHORIZED", "%s", fail_message());
	return false;
}

/* How many orgs the token grants action on (0, 1 or 2 for more); *org is the first. */
static int orgs_of(const struct token_claims *c, const char *action, const char **org)
{
	size_t n = strlen(action);
	int count = 0;

	*org = NULL;
	for (size_t i = 0; i < c->scopes.nr && count < 2; i++) {
		const char *s = c->scopes.v[i];

		if (strncmp(s, action, n) || s[n] != ':' || (*org && !strcmp(*org, s + n + 1)))
			continue;
		if (!*org)
			*org = s + n + 1;
		count++;
	}
	return count;
}

/* Who writes: the org of the push scope and the repo, job and runner claims. */
static int runner_ident(const struct token_claims *c, struct log_ident *id)
{
	if (orgs_of(c, "push", &id->org) != 1)
		return fail(EXIT_REJECTED, "the token must grant push on one org");
	id->repo = c->repo;
	id->job = c->job;
	id->runner = c->runner;
	if (!id->repo || !repo_valid(id->repo) || !id->job || !token_word_valid(id->job, TOKEN_WORD_MAX) ||
	    !id->runner || !token_word_valid(id->runner, TOKEN_WORD_MAX))
		return fail(EXIT_REJECTED, "not a runner token: it must name a repo, a job and a runner");
	return 0;
}

/* The query of a POST: org, repo, job and runner may only repeat the token's. */
static int post_params(struct http_request *req, struct log_post *p)
{
	static const char *const names[] = { "org", "repo", "job", "runner" };
	const char *want[] = { p->id.org, p->id.repo, p->id.job, p->id.runner };
	const char *v, *type = http_header(req, "Content-Type");

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		v = http_query(req, names[i]);
		if (v && strcmp(v, want[i]))
			return fail(EXIT_REJECTED, "%s: not the token's", names[i]);
	}
	p->seq = -1;
	v = http_query(req, "seq");
	if (v && parse_i64(v, 0, LOG_SEQ_MAX, &p->seq))
		return fail(EXIT_USAGE, "seq: want an integer >= 0");
	p->stream = LOG_STREAM_STDOUT;
	v = http_query(req, "stream");
	if (v && log_stream_parse(v, &p->stream))
		return fail(EXIT_USAGE, "stream: want stdout or stderr");
	p->ndjson = type && (starts_with(type, "application/x-ndjson") || starts_with(type, "application/jsonl"));
	p->now = now_ms() / 1000;
	return 0;
}

static void reply_unavailable(struct http_request *req, int rc)
{
	char secs[24];

	xsnprintf(secs, sizeof(secs), "%" PRId64, __atomic_load_n(&svc.retry_after, __ATOMIC_RELAXED));
	http_reply_header(req, "Retry-After", secs);
	http_reply_fail(req, rc);
}

/*
 * The sink's trouble is the service's, not the client's: 503 when it
 * is unavailable, else 500 (logged), whatever the sink's own code says.
 */
static void sink_failed(struct http_request *req, int rc)
{
	char *why;

	if (fail_code(rc) == EXIT_UNAVAILABLE) {
		reply_unavailable(req, rc);
		return;
	}
	why = xstrdup(fail_message());
	http_reply_fail(req, fail(EXIT_FAIL, "%s", why));
	free(why);
}

static void logs_post(struct http_request *req)
{
	struct token_claims c = TOKEN_CLAIMS_INIT;
	struct log_post post = { 0 };
	struct log_batch b = LOG_BATCH_INIT;
	struct strbuf rec = STRBUF_INIT;
	int rc;

	if (!authenticate(req, &c))
		return;
	rc = runner_ident(&c, &post.id);
	if (!rc)
		rc = post_params(req, &post);
	if (!rc)
		rc = log_parse(&post, req->body.buf, req->body.len, &b);
	if (!rc) {
		log_record_encode(&rec, &b);
		rc = log_spool_append(svc.spool, rec.buf, rec.len);
		update_spool_gauge();
	}
	if (rc && fail_code(rc) == EXIT_UNAVAILABLE) {
		reply_unavailable(req, rc);
	} else if (rc) {
		http_reply_fail(req, rc);
	} else {
		int64_t next = b.nr ? b.rows[b.nr - 1].seq + 1 : post.seq;

		metric_add(svc.received, NULL, b.nr);
		http_reply_json(req, 200, json_pack("{s:I, s:o}", "lines", (json_int_t)b.nr, "next_seq",
						    next >= 0 ? json_integer(next) : json_null()));
	}
	strbuf_release(&rec);
	log_batch_release(&b);
	token_claims_release(&c);
}

static struct log_sink *take_sink(int *rc)
{
	struct log_sink *s = NULL;

	pthread_mutex_lock(&svc.lock);
	if (svc.idle_nr)
		s = svc.idle[--svc.idle_nr];
	pthread_mutex_unlock(&svc.lock);
	*rc = s ? 0 : log_sink_open(&s);
	return s;
}

static void give_sink(struct log_sink *s)
{
	pthread_mutex_lock(&svc.lock);
	ALLOC_GROW(svc.idle, svc.idle_nr + 1, svc.idle_alloc);
	svc.idle[svc.idle_nr++] = s;
	pthread_mutex_unlock(&svc.lock);
}

/* The org a query reads: org=, or the only one the token may pull from. */
static int query_org(struct http_request *req, const struct token_claims *c, const char **org)
{
	const char *asked = http_query(req, "org");
	int n = orgs_of(c, "pull", org);

	if (asked)
		*org = asked;
	else if (n > 1)
		return fail(EXIT_USAGE, "org: the token may pull from several orgs; say which (org=)");
	if (!*org || !token_allows(c, "pull", *org))
		return fail(EXIT_REJECTED, "the token does not grant pull on that org");
	return 0;
}

/* Where the next page starts: after the last line, or where this one did. */
static json_t *cursor_after(const struct log_query *q, json_t *rows)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *last = json_array_get(rows, json_array_size(rows) - 1), *cur;
	int64_t ts;

	if (last && !parse_rfc3339(json_string_value(json_object_get(last, "ts")), &ts))
		log_cursor_encode(&sb, ts, json_integer_value(json_object_get(last, "seq")),
				  json_string_value(json_object_get(last, "repo")),
				  json_string_value(json_object_get(last, "job")));
	else if (q->after_ts >= 0)
		log_cursor_encode(&sb, q->after_ts, q->after_seq, q->after_repo, q->after_job);
	cur = sb.len ? xjson_string(sb.buf) : json_null();
	strbuf_release(&sb);
	return cur;
}

static void logs_get(struct http_request *req)
{
	static const char *const params[] = { "repo", "job", "grep", "since", "until", "limit", "after" };
	struct token_claims c = TOKEN_CLAIMS_INIT;
	struct log_query q = LOG_QUERY_INIT;
	struct log_sink *sink = NULL;
	json_t *rows = json_array();
	int rc;

	if (!authenticate(req, &c))
		goto out;
	rc = query_org(req, &c, &q.org);
	for (size_t i = 0; i < ARRAY_SIZE(params) && !rc; i++) {
		const char *v = http_query(req, params[i]);

		if (v)
			rc = log_query_param(&q, params[i], v);
	}
	if (rc) {
		http_reply_fail(req, rc);
		goto out;
	}
	sink = take_sink(&rc);
	if (!rc) {
		rc = log_sink_query(sink, &q, rows);
		give_sink(sink);
	}
	if (rc) {
		sink_failed(req, rc);
		goto out;
	}
	http_reply_json(req, 200, json_pack("{s:O, s:o, s:b}", "lines", rows, "cursor",
					    cursor_after(&q, rows), "more",
					    (int64_t)json_array_size(rows) == q.limit));
out:
	json_decref(rows);
	log_query_release(&q);
	token_claims_release(&c);
}

struct segments {
	struct strbuf *data;		/* the files, which the batches point into */
	struct log_batch **batches;
	size_t nr, alloc, batches_nr, batches_alloc;
};

/* Read a segment and decode its records; a torn tail is reported and dropped. */
static int read_segment(struct segments *segs, const char *path)
{
	struct strbuf *data;
	size_t off = 0;

	ALLOC_GROW(segs->data, segs->nr + 1, segs->alloc);
	data = &segs->data[segs->nr++];
	strbuf_init(data, 0);
	if (strbuf_read_file(data, path, SIZE_MAX) < 0)
		return fail_errno(EXIT_FAIL, "cannot read %s", path);
	while (off < data->len) {
		struct log_batch *b = xcalloc(1, sizeof(*b));
		size_t n = log_record_decode(data->buf + off, data->len - off, b);

		if (!n) {
			free(b);
			warning("%s: %zu bytes at %zu are not a whole record (torn by a crash?); dropped",
				path, data->len - off, off);
			break;
		}
		ALLOC_GROW(segs->batches, segs->batches_nr + 1, segs->batches_alloc);
		segs->batches[segs->batches_nr++] = b;
		off += n;
	}
	return 0;
}

/* Store the records of segments in one write. */
static int flush_segments(struct log_sink *sink, const struct strvec *paths, int64_t *lines)
{
	struct segments segs = { 0 };
	int64_t added;
	int rc = 0;

	for (size_t i = 0; i < paths->nr && !rc; i++)
		rc = read_segment(&segs, paths->v[i]);
	*lines = 0;
	for (size_t i = 0; i < segs.batches_nr; i++)
		*lines += segs.batches[i]->nr;
	if (!rc && segs.batches_nr)
		rc = log_sink_write(sink, segs.batches, segs.batches_nr, &added);
	for (size_t i = 0; i < segs.batches_nr; i++) {
		log_batch_release(segs.batches[i]);
		free(segs.batches[i]);
	}
	for (size_t i = 0; i < segs.nr; i++)
		strbuf_release(&segs.data[i]);
	free(segs.batches);
	free(segs.data);
	return rc;
}

/* The oldest sealed segment, and those waiting behind it, up to FLUSH_SEGMENTS_MAX. */
static bool next_segments(struct strvec *paths)
{
	struct strbuf path = STRBUF_INIT;
	bool running = log_spool_next(svc.spool, &path);

	strvec_clear(paths);
	if (running) {
		strvec_push(paths, path.buf);
		while (paths->nr < FLUSH_SEGMENTS_MAX && log_spool_sealed(svc.spool, paths->nr, &path))
			strvec_push(paths, path.buf);
	}
	strbuf_release(&path);
	return running;
}

/*
 * Sealed segments into the sink, oldest first. A failure keeps the
 * segments and waits, twice as long each time up to BACKOFF_MAX_MS; the
 * schema is brought up to date before the first write.
 */
static void *flusher(void *arg UNUSED)
{
	int64_t interval = cfg_int("logs.flush_interval"), backoff = 0, lines = 0;
	struct strvec paths = STRVEC_INIT;
	struct log_sink *sink = NULL;
	bool migrated;

	/* the schema now, for the queries; when the sink is down, before the first write */
	migrated = !log_sink_open(&sink) && !log_sink_migrate(sink);
	while (next_segments(&paths)) {
		int rc = sink ? 0 : log_sink_open(&sink);

		if (!rc && !migrated)
			migrated = !(rc = log_sink_migrate(sink));
		if (!rc)
			rc = flush_segments(sink, &paths, &lines);
		if (!rc) {
			for (size_t i = 0; i < paths.nr; i++)
				log_spool_remove(svc.spool, paths.v[i]);
			update_spool_gauge();
			metric_add(svc.stored, NULL, lines);
			if (backoff)
				log_kv(LOG_INFO, "log sink is back", "sink", cfg_str("logs.sink"), NULL);
			backoff = 0;
			__atomic_store_n(&svc.retry_after, interval, __ATOMIC_RELAXED);
			continue;
		}
		metric_add(svc.sink_errors, NULL, 1);
		if (!backoff)
			warning("cannot store log lines, retrying: %s", fail_message());
		else
			log_debug("cannot store log lines: %s", fail_message());
		backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2) : BACKOFF_MIN_MS;
		__atomic_store_n(&svc.retry_after, interval + (backoff + 999) / 1000, __ATOMIC_RELAXED);
		if (!log_spool_sleep(svc.spool, backoff))
			break;
	}
	log_sink_close(sink);
	strvec_clear(&paths);
	return NULL;
}

static const struct http_route logs_routes[] = {
	{ .path = "/logs", .methods = HTTP_GET, .name = "logs", .handler = logs_get },
	{ .path = "/logs", .methods = HTTP_POST, .name = "logs_post", .handler = logs_post },
};

int logs_service_init(struct http_server *srv)
{
	struct http_route routes[ARRAY_SIZE(logs_routes)];
	int64_t interval = cfg_int("logs.flush_interval");
	struct log_spool_limits limits;
	struct log_sink *sink;
	int rc;

	/* a bad configuration stops the service now; the store gets its schema */
	rc = log_sink_open(&sink);
	if (rc)
		return rc;
	give_sink(sink);
	limits.max_bytes = cfg_size("logs.spool_max");
	limits.segment_bytes = cfg_size("logs.batch_bytes");
	limits.interval_ms = interval * 1000;
	limits.idle_bytes = IDLE_BATCH_BYTES;
	limits.idle_ms = IDLE_MS;
	rc = log_spool_open(&svc.spool, cfg_str("logs.spool_dir"), &limits);
	if (rc)
		return rc;
	svc.verifier = token_verifier_new(cfg_str("keys.dir"));
	svc.retry_after = interval;
	svc.received = metric_counter("nimbus_logs_received_lines_total",
				      "Log lines accepted by POST /logs.", NULL);
	svc.stored = metric_counter("nimbus_logs_flushed_lines_total",
				    "Log lines moved from the spool to the sink (duplicates included).", NULL);
	svc.sink_errors = metric_counter("nimbus_logs_sink_errors_total",
					 "Failed attempts to store a spool segment.", NULL);
	svc.spool_bytes = metric_gauge("nimbus_logs_spool_bytes", "Bytes waiting in the log spool.", NULL);
	update_spool_gauge();
	if (pthread_create(&svc.flusher, NULL, flusher, NULL))
		die("cannot start the log flusher");
	svc.running = true;
	memcpy(routes, logs_routes, sizeof(routes));
	routes[1].max_body = cfg_size("logs.max_body");
	http_server_add_routes(srv, routes, ARRAY_SIZE(routes));
	return 0;
}

void logs_service_fini(void)
{
	if (svc.running) {
		log_spool_stop(svc.spool);
		pthread_join(svc.flusher, NULL);
		svc.running = false;
	}
	log_spool_close(svc.spool);
	svc.spool = NULL;
	for (size_t i = 0; i < svc.idle_nr; i++)
		log_sink_close(svc.idle[i]);
	free(svc.idle);
	svc.idle = NULL;
	svc.idle_nr = svc.idle_alloc = 0;
	token_verifier_free(svc.verifier);
	svc.verifier = NULL;
}
