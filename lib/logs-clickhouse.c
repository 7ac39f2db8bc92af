#include "common.h"
#include "escape.h"
#include "logs-clickhouse.h"
#include "parse-num.h"

#include <time.h>

#define COLUMNS "org_id, repo_id, job_id, runner_id, ts, seq, stream, line"
/* Groups of (org, repo, job) per duplicate check, well under max_query_size. */
#define CHECK_GROUPS 100

/*
 * SQL from a template: %I an identifier, %T the logs table of a
 * database, %Q a string literal (clickhouse_quote()), %d an int64_t, %s
 * text of our own; everything else as it is.
 */
static void sql_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (const char *p = fmt; *p; p++) {
		const char *s;

		if (*p != '%') {
			strbuf_addch(sb, *p);
			continue;
		}
		switch (*++p) {
		case 'I':
			clickhouse_quote_ident(sb, va_arg(ap, const char *));
			break;
		case 'T':
			clickhouse_quote_ident(sb, va_arg(ap, const char *));
			strbuf_addstr(sb, ".logs");
			break;
		case 'Q':
			s = va_arg(ap, const char *);
			clickhouse_quote(sb, s, strlen(s));
			break;
		case 'd':
			strbuf_addf(sb, "%" PRId64, va_arg(ap, int64_t));
			break;
		case 's':
			strbuf_addstr(sb, va_arg(ap, const char *));
			break;
		default:
			BUG("%%%c in an SQL template", *p);
		}
	}
	va_end(ap);
}

/* One statement of a template, for a list. */
#define sql_push(stmts, ...) \
	do { \
		struct strbuf stmt_ = STRBUF_INIT; \
		sql_addf(&stmt_, __VA_ARGS__); \
		strvec_push((stmts), stmt_.buf); \
		strbuf_release(&stmt_); \
	} while (0)

void logs_ch_schema(struct strvec *stmts, const char *db, int64_t retention_days, bool ttl)
{
	sql_push(stmts, "CREATE DATABASE IF NOT EXISTS %I", db);
	sql_push(stmts, "CREATE TABLE IF NOT EXISTS %T (\n"
		 "\torg_id String,\n"
		 "\trepo_id String,\n"
		 "\tjob_id String,\n"
		 "\trunner_id String,\n"
		 "\tts DateTime,\n"
		 "\tseq UInt64,\n"
		 "\tstream Enum8('stdout' = 1, 'stderr' = 2),\n"
		 "\tline String\n"
		 ") ENGINE = MergeTree\n"
		 "PARTITION BY toYYYYMM(ts)\n"
		 "ORDER BY (org_id, repo_id, job_id, ts, seq)", db);
	if (ttl)
		sql_push(stmts, "ALTER TABLE %T MODIFY TTL ts + INTERVAL %d DAY", db, retention_days);
}

static int exec_all(struct clickhouse *ch, const struct strvec *stmts)
{
	int rc = 0;

	for (size_t i = 0; i < stmts->nr && !rc; i++)
		rc = clickhouse_exec(ch, 0, stmts->v[i], NULL, 0, NULL);
	return rc;
}

int logs_ch_migrate(struct clickhouse *ch, int64_t retention_days)
{
	struct strvec stmts = STRVEC_INIT;
	int version, rc = clickhouse_version(ch, &version);

	if (!rc) {
		logs_ch_schema(&stmts, clickhouse_database(ch), retention_days,
			       version >= LOGS_CH_TTL_VERSION);
		rc = exec_all(ch, &stmts);
	}
	strvec_clear(&stmts);
	return rc;
}

/*
 * The lines of a write, by the job they belong to, with the range of
 * their seqs. The seqs seen of a group are bits from lo on, unless the
 * range is too sparse for that: then they go in the write's hash set.
 */
struct group {
	const struct log_ident *id;
	int64_t lo, hi;
	size_t rows;
	uint64_t *bits;
};

struct write {
	struct log_batch *const *batches;
	size_t nr;
	size_t *group_of;	/* per batch */
	struct group *groups;
	size_t groups_nr, groups_alloc;
	/* (group + 1, seq) pairs seen: open addressing, k 0 is a free slot */
	uint32_t *k;
	int64_t *seq;
	size_t cap, seen;
};

