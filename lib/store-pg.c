#include "common.h"
#include "config.h"
#include "log.h"
#include "parse-num.h"
#include "redact.h"
#include "store-internal.h"
#include "timeutil.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <poll.h>

/*
 * The PostgreSQL driver. Statements are prepared once per connection
 * and then cost one round trip each. Times are timestamptz from the
 * server's clock: statement_timestamp() where one statement compares
 * and writes (it is one value for the whole statement).
 *
 * Nothing waits for the server without a deadline: connecting gives up
 * after the connect timeout, a statement after store.statement_timeout
 * (which the server also enforces), both sooner when the caller set a
 * deadline (store_set_deadline). libpq's blocking calls cannot be bounded
 * (a stopped server still has its kernel acknowledge our packets), so
 * the driver uses the asynchronous ones and polls the socket.
 */

/* pg_advisory_xact_lock key of schema migrations ("nimbus" in ASCII). */
#define SCHEMA_LOCK_KEY "121399085790579"
/* statement_timestamp(): one value for the whole statement. */
#define PG_NOW_US "(extract(epoch FROM statement_timestamp()) * 1000000)::bigint"
#define PG_NOW_MS "(extract(epoch FROM statement_timestamp()) * 1000)::bigint"

struct pg_store {
	struct store base;
	PGconn *conn;
	/* A wait gave up mid-statement: what the server does next is unknown. */
	bool broken;
	int64_t connect_ms, statement_ms;
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

/* The end of one wait: the timeout from now, or the caller's deadline if sooner. */
static int64_t pg_deadline(struct pg_store *p, int64_t timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;

	if (p->base.deadline_ms && p->base.deadline_ms < deadline)
		return p->base.deadline_ms;
	return deadline;
}

/* Wait until the socket is ready; false when the deadline came first. */
static bool pg_wait(PGconn *conn, bool for_write, int64_t deadline)
{
	struct pollfd pfd = { .fd = PQsocket(conn), .events = for_write ? POLLOUT : POLLIN };

	if (pfd.fd < 0)
		return true;	/* libpq has the error */
	for (;;) {
		int64_t left = deadline - mono_ms();
		int n;

		if (left <= 0)
			return false;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0 || (n < 0 && errno != EINTR))
			return true;
	}
}

/* Drive a connection started by PQconnectStartParams() or PQresetStart() to its end. */
static int pg_connect_poll(PGconn *conn, bool reset, const char *url, int64_t deadline)
{
	PostgresPollingStatusType ps = PGRES_POLLING_WRITING;

	while (ps != PGRES_POLLING_OK) {
		if (ps == PGRES_POLLING_FAILED || PQstatus(conn) == CONNECTION_BAD)
			return fail_conn(EXIT_UNAVAILABLE, "cannot connect to", url, conn);
		if (!pg_wait(conn, ps == PGRES_POLLING_WRITING, deadline))
			return fail(EXIT_UNAVAILABLE, "cannot connect to %s: timeout expired", url);
		ps = reset ? PQresetPoll(conn) : PQconnectPoll(conn);
	}
	return 0;
}

/*
 * A connection lost between transactions (a server restart, a wait
 * that gave up) is opened again; one lost inside a transaction took the
 * transaction with it.
 */
