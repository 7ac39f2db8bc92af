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
#define PG_NOW_MS "(extract(epoch FROM statement_timestamp()) * 1000)::bigint"

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

/* The first column of the first row as an integer: 1, 0 when there is no row, or -code. */
static int pg_row_int64(struct pg_store *p, const char *sql, int nparams, const char *const *params,
			int64_t *out)
{
	PGresult *res;
	int rc = pg_query(p, sql, nparams, params, &res);

	if (rc)
		return rc;
	*out = 0;
	rc = PQntuples(res) > 0;
	if (rc && parse_i64(PQgetvalue(res, 0, 0), INT64_MIN, INT64_MAX, out))
		rc = fail(EXIT_FAIL, "postgres: '%s' is not an integer", PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

/* A statement that returns one integer (0 when it returns no row). */
static int pg_query_int64(struct pg_store *p, const char *sql, int nparams, const char *const *params,
		    int64_t *out)
{
	int rc = pg_row_int64(p, sql, nparams, params, out);

	return rc < 0 ? rc : 0;
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

/* Writers of one org's entries queue here until the transaction ends. */
static int pg_cache_lock_org(struct pg_store *p, const char *org)
{
	static const char make_sql[] =
		"INSERT INTO cache_orgs (org, entries, bytes) VALUES ($1, 0, 0) ON CONFLICT (org) DO NOTHING";
	static const char lock_sql[] = "SELECT 1 FROM cache_orgs WHERE org = $1 FOR UPDATE";
	int rc = pg_query(p, make_sql, 1, (const char *[]){ org }, NULL);

	return rc ? rc : pg_query(p, lock_sql, 1, (const char *[]){ org }, NULL);
}

static int pg_cache_adjust(struct pg_store *p, const char *org, int64_t entries, int64_t bytes,
			   int64_t *org_bytes)
{
	static const char sql[] =
		"UPDATE cache_orgs SET entries = entries + $2, bytes = bytes + $3 WHERE org = $1 "
		"RETURNING bytes";
	char e[24], b[24];

	xsnprintf(e, sizeof(e), "%" PRId64, entries);
	xsnprintf(b, sizeof(b), "%" PRId64, bytes);
	return pg_query_int64(p, sql, 3, (const char *[]){ org, e, b }, org_bytes);
}

static int pg_cache_put(struct store *st, const char *org, const char *key, int64_t size,
			int64_t at_ms, int64_t *org_bytes)
{
	static const char old_sql[] = "SELECT size FROM cache_entries WHERE org = $1 AND key = $2";
	static const char put_sql[] =
		"INSERT INTO cache_entries (org, key, size, created_at, accessed_at) "
		"VALUES ($1, $2, $3, $4, $4) ON CONFLICT (org, key) DO UPDATE SET "
		"size = excluded.size, created_at = excluded.created_at, accessed_at = excluded.accessed_at";
	struct pg_store *p = pg(st);
	char sz[24], at[24];
	int64_t old;
	int found, rc = pg_cache_lock_org(p, org);

	if (rc)
		return rc;
	found = pg_row_int64(p, old_sql, 2, (const char *[]){ org, key }, &old);
	if (found < 0)
		return found;
	xsnprintf(sz, sizeof(sz), "%" PRId64, size);
	xsnprintf(at, sizeof(at), "%" PRId64, at_ms);
	rc = pg_query(p, put_sql, 4, (const char *[]){ org, key, sz, at }, NULL);
	return rc ? rc : pg_cache_adjust(p, org, found ? 0 : 1, size - old, org_bytes);
}

static int pg_cache_delete(struct store *st, const char *org, const char *key, int64_t *org_bytes)
{
	static const char sql[] = "DELETE FROM cache_entries WHERE org = $1 AND key = $2 RETURNING size";
	struct pg_store *p = pg(st);
	int64_t size;
	int found, rc = pg_cache_lock_org(p, org);

	if (rc)
		return rc;
	found = pg_row_int64(p, sql, 2, (const char *[]){ org, key }, &size);
	if (found < 0)
		return found;
	rc = pg_cache_adjust(p, org, -found, -size, org_bytes);
	return rc ? rc : found;
}

static int pg_cache_touch(struct store *st, const char *org, const char *key, int64_t at_ms)
{
	static const char sql[] =
		"UPDATE cache_entries SET accessed_at = $3 "
		"WHERE org = $1 AND key = $2 AND accessed_at < $3";
	char at[24];

	xsnprintf(at, sizeof(at), "%" PRId64, at_ms);
	return pg_query(pg(st), sql, 3, (const char *[]){ org, key, at }, NULL);
}

/* Hand each row (a text, two integers) of a statement to row(). */
static int pg_rows(struct pg_store *p, const char *sql, int nparams, const char *const *params,
		   store_row_fn *row, void *cls)
{
	PGresult *res;
	int rc = pg_query(p, sql, nparams, params, &res);

	if (rc)
		return rc;
	for (int i = 0; !rc && i < PQntuples(res); i++) {
		int64_t v[2];

		for (int j = 0; j < 2 && !rc; j++)
			if (parse_i64(PQgetvalue(res, i, j + 1), INT64_MIN, INT64_MAX, &v[j]))
				rc = fail(EXIT_FAIL, "postgres: '%s' is not an integer",
					  PQgetvalue(res, i, j + 1));
		if (!rc)
			row(cls, PQgetvalue(res, i, 0), v[0], v[1]);
	}
	PQclear(res);
	return rc;
}

static int pg_cache_list(struct store *st, const char *org, int64_t limit, store_row_fn *row,
			 void *cls)
{
	static const char sql[] =
		"SELECT key, size, accessed_at FROM cache_entries WHERE org = $1 "
		"ORDER BY accessed_at, key LIMIT $2";
	char l[24];

	xsnprintf(l, sizeof(l), "%" PRId64, limit);
	return pg_rows(pg(st), sql, 2, (const char *[]){ org, l }, row, cls);
}

static int pg_cache_orgs(struct store *st, store_row_fn *row, void *cls)
{
	static const char sql[] = "SELECT org, entries, bytes FROM cache_orgs ORDER BY org";

	return pg_rows(pg(st), sql, 0, NULL, row, cls);
}

/* The breaker row of a result; no row leaves row alone. */
static int pg_breaker_row(PGresult *res, struct kv_breaker_row *row)
{
	int64_t *cols[] = { &row->failures, &row->open_until, &row->probe_until, &row->now };

	if (!PQntuples(res))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(cols); i++)
		if (parse_i64(PQgetvalue(res, 0, i), INT64_MIN, INT64_MAX, cols[i]))
			return fail(EXIT_FAIL, "postgres: '%s' is not an integer", PQgetvalue(res, 0, i));
	return 1;
}

/* As sq_kv_breaker(): one statement decides, a read says why a probe may not go. */
static int pg_kv_breaker(struct store *st, const char *key, enum kv_breaker_op op,
			 int64_t threshold, int64_t open_ms, int64_t probe_ms,
			 struct kv_breaker_row *row)
{
	static const char peek_sql[] =
		"SELECT failures, open_until, probe_until, " PG_NOW_MS " FROM kv_breakers WHERE key = $1";
	static const char probe_sql[] =
		"UPDATE kv_breakers SET probe_until = " PG_NOW_MS " + $2::bigint "
		"WHERE key = $1 AND open_until <> 0 AND open_until <= " PG_NOW_MS
		" AND probe_until <= " PG_NOW_MS " "
		"RETURNING failures, open_until, probe_until, " PG_NOW_MS;
	static const char failure_sql[] =
		"INSERT INTO kv_breakers AS b (key, failures, open_until, probe_until) "
		"VALUES ($1, 1, CASE WHEN $2::bigint <= 1 THEN " PG_NOW_MS " + $3::bigint ELSE 0 END, 0) "
		"ON CONFLICT (key) DO UPDATE SET failures = b.failures + 1, "
		"open_until = CASE WHEN b.open_until <> 0 OR b.failures + 1 >= $2::bigint "
		"THEN " PG_NOW_MS " + $3::bigint ELSE 0 END, probe_until = 0 "
		"RETURNING failures, open_until, probe_until, " PG_NOW_MS;
	static const char delete_sql[] = "DELETE FROM kv_breakers WHERE key = $1";
	struct pg_store *p = pg(st);
	char a[24], b[24];
	PGresult *res = NULL;
	int rc, probed = 0;

	memset(row, 0, sizeof(*row));
	switch (op) {
	case KV_BREAKER_PROBE:
		xsnprintf(a, sizeof(a), "%" PRId64, probe_ms);
		rc = pg_query(p, probe_sql, 2, (const char *[]){ key, a }, &res);
		if (rc)
			return rc;
		rc = probed = pg_breaker_row(res, row);
		PQclear(res);
		if (rc)
			return rc;
		/* not let out: the read below says why */
		/* fall through */
	case KV_BREAKER_PEEK:
		rc = pg_query(p, peek_sql, 1, (const char *[]){ key }, &res);
		break;
	case KV_BREAKER_FAILURE:
		xsnprintf(a, sizeof(a), "%" PRId64, threshold);
		xsnprintf(b, sizeof(b), "%" PRId64, open_ms);
		rc = pg_query(p, failure_sql, 3, (const char *[]){ key, a, b }, &res);
		break;
	default:
		return pg_query(p, delete_sql, 1, (const char *[]){ key }, NULL);
	}
	if (rc)
		return rc;
	rc = pg_breaker_row(res, row);
	PQclear(res);
	return rc < 0 ? rc : probed;
}

/* A secret in a result is wiped before libpq frees it. */
static void pg_clear_secret(PGresult *res, int col)
{
	for (int i = 0; i < PQntuples(res); i++)
		OPENSSL_cleanse(PQgetvalue(res, i, col), PQgetlength(res, i, col));
	PQclear(res);
}

static int pg_github_token_get(struct store *st, int64_t installation, int64_t min_left_ms,
			       struct strbuf *token, int64_t *expires_ms)
{
	static const char sql[] =
		"SELECT token, (extract(epoch FROM expires_at) * 1000)::bigint FROM github_tokens "
		"WHERE installation_id = $1 "
		"AND expires_at > statement_timestamp() + $2::bigint * interval '1 millisecond'";
	char i[24], m[24];
	PGresult *res;
	int rc;

	xsnprintf(i, sizeof(i), "%" PRId64, installation);
	xsnprintf(m, sizeof(m), "%" PRId64, min_left_ms);
	rc = pg_query(pg(st), sql, 2, (const char *[]){ i, m }, &res);
	if (rc)
		return rc;
	if (PQntuples(res) == 1) {
		rc = 1;
		if (parse_i64(PQgetvalue(res, 0, 1), INT64_MIN, INT64_MAX, expires_ms))
			rc = fail(EXIT_FAIL, "postgres: '%s' is not an integer", PQgetvalue(res, 0, 1));
		else
			strbuf_add(token, PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0));
	}
	pg_clear_secret(res, 0);
	return rc;
}

static int pg_github_token_put(struct store *st, int64_t installation, const char *token,
			       int64_t expires_ms)
{
	static const char sql[] =
		"INSERT INTO github_tokens AS t (installation_id, token, expires_at) "
		"VALUES ($1, $2, to_timestamp($3::bigint / 1000.0)) "
		"ON CONFLICT (installation_id) DO UPDATE SET token = excluded.token, "
		"expires_at = excluded.expires_at WHERE excluded.expires_at >= t.expires_at";
	char i[24], e[24];

	xsnprintf(i, sizeof(i), "%" PRId64, installation);
	xsnprintf(e, sizeof(e), "%" PRId64, expires_ms);
	return pg_query(pg(st), sql, 3, (const char *[]){ i, token, e }, NULL);
}

static int pg_github_token_drop(struct store *st, int64_t installation, const char *token)
{
	static const char sql[] = "DELETE FROM github_tokens WHERE installation_id = $1 AND token = $2";
	char i[24];

	xsnprintf(i, sizeof(i), "%" PRId64, installation);
	return pg_query(pg(st), sql, 2, (const char *[]){ i, token }, NULL);
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
	.kv_breaker = pg_kv_breaker,
	.github_token_get = pg_github_token_get,
	.github_token_put = pg_github_token_put,
	.github_token_drop = pg_github_token_drop,
	.cache_put = pg_cache_put,
	.cache_delete = pg_cache_delete,
	.cache_touch = pg_cache_touch,
	.cache_list = pg_cache_list,
	.cache_orgs = pg_cache_orgs,
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