static bool same_job(const struct log_ident *a, const struct log_ident *b)
{
	return !strcmp(a->org, b->org) && !strcmp(a->repo, b->repo) && !strcmp(a->job, b->job);
}

static void group_batches(struct write *w)
{
	w->group_of = xcalloc(w->nr, sizeof(*w->group_of));
	for (size_t i = 0; i < w->nr; i++) {
		const struct log_batch *b = w->batches[i];
		size_t g;

		for (g = 0; g < w->groups_nr && !same_job(w->groups[g].id, &b->id); g++)
			;
		if (g == w->groups_nr) {
			ALLOC_GROW(w->groups, w->groups_nr + 1, w->groups_alloc);
			w->groups[g] = (struct group){ &b->id, LOG_SEQ_MAX, 0, 0, NULL };
			w->groups_nr++;
		}
		w->group_of[i] = g;
		w->groups[g].rows += b->nr;
		for (size_t j = 0; j < b->nr; j++) {
			if (b->rows[j].seq < w->groups[g].lo)
				w->groups[g].lo = b->rows[j].seq;
			if (b->rows[j].seq > w->groups[g].hi)
				w->groups[g].hi = b->rows[j].seq;
		}
	}
}

static size_t slot(const struct write *w, uint32_t k, int64_t seq)
{
	uint64_t h = (uint64_t)seq * 0x9e3779b97f4a7c15ULL ^ (uint64_t)k * 0xc2b2ae3d27d4eb4fULL;

	return (h ^ (h >> 31)) & (w->cap - 1);
}

static bool see_k(struct write *w, uint32_t k, int64_t seq);

/* Twice the room, kept at most half full. */
static void grow(struct write *w)
{
	uint32_t *k = w->k;
	int64_t *seq = w->seq;
	size_t cap = w->cap;

	w->cap = cap ? 2 * cap : 1024;
	w->k = xcalloc(w->cap, sizeof(*w->k));
	w->seq = xcalloc(w->cap, sizeof(*w->seq));
	w->seen = 0;
	for (size_t i = 0; i < cap; i++)
		if (k[i])
			see_k(w, k[i], seq[i]);
	free(k);
	free(seq);
}

static bool see_k(struct write *w, uint32_t k, int64_t seq)
{
	size_t i;

	if (2 * (w->seen + 1) > w->cap)
		grow(w);
	for (i = slot(w, k, seq); w->k[i]; i = (i + 1) & (w->cap - 1))
		if (w->k[i] == k && w->seq[i] == seq)
			return false;
	w->k[i] = k;
	w->seq[i] = seq;
	w->seen++;
	return true;
}

/* Bits for the groups whose seqs are dense enough (one in 64 or more): most are runs. */
static void make_bits(struct write *w)
{
	size_t hashed = 0;

	for (size_t g = 0; g < w->groups_nr; g++) {
		struct group *gr = &w->groups[g];
		uint64_t words = ((uint64_t)gr->hi - gr->lo) / 64 + 1;

		if (words <= gr->rows + 1024)
			gr->bits = xcalloc(words, sizeof(*gr->bits));
		else
			hashed += gr->rows;
	}
	while (hashed && w->cap < 4 * hashed)
		grow(w);
}

/* Remember (group, seq): false when it was seen before. */
static bool see(struct write *w, size_t group, int64_t seq)
{
	uint64_t *bits = w->groups[group].bits, off, bit;

	if (!bits)
		return see_k(w, group + 1, seq);
	off = (uint64_t)seq - w->groups[group].lo;
	bit = (uint64_t)1 << (off % 64);
	if (bits[off / 64] & bit)
		return false;
	bits[off / 64] |= bit;
	return true;
}