static int pg_ensure_connected(struct pg_store *p)
{
	if (PQstatus(p->conn) == CONNECTION_OK && !p->broken)
		return 0;
	if (p->base.in_tx)
		return fail(EXIT_UNAVAILABLE, "lost the connection to %s in a transaction", p->base.url);
	p->prepared_nr = 0;
	p->broken = false;
	if (!PQresetStart(p->conn))
		return fail_conn(EXIT_UNAVAILABLE, "cannot connect to", p->base.url, p->conn);
	return pg_connect_poll(p->conn, true, p->base.url, pg_deadline(p, p->connect_ms));
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

/*
 * Wait for the answer to what was just sent (sent: what PQsend* said)
 * and return its first failed result, or its last one.
 */
static int pg_answer(struct pg_store *p, int sent, PGresult **out)
{
	int64_t deadline = pg_deadline(p, p->statement_ms);
	PGresult *res = NULL, *r;

	if (!sent)
		return fail_conn(EXIT_UNAVAILABLE, "lost the connection to", p->base.url, p->conn);
	for (;;) {
		while (PQisBusy(p->conn)) {
			if (!pg_wait(p->conn, false, deadline)) {
				PQclear(res);
				p->broken = true;
				return fail(EXIT_UNAVAILABLE, "%s: timeout expired waiting for an answer",
					    p->base.url);
			}
			if (!PQconsumeInput(p->conn)) {
				PQclear(res);
				return fail_conn(EXIT_UNAVAILABLE, "lost the connection to", p->base.url,
						 p->conn);
			}
		}
		r = PQgetResult(p->conn);
		if (!r)
			break;
		if (!res || (pg_ok(res) && !pg_ok(r))) {
			PQclear(res);
			res = r;
		} else {
			PQclear(r);
		}
	}
	*out = res;
	return 0;
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
		rc = pg_answer(p, PQsendPrepare(p->conn, name, sql, nparams, NULL), &res);
		if (!rc)
			rc = pg_check(p, res);
		if (rc)
			return rc;
		ALLOC_GROW(p->prepared, p->prepared_nr + 1, p->prepared_alloc);
		p->prepared[p->prepared_nr++] = sql;
	}
	rc = pg_answer(p, PQsendQueryPrepared(p->conn, name, nparams, params, NULL, NULL, 0), &res);
	if (rc)
		return rc;
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

/* A write: how many rows it changed. */
static int pg_changes(struct pg_store *p, const char *sql, int nparams, const char *const *params)
{
	PGresult *res;
	int rc = pg_query(p, sql, nparams, params, &res);
	int64_t n = 0;

	if (rc)
		return rc;
	if (parse_i64(PQcmdTuples(res), 0, INT_MAX, &n))
		rc = fail(EXIT_FAIL, "postgres: '%s' is not a row count", PQcmdTuples(res));
	PQclear(res);
	return rc ? rc : (int)n;
}

/* Hand every row to fn as text; returns how many, or -code. */
static int pg_rows(struct pg_store *p, const char *sql, int nparams, const char *const *params,
		   store_row_fn fn, void *data)
{
	const char *cols[JOB_NCOLS + LEASE_NCOLS + 1];
	PGresult *res;
	int rc = pg_query(p, sql, nparams, params, &res), n, ncols;

	if (rc)
		return rc;
	n = PQntuples(res);
	ncols = PQnfields(res);
	if (ncols > (int)ARRAY_SIZE(cols))
		BUG("a row of %d columns", ncols);
	for (int r = 0; r < n && !rc; r++) {
		for (int c = 0; c < ncols; c++)
			cols[c] = PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
		rc = fn(data, cols);
	}
	PQclear(res);
	return rc ? rc : n;
}

static int pg_exec(struct store *st, const char *sql)
{
	struct pg_store *p = pg(st);
	PGresult *res;
	int rc = pg_ensure_connected(p);

	if (!rc)
		rc = pg_answer(p, PQsendQuery(p->conn, sql), &res);
	return rc ? rc : pg_check(p, res);
}

static void pg_rollback(struct store *st)
{
	struct pg_store *p = pg(st);
	PGresult *res;

	/* A broken connection is reset before its next use, which ends the transaction. */
	if (PQstatus(p->conn) == CONNECTION_OK && !p->broken &&
	    !pg_answer(p, PQsendQuery(p->conn, "ROLLBACK"), &res))
		PQclear(res);
}

static void pg_close(struct store *st)
{
	struct pg_store *p = pg(st);

	PQfinish(p->conn);
	free(p->prepared);
	free(p);
}

/* The deadline is read at each wait. */
static void pg_set_deadline(struct store *st UNUSED)
{
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
static int pg_cache_rows(struct pg_store *p, const char *sql, int nparams, const char *const *params,
		   store_cache_row_fn *row, void *cls)
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

static int pg_cache_list(struct store *st, const char *org, int64_t limit, store_cache_row_fn *row,
			 void *cls)
{
	static const char sql[] =
		"SELECT key, size, accessed_at FROM cache_entries WHERE org = $1 "
		"ORDER BY accessed_at, key LIMIT $2";
	char l[24];

	xsnprintf(l, sizeof(l), "%" PRId64, limit);
	return pg_cache_rows(pg(st), sql, 2, (const char *[]){ org, l }, row, cls);
}

static int pg_cache_orgs(struct store *st, store_cache_row_fn *row, void *cls)
{
	static const char sql[] = "SELECT org, entries, bytes FROM cache_orgs ORDER BY org";

	return pg_cache_rows(pg(st), sql, 0, NULL, row, cls);
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

/*
 * Leases and jobs. A fence is nextval() taken while the statement holds
 * the lease row's lock, so that per job fences grow in the order of
 * acquisition. The rule for the clock: what decides that a lease is
 * still valid reads clock_timestamp(), the latest time; what takes an
 * expired lease over, or sets a new expiry, reads statement_timestamp(),
 * the earliest: either way a late statement errs towards "expired".
 *
 * A write that depends on a lease locks the lease row FOR SHARE in the
 * same statement. An acquisition that committed after the statement's
 * snapshot is then seen (the lock rereads the newest row and checks its
 * fence again), and one that comes later waits for the write to commit.
 *
 * Locks are taken in one order, the job's row before its lease's, by
 * claims (which skip locked jobs) and by fenced writes of a job (which
 * join the lease to the locked job row, so that the job's lock comes
 * first): two of them cannot wait for each other.
 */
#define MS(t) "(extract(epoch FROM " t ") * 1000)::bigint"
#define LEASE_COLS(p) p "job, " p "holder, " p "fence, " MS(p "acquired_at") ", " \
	MS(p "renewed_at") ", " MS(p "expires_at") ", " MS(p "released_at") ", " \
	MS("statement_timestamp()")
#define TTL(n) "statement_timestamp() + " n " * interval '1 second'"
#define TAKE_LEASE \
	"ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, " \
	"fence = nextval('lease_fences'), acquired_at = excluded.acquired_at, " \
	"renewed_at = excluded.renewed_at, expires_at = excluded.expires_at, released_at = NULL " \
	"WHERE l.expires_at <= statement_timestamp()"
#define LOCK_JOB_AND_LEASE \
	"WITH j AS (SELECT id FROM jobs WHERE id = $1 FOR UPDATE), " \
	"h AS (SELECT 1 FROM leases l JOIN j ON l.job = j.id WHERE l.fence = $2 " \
	"AND l.expires_at > clock_timestamp() FOR SHARE OF l) "

static const char *fmt_i64(char *buf, size_t size, int64_t v)
{
	xsnprintf(buf, size, "%" PRId64, v);
	return buf;
}

static int pg_lease_acquire(struct store *st, const char *job, const char *holder, int64_t ttl,
			    store_row_fn fn, void *data)
{
	static const char sql[] =
		"INSERT INTO leases AS l (job, holder, fence, acquired_at, renewed_at, expires_at) "
		"VALUES ($1, $2, nextval('lease_fences'), statement_timestamp(), statement_timestamp(), "
		TTL("$3") ") " TAKE_LEASE " OR l.holder = excluded.holder "
		"RETURNING " LEASE_COLS("l.");
	char t[24];

	return pg_rows(pg(st), sql, 3, (const char *[]){ job, holder, fmt_i64(t, sizeof(t), ttl) },
		       fn, data);
}

static int pg_lease_renew(struct store *st, const char *job, int64_t fence, int64_t ttl,
			  store_row_fn fn, void *data)
{
	static const char sql[] =
		"UPDATE leases AS l SET renewed_at = statement_timestamp(), expires_at = " TTL("$3") " "
		"WHERE job = $1 AND fence = $2 AND expires_at > clock_timestamp() "
		"RETURNING " LEASE_COLS("l.");
	char f[24], t[24];

	return pg_rows(pg(st), sql, 3, (const char *[]){ job, fmt_i64(f, sizeof(f), fence),
		       fmt_i64(t, sizeof(t), ttl) }, fn, data);
}

static int pg_lease_release(struct store *st, const char *job, int64_t fence)
{
	static const char sql[] =
		"UPDATE leases SET expires_at = statement_timestamp(), released_at = statement_timestamp() "
		"WHERE job = $1 AND fence = $2 AND expires_at > statement_timestamp()";
	char f[24];

	return pg_changes(pg(st), sql, 2, (const char *[]){ job, fmt_i64(f, sizeof(f), fence) });
}

static int pg_lease_check(struct store *st, const char *job, int64_t fence)
{
	static const char sql[] =
		"SELECT count(*) FROM leases WHERE job = $1 AND fence = $2 "
		"AND expires_at > clock_timestamp()";
	char f[24];
	int64_t held;
	int rc = pg_query_int64(pg(st), sql, 2, (const char *[]){ job, fmt_i64(f, sizeof(f), fence) },
				&held);

	return rc ? rc : held != 0;
}

static int pg_lease_read(struct store *st, const char *job, store_row_fn fn, void *data)
{
	static const char one_sql[] = "SELECT " LEASE_COLS("") " FROM leases WHERE job = $1";
	static const char live_sql[] =
		"SELECT " LEASE_COLS("") " FROM leases WHERE expires_at > statement_timestamp() "
		"ORDER BY job";

	if (job)
		return pg_rows(pg(st), one_sql, 1, (const char *[]){ job }, fn, data);
	return pg_rows(pg(st), live_sql, 0, NULL, fn, data);
}

static int pg_job_add(struct store *st, const char *id, const char *org, const char *repo,
		      const char *labels, const char *payload, int64_t *seq)
{
	static const char sql[] =
		"INSERT INTO jobs (id, org, repo, labels, payload) VALUES ($1, $2, $3, $4, $5) "
		"ON CONFLICT (id) DO NOTHING RETURNING seq";
	int rc = pg_query_int64(pg(st), sql, 5, (const char *[]){ id, org, repo, labels, payload },
				seq);

	return rc ? rc : *seq != 0;
}

#define JOB_SELECT \
	"SELECT j.seq, j.id, j.org, j.repo, j.labels::text, j.payload, j.meta::text, j.status, " \
	"j.reason, " MS("j.created_at") ", " MS("j.finished_at") ", " LEASE_COLS("l.") " " \
	"FROM jobs j LEFT JOIN leases l ON l.job = j.id "

static int pg_job_read(struct store *st, const char *id, const char *state, store_row_fn fn,
		       void *data)
{
	static const char one_sql[] = JOB_SELECT "WHERE j.id = $1";
	static const char list_sql[] = JOB_SELECT
		"WHERE $1::text IS NULL OR $1 = CASE WHEN j.status IS NOT NULL THEN j.status "
		"WHEN l.expires_at > statement_timestamp() THEN 'claimed' ELSE 'queued' END "
		"ORDER BY j.seq";

	return pg_rows(pg(st), id ? one_sql : list_sql, 1, (const char *[]){ id ? id : state }, fn,
		       data);
}

/*
 * The claim locks its job row (SKIP LOCKED: claimers do not queue
 * behind each other) and acquires the lease, and says whether it found
 * a candidate: a job claimed by another claimer just after this
 * statement's snapshot is refused by the lease's ON CONFLICT, and then
 * the claim is tried again with a new snapshot rather than report that
 * nothing is claimable.
 */
#define CLAIM(only) \
	"WITH c AS (SELECT j.id FROM jobs j LEFT JOIN leases l ON l.job = j.id " \
	"WHERE j.status IS NULL AND (l.job IS NULL OR l.expires_at <= statement_timestamp()) " \
	"AND ($3::jsonb IS NULL OR j.labels <@ $3::jsonb) " only \
	"ORDER BY j.seq LIMIT 1 FOR UPDATE OF j SKIP LOCKED), " \
	"n AS (INSERT INTO leases AS l (job, holder, fence, acquired_at, renewed_at, expires_at) " \
	"SELECT id, $1, nextval('lease_fences'), statement_timestamp(), statement_timestamp(), " \
	TTL("$2") " FROM c " TAKE_LEASE " RETURNING l.*) " \
	"SELECT " LEASE_COLS("n.") ", f.found FROM (SELECT count(*) AS found FROM c) f " \
	"LEFT JOIN n ON true"
#define CLAIM_TRIES 16

struct claim_row {
	store_row_fn fn;
	void *data;
	bool found, claimed;
};

static int claim_row(void *data, const char *const *cols)
{
	struct claim_row *c = data;

	c->found = strcmp(cols[LEASE_NCOLS], "0");
	c->claimed = cols[0];
	return c->claimed ? c->fn(c->data, cols) : 0;
}

static int pg_job_claim(struct store *st, const char *only_id, const char *holder, int64_t ttl,
			const char *labels, store_row_fn fn, void *data)
{
	static const char any_sql[] = CLAIM("");
	static const char one_sql[] = CLAIM("AND j.id = $4 ");
	char t[24];
	const char *params[] = { holder, fmt_i64(t, sizeof(t), ttl), labels, only_id };

	for (int i = 0; i < CLAIM_TRIES; i++) {
		struct claim_row c = { fn, data, false, false };
		int rc = pg_rows(pg(st), only_id ? one_sql : any_sql, only_id ? 4 : 3, params,
				 claim_row, &c);

		if (rc < 0 || c.claimed || !c.found)
			return rc < 0 ? rc : c.claimed;
	}
	return 0;
}

static int pg_job_finish(struct store *st, const char *id, int64_t fence, const char *status,
			 const char *reason)
{
	static const char fenced_sql[] =
		LOCK_JOB_AND_LEASE
		"UPDATE jobs SET status = $3, reason = $4, finished_at = statement_timestamp() "
		"WHERE id = $1 AND status IS NULL AND EXISTS (SELECT 1 FROM h)";
	static const char unfenced_sql[] =
		"UPDATE jobs SET status = $2, reason = $3, finished_at = statement_timestamp() "
		"WHERE id = $1 AND status IS NULL";
	char f[24];

	if (!fence)
		return pg_changes(pg(st), unfenced_sql, 3, (const char *[]){ id, status, reason });
	return pg_changes(pg(st), fenced_sql, 4,
			  (const char *[]){ id, fmt_i64(f, sizeof(f), fence), status, reason });
}

static int pg_job_set_meta(struct store *st, const char *id, int64_t fence, const char *meta)
{
	static const char sql[] =
		LOCK_JOB_AND_LEASE
		"UPDATE jobs SET meta = meta || $3::jsonb WHERE id = $1 AND EXISTS (SELECT 1 FROM h)";
	char f[24];

	return pg_changes(pg(st), sql, 3, (const char *[]){ id, fmt_i64(f, sizeof(f), fence), meta });
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

/* milliseconds since the epoch, one value for the whole statement */
#define PG_NOW_MS "(extract(epoch FROM statement_timestamp()) * 1000)::bigint"

/* The text of an integer parameter, in buf. */
static const char *pg_int(char buf[24], int64_t v)
{
	xsnprintf(buf, 24, "%" PRId64, v);
	return buf;
}

/* An integer column of our own schema. */
static int64_t pg_col_int(const PGresult *res, int row, int col)
{
	int64_t v;

	if (parse_i64(PQgetvalue(res, row, col), INT64_MIN, INT64_MAX, &v))
		BUG("postgres: '%s' is not an integer", PQgetvalue(res, row, col));
	return v;
}

static const char *pg_col_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* Run a statement that returns no rows: how many rows it changed, or -code. */
static int pg_run(struct pg_store *p, const char *sql, int nparams, const char *const *params)
{
	PGresult *res;
	int64_t n;
	int rc = pg_query(p, sql, nparams, params, &res);

	if (rc)
		return rc;
	if (parse_i64(PQcmdTuples(res), 0, INT_MAX, &n))
		n = 0;
	PQclear(res);
	return n;
}

/* Lock org's row (creating it) until the transaction ends: its writers serialise here. */
static int pg_lock_org(struct pg_store *p, const char *org)
{
	static const char insert_sql[] =
		"INSERT INTO registry_orgs (org) VALUES ($1) ON CONFLICT DO NOTHING";
	static const char lock_sql[] = "SELECT 1 FROM registry_orgs WHERE org = $1 FOR UPDATE";
	int rc = pg_run(p, insert_sql, 1, &org);

	return rc < 0 ? rc : pg_query(p, lock_sql, 1, &org, NULL);
}

static int pg_reg_link(struct store *st, const char *org, const char *digest, int64_t size,
		       int64_t default_quota)
{
	static const char usage_sql[] =
		"SELECT used, coalesce(quota, $2::bigint) FROM registry_orgs WHERE org = $1";
	static const char touch_sql[] =
		"UPDATE registry_links SET accessed_at = " PG_NOW_MS " WHERE org = $1 AND digest = $2";
	static const char blob_sql[] =
		"INSERT INTO registry_blobs (digest, size, created_at) VALUES ($1, $2::bigint, " PG_NOW_MS ") "
		"ON CONFLICT DO NOTHING";
	static const char link_sql[] =
		"INSERT INTO registry_links (org, digest, size, linked_at, accessed_at) "
		"VALUES ($1, $2, $3::bigint, " PG_NOW_MS ", " PG_NOW_MS ")";
	static const char charge_sql[] =
		"UPDATE registry_orgs SET used = used + $2::bigint WHERE org = $1";
	struct pg_store *p = pg(st);
	char q[24], n[24];
	int64_t used, quota;
	PGresult *res;
	int rc = pg_lock_org(p, org);

	if (!rc)
		rc = pg_query(p, usage_sql, 2, (const char *[]){ org, pg_int(q, default_quota) }, &res);
	if (rc)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return fail(EXIT_FAIL, "registry: org %s has no row", org);
	}
	used = pg_col_int(res, 0, 0);
	quota = pg_col_int(res, 0, 1);
	PQclear(res);
	rc = pg_run(p, touch_sql, 2, (const char *[]){ org, digest });
	if (rc)
		return rc < 0 ? rc : 0;
	if (size > quota - used)
		return reg_over_quota(org, used, quota, size);
	pg_int(n, size);
	rc = pg_run(p, blob_sql, 2, (const char *[]){ digest, n });
	if (rc >= 0)
		rc = pg_run(p, link_sql, 3, (const char *[]){ org, digest, n });
	if (rc >= 0)
		rc = pg_run(p, charge_sql, 2, (const char *[]){ org, n });
	return rc < 0 ? rc : 1;
}

static int pg_reg_blob(struct store *st, const char *org, const char *digest, int64_t *size)
{
	static const char sql[] =
		"SELECT size, accessed_at < " PG_NOW_MS " - " REG_ACCESS_RESOLUTION_MS
		" FROM registry_links WHERE org = $1 AND digest = $2";
	static const char touch_sql[] =
		"UPDATE registry_links SET accessed_at = " PG_NOW_MS " WHERE org = $1 AND digest = $2";
	struct pg_store *p = pg(st);
	const char *params[] = { org, digest };
	PGresult *res;
	bool stale;
	int rc = pg_query(p, sql, 2, params, &res);

	if (rc)
		return rc;
	if (!PQntuples(res)) {
		PQclear(res);
		return -EXIT_NOTFOUND;
	}
	*size = pg_col_int(res, 0, 0);
	stale = !strcmp(PQgetvalue(res, 0, 1), "t");
	PQclear(res);
	if (stale && pg_run(p, touch_sql, 2, params) < 0)
		log_debug("%s", fail_message());
	return 0;
}

static int pg_reg_unlink(struct store *st, const char *org, const char *digest)
{
	static const char ref_sql[] =
		"SELECT count(*) FROM registry_refs WHERE org = $1 AND digest = $2";
	static const char unlink_sql[] =
		"DELETE FROM registry_links WHERE org = $1 AND digest = $2 RETURNING size";
	static const char credit_sql[] =
		"UPDATE registry_orgs SET used = used - $2::bigint WHERE org = $1";
	struct pg_store *p = pg(st);
	const char *params[] = { org, digest };
	PGresult *res;
	int64_t refs;
	char n[24];
	int rc = pg_lock_org(p, org);

	if (!rc)
		rc = pg_query_int64(p, ref_sql, 2, params, &refs);
	if (!rc && refs)
		return reg_referenced(digest, refs);
	if (!rc)
		rc = pg_query(p, unlink_sql, 2, params, &res);
	if (rc)
		return rc;
	if (!PQntuples(res)) {
		PQclear(res);
		return -EXIT_NOTFOUND;
	}
	pg_int(n, pg_col_int(res, 0, 0));
	PQclear(res);
	rc = pg_run(p, credit_sql, 2, (const char *[]){ org, n });
	return rc < 0 ? rc : 0;
}

static int pg_reg_blob_drop(struct store *st, const char *digest, bool dry_run)
{
	static const char linked_sql[] = "SELECT count(*) FROM registry_links WHERE digest = $1";
	static const char drop_sql[] = "DELETE FROM registry_blobs WHERE digest = $1";
	struct pg_store *p = pg(st);
	int64_t links;
	int rc = pg_query_int64(p, linked_sql, 1, &digest, &links);

	if (rc || links)
		return rc;
	if (!dry_run && (rc = pg_run(p, drop_sql, 1, &digest)) < 0)
		return rc;
	return 1;
}

static int pg_reg_upload_new(struct store *st, const char *id, const char *repo)
{
	static const char sql[] =
		"INSERT INTO registry_uploads (id, repo, created_at, touched_at) "
		"VALUES ($1, $2, " PG_NOW_MS ", " PG_NOW_MS ")";
	int rc = pg_run(pg(st), sql, 2, (const char *[]){ id, repo });

	return rc < 0 ? rc : 0;
}

static int pg_reg_upload_touch(struct store *st, const char *id, const char *repo)
{
	static const char sql[] =
		"UPDATE registry_uploads SET touched_at = " PG_NOW_MS " WHERE id = $1 AND repo = $2";

	return store_found(pg_run(pg(st), sql, 2, (const char *[]){ id, repo }));
}

static int pg_reg_upload_end(struct store *st, const char *id)
{
	static const char sql[] = "DELETE FROM registry_uploads WHERE id = $1";
	int rc = pg_run(pg(st), sql, 1, &id);

	return rc < 0 ? rc : 0;
}

static int pg_reg_manifest_put(struct store *st, const struct reg_manifest *m, const char *tag)
{
	static const char blob_sql[] = "SELECT size FROM registry_links WHERE org = $1 AND digest = $2";
	static const char child_sql[] =
		"SELECT count(*) FROM registry_manifests WHERE repo = $1 AND digest = $2";
	static const char repo_sql[] =
		"INSERT INTO registry_repos (name, org, created_at) VALUES ($1, $2, " PG_NOW_MS ") "
		"ON CONFLICT DO NOTHING";
	static const char manifest_sql[] =
		"INSERT INTO registry_manifests (repo, digest, media_type, content, size, subject, "
		"artifact_type, annotations, created_at) "
		"VALUES ($1, $2, $3, $4, $5::bigint, $6, $7, $8, " PG_NOW_MS ") ON CONFLICT DO NOTHING";
	static const char ref_sql[] =
		"INSERT INTO registry_refs (repo, manifest, digest, org) VALUES ($1, $2, $3, $4) "
		"ON CONFLICT DO NOTHING";
	static const char tag_sql[] =
		"INSERT INTO registry_tags (repo, tag, digest) VALUES ($1, $2, $3) "
		"ON CONFLICT (repo, tag) DO UPDATE SET digest = excluded.digest";
	struct pg_store *p = pg(st);
	char n[24];
	int64_t v;
	int rc = pg_lock_org(p, m->org);

	for (size_t i = 0; !rc && i < m->blobs_nr; i++) {
		PGresult *res;

		rc = pg_query(p, blob_sql, 2, (const char *[]){ m->org, m->blobs[i].digest }, &res);
		if (rc)
			break;
		v = PQntuples(res) ? pg_col_int(res, 0, 0) : -1;
		PQclear(res);
		if (v < 0)
			return reg_blob_unknown("blob", m->blobs[i].digest);
		if (v != m->blobs[i].size)
			return reg_blob_size(&m->blobs[i], v);
	}
	for (size_t i = 0; !rc && i < m->children_nr; i++) {
		rc = pg_query_int64(p, child_sql, 2, (const char *[]){ m->repo, m->children[i].digest }, &v);
		if (!rc && !v)
			return reg_blob_unknown("manifest", m->children[i].digest);
	}
	if (!rc)
		rc = pg_run(p, repo_sql, 2, (const char *[]){ m->repo, m->org });
	if (rc >= 0)
		rc = pg_run(p, manifest_sql, 8, (const char *[]){ m->repo, m->digest, m->media_type,
			    m->content, pg_int(n, m->size), m->subject, m->artifact_type, m->annotations });
	/* a manifest stored before has its references already */
	if (rc > 0)
		for (size_t i = 0; rc >= 0 && i < m->refs_nr; i++)
			rc = pg_run(p, ref_sql, 4, (const char *[]){ m->repo, m->digest, m->refs[i], m->org });
	if (rc >= 0 && tag)
		rc = pg_run(p, tag_sql, 3, (const char *[]){ m->repo, tag, m->digest });
	return rc < 0 ? rc : 0;
}

static int pg_reg_manifest_get(struct store *st, const char *repo, const char *ref, bool by_digest,
			       struct strbuf *content, struct strbuf *media_type,
			       char digest[OCI_DIGEST_LEN + 1])
{
	static const char digest_sql[] =
		"SELECT content, media_type, digest FROM registry_manifests WHERE repo = $1 AND digest = $2";
	static const char tag_sql[] =
		"SELECT m.content, m.media_type, m.digest FROM registry_tags t JOIN registry_manifests m "
		"ON m.repo = t.repo AND m.digest = t.digest WHERE t.repo = $1 AND t.tag = $2";
	PGresult *res;
	int rc = pg_query(pg(st), by_digest ? digest_sql : tag_sql, 2, (const char *[]){ repo, ref }, &res);

	if (rc)
		return rc;
	if (!PQntuples(res)) {
		PQclear(res);
		return -EXIT_NOTFOUND;
	}
	strbuf_add(content, PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0));
	strbuf_addstr(media_type, PQgetvalue(res, 0, 1));
	xsnprintf(digest, OCI_DIGEST_LEN + 1, "%s", PQgetvalue(res, 0, 2));
	PQclear(res);
	return 0;
}

static int pg_reg_manifest_delete(struct store *st, const char *repo, const char *digest)
{
	static const char sql[] = "DELETE FROM registry_manifests WHERE repo = $1 AND digest = $2";

	return store_found(pg_run(pg(st), sql, 2, (const char *[]){ repo, digest }));
}

static int pg_reg_tag_delete(struct store *st, const char *repo, const char *tag)
{
	static const char sql[] = "DELETE FROM registry_tags WHERE repo = $1 AND tag = $2";

	return store_found(pg_run(pg(st), sql, 2, (const char *[]){ repo, tag }));
}

static int pg_reg_tags(struct store *st, const char *repo, const char *last, int64_t limit,
		       struct strvec *tags)
{
	static const char repo_sql[] = "SELECT count(*) FROM registry_repos WHERE name = $1";
	static const char sql[] =
		"SELECT tag FROM registry_tags WHERE repo = $1 "
		"AND ($2::text IS NULL OR (lower(tag), tag) > (lower($2::text), $2::text)) "
		"ORDER BY lower(tag), tag LIMIT $3::bigint";
	struct pg_store *p = pg(st);
	PGresult *res;
	int64_t known;
	char n[24];
	int rc = pg_query_int64(p, repo_sql, 1, &repo, &known);

	if (!rc && !known)
		return -EXIT_NOTFOUND;
	if (!rc)
		rc = pg_query(p, sql, 3, (const char *[]){ repo, last, pg_int(n, limit) }, &res);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(res); i++)
		strvec_push(tags, PQgetvalue(res, i, 0));
	PQclear(res);
	return 0;
}

static int pg_reg_referrers(struct store *st, const char *repo, const char *digest,
			    const char *artifact_type, reg_referrer_fn *fn, void *data)
{
	static const char sql[] =
		"SELECT digest, media_type, size, artifact_type, annotations FROM registry_manifests "
		"WHERE repo = $1 AND subject = $2 AND ($3::text IS NULL OR artifact_type = $3::text) "
		"ORDER BY created_at, digest";
	PGresult *res;
	int rc = pg_query(pg(st), sql, 3, (const char *[]){ repo, digest, artifact_type }, &res);

	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(res); i++)
		fn(data, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), pg_col_int(res, i, 2),
		   pg_col_or_null(res, i, 3), pg_col_or_null(res, i, 4));
	PQclear(res);
	return 0;
}

