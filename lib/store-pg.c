#include "common.h"
#include "config.h"
#include "log.h"
#include "parse-num.h"
#include "redact.h"
#include "store-internal.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>

/*
 * The PostgreSQL driver. Statements are prepared once per connection
 * and then cost one round trip each. Times are timestamptz from the
 * server's clock: statement_timestamp() where one statement compares
 * and writes (it is one value for the whole statement).
 */

/* pg_advisory_xact_lock key of schema migrations ("nimbus" in ASCII). */
#define SCHEMA_LOCK_KEY "121399085790579"
/* statement_timestamp(): one value for the whole statement. */
#define PG_NOW_US "(extract(epoch FROM statement_timestamp()) * 1000000)::bigint"

struct pg_store {
	struct store base;
	PGconn *conn;
	/* Statement "sN" is prepared[N]; the pointer is the cache key. */
	const char **prepared;
	size_t prepared_nr, prepared_alloc;
};

static struct pg_store *pg(struct store *st)
{
	return (struct pg_store *)st;
}

/* libpq's messages span lines (a hint on the next); ours do not. */
static void add_one_line(struct strbuf *sb, const char *msg)
{
	size_t start = sb->len;

	strbuf_addstr(sb, msg);
	for (size_t i = start; i < sb->len; i++)
		if (sb->buf[i] == '\n' || sb->buf[i] == '\t')
			sb->buf[i] = ' ';
	strbuf_rtrim(sb);
}

static int fail_conn(int code, const char *what, const char *url, PGconn *conn)
{
	struct strbuf sb = STRBUF_INIT;
	int rc;

	add_one_line(&sb, PQerrorMessage(conn));
	rc = fail(code, "%s %s: %s", what, url, sb.buf);
	strbuf_release(&sb);
	return rc;
}

static void notice(void *arg UNUSED, const char *msg)
{
	struct strbuf sb = STRBUF_INIT;

	add_one_line(&sb, msg);
	log_debug("postgres: %s", sb.buf);
	strbuf_release(&sb);
}

/* A failed statement: the exit code follows the SQLSTATE class. */
static int pg_fail(struct pg_store *p, PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	int code = EXIT_FAIL;

	if (PQstatus(p->conn) == CONNECTION_BAD || !state)
		return fail_conn(EXIT_UNAVAILABLE, "lost the connection to", p->base.url, p->conn);
	if (starts_with(state, "08") || starts_with(state, "57P") || !strcmp(state, "57014"))
		code = EXIT_UNAVAILABLE;	/* connection, shutdown, statement timeout */
	else if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03"))
		code = EXIT_BUSY;		/* serialisation, deadlock, lock timeout */
	return fail(code, "postgres: %s (SQLSTATE %s)", msg ? msg : "error", state);
}

/*
 * A connection lost between transactions (a server restart) is opened
 * again; one lost inside a transaction took the transaction with it.
 */
static int pg_ensure_connected(struct pg_store *p)
{
	if (PQstatus(p->conn) == CONNECTION_OK)
		return 0;
	if (p->base.in_tx)
		return fail_conn(EXIT_UNAVAILABLE, "lost the connection to", p->base.url, p->conn);
	PQreset(p->conn);
	p->prepared_nr = 0;
	if (PQstatus(p->conn) != CONNECTION_OK)
		return fail_conn(EXIT_UNAVAILABLE, "cannot connect to", p->base.url, p->conn);
	return 0;
}

static bool pg_ok(const PGresult *res)
{
	return PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
}

/* For results nobody reads: 0 or -code. */
static int pg_check(struct pg_store *p, PGresult *res)
{
	int rc = pg_ok(res) ? 0 : pg_fail(p, res);

	PQclear(res);
	return rc;
}

/* Run a statement with text parameters, preparing it on first use. */
static int pg_query(struct pg_store *p, const char *sql, int nparams, const char *const *params,
		    PGresult **out)
{
	char name[32];
	size_t i;
	PGresult *res;
	int rc = pg_ensure_connected(p);

	if (rc)
		return rc;
	for (i = 0; i < p->prepared_nr && p->prepared[i] != sql; i++)
		;
	xsnprintf(name, sizeof(name), "s%zu", i);
	if (i == p->prepared_nr) {
		rc = pg_check(p, PQprepare(p->conn, name, sql, nparams, NULL));
		if (rc)
			return rc;
		ALLOC_GROW(p->prepared, p->prepared_nr + 1, p->prepared_alloc);
		p->prepared[p->prepared_nr++] = sql;
	}
	res = PQexecPrepared(p->conn, name, nparams, params, NULL, NULL, 0);
	if (!out || !pg_ok(res))
		return pg_check(p, res);
	*out = res;
	return 0;
}