/* TSV lines "k\tseq": k is the 1-based index of the group in its chunk. */
static int see_stored(struct write *w, size_t first, const struct strbuf *tsv)
{
	const char *p = tsv->buf, *end = tsv->buf + tsv->len;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p), *tab;
		char line[48];
		int64_t k, seq;

		if (!nl || nl - p >= (ptrdiff_t)sizeof(line))
			return fail(EXIT_FAIL, "clickhouse: unexpected answer to the duplicate check");
		memcpy(line, p, nl - p);
		line[nl - p] = '\0';
		tab = strchr(line, '\t');
		if (!tab)
			return fail(EXIT_FAIL, "clickhouse: unexpected answer to the duplicate check");
		line[tab - line] = '\0';
		if (parse_i64(line, 1, CHECK_GROUPS, &k) || parse_i64(tab + 1, 0, LOG_SEQ_MAX, &seq) ||
		    first + k > w->groups_nr || seq < w->groups[first + k - 1].lo ||
		    seq > w->groups[first + k - 1].hi)
			return fail(EXIT_FAIL, "clickhouse: unexpected answer to the duplicate check");
		see(w, first + k - 1, seq);
		p = nl + 1;
	}
	return 0;
}

/* Which lines of the groups [first, first + n) the table holds already. */
static int check_stored(struct clickhouse *ch, struct write *w, size_t first, size_t n)
{
	struct strbuf sql = STRBUF_INIT, out = STRBUF_INIT;
	int rc;

	strbuf_addstr(&sql, "SELECT indexOf([");
	for (size_t g = first; g < first + n; g++) {
		const struct log_ident *id = w->groups[g].id;

		sql_addf(&sql, "%s(%Q, %Q, %Q)", g > first ? ", " : "", id->org, id->repo, id->job);
	}
	sql_addf(&sql, "], (org_id, repo_id, job_id)), seq FROM %T WHERE ", clickhouse_database(ch));
	for (size_t g = first; g < first + n; g++) {
		const struct group *gr = &w->groups[g];

		sql_addf(&sql, "%s(org_id = %Q AND repo_id = %Q AND job_id = %Q AND seq BETWEEN %d AND %d)",
			 g > first ? " OR " : "", gr->id->org, gr->id->repo, gr->id->job, gr->lo, gr->hi);
	}
	strbuf_addstr(&sql, " FORMAT TabSeparated");
	rc = clickhouse_exec(ch, CLICKHOUSE_READONLY, sql.buf, NULL, 0, &out);
	if (!rc)
		rc = see_stored(w, first, &out);
	strbuf_release(&sql);
	strbuf_release(&out);
	return rc;
}

static void add_u64(struct strbuf *sb, uint64_t v)
{
	char digits[20];
	int n = sizeof(digits);

	do
		digits[--n] = '0' + v % 10;
	while (v /= 10);
	strbuf_add(sb, digits + n, sizeof(digits) - n);
}

/*
 * The INSERT's body, JSONEachRow, made while it is sent so that
 * ClickHouse parses one part while the next is encoded. A batch's
 * identity is spelt once, in head.
 */
struct encoder {
	struct write *w;
	size_t i, j;		/* the next row: row j of batch i */
	struct strbuf head, buf;
	size_t sent;		/* bytes of buf */
	int64_t added;
};

static void start_batch(struct encoder *e)
{
	const struct log_ident *id = &e->w->batches[e->i]->id;

	strbuf_reset(&e->head);
	strbuf_addstr(&e->head, "{\"org_id\":");
	strbuf_add_json_string(&e->head, id->org, strlen(id->org));
	strbuf_addstr(&e->head, ",\"repo_id\":");
	strbuf_add_json_string(&e->head, id->repo, strlen(id->repo));
	strbuf_addstr(&e->head, ",\"job_id\":");
	strbuf_add_json_string(&e->head, id->job, strlen(id->job));
	strbuf_addstr(&e->head, ",\"runner_id\":");
	strbuf_add_json_string(&e->head, id->runner, strlen(id->runner));
	strbuf_addstr(&e->head, ",\"ts\":");
}