static int pg_reg_quota_set(struct store *st, const char *org, int64_t quota)
{
	static const char sql[] =
		"INSERT INTO registry_orgs (org, quota) "
		"VALUES ($1, CASE WHEN $2::bigint < 0 THEN NULL ELSE $2::bigint END) "
		"ON CONFLICT (org) DO UPDATE SET quota = excluded.quota";
	char q[24];
	int rc = pg_run(pg(st), sql, 2, (const char *[]){ org, pg_int(q, quota) });

	return rc < 0 ? rc : 0;
}

static int pg_reg_usage(struct store *st, const char *org, int64_t default_quota, reg_usage_fn *fn,
			void *data)
{
	static const char sql[] =
		"SELECT org, used, coalesce(quota, $2::bigint), "
		"(SELECT count(*) FROM registry_links l WHERE l.org = o.org) "
		"FROM registry_orgs o WHERE $1::text IS NULL OR org = $1::text ORDER BY org";
	PGresult *res;
	char q[24];
	int rc = pg_query(pg(st), sql, 2, (const char *[]){ org, pg_int(q, default_quota) }, &res);

	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct reg_usage u = {
			PQgetvalue(res, i, 0), pg_col_int(res, i, 1), pg_col_int(res, i, 2),
			pg_col_int(res, i, 3),
		};

		fn(data, &u);
	}
	PQclear(res);
	return 0;
}