/* A statement that returns one integer (0 when it returns no row). */
static int pg_query_int64(struct pg_store *p, const char *sql, int nparams, const char *const *params,
		    int64_t *out)
{
	PGresult *res;
	int rc = pg_query(p, sql, nparams, params, &res);

	if (rc)
		return rc;
	*out = 0;
	if (PQntuples(res) && parse_i64(PQgetvalue(res, 0, 0), INT64_MIN, INT64_MAX, out))
		rc = fail(EXIT_FAIL, "postgres: '%s' is not an integer", PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

static int pg_exec(struct store *st, const char *sql)
{
	struct pg_store *p = pg(st);
	int rc = pg_ensure_connected(p);

	return rc ? rc : pg_check(p, PQexec(p->conn, sql));
}

static void pg_rollback(struct store *st)
{
	struct pg_store *p = pg(st);

	if (PQstatus(p->conn) == CONNECTION_OK)
		PQclear(PQexec(p->conn, "ROLLBACK"));
}

static void pg_close(struct store *st)
{
	struct pg_store *p = pg(st);

	PQfinish(p->conn);
	free(p->prepared);
	free(p);
}

static int pg_now_ms(struct store *st, int64_t *ms)
{
	static const char sql[] = "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint";

	return pg_query_int64(pg(st), sql, 0, NULL, ms);
}

static int pg_version(struct store *st, int *version)
{
	/*
	 * Not to_regclass(): it takes no lock, so inside the migration
	 * transaction it could miss a table another migrator has just created.
	 */
	static const char exists_sql[] =
		"SELECT count(*) FROM pg_catalog.pg_tables "
		"WHERE schemaname = current_schema() AND tablename = 'schema_migrations'";
	static const char max_sql[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";
	struct pg_store *p = pg(st);
	int64_t v;
	int rc = pg_query_int64(p, exists_sql, 0, NULL, &v);

	if (!rc && v)
		rc = pg_query_int64(p, max_sql, 0, NULL, &v);
	if (!rc)
		*version = v;
	return rc;
}

/* Held until the transaction ends; concurrent migrators wait here. */
static int pg_lock_schema(struct store *st)
{
	static const char sql[] = "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ")";

	return pg_query(pg(st), sql, 0, NULL, NULL);
}

static int pg_record_migration(struct store *st, int version, const char *name)
{
	static const char sql[] = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)";
	char v[16];

	xsnprintf(v, sizeof(v), "%d", version);
	return pg_query(pg(st), sql, 2, (const char *[]){ v, name }, NULL);
}

static int pg_kv_claim(struct store *st, const char *key, int64_t ttl)
{
	static const char sql[] =
		"INSERT INTO kv_claims AS c (key, expires_at) "
		"VALUES ($1, statement_timestamp() + $2 * interval '1 second') "
		"ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at "
		"WHERE c.expires_at <= statement_timestamp()";
	PGresult *res;
	char t[24];
	int rc;

	xsnprintf(t, sizeof(t), "%" PRId64, ttl);
	rc = pg_query(pg(st), sql, 2, (const char *[]){ key, t }, &res);
	if (rc)
		return rc;
	rc = !strcmp(PQcmdTuples(res), "1");
	PQclear(res);
	return rc;
}

static int pg_kv_incr(struct store *st, const char *key, int64_t delta, int64_t ttl, int64_t *value)
{
	static const char sql[] =
		"INSERT INTO kv_counters AS c (key, value, expires_at) "
		"VALUES ($1, $2, statement_timestamp() + $3 * interval '1 second') "
		"ON CONFLICT (key) DO UPDATE SET "
		"value = CASE WHEN c.expires_at <= statement_timestamp() "
		"THEN excluded.value ELSE c.value + excluded.value END, "
		"expires_at = CASE WHEN c.expires_at <= statement_timestamp() "
		"THEN excluded.expires_at ELSE c.expires_at END "
		"RETURNING value";
	char d[24], t[24];

	xsnprintf(d, sizeof(d), "%" PRId64, delta);
	xsnprintf(t, sizeof(t), "%" PRId64, ttl);
	return pg_query_int64(pg(st), sql, 3, (const char *[]){ key, d, t }, value);
}

/* SKIP LOCKED: concurrent sweepers share the work instead of queueing. */
static int pg_kv_sweep(struct store *st, int limit)
{
	static const char sql[] =
		"WITH a AS (DELETE FROM kv_claims WHERE key IN (SELECT key FROM kv_claims "
		"WHERE expires_at <= statement_timestamp() LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING 1), "
		"b AS (DELETE FROM kv_counters WHERE key IN (SELECT key FROM kv_counters "
		"WHERE expires_at <= statement_timestamp() LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING 1), "
		"c AS (DELETE FROM kv_buckets WHERE key IN (SELECT key FROM kv_buckets "
		"WHERE tat <= " PG_NOW_US " LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING 1) "
		"SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b) + (SELECT count(*) FROM c)";
	char l[16];
	int64_t n;
	int rc;

	xsnprintf(l, sizeof(l), "%d", limit);
	rc = pg_query_int64(pg(st), sql, 1, (const char *[]){ l }, &n);
	return rc ? rc : (int)n;
}

/* As sq_kv_gcra(): take in one statement, read only to say how far ahead. */
static int pg_kv_gcra(struct store *st, const char *key, int64_t interval, int64_t tau,
		      int64_t cost, int64_t *ahead)
{
	static const char take_sql[] =
		"INSERT INTO kv_buckets AS b (key, tat) VALUES ($1, " PG_NOW_US " + $2::bigint * $4::bigint) "
		"ON CONFLICT (key) DO UPDATE SET "
		"tat = greatest(b.tat, " PG_NOW_US ") + $2::bigint * $4::bigint "
		"WHERE greatest(b.tat, " PG_NOW_US ") + $2::bigint * $4::bigint - $3::bigint <= " PG_NOW_US
		" RETURNING tat - " PG_NOW_US;
	static const char peek_sql[] = "SELECT tat - " PG_NOW_US " FROM kv_buckets WHERE key = $1";
	struct pg_store *p = pg(st);
	char i[24], t[24], c[24];
	PGresult *res;
	int rc;

	if (cost) {
		xsnprintf(i, sizeof(i), "%" PRId64, interval);
		xsnprintf(t, sizeof(t), "%" PRId64, tau);
		xsnprintf(c, sizeof(c), "%" PRId64, cost);
		rc = pg_query(p, take_sql, 4, (const char *[]){ key, i, t, c }, &res);
		if (rc)
			return rc;
		rc = PQntuples(res) == 1;
		if (rc && parse_i64(PQgetvalue(res, 0, 0), INT64_MIN, INT64_MAX, ahead))
			rc = fail(EXIT_FAIL, "postgres: '%s' is not an integer", PQgetvalue(res, 0, 0));
		PQclear(res);
		if (rc)
			return rc;
	}
	rc = pg_query_int64(p, peek_sql, 1, (const char *[]){ key }, ahead);
	return rc ? rc : cost == 0;
}

/* A field of COPY's text format: backslash, tab and line ends escaped. */
static void copy_field(struct strbuf *sb, const char *s, size_t len, int end)
{
	for (size_t i = 0; i < len; i++) {
		size_t run = i;

		while (i < len && s[i] != '\\' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			i++;
		strbuf_add(sb, s + run, i - run);
		if (i == len)
			break;
		strbuf_addch(sb, '\\');
		strbuf_addch(sb, s[i] == '\t' ? 't' : s[i] == '\n' ? 'n' : s[i] == '\r' ? 'r' : '\\');
	}
	strbuf_addch(sb, end);
}

/* Wait for the end of a COPY: 0, or -code. */
static int copy_result(struct pg_store *p)
{
	PGresult *res;
	int rc = 0;

	while ((res = PQgetResult(p->conn))) {
		if (!rc && PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = pg_fail(p, res);
		PQclear(res);
	}
	return rc;
}

#define COPY_CHUNK (1 << 20)

/* The rows through COPY into a temporary table, then in with ON CONFLICT DO NOTHING. */
static int pg_copy_logs(struct pg_store *p, struct log_batch *const *batches, size_t nr)
{
	static const char copy_sql[] =
		"COPY logs_in (org_id, repo_id, job_id, seq, runner_id, ts, stream, line) FROM STDIN";
	struct strbuf buf = STRBUF_INIT;
	PGresult *res = PQexec(p->conn, copy_sql);
	bool sent = true;
	int rc;

	if (PQresultStatus(res) != PGRES_COPY_IN)
		return pg_check(p, res);
	PQclear(res);
	for (size_t i = 0; i < nr && sent; i++) {
		const struct log_batch *b = batches[i];

		for (size_t j = 0; j < b->nr && sent; j++) {
			const struct log_row *r = &b->rows[j];

			copy_field(&buf, b->id.org, strlen(b->id.org), '\t');
			copy_field(&buf, b->id.repo, strlen(b->id.repo), '\t');
			copy_field(&buf, b->id.job, strlen(b->id.job), '\t');
			strbuf_addf(&buf, "%" PRId64 "\t", r->seq);
			copy_field(&buf, b->id.runner, strlen(b->id.runner), '\t');
			strbuf_addf(&buf, "%" PRId64 "\t%d\t", r->ts, r->stream);
			copy_field(&buf, log_row_line(b, r), r->len, '\n');
			if (buf.len >= COPY_CHUNK) {
				sent = PQputCopyData(p->conn, buf.buf, buf.len) == 1;
				strbuf_reset(&buf);
			}
		}
	}
	if (sent && buf.len)
		sent = PQputCopyData(p->conn, buf.buf, buf.len) == 1;
	strbuf_release(&buf);
	if (PQputCopyEnd(p->conn, sent ? NULL : "aborted") != 1)
		sent = false;
	rc = copy_result(p);
	if (!rc && !sent)
		rc = fail_conn(EXIT_UNAVAILABLE, "lost the connection to", p->base.url, p->conn);
	return rc;
}

static int pg_logs_insert(struct store *st, struct log_batch *const *batches, size_t nr,
			  int64_t *added)
{
	static const char temp_sql[] =
		"CREATE TEMP TABLE IF NOT EXISTS logs_in (LIKE logs) ON COMMIT DELETE ROWS";
	static const char insert_sql[] = "INSERT INTO logs SELECT * FROM logs_in ON CONFLICT DO NOTHING";
	struct pg_store *p = pg(st);
	PGresult *res;
	int rc = pg_exec(st, temp_sql);

	if (!rc)
		rc = pg_copy_logs(p, batches, nr);
	if (rc)
		return rc;
	res = PQexec(p->conn, insert_sql);
	if (!pg_ok(res))
		return pg_check(p, res);
	if (parse_i64(PQcmdTuples(res), 0, INT64_MAX, added))
		rc = fail(EXIT_FAIL, "postgres: '%s' is not a row count", PQcmdTuples(res));
	PQclear(res);
	return rc;
}

/* As in store-sqlite.c: one statement per combination of the repo and job filters. */
#define PG_LOGS_SELECT \
	"SELECT repo_id, job_id, runner_id, ts, seq, stream, line FROM logs WHERE org_id = $1 " \
	"AND ts >= $2 AND ts < $3 AND ($4::text IS NULL OR strpos(line, $4) > 0) "
#define PG_LOGS_ORDER "ORDER BY ts, repo_id, job_id, seq "

static int pg_logs_query(struct store *st, const struct log_query *q, json_t *rows)
{
	static const char *const sql[] = {
		PG_LOGS_SELECT "AND (ts, repo_id, job_id, seq) > ($5, $6, $7, $8) " PG_LOGS_ORDER "LIMIT $9",
		PG_LOGS_SELECT "AND repo_id = $5 AND (ts, repo_id, job_id, seq) > ($6, $7, $8, $9) "
		PG_LOGS_ORDER "LIMIT $10",
		PG_LOGS_SELECT "AND job_id = $5 AND (ts, repo_id, job_id, seq) > ($6, $7, $8, $9) "
		PG_LOGS_ORDER "LIMIT $10",
		PG_LOGS_SELECT "AND repo_id = $5 AND job_id = $6 AND (ts, seq) > ($7, $8) "
		PG_LOGS_ORDER "LIMIT $9",
	};
	struct log_param p[LOG_QUERY_PARAMS_MAX];
	char ints[LOG_QUERY_PARAMS_MAX][24];
	const char *values[LOG_QUERY_PARAMS_MAX];
	int variant;
	size_t n = log_query_params(q, p, &variant);
	PGresult *res;
	int rc;

	for (size_t i = 0; i < n; i++) {
		values[i] = p[i].s;
		if (p[i].is_int) {
			xsnprintf(ints[i], sizeof(ints[i]), "%" PRId64, p[i].i);
			values[i] = ints[i];
		}
	}
	rc = pg_query(pg(st), sql[variant], n, values, &res);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t ts, seq, stream;

		if (parse_i64(PQgetvalue(res, i, 3), 0, LOG_TS_MAX, &ts) ||
		    parse_i64(PQgetvalue(res, i, 4), 0, LOG_SEQ_MAX, &seq) ||
		    parse_i64(PQgetvalue(res, i, 5), LOG_STREAM_STDOUT, LOG_STREAM_STDERR, &stream)) {
			rc = fail(EXIT_FAIL, "postgres: a log line with a bad ts, seq or stream");
			break;
		}
		json_array_append_new(rows, log_entry_json(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			PQgetvalue(res, i, 2), ts, seq, stream, PQgetvalue(res, i, 6),
			PQgetlength(res, i, 6)));
	}
	PQclear(res);
	return rc;
}

static int pg_logs_prune(struct store *st, int64_t before, int limit)
{
	static const char sql[] =
		"WITH d AS (DELETE FROM logs WHERE ctid = ANY(ARRAY(SELECT ctid FROM logs "
		"WHERE ts < $1 LIMIT $2)) RETURNING 1) SELECT count(*) FROM d";
	char b[24], l[16];
	int64_t n;
	int rc;

	xsnprintf(b, sizeof(b), "%" PRId64, before);
	xsnprintf(l, sizeof(l), "%d", limit);
	rc = pg_query_int64(pg(st), sql, 2, (const char *[]){ b, l }, &n);
	return rc ? rc : (int)n;
}

static const struct store_ops pg_ops = {
	.name = "postgres",
	.begin_sql = { "BEGIN READ ONLY", "BEGIN" },
	.close = pg_close,
	.exec = pg_exec,
	.rollback = pg_rollback,
	.now_ms = pg_now_ms,
	.version = pg_version,
	.lock_schema = pg_lock_schema,
	.record_migration = pg_record_migration,
	.kv_claim = pg_kv_claim,
	.kv_incr = pg_kv_incr,
	.kv_sweep = pg_kv_sweep,
	.kv_gcra = pg_kv_gcra,
	.logs_insert = pg_logs_insert,
	.logs_query = pg_logs_query,
	.logs_prune = pg_logs_prune,
};

/* PORT or PORT,PORT... for several hosts; an empty one is the default. */
static bool valid_ports(const char *v)
{
	struct strvec ports = STRVEC_INIT;
	int64_t n;
	bool ok = true;

	strvec_split(&ports, v, ',');
	for (size_t i = 0; i < ports.nr && ok; i++)
		ok = !parse_i64(ports.v[i], 1, 65535, &n);
	strvec_clear(&ports);
	return ok;
}

/*
 * Parse before connecting, to tell a bad URL (exit 7) from a server that
 * is down. libpq leaves the port to the connection: check it here.
 */
static int check_url(const char *url, const char *shown)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err);
	struct strbuf sb = STRBUF_INIT;
	int rc = 0;

	if (!opts) {
		/* libpq quotes the whole URL */
		add_one_line(&sb, err ? err : "out of memory");
		redact(&sb);
		rc = fail(EXIT_CONFIG, "bad PostgreSQL URL: %s", sb.buf);
		strbuf_release(&sb);
		PQfreemem(err);
		return rc;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (!strcmp(o->keyword, "password")) {
			redact_register(o->val); /* as decoded */
			OPENSSL_cleanse(o->val, strlen(o->val));
		} else if (!strcmp(o->keyword, "port") && !valid_ports(o->val)) {
			rc = fail(EXIT_CONFIG, "bad PostgreSQL URL %s: bad port (1-65535)", shown);
		}
	}
	PQconninfoFree(opts);
	return rc;
}

int store_pg_open(struct store **out, const char *url, const char *shown)
{
	/* dbname last: what the URL says wins over our defaults. */
	static const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	char timeout[24];
	struct pg_store *p;
	PGconn *conn;
	int rc = check_url(url, shown);

	if (rc)
		return rc;
	xsnprintf(timeout, sizeof(timeout), "%" PRId64, cfg_int("store.connect_timeout"));
	conn = PQconnectdbParams(keys, (const char *[]){ timeout, "nimbus", url, NULL }, 1);
	if (!conn)
		die("out of memory connecting to PostgreSQL");
	if (PQstatus(conn) != CONNECTION_OK) {
		rc = fail_conn(EXIT_UNAVAILABLE, "cannot connect to", shown, conn);
		PQfinish(conn);
		return rc;
	}
	PQsetNoticeProcessor(conn, notice, NULL);
	p = xcalloc(1, sizeof(*p));
	p->base.ops = &pg_ops;
	p->conn = conn;
	*out = &p->base;
	return 0;
}