/* Encode rows not seen before until buf holds want bytes or none are left. */
static void encode(struct encoder *e, size_t want)
{
	struct write *w = e->w;

	for (; e->i < w->nr && e->buf.len < want; e->i++, e->j = 0) {
		const struct log_batch *b = w->batches[e->i];

		if (!e->j)
			start_batch(e);
		for (; e->j < b->nr && e->buf.len < want; e->j++) {
			const struct log_row *r = &b->rows[e->j];

			if (!see(w, w->group_of[e->i], r->seq))
				continue;
			strbuf_addbuf(&e->buf, &e->head);
			add_u64(&e->buf, r->ts);
			strbuf_addstr(&e->buf, ",\"seq\":");
			add_u64(&e->buf, r->seq);
			strbuf_addstr(&e->buf, r->stream == LOG_STREAM_STDERR ? ",\"stream\":\"stderr\",\"line\":" :
				      ",\"stream\":\"stdout\",\"line\":");
			strbuf_add_json_string(&e->buf, log_row_line(b, r), r->len);
			strbuf_addstr(&e->buf, "}\n");
			e->added++;
		}
		if (e->j < b->nr)
			break;
	}
}

static ssize_t encoder_read(void *ctx, char *out, size_t max)
{
	struct encoder *e = ctx;
	size_t n;

	if (e->sent == e->buf.len) {
		strbuf_reset(&e->buf);
		e->sent = 0;
		encode(e, max);
	}
	n = e->buf.len - e->sent < max ? e->buf.len - e->sent : max;
	memcpy(out, e->buf.buf + e->sent, n);
	e->sent += n;
	return n;
}

int logs_ch_write(struct clickhouse *ch, struct log_batch *const *batches, size_t nr, int64_t *added)
{
	struct write w = { .batches = batches, .nr = nr };
	struct encoder e = { .w = &w, .head = STRBUF_INIT, .buf = STRBUF_INIT };
	struct strbuf sql = STRBUF_INIT;
	size_t rows = 0;
	int rc = 0;

	*added = 0;
	for (size_t i = 0; i < nr; i++)
		rows += batches[i]->nr;
	if (!rows)
		return 0;
	group_batches(&w);
	make_bits(&w);
	for (size_t g = 0; g < w.groups_nr && !rc; g += CHECK_GROUPS)
		rc = check_stored(ch, &w, g, w.groups_nr - g < CHECK_GROUPS ? w.groups_nr - g : CHECK_GROUPS);
	/* nothing new, no INSERT */
	if (!rc)
		encode(&e, 1);
	if (!rc && e.buf.len) {
		sql_addf(&sql, "INSERT INTO %T (" COLUMNS ") FORMAT JSONEachRow", clickhouse_database(ch));
		rc = clickhouse_insert(ch, sql.buf, encoder_read, &e);
	}
	if (!rc)
		*added = e.added;
	for (size_t g = 0; g < w.groups_nr; g++)
		free(w.groups[g].bits);
	free(w.group_of);
	free(w.groups);
	free(w.k);
	free(w.seq);
	strbuf_release(&e.head);
	strbuf_release(&e.buf);
	strbuf_release(&sql);
	return rc;
}

/* A JSONEachRow line of the query's answer. */
static int add_entry(json_t *rows, const char *s, size_t len)
{
	const char *repo, *job, *runner, *stream, *line;
	json_int_t ts, seq;
	size_t line_len;
	enum log_stream st;
	json_t *doc = json_loadb(s, len, 0, NULL);
	int rc = 0;

	if (json_unpack(doc, "{s:s, s:s, s:s, s:I, s:I, s:s, s:s%}", "repo_id", &repo, "job_id", &job,
			"runner_id", &runner, "t", &ts, "seq", &seq, "stream", &stream,
			"line", &line, &line_len) || log_stream_parse(stream, &st))
		rc = fail(EXIT_FAIL, "clickhouse: unexpected line in a query's answer");
	else
		json_array_append_new(rows, log_entry_json(repo, job, runner, ts, seq, st, line, line_len));
	json_decref(doc);
	return rc;
}