/* An org's links that gc may take: old enough, and no manifest of the org refers to them. */
#define PG_COLLECTIBLE \
	"l.org = $1 AND greatest(l.linked_at, l.accessed_at) <= " PG_NOW_MS " - $2::bigint " \
	"AND NOT EXISTS (SELECT 1 FROM registry_refs r WHERE r.org = l.org AND r.digest = l.digest)"

static int pg_reg_gc_links(struct store *st, const char *org, int64_t grace_ms, bool dry_run,
			   int64_t *count, int64_t *bytes)
{
	static const char count_sql[] =
		"SELECT size FROM registry_links AS l WHERE " PG_COLLECTIBLE;
	static const char unlink_sql[] =
		"DELETE FROM registry_links AS l WHERE " PG_COLLECTIBLE " RETURNING size";
	static const char credit_sql[] =
		"UPDATE registry_orgs SET used = used - $2::bigint WHERE org = $1";
	struct pg_store *p = pg(st);
	PGresult *res;
	char g[24], n[24];
	int rc = dry_run ? 0 : pg_lock_org(p, org);

	*count = *bytes = 0;
	if (!rc)
		rc = pg_query(p, dry_run ? count_sql : unlink_sql, 2,
			      (const char *[]){ org, pg_int(g, grace_ms) }, &res);
	if (rc)
		return rc;
	*count = PQntuples(res);
	for (int i = 0; i < PQntuples(res); i++)
		*bytes += pg_col_int(res, i, 0);
	PQclear(res);
	if (!dry_run && *count)
		rc = pg_run(p, credit_sql, 2, (const char *[]){ org, pg_int(n, *bytes) });
	return rc < 0 ? rc : 0;
}

static int pg_reg_gc_uploads(struct store *st, const char *org, int64_t grace_ms, bool dry_run,
			     struct strvec *ids)
{
	static const char select_sql[] =
		"SELECT id FROM registry_uploads WHERE touched_at <= " PG_NOW_MS " - $1::bigint "
		"AND ($2::text IS NULL OR starts_with(repo, $2::text || '/'))";
	static const char delete_sql[] =
		"DELETE FROM registry_uploads WHERE touched_at <= " PG_NOW_MS " - $1::bigint "
		"AND ($2::text IS NULL OR starts_with(repo, $2::text || '/')) RETURNING id";
	PGresult *res;
	char g[24];
	int rc = pg_query(pg(st), dry_run ? select_sql : delete_sql, 2,
			  (const char *[]){ pg_int(g, grace_ms), org }, &res);

	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(res); i++)
		strvec_push(ids, PQgetvalue(res, i, 0));
	PQclear(res);
	return 0;
}

static int pg_reg_robot_set(struct store *st, const char *org, const char *name, const char *hash,
			    const char *actions)
{
	static const char sql[] =
		"INSERT INTO registry_robots (org, name, secret_hash, actions, created_at) "
		"VALUES ($1, $2, $3, $4, " PG_NOW_MS ") ON CONFLICT (org, name) DO UPDATE SET "
		"secret_hash = excluded.secret_hash, actions = excluded.actions, "
		"created_at = excluded.created_at";
	int rc = pg_run(pg(st), sql, 4, (const char *[]){ org, name, hash, actions });

	return rc < 0 ? rc : 0;
}