int logs_ch_query(struct clickhouse *ch, const struct log_query *q, json_t *rows)
{
	struct strbuf sql = STRBUF_INIT, out = STRBUF_INIT;
	int rc;

	sql_addf(&sql, "SELECT repo_id, job_id, runner_id, toUInt32(ts) AS t, seq, stream, line "
		 "FROM %T WHERE org_id = %Q AND ts >= toDateTime(%d)", clickhouse_database(ch), q->org,
		 log_query_min_ts(q));
	if (q->repo)
		sql_addf(&sql, " AND repo_id = %Q", q->repo);
	if (q->job)
		sql_addf(&sql, " AND job_id = %Q", q->job);
	if (q->until <= LOG_TS_MAX)
		sql_addf(&sql, " AND ts < toDateTime(%d)", q->until);
	if (q->grep)
		sql_addf(&sql, " AND position(line, %Q) > 0", q->grep);
	if (q->after_ts >= 0 && q->repo && q->job) {
		int64_t ts, seq;

		/* in the terms of the primary key, to skip what comes before the page */
		log_query_job_cursor(q, &ts, &seq);
		if (seq < 0)
			sql_addf(&sql, " AND ts >= toDateTime(%d)", ts);
		else if (seq == LOG_SEQ_MAX)
			sql_addf(&sql, " AND ts > toDateTime(%d)", ts);
		else
			sql_addf(&sql, " AND (ts > toDateTime(%d) OR (ts = toDateTime(%d) AND seq > %d))",
				 ts, ts, seq);
	} else if (q->after_ts >= 0) {
		sql_addf(&sql, " AND (ts, repo_id, job_id, seq) > (toDateTime(%d), %Q, %Q, %d)", q->after_ts,
			 q->after_repo, q->after_job, q->after_seq);
	}
	sql_addf(&sql, " ORDER BY ts, repo_id, job_id, seq LIMIT %d FORMAT JSONEachRow", q->limit);
	rc = clickhouse_exec(ch, CLICKHOUSE_READONLY, sql.buf, NULL, 0, &out);
	for (const char *p = out.buf, *end = out.buf + out.len; !rc && p < end;) {
		const char *nl = memchr(p, '\n', end - p);

		if (!nl)
			nl = end;
		rc = add_entry(rows, p, nl - p);
		p = nl + 1;
	}
	strbuf_release(&sql);
	strbuf_release(&out);
	return rc;
}

/* YYYYMM of the month of secs, as toYYYYMM() names partitions. */
static int64_t month_of(int64_t secs)
{
	time_t t = secs;
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		BUG("no calendar date for %" PRId64, secs);
	return (tm.tm_year + 1900) * 100 + tm.tm_mon + 1;
}

static int drop_partition(struct clickhouse *ch, const char *db, int64_t month)
{
	struct strbuf sql = STRBUF_INIT;
	int rc;

	sql_addf(&sql, "ALTER TABLE %T DROP PARTITION %d", db, month);
	rc = clickhouse_exec(ch, 0, sql.buf, NULL, 0, NULL);
	strbuf_release(&sql);
	return rc;
}

int logs_ch_prune(struct clickhouse *ch, int64_t before, int64_t *deleted)
{
	struct strbuf sql = STRBUF_INIT, out = STRBUF_INIT, prefix = STRBUF_INIT;
	const char *db = clickhouse_database(ch);
	int64_t cutoff = month_of(before);
	int rc;

	*deleted = 0;
	logs_ch_org_name(&prefix, db, "");
	sql_addf(&sql, "SELECT database, partition, sum(rows) FROM system.parts WHERE active AND "
		 "table = 'logs' AND (database = %Q OR startsWith(database, %Q)) "
		 "GROUP BY database, partition ORDER BY database, partition FORMAT TabSeparated",
		 db, prefix.buf);
	rc = clickhouse_exec(ch, CLICKHOUSE_READONLY, sql.buf, NULL, 0, &out);
	for (char *line = out.buf, *nl; !rc && *line; line = nl + 1) {
		struct strvec f = STRVEC_INIT;
		int64_t month, n;

		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = '\0';
		strvec_split(&f, line, '\t');
		if (f.nr != 3 || !clickhouse_ident_valid(f.v[0]) || parse_i64(f.v[1], 0, 999999, &month) ||
		    parse_i64(f.v[2], 0, INT64_MAX, &n))
			rc = fail(EXIT_FAIL, "clickhouse: unexpected line in system.parts: %s", line);
		else if (month < cutoff && !(rc = drop_partition(ch, f.v[0], month)))
			*deleted += n;
		strvec_clear(&f);
	}
	strbuf_release(&sql);
	strbuf_release(&out);
	strbuf_release(&prefix);
	return rc;
}