static int pg_reg_robot_get(struct store *st, const char *org, const char *name,
			    struct strbuf *hash, struct strbuf *actions)
{
	static const char sql[] =
		"SELECT secret_hash, actions FROM registry_robots WHERE org = $1 AND name = $2";
	PGresult *res;
	int rc = pg_query(pg(st), sql, 2, (const char *[]){ org, name }, &res);

	if (rc)
		return rc;
	if (!PQntuples(res)) {
		PQclear(res);
		return -EXIT_NOTFOUND;
	}
	strbuf_addstr(hash, PQgetvalue(res, 0, 0));
	strbuf_addstr(actions, PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

static int pg_reg_robot_delete(struct store *st, const char *org, const char *name)
{
	static const char sql[] = "DELETE FROM registry_robots WHERE org = $1 AND name = $2";

	return store_found(pg_run(pg(st), sql, 2, (const char *[]){ org, name }));
}

static int pg_reg_robots(struct store *st, const char *org, reg_robot_fn *fn, void *data)
{
	static const char sql[] =
		"SELECT org, name, actions, created_at FROM registry_robots "
		"WHERE $1::text IS NULL OR org = $1::text ORDER BY org, name";
	PGresult *res;
	int rc = pg_query(pg(st), sql, 1, &org, &res);

	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(res); i++)
		fn(data, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
		   pg_col_int(res, i, 3));
	PQclear(res);
	return 0;
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
	.set_deadline = pg_set_deadline,
	.lease_acquire = pg_lease_acquire,
	.lease_renew = pg_lease_renew,
	.lease_release = pg_lease_release,
	.lease_check = pg_lease_check,
	.lease_read = pg_lease_read,
	.job_add = pg_job_add,
	.job_read = pg_job_read,
	.job_claim = pg_job_claim,
	.job_finish = pg_job_finish,
	.job_set_meta = pg_job_set_meta,
	.logs_insert = pg_logs_insert,
	.logs_query = pg_logs_query,
	.logs_prune = pg_logs_prune,
	.reg_link = pg_reg_link,
	.reg_blob = pg_reg_blob,
	.reg_unlink = pg_reg_unlink,
	.reg_blob_drop = pg_reg_blob_drop,
	.reg_upload_new = pg_reg_upload_new,
	.reg_upload_touch = pg_reg_upload_touch,
	.reg_upload_end = pg_reg_upload_end,
	.reg_manifest_put = pg_reg_manifest_put,
	.reg_manifest_get = pg_reg_manifest_get,
	.reg_manifest_delete = pg_reg_manifest_delete,
	.reg_tag_delete = pg_reg_tag_delete,
	.reg_tags = pg_reg_tags,
	.reg_referrers = pg_reg_referrers,
	.reg_quota_set = pg_reg_quota_set,
	.reg_usage = pg_reg_usage,
	.reg_gc_links = pg_reg_gc_links,
	.reg_gc_uploads = pg_reg_gc_uploads,
	.reg_robot_set = pg_reg_robot_set,
	.reg_robot_get = pg_reg_robot_get,
	.reg_robot_delete = pg_reg_robot_delete,
	.reg_robots = pg_reg_robots,
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
/*
 * Parse before connecting, to tell a bad URL (exit 7) from a server that
 * is down. libpq leaves the port to the connection: check it here. A
 * connect_timeout in the URL replaces store.connect_timeout.
 */
static int check_url(const char *url, const char *shown, int64_t *connect_ms)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err);
	struct strbuf sb = STRBUF_INIT;
	int64_t secs;
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
		} else if (!strcmp(o->keyword, "connect_timeout")) {
			if (parse_i64(o->val, 1, 3600, &secs))
				rc = fail(EXIT_CONFIG, "bad PostgreSQL URL %s: bad connect_timeout (1-3600)",
					  shown);
			else
				*connect_ms = secs * 1000;
		}
	}
	PQconninfoFree(opts);
	return rc;
}