void logs_ch_org_name(struct strbuf *sb, const char *db, const char *org)
{
	size_t at;

	strbuf_addf(sb, "%s_org_", db);
	at = sb->len;
	strbuf_addstr(sb, org);
	for (size_t i = at; i < sb->len; i++)
		if (sb->buf[i] == '-')
			sb->buf[i] = '_';
}

void logs_ch_row_policy(struct strvec *stmts, const char *db, const char *org, const char *hash)
{
	struct strbuf user = STRBUF_INIT;

	logs_ch_org_name(&user, db, org);
	sql_push(stmts, "CREATE USER IF NOT EXISTS %I IDENTIFIED WITH sha256_hash BY %Q SETTINGS readonly = 1",
		 user.buf, hash);
	sql_push(stmts, "GRANT SELECT ON %T TO %I", db, user.buf);
	sql_push(stmts, "CREATE ROW POLICY IF NOT EXISTS %I ON %T FOR SELECT USING org_id = %Q TO %I",
		 user.buf, db, org, user.buf);
	strbuf_release(&user);
}

void logs_ch_per_org(struct strvec *stmts, const char *db, const char *org)
{
	struct strbuf name = STRBUF_INIT;

	logs_ch_org_name(&name, db, org);
	sql_push(stmts, "CREATE DATABASE IF NOT EXISTS %I", name.buf);
	/* a line copied twice (it came during the copy below) is merged away */
	sql_push(stmts, "CREATE TABLE IF NOT EXISTS %T AS %T ENGINE = ReplacingMergeTree "
		 "PARTITION BY toYYYYMM(ts) ORDER BY (org_id, repo_id, job_id, seq)", name.buf, db);
	sql_push(stmts, "CREATE MATERIALIZED VIEW IF NOT EXISTS %I.logs_copy TO %T "
		 "AS SELECT * FROM %T WHERE org_id = %Q", name.buf, name.buf, db, org);
	/* the lines stored before the view existed */
	sql_push(stmts, "INSERT INTO %T SELECT * FROM %T WHERE org_id = %Q AND (repo_id, job_id, seq) "
		 "NOT IN (SELECT repo_id, job_id, seq FROM %T)", name.buf, db, org, name.buf);
	strbuf_release(&name);
}

void logs_ch_users_xml(struct strbuf *out, const char *db, const char *const *orgs,
		       const char *const *hashes, size_t nr)
{
	struct strbuf name = STRBUF_INIT;

	strbuf_addstr(out, "<?xml version=\"1.0\"?>\n"
		      "<!-- nimbus logs: one readonly user per org, limited to its org's database.\n"
		      "     Install as users.d/nimbus-logs.xml; ClickHouse reads it again by itself. -->\n"
		      "<yandex>\n"
		      "  <profiles>\n"
		      "    <nimbus_logs_readonly><readonly>1</readonly></nimbus_logs_readonly>\n"
		      "  </profiles>\n"
		      "  <users>\n");
	for (size_t i = 0; i < nr; i++) {
		strbuf_reset(&name);
		logs_ch_org_name(&name, db, orgs[i]);
		strbuf_addf(out, "    <%s>\n"
			    "      <password_sha256_hex>%s</password_sha256_hex>\n"
			    "      <networks><ip>::/0</ip></networks>\n"
			    "      <profile>nimbus_logs_readonly</profile>\n"
			    "      <quota>default</quota>\n"
			    "      <allow_databases><database>%s</database></allow_databases>\n"
			    "    </%s>\n", name.buf, hashes[i], name.buf, name.buf);
	}
	strbuf_addstr(out, "  </users>\n</yandex>\n");
	strbuf_release(&name);
}