int store_pg_open(struct store **out, const char *url, const char *shown)
{
	/*
	 * Keepalives and tcp_user_timeout notice a peer that is gone between
	 * statements; the server ends a statement that runs too long. dbname
	 * last: what the URL says wins over these defaults.
	 */
	static const char *const keys[] = {
		"application_name", "keepalives", "keepalives_idle", "keepalives_interval",
		"keepalives_count", "tcp_user_timeout", "options", "dbname", NULL,
	};
	struct pg_store *p = xcalloc(1, sizeof(*p));
	char user_timeout[24], *options;
	int rc;

	p->base.ops = &pg_ops;
	p->connect_ms = cfg_int("store.connect_timeout") * 1000;
	p->statement_ms = cfg_int("store.statement_timeout") * 1000;
	rc = check_url(url, shown, &p->connect_ms);
	if (rc) {
		free(p);
		return rc;
	}
	xsnprintf(user_timeout, sizeof(user_timeout), "%" PRId64, p->statement_ms);
	options = xstrfmt("-c statement_timeout=%" PRId64, p->statement_ms);
	p->conn = PQconnectStartParams(keys, (const char *[]){ "nimbus", "1", "10", "5", "3",
				       user_timeout, options, url, NULL }, 1);
	free(options);
	if (!p->conn)
		die("out of memory connecting to PostgreSQL");
	rc = pg_connect_poll(p->conn, false, shown, mono_ms() + p->connect_ms);
	if (rc) {
		pg_close(&p->base);
		return rc;
	}
	PQsetNoticeProcessor(p->conn, notice, NULL);
	*out = &p->base;
	return 0;
}
