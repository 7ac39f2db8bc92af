#include "common.h"
#include "config.h"
#include "log.h"
#include "store-internal.h"
#include "timeutil.h"

#include <sqlite3.h>
#include <sys/stat.h>

/*
 * The SQLite driver: one file, WAL (readers never wait for the writer),
 * a busy timeout for the write lock, BEGIN IMMEDIATE for writes.
 * Times are integer milliseconds since the epoch from SQLite's own
 * clock; 'now' is the same everywhere within one statement.
 */
#define NOW_MS "CAST(round((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"
#define NOW_US "(" NOW_MS " * 1000)"

struct sq_stmt {
	const char *sql;	/* the cache key: a string with static storage */
	sqlite3_stmt *stmt;
};

struct sq_store {
	struct store base;
	sqlite3 *db;
	char *path;
	struct sq_stmt *stmts;
	size_t stmts_nr, stmts_alloc;
	int64_t busy_ms;	/* store.busy_timeout */
};

static struct sq_store *sq(struct store *st)
{
	return (struct sq_store *)st;
}

static int sq_fail(struct sq_store *s, int rc)
{
	int code = EXIT_FAIL;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = EXIT_UNAVAILABLE;
		break;
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_AUTH:
		code = EXIT_PERM;
		break;
	case SQLITE_CANTOPEN:
		if (sqlite3_system_errno(s->db) == EACCES)
			code = EXIT_PERM;
		break;
	}
	return fail(code, "sqlite:%s: %s", s->path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

/*
 * A prepared statement from the cache, bound to the arguments: one
 * letter of types each, 'i' for an int64_t, 't' for a string (not
 * copied: it must live until the statement has run; NULL binds NULL).
 */
static int sq_vstmt(struct sq_store *s, const char *sql, sqlite3_stmt **out, const char *types,
		    va_list ap)
{
	sqlite3_stmt *stmt = NULL;
	int rc = SQLITE_OK;

	for (size_t i = 0; i < s->stmts_nr && !stmt; i++)
		if (s->stmts[i].sql == sql)
			stmt = s->stmts[i].stmt;
	if (!stmt) {
		rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
		if (rc != SQLITE_OK)
			return sq_fail(s, rc);
		ALLOC_GROW(s->stmts, s->stmts_nr + 1, s->stmts_alloc);
		s->stmts[s->stmts_nr].sql = sql;
		s->stmts[s->stmts_nr].stmt = stmt;
		s->stmts_nr++;
	}
	for (int i = 0; types[i] && rc == SQLITE_OK; i++) {
		if (types[i] == 'i')
			rc = sqlite3_bind_int64(stmt, i + 1, va_arg(ap, int64_t));
		else
			rc = sqlite3_bind_text(stmt, i + 1, va_arg(ap, const char *), -1, SQLITE_STATIC);
	}
	if (rc != SQLITE_OK) {
		sqlite3_clear_bindings(stmt);
		return sq_fail(s, rc);
	}
	*out = stmt;
	return 0;
}

static int sq_stmt(struct sq_store *s, const char *sql, sqlite3_stmt **out, const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = sq_vstmt(s, sql, out, types, ap);
	va_end(ap);
	return rc;
}

/*
 * Step once and make the statement ready for the next use: 1 for a row
 * (whose first column is stored in *first when first is not NULL), 0
 * when done, or -code.
 */
static int sq_step(struct sq_store *s, sqlite3_stmt *stmt, int64_t *first)
{
	int rc = sqlite3_step(stmt);

	if (rc == SQLITE_ROW && first)
		*first = sqlite3_column_int64(stmt, 0);
	rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : sq_fail(s, rc);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return rc;
}

/*
 * Step through the rows of a statement: 1 for a row, 0 when done or
 * -code, and then the statement is ready for the next use. A caller
 * that stops at a row calls sq_done().
 */
static int sq_next(struct sq_store *s, sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	if (rc == SQLITE_ROW)
		return 1;
	rc = rc == SQLITE_DONE ? 0 : sq_fail(s, rc);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return rc;
}

static void sq_done(sqlite3_stmt *stmt)
{
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

/* Run a statement that returns no rows: how many rows it changed, or -code. */
static int sq_run(struct sq_store *s, const char *sql, const char *types, ...)
{
	sqlite3_stmt *stmt;
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = sq_vstmt(s, sql, &stmt, types, ap);
	va_end(ap);
	if (!rc)
		rc = sq_step(s, stmt, NULL);
	return rc < 0 ? rc : sqlite3_changes(s->db);
}

/* Run a statement that returns one integer (0 when it returns no row). */
static int sq_int64(struct sq_store *s, sqlite3_stmt *stmt, int64_t *out)
{
	int rc;

	*out = 0;
	rc = sq_step(s, stmt, out);
	return rc < 0 ? rc : 0;
}

/* Run a write and return how many rows it changed. */
static int sq_changes(struct sq_store *s, sqlite3_stmt *stmt)
{
	int rc = sq_step(s, stmt, NULL);

	return rc < 0 ? rc : sqlite3_changes(s->db);
}

/* Hand every row to fn as text; returns how many, or -code. */
static int sq_rows(struct sq_store *s, sqlite3_stmt *stmt, store_row_fn fn, void *data)
{
	const char *cols[JOB_NCOLS + LEASE_NCOLS];
	int ncols = sqlite3_column_count(stmt), n = 0, rc, err = 0;

	if (ncols > (int)ARRAY_SIZE(cols))
		BUG("a row of %d columns", ncols);
	while (!err && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (int i = 0; i < ncols; i++)
			cols[i] = (const char *)sqlite3_column_text(stmt, i);
		err = fn(data, cols);
		n++;
	}
	if (!err && rc != SQLITE_DONE)
		err = sq_fail(s, rc);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return err ? err : n;
}

static int sq_exec(struct store *st, const char *sql)
{
	struct sq_store *s = sq(st);
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sq_fail(s, rc);
}

static void sq_rollback(struct store *st)
{
	sqlite3_exec(sq(st)->db, "ROLLBACK", NULL, NULL, NULL);
}

static void sq_close(struct store *st)
{
	struct sq_store *s = sq(st);

	for (size_t i = 0; i < s->stmts_nr; i++)
		sqlite3_finalize(s->stmts[i].stmt);
	free(s->stmts);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

static int sq_now_ms(struct store *st, int64_t *ms)
{
	static const char sql[] = "SELECT " NOW_MS;
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "");

	return rc ? rc : sq_int64(s, stmt, ms);
}

static int sq_version(struct store *st, int *version)
{
	static const char exists_sql[] =
		"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'";
	static const char max_sql[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int64_t v;
	int rc;

	rc = sq_stmt(s, exists_sql, &stmt, "");
	if (!rc)
		rc = sq_int64(s, stmt, &v);
	if (!rc && v)
		rc = sq_stmt(s, max_sql, &stmt, "");
	if (!rc && v)
		rc = sq_int64(s, stmt, &v);
	if (!rc)
		*version = v;
	return rc;
}

/* BEGIN IMMEDIATE already holds the write lock. */
static int sq_lock_schema(struct store *st UNUSED)
{
	return 0;
}

static int sq_record_migration(struct store *st, int version, const char *name)
{
	static const char sql[] =
		"INSERT INTO schema_migrations (version, name, applied_at) "
		"VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "it", (int64_t)version, name);

	if (!rc)
		rc = sq_step(s, stmt, NULL);
	return rc < 0 ? rc : 0;
}

static int sq_kv_claim(struct store *st, const char *key, int64_t ttl)
{
	static const char sql[] =
		"INSERT INTO kv_claims (key, expires_at) VALUES (?1, " NOW_MS " + ?2 * 1000) "
		"ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at "
		"WHERE kv_claims.expires_at <= " NOW_MS;
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "ti", key, ttl);

	if (!rc)
		rc = sq_step(s, stmt, NULL);
	return rc < 0 ? rc : sqlite3_changes(s->db) == 1;
}

static int sq_kv_incr(struct store *st, const char *key, int64_t delta, int64_t ttl, int64_t *value)
{
	static const char sql[] =
		"INSERT INTO kv_counters (key, value, expires_at) VALUES (?1, ?2, " NOW_MS " + ?3 * 1000) "
		"ON CONFLICT (key) DO UPDATE SET "
		"value = CASE WHEN kv_counters.expires_at <= " NOW_MS
		" THEN excluded.value ELSE kv_counters.value + excluded.value END, "
		"expires_at = CASE WHEN kv_counters.expires_at <= " NOW_MS
		" THEN excluded.expires_at ELSE kv_counters.expires_at END "
		"RETURNING value";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "tii", key, delta, ttl);

	return rc ? rc : sq_int64(s, stmt, value);
}

static int sq_kv_sweep(struct store *st, int limit)
{
	static const char *const sql[] = {
		"DELETE FROM kv_claims WHERE key IN "
		"(SELECT key FROM kv_claims WHERE expires_at <= " NOW_MS " LIMIT ?1)",
		"DELETE FROM kv_counters WHERE key IN "
		"(SELECT key FROM kv_counters WHERE expires_at <= " NOW_MS " LIMIT ?1)",
		"DELETE FROM kv_buckets WHERE key IN "
		"(SELECT key FROM kv_buckets WHERE tat <= " NOW_US " LIMIT ?1)",
	};
	struct sq_store *s = sq(st);
	int deleted = 0;

	for (size_t i = 0; i < ARRAY_SIZE(sql); i++) {
		sqlite3_stmt *stmt;
		int rc = sq_stmt(s, sql[i], &stmt, "i", (int64_t)limit);

		if (!rc)
			rc = sq_step(s, stmt, NULL);
		if (rc < 0)
			return rc;
		deleted += sqlite3_changes(s->db);
	}
	return deleted;
}

/*
 * One statement takes cost when the bucket allows it; when it did not
 * (no row came back), a read says how far ahead the bucket is.
 */
static int sq_kv_gcra(struct store *st, const char *key, int64_t interval, int64_t tau,
		      int64_t cost, int64_t *ahead)
{
	static const char take_sql[] =
		"INSERT INTO kv_buckets (key, tat) VALUES (?1, " NOW_US " + ?2 * ?4) "
		"ON CONFLICT (key) DO UPDATE SET tat = max(kv_buckets.tat, " NOW_US ") + ?2 * ?4 "
		"WHERE max(kv_buckets.tat, " NOW_US ") + ?2 * ?4 - ?3 <= " NOW_US " "
		"RETURNING tat - " NOW_US;
	static const char peek_sql[] = "SELECT tat - " NOW_US " FROM kv_buckets WHERE key = ?1";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = 0;

	if (cost) {
		rc = sq_stmt(s, take_sql, &stmt, "tiii", key, interval, tau, cost);
		if (!rc)
			rc = sq_step(s, stmt, ahead);
		if (rc)
			return rc;
	}
	rc = sq_stmt(s, peek_sql, &stmt, "t", key);
	if (!rc)
		rc = sq_int64(s, stmt, ahead);
	return rc ? rc : cost == 0;
}

/* Add delta to org's totals and return its bytes; the org row is made on first use. */
static int sq_cache_adjust(struct sq_store *s, const char *org, int64_t entries, int64_t bytes,
			   int64_t *org_bytes)
{
	static const char sql[] =
		"INSERT INTO cache_orgs (org, entries, bytes) VALUES (?1, ?2, ?3) "
		"ON CONFLICT (org) DO UPDATE SET entries = entries + excluded.entries, "
		"bytes = bytes + excluded.bytes RETURNING bytes";
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "tii", org, entries, bytes);

	return rc ? rc : sq_int64(s, stmt, org_bytes);
}

static int sq_cache_put(struct store *st, const char *org, const char *key, int64_t size,
			int64_t at_ms, int64_t *org_bytes)
{
	static const char old_sql[] = "SELECT size FROM cache_entries WHERE org = ?1 AND key = ?2";
	static const char put_sql[] =
		"INSERT INTO cache_entries (org, key, size, created_at, accessed_at) "
		"VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (org, key) DO UPDATE SET "
		"size = excluded.size, created_at = excluded.created_at, accessed_at = excluded.accessed_at";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int64_t old = 0;
	int found, rc;

	rc = sq_stmt(s, old_sql, &stmt, "tt", org, key);
	if (rc)
		return rc;
	found = sq_step(s, stmt, &old);
	if (found < 0)
		return found;
	rc = sq_stmt(s, put_sql, &stmt, "ttii", org, key, size, at_ms);
	if (!rc)
		rc = sq_step(s, stmt, NULL);
	if (rc < 0)
		return rc;
	return sq_cache_adjust(s, org, found ? 0 : 1, size - old, org_bytes);
}

static int sq_cache_delete(struct store *st, const char *org, const char *key, int64_t *org_bytes)
{
	static const char sql[] = "DELETE FROM cache_entries WHERE org = ?1 AND key = ?2 RETURNING size";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int64_t size = 0;
	int found, rc;

	rc = sq_stmt(s, sql, &stmt, "tt", org, key);
	if (rc)
		return rc;
	found = sq_step(s, stmt, &size);
	if (found < 0)
		return found;
	rc = sq_cache_adjust(s, org, -found, -size, org_bytes);
	return rc ? rc : found;
}

static int sq_cache_touch(struct store *st, const char *org, const char *key, int64_t at_ms)
{
	static const char sql[] =
		"UPDATE cache_entries SET accessed_at = ?3 "
		"WHERE org = ?1 AND key = ?2 AND accessed_at < ?3";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "tti", org, key, at_ms);

	if (!rc)
		rc = sq_step(s, stmt, NULL);
	return rc < 0 ? rc : 0;
}

/* Hand each row (a text, two integers) of stmt to row(); then reset it. */
static int sq_cache_rows(struct sq_store *s, sqlite3_stmt *stmt, store_cache_row_fn *row, void *cls)
{
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		row(cls, (const char *)sqlite3_column_text(stmt, 0), sqlite3_column_int64(stmt, 1),
		    sqlite3_column_int64(stmt, 2));
	rc = rc == SQLITE_DONE ? 0 : sq_fail(s, rc);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return rc;
}

static int sq_cache_list(struct store *st, const char *org, int64_t limit, store_cache_row_fn *row,
			 void *cls)
{
	static const char sql[] =
		"SELECT key, size, accessed_at FROM cache_entries WHERE org = ?1 "
		"ORDER BY accessed_at, key LIMIT ?2";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "ti", org, limit);

	return rc ? rc : sq_cache_rows(s, stmt, row, cls);
}

static int sq_cache_orgs(struct store *st, store_cache_row_fn *row, void *cls)
{
	static const char sql[] = "SELECT org, entries, bytes FROM cache_orgs ORDER BY org";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "");

	return rc ? rc : sq_cache_rows(s, stmt, row, cls);
}

/* Step a statement that returns a breaker row; no row leaves row alone. */
static int sq_breaker_step(struct sq_store *s, sqlite3_stmt *stmt, struct kv_breaker_row *row)
{
	int rc = sqlite3_step(stmt);

	if (rc == SQLITE_ROW) {
		row->failures = sqlite3_column_int64(stmt, 0);
		row->open_until = sqlite3_column_int64(stmt, 1);
		row->probe_until = sqlite3_column_int64(stmt, 2);
		row->now = sqlite3_column_int64(stmt, 3);
	}
	rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : sq_fail(s, rc);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return rc;
}

/*
 * Each operation decides in one statement. A probe that was not let out
 * reads the row to say why; SUCCESS and RESET leave no row (closed).
 */
static int sq_kv_breaker(struct store *st, const char *key, enum kv_breaker_op op,
			 int64_t threshold, int64_t open_ms, int64_t probe_ms,
			 struct kv_breaker_row *row)
{
	static const char peek_sql[] =
		"SELECT failures, open_until, probe_until, " NOW_MS " FROM kv_breakers WHERE key = ?1";
	static const char probe_sql[] =
		"UPDATE kv_breakers SET probe_until = " NOW_MS " + ?2 "
		"WHERE key = ?1 AND open_until <> 0 AND open_until <= " NOW_MS
		" AND probe_until <= " NOW_MS " "
		"RETURNING failures, open_until, probe_until, " NOW_MS;
	static const char failure_sql[] =
		"INSERT INTO kv_breakers (key, failures, open_until, probe_until) "
		"VALUES (?1, 1, CASE WHEN ?2 <= 1 THEN " NOW_MS " + ?3 ELSE 0 END, 0) "
		"ON CONFLICT (key) DO UPDATE SET failures = kv_breakers.failures + 1, "
		"open_until = CASE WHEN kv_breakers.open_until <> 0 OR kv_breakers.failures + 1 >= ?2 "
		"THEN " NOW_MS " + ?3 ELSE 0 END, probe_until = 0 "
		"RETURNING failures, open_until, probe_until, " NOW_MS;
	static const char delete_sql[] = "DELETE FROM kv_breakers WHERE key = ?1";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc, probed = 0;

	memset(row, 0, sizeof(*row));
	switch (op) {
	case KV_BREAKER_PROBE:
		rc = sq_stmt(s, probe_sql, &stmt, "ti", key, probe_ms);
		if (!rc)
			rc = probed = sq_breaker_step(s, stmt, row);
		if (rc)
			return rc;
		/* not let out: the read below says why */
		/* fall through */
	case KV_BREAKER_PEEK:
		rc = sq_stmt(s, peek_sql, &stmt, "t", key);
		break;
	case KV_BREAKER_FAILURE:
		rc = sq_stmt(s, failure_sql, &stmt, "tii", key, threshold, open_ms);
		break;
	default:
		rc = sq_stmt(s, delete_sql, &stmt, "t", key);
		break;
	}
	if (!rc)
		rc = sq_breaker_step(s, stmt, row);
	return rc < 0 ? rc : probed;
}

static int sq_github_token_get(struct store *st, int64_t installation, int64_t min_left_ms,
			       struct strbuf *token, int64_t *expires_ms)
{
	static const char sql[] =
		"SELECT token, expires_at FROM github_tokens "
		"WHERE installation_id = ?1 AND expires_at - ?2 > " NOW_MS;
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "ii", installation, min_left_ms);

	if (rc)
		return rc;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		strbuf_add(token, sqlite3_column_text(stmt, 0), sqlite3_column_bytes(stmt, 0));
		*expires_ms = sqlite3_column_int64(stmt, 1);
	}
	rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : sq_fail(s, rc);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return rc;
}

static int sq_github_token_put(struct store *st, int64_t installation, const char *token,
			       int64_t expires_ms)
{
	static const char sql[] =
		"INSERT INTO github_tokens (installation_id, token, expires_at) VALUES (?1, ?2, ?3) "
		"ON CONFLICT (installation_id) DO UPDATE SET token = excluded.token, "
		"expires_at = excluded.expires_at WHERE excluded.expires_at >= github_tokens.expires_at";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "iti", installation, token, expires_ms);

	if (!rc)
		rc = sq_step(s, stmt, NULL);
	return rc < 0 ? rc : 0;
}

static int sq_github_token_drop(struct store *st, int64_t installation, const char *token)
{
	static const char sql[] = "DELETE FROM github_tokens WHERE installation_id = ?1 AND token = ?2";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "it", installation, token);

	if (!rc)
		rc = sq_step(s, stmt, NULL);
	return rc < 0 ? rc : 0;
}

static void sq_set_deadline(struct store *st)
{
	struct sq_store *s = sq(st);
	int64_t ms = s->busy_ms, left = st->deadline_ms - mono_ms();

	if (st->deadline_ms && left < ms)
		ms = left > 0 ? left : 0;
	sqlite3_busy_timeout(s->db, ms > INT_MAX ? INT_MAX : (int)ms);
}

/*
 * Leases and jobs. Each operation is one statement, so it runs under
 * SQLite's one write lock from start to end; NOW_MS is one value within
 * it. The next fence is (SELECT value + 1 FROM lease_fence), which the
 * triggers of 0002-lease.sql store.
 */
#define LEASE_COLS(p) p "job, " p "holder, " p "fence, " p "acquired_at, " p "renewed_at, " \
	p "expires_at, " p "released_at, " NOW_MS
#define NEXT_FENCE "(SELECT value + 1 FROM lease_fence)"
/* An upsert that takes a lease over when it has expired (and, for acquire, from its holder). */
#define TAKE_LEASE \
	"ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, fence = excluded.fence, " \
	"acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at, " \
	"expires_at = excluded.expires_at, released_at = NULL WHERE leases.expires_at <= " NOW_MS
#define HOLDS(job, fence) \
	"EXISTS (SELECT 1 FROM leases WHERE job = " job " AND fence = " fence \
	" AND expires_at > " NOW_MS ")"

static int sq_lease_acquire(struct store *st, const char *job, const char *holder, int64_t ttl,
			    store_row_fn fn, void *data)
{
	static const char sql[] =
		"INSERT INTO leases (job, holder, fence, acquired_at, renewed_at, expires_at) "
		"VALUES (?1, ?2, " NEXT_FENCE ", " NOW_MS ", " NOW_MS ", " NOW_MS " + ?3 * 1000) "
		TAKE_LEASE " OR leases.holder = excluded.holder "
		"RETURNING " LEASE_COLS("");
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "tti", job, holder, ttl);

	return rc ? rc : sq_rows(s, stmt, fn, data);
}

static int sq_lease_renew(struct store *st, const char *job, int64_t fence, int64_t ttl,
			  store_row_fn fn, void *data)
{
	static const char sql[] =
		"UPDATE leases SET renewed_at = " NOW_MS ", expires_at = " NOW_MS " + ?3 * 1000 "
		"WHERE job = ?1 AND fence = ?2 AND expires_at > " NOW_MS " "
		"RETURNING " LEASE_COLS("");
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "tii", job, fence, ttl);

	return rc ? rc : sq_rows(s, stmt, fn, data);
}

static int sq_lease_release(struct store *st, const char *job, int64_t fence)
{
	static const char sql[] =
		"UPDATE leases SET expires_at = " NOW_MS ", released_at = " NOW_MS " "
		"WHERE job = ?1 AND fence = ?2 AND expires_at > " NOW_MS;
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "ti", job, fence);

	return rc ? rc : sq_changes(s, stmt);
}

static int sq_lease_check(struct store *st, const char *job, int64_t fence)
{
	static const char sql[] = "SELECT " HOLDS("?1", "?2");
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int64_t held;
	int rc = sq_stmt(s, sql, &stmt, "ti", job, fence);

	if (!rc)
		rc = sq_int64(s, stmt, &held);
	return rc ? rc : held != 0;
}

static int sq_lease_read(struct store *st, const char *job, store_row_fn fn, void *data)
{
	static const char one_sql[] = "SELECT " LEASE_COLS("") " FROM leases WHERE job = ?1";
	static const char live_sql[] =
		"SELECT " LEASE_COLS("") " FROM leases WHERE expires_at > " NOW_MS " ORDER BY job";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = job ? sq_stmt(s, one_sql, &stmt, "t", job) : sq_stmt(s, live_sql, &stmt, "");

	return rc ? rc : sq_rows(s, stmt, fn, data);
}

static int sq_job_add(struct store *st, const char *id, const char *org, const char *repo,
		      const char *labels, const char *payload, int64_t *seq)
{
	static const char sql[] =
		"INSERT INTO jobs (id, org, repo, labels, payload, created_at) "
		"VALUES (?1, ?2, ?3, ?4, ?5, " NOW_MS ") ON CONFLICT (id) DO NOTHING RETURNING seq";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "ttttt", id, org, repo, labels, payload);

	return rc ? rc : sq_step(s, stmt, seq);
}

#define JOB_SELECT \
	"SELECT j.seq, j.id, j.org, j.repo, j.labels, j.payload, j.meta, j.status, j.reason, " \
	"j.created_at, j.finished_at, " LEASE_COLS("l.") " FROM jobs j LEFT JOIN leases l ON l.job = j.id "

static int sq_job_read(struct store *st, const char *id, const char *state, store_row_fn fn,
		       void *data)
{
	static const char one_sql[] = JOB_SELECT "WHERE j.id = ?1";
	static const char list_sql[] = JOB_SELECT
		"WHERE ?1 IS NULL OR ?1 = CASE WHEN j.status IS NOT NULL THEN j.status "
		"WHEN l.expires_at > " NOW_MS " THEN 'claimed' ELSE 'queued' END ORDER BY j.seq";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, id ? one_sql : list_sql, &stmt, "t", id ? id : state);

	return rc ? rc : sq_rows(s, stmt, fn, data);
}

/* ?3: a JSON array of labels, or NULL for any; every label of the job must be in it. */
#define CLAIM(only) \
	"INSERT INTO leases (job, holder, fence, acquired_at, renewed_at, expires_at) " \
	"SELECT j.id, ?1, " NEXT_FENCE ", " NOW_MS ", " NOW_MS ", " NOW_MS " + ?2 * 1000 " \
	"FROM jobs j LEFT JOIN leases l ON l.job = j.id " \
	"WHERE j.status IS NULL AND (l.job IS NULL OR l.expires_at <= " NOW_MS ") " only \
	"AND (?3 IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(j.labels) AS jl " \
	"WHERE jl.value NOT IN (SELECT value FROM json_each(?3)))) " \
	"ORDER BY j.seq LIMIT 1 " TAKE_LEASE " RETURNING " LEASE_COLS("")

static int sq_job_claim(struct store *st, const char *only_id, const char *holder, int64_t ttl,
			const char *labels, store_row_fn fn, void *data)
{
	static const char any_sql[] = CLAIM("");
	static const char one_sql[] = CLAIM("AND j.id = ?4 ");
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = only_id ? sq_stmt(s, one_sql, &stmt, "titt", holder, ttl, labels, only_id)
			 : sq_stmt(s, any_sql, &stmt, "tit", holder, ttl, labels);

	return rc ? rc : sq_rows(s, stmt, fn, data);
}

static int sq_job_finish(struct store *st, const char *id, int64_t fence, const char *status,
			 const char *reason)
{
	static const char fenced_sql[] =
		"UPDATE jobs SET status = ?3, reason = ?4, finished_at = " NOW_MS " "
		"WHERE id = ?1 AND status IS NULL AND " HOLDS("?1", "?2");
	/* ?2 unused: the same bindings fit both */
	static const char unfenced_sql[] =
		"UPDATE jobs SET status = ?3, reason = ?4, finished_at = " NOW_MS " "
		"WHERE id = ?1 AND status IS NULL";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, fence ? fenced_sql : unfenced_sql, &stmt, "titt", id, fence, status,
			 reason);

	return rc ? rc : sq_changes(s, stmt);
}

static int sq_job_set_meta(struct store *st, const char *id, int64_t fence, const char *meta)
{
	static const char sql[] =
		"UPDATE jobs SET meta = json_patch(meta, ?3) WHERE id = ?1 AND " HOLDS("?1", "?2");
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "tit", id, fence, meta);

	return rc ? rc : sq_changes(s, stmt);
}

static int sq_logs_insert(struct store *st, struct log_batch *const *batches, size_t nr,
			  int64_t *added)
{
	static const char sql[] =
		"INSERT INTO logs (org_id, repo_id, job_id, seq, runner_id, ts, stream, line) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING";
	struct sq_store *s = sq(st);

	*added = 0;
	for (size_t i = 0; i < nr; i++) {
		const struct log_batch *b = batches[i];

		for (size_t j = 0; j < b->nr; j++) {
			const struct log_row *r = &b->rows[j];
			sqlite3_stmt *stmt;
			int rc = sq_stmt(s, sql, &stmt, "tttitii", b->id.org, b->id.repo, b->id.job, r->seq,
					 b->id.runner, r->ts, (int64_t)r->stream);

			if (!rc && sqlite3_bind_text(stmt, 8, log_row_line(b, r), r->len, SQLITE_STATIC))
				rc = sq_fail(s, sqlite3_errcode(s->db));
			if (!rc)
				rc = sq_step(s, stmt, NULL);
			if (rc < 0)
				return rc;
			*added += sqlite3_changes(s->db);
		}
	}
	return 0;
}

/*
 * One statement per combination of the repo and job filters, so that
 * the page comes from an index in order (log_query_params()).
 */
#define SQ_LOGS_SELECT \
	"SELECT repo_id, job_id, runner_id, ts, seq, stream, line FROM logs WHERE org_id = ?1 " \
	"AND ts >= ?2 AND ts < ?3 AND (?4 IS NULL OR instr(line, ?4) > 0) "
#define SQ_LOGS_ORDER "ORDER BY ts, repo_id, job_id, seq "

static int sq_logs_query(struct store *st, const struct log_query *q, json_t *rows)
{
	static const char *const sql[] = {
		SQ_LOGS_SELECT "AND (ts, repo_id, job_id, seq) > (?5, ?6, ?7, ?8) " SQ_LOGS_ORDER "LIMIT ?9",
		SQ_LOGS_SELECT "AND repo_id = ?5 AND (ts, repo_id, job_id, seq) > (?6, ?7, ?8, ?9) "
		SQ_LOGS_ORDER "LIMIT ?10",
		SQ_LOGS_SELECT "AND job_id = ?5 AND (ts, repo_id, job_id, seq) > (?6, ?7, ?8, ?9) "
		SQ_LOGS_ORDER "LIMIT ?10",
		SQ_LOGS_SELECT "AND repo_id = ?5 AND job_id = ?6 AND (ts, seq) > (?7, ?8) "
		SQ_LOGS_ORDER "LIMIT ?9",
	};
	struct log_param p[LOG_QUERY_PARAMS_MAX];
	struct sq_store *s = sq(st);
	int variant;
	size_t n = log_query_params(q, p, &variant);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql[variant], &stmt, ""), step = SQLITE_OK;

	if (rc)
		return rc;
	for (size_t i = 0; i < n && step == SQLITE_OK; i++)
		step = p[i].is_int ? sqlite3_bind_int64(stmt, i + 1, p[i].i) :
		       sqlite3_bind_text(stmt, i + 1, p[i].s, -1, SQLITE_STATIC);
	while (step == SQLITE_OK || step == SQLITE_ROW) {
		step = sqlite3_step(stmt);
		if (step != SQLITE_ROW)
			break;
		json_array_append_new(rows, log_entry_json(
			(const char *)sqlite3_column_text(stmt, 0), (const char *)sqlite3_column_text(stmt, 1),
			(const char *)sqlite3_column_text(stmt, 2), sqlite3_column_int64(stmt, 3),
			sqlite3_column_int64(stmt, 4), sqlite3_column_int(stmt, 5),
			(const char *)sqlite3_column_text(stmt, 6), sqlite3_column_bytes(stmt, 6)));
	}
	rc = step == SQLITE_DONE ? 0 : sq_fail(s, step);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return rc;
}

static int sq_logs_prune(struct store *st, int64_t before, int limit)
{
	static const char sql[] =
		"DELETE FROM logs WHERE rowid IN (SELECT rowid FROM logs WHERE ts < ?1 LIMIT ?2)";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "ii", before, (int64_t)limit);

	if (!rc)
		rc = sq_step(s, stmt, NULL);
	return rc < 0 ? rc : sqlite3_changes(s->db);
}

/* A text column, never NULL. */
static const char *sq_text(sqlite3_stmt *stmt, int col)
{
	const char *v = (const char *)sqlite3_column_text(stmt, col);

	return v ? v : "";
}

static const char *sq_text_or_null(sqlite3_stmt *stmt, int col)
{
	return (const char *)sqlite3_column_text(stmt, col);
}

static int sq_reg_link(struct store *st, const char *org, const char *digest, int64_t size,
		       int64_t default_quota)
{
	static const char org_sql[] = "INSERT INTO registry_orgs (org) VALUES (?1) ON CONFLICT DO NOTHING";
	static const char touch_sql[] =
		"UPDATE registry_links SET accessed_at = " NOW_MS " WHERE org = ?1 AND digest = ?2";
	static const char usage_sql[] =
		"SELECT used, coalesce(quota, ?2) FROM registry_orgs WHERE org = ?1";
	static const char blob_sql[] =
		"INSERT INTO registry_blobs (digest, size, created_at) VALUES (?1, ?2, " NOW_MS ") "
		"ON CONFLICT DO NOTHING";
	static const char link_sql[] =
		"INSERT INTO registry_links (org, digest, size, linked_at, accessed_at) "
		"VALUES (?1, ?2, ?3, " NOW_MS ", " NOW_MS ")";
	static const char charge_sql[] = "UPDATE registry_orgs SET used = used + ?2 WHERE org = ?1";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int64_t used, quota;
	int rc;

	rc = sq_run(s, org_sql, "t", org);
	if (rc >= 0)
		rc = sq_stmt(s, usage_sql, &stmt, "ti", org, default_quota);
	if (rc >= 0)
		rc = sq_next(s, stmt);
	if (rc <= 0)
		return rc < 0 ? rc : fail(EXIT_FAIL, "registry: org %s has no row", org);
	used = sqlite3_column_int64(stmt, 0);
	quota = sqlite3_column_int64(stmt, 1);
	sq_done(stmt);
	rc = sq_run(s, touch_sql, "tt", org, digest);
	if (rc)
		return rc < 0 ? rc : 0;
	if (size > quota - used)
		return reg_over_quota(org, used, quota, size);
	rc = sq_run(s, blob_sql, "ti", digest, size);
	if (rc >= 0)
		rc = sq_run(s, link_sql, "tti", org, digest, size);
	if (rc >= 0)
		rc = sq_run(s, charge_sql, "ti", org, size);
	return rc < 0 ? rc : 1;
}

static int sq_reg_blob(struct store *st, const char *org, const char *digest, int64_t *size)
{
	static const char sql[] =
		"SELECT size, accessed_at < " NOW_MS " - " REG_ACCESS_RESOLUTION_MS
		" FROM registry_links WHERE org = ?1 AND digest = ?2";
	static const char touch_sql[] =
		"UPDATE registry_links SET accessed_at = " NOW_MS " WHERE org = ?1 AND digest = ?2";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	bool stale;
	int rc = sq_stmt(s, sql, &stmt, "tt", org, digest);

	if (!rc)
		rc = sq_next(s, stmt);
	if (rc <= 0)
		return rc < 0 ? rc : -EXIT_NOTFOUND;
	*size = sqlite3_column_int64(stmt, 0);
	stale = sqlite3_column_int64(stmt, 1);
	sq_done(stmt);
	/* best effort: a busy database must not fail a read */
	if (stale && sq_run(s, touch_sql, "tt", org, digest) < 0)
		log_debug("%s", fail_message());
	return 0;
}

static int sq_reg_unlink(struct store *st, const char *org, const char *digest)
{
	static const char ref_sql[] =
		"SELECT count(*) FROM registry_refs WHERE org = ?1 AND digest = ?2";
	static const char unlink_sql[] =
		"DELETE FROM registry_links WHERE org = ?1 AND digest = ?2 RETURNING size";
	static const char credit_sql[] = "UPDATE registry_orgs SET used = used - ?2 WHERE org = ?1";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int64_t refs, size;
	int rc = sq_stmt(s, ref_sql, &stmt, "tt", org, digest);

	if (!rc)
		rc = sq_int64(s, stmt, &refs);
	if (!rc && refs)
		return reg_referenced(digest, refs);
	if (!rc)
		rc = sq_stmt(s, unlink_sql, &stmt, "tt", org, digest);
	if (!rc)
		rc = sq_step(s, stmt, &size);
	if (rc <= 0)
		return rc < 0 ? rc : -EXIT_NOTFOUND;
	rc = sq_run(s, credit_sql, "ti", org, size);
	return rc < 0 ? rc : 0;
}

static int sq_reg_blob_drop(struct store *st, const char *digest, bool dry_run)
{
	static const char linked_sql[] = "SELECT count(*) FROM registry_links WHERE digest = ?1";
	static const char drop_sql[] = "DELETE FROM registry_blobs WHERE digest = ?1";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int64_t links;
	int rc = sq_stmt(s, linked_sql, &stmt, "t", digest);

	if (!rc)
		rc = sq_int64(s, stmt, &links);
	if (rc || links)
		return rc;
	if (!dry_run && (rc = sq_run(s, drop_sql, "t", digest)) < 0)
		return rc;
	return 1;
}

static int sq_reg_upload_new(struct store *st, const char *id, const char *repo)
{
	static const char sql[] =
		"INSERT INTO registry_uploads (id, repo, created_at, touched_at) "
		"VALUES (?1, ?2, " NOW_MS ", " NOW_MS ")";
	int rc = sq_run(sq(st), sql, "tt", id, repo);

	return rc < 0 ? rc : 0;
}

static int sq_reg_upload_touch(struct store *st, const char *id, const char *repo)
{
	static const char sql[] =
		"UPDATE registry_uploads SET touched_at = " NOW_MS " WHERE id = ?1 AND repo = ?2";

	return store_found(sq_run(sq(st), sql, "tt", id, repo));
}

static int sq_reg_upload_end(struct store *st, const char *id)
{
	static const char sql[] = "DELETE FROM registry_uploads WHERE id = ?1";
	int rc = sq_run(sq(st), sql, "t", id);

	return rc < 0 ? rc : 0;
}

static int sq_reg_manifest_put(struct store *st, const struct reg_manifest *m, const char *tag)
{
	static const char org_sql[] = "INSERT INTO registry_orgs (org) VALUES (?1) ON CONFLICT DO NOTHING";
	static const char blob_sql[] = "SELECT size FROM registry_links WHERE org = ?1 AND digest = ?2";
	static const char child_sql[] =
		"SELECT count(*) FROM registry_manifests WHERE repo = ?1 AND digest = ?2";
	static const char repo_sql[] =
		"INSERT INTO registry_repos (name, org, created_at) VALUES (?1, ?2, " NOW_MS ") "
		"ON CONFLICT DO NOTHING";
	static const char manifest_sql[] =
		"INSERT INTO registry_manifests (repo, digest, media_type, content, size, subject, "
		"artifact_type, annotations, created_at) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, " NOW_MS ") ON CONFLICT DO NOTHING";
	static const char ref_sql[] =
		"INSERT INTO registry_refs (repo, manifest, digest, org) VALUES (?1, ?2, ?3, ?4) "
		"ON CONFLICT DO NOTHING";
	static const char tag_sql[] =
		"INSERT INTO registry_tags (repo, tag, digest) VALUES (?1, ?2, ?3) "
		"ON CONFLICT (repo, tag) DO UPDATE SET digest = excluded.digest";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int64_t v;
	int rc = sq_run(s, org_sql, "t", m->org);

	for (size_t i = 0; rc >= 0 && i < m->blobs_nr; i++) {
		rc = sq_stmt(s, blob_sql, &stmt, "tt", m->org, m->blobs[i].digest);
		if (!rc)
			rc = sq_step(s, stmt, &v);
		if (!rc)
			return reg_blob_unknown("blob", m->blobs[i].digest);
		if (rc > 0 && v != m->blobs[i].size)
			return reg_blob_size(&m->blobs[i], v);
	}
	for (size_t i = 0; rc >= 0 && i < m->children_nr; i++) {
		rc = sq_stmt(s, child_sql, &stmt, "tt", m->repo, m->children[i].digest);
		if (!rc)
			rc = sq_int64(s, stmt, &v);
		if (!rc && !v)
			return reg_blob_unknown("manifest", m->children[i].digest);
	}
	if (rc >= 0)
		rc = sq_run(s, repo_sql, "tt", m->repo, m->org);
	if (rc >= 0)
		rc = sq_run(s, manifest_sql, "ttttittt", m->repo, m->digest, m->media_type, m->content,
			    (int64_t)m->size, m->subject, m->artifact_type, m->annotations);
	/* a manifest stored before has its references already */
	if (rc > 0)
		for (size_t i = 0; rc >= 0 && i < m->refs_nr; i++)
			rc = sq_run(s, ref_sql, "tttt", m->repo, m->digest, m->refs[i], m->org);
	if (rc >= 0 && tag)
		rc = sq_run(s, tag_sql, "ttt", m->repo, tag, m->digest);
	return rc < 0 ? rc : 0;
}

static int sq_reg_manifest_get(struct store *st, const char *repo, const char *ref, bool by_digest,
			       struct strbuf *content, struct strbuf *media_type,
			       char digest[OCI_DIGEST_LEN + 1])
{
	static const char digest_sql[] =
		"SELECT content, media_type, digest FROM registry_manifests WHERE repo = ?1 AND digest = ?2";
	static const char tag_sql[] =
		"SELECT m.content, m.media_type, m.digest FROM registry_tags t JOIN registry_manifests m "
		"ON m.repo = t.repo AND m.digest = t.digest WHERE t.repo = ?1 AND t.tag = ?2";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, by_digest ? digest_sql : tag_sql, &stmt, "tt", repo, ref);

	if (!rc)
		rc = sq_next(s, stmt);
	if (rc <= 0)
		return rc < 0 ? rc : -EXIT_NOTFOUND;
	strbuf_add(content, sqlite3_column_text(stmt, 0), sqlite3_column_bytes(stmt, 0));
	strbuf_addstr(media_type, sq_text(stmt, 1));
	xsnprintf(digest, OCI_DIGEST_LEN + 1, "%s", sq_text(stmt, 2));
	sq_done(stmt);
	return 0;
}

static int sq_reg_manifest_delete(struct store *st, const char *repo, const char *digest)
{
	static const char sql[] = "DELETE FROM registry_manifests WHERE repo = ?1 AND digest = ?2";

	return store_found(sq_run(sq(st), sql, "tt", repo, digest));
}

static int sq_reg_tag_delete(struct store *st, const char *repo, const char *tag)
{
	static const char sql[] = "DELETE FROM registry_tags WHERE repo = ?1 AND tag = ?2";

	return store_found(sq_run(sq(st), sql, "tt", repo, tag));
}

static int sq_reg_tags(struct store *st, const char *repo, const char *last, int64_t limit,
		       struct strvec *tags)
{
	static const char repo_sql[] = "SELECT count(*) FROM registry_repos WHERE name = ?1";
	static const char sql[] =
		"SELECT tag FROM registry_tags WHERE repo = ?1 "
		"AND (?2 IS NULL OR (lower(tag), tag) > (lower(?2), ?2)) "
		"ORDER BY lower(tag), tag LIMIT ?3";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int64_t known;
	int rc = sq_stmt(s, repo_sql, &stmt, "t", repo);

	if (!rc)
		rc = sq_int64(s, stmt, &known);
	if (!rc && !known)
		return -EXIT_NOTFOUND;
	if (!rc)
		rc = sq_stmt(s, sql, &stmt, "tti", repo, last, limit);
	while (!rc && (rc = sq_next(s, stmt)) > 0) {
		strvec_push(tags, sq_text(stmt, 0));
		rc = 0;
	}
	return rc;
}

static int sq_reg_referrers(struct store *st, const char *repo, const char *digest,
			    const char *artifact_type, reg_referrer_fn *fn, void *data)
{
	static const char sql[] =
		"SELECT digest, media_type, size, artifact_type, annotations FROM registry_manifests "
		"WHERE repo = ?1 AND subject = ?2 AND (?3 IS NULL OR artifact_type = ?3) "
		"ORDER BY created_at, digest";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "ttt", repo, digest, artifact_type);

	while (!rc && (rc = sq_next(s, stmt)) > 0) {
		fn(data, sq_text(stmt, 0), sq_text(stmt, 1), sqlite3_column_int64(stmt, 2),
		   sq_text_or_null(stmt, 3), sq_text_or_null(stmt, 4));
		rc = 0;
	}
	return rc;
}

static int sq_reg_quota_set(struct store *st, const char *org, int64_t quota)
{
	static const char sql[] =
		"INSERT INTO registry_orgs (org, quota) VALUES (?1, CASE WHEN ?2 < 0 THEN NULL ELSE ?2 END) "
		"ON CONFLICT (org) DO UPDATE SET quota = excluded.quota";
	int rc = sq_run(sq(st), sql, "ti", org, quota);

	return rc < 0 ? rc : 0;
}

static int sq_reg_usage(struct store *st, const char *org, int64_t default_quota, reg_usage_fn *fn,
			void *data)
{
	static const char sql[] =
		"SELECT org, used, coalesce(quota, ?2), "
		"(SELECT count(*) FROM registry_links l WHERE l.org = o.org) "
		"FROM registry_orgs o WHERE ?1 IS NULL OR org = ?1 ORDER BY org";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "ti", org, default_quota);

	while (!rc && (rc = sq_next(s, stmt)) > 0) {
		struct reg_usage u = {
			sq_text(stmt, 0), sqlite3_column_int64(stmt, 1), sqlite3_column_int64(stmt, 2),
			sqlite3_column_int64(stmt, 3),
		};

		fn(data, &u);
		rc = 0;
	}
	return rc;
}

/* An org's links that gc may take: old enough, and no manifest of the org refers to them. */
#define SQ_COLLECTIBLE \
	"l.org = ?1 AND max(l.linked_at, l.accessed_at) <= " NOW_MS " - ?2 AND NOT EXISTS " \
	"(SELECT 1 FROM registry_refs r WHERE r.org = l.org AND r.digest = l.digest)"

static int sq_reg_gc_links(struct store *st, const char *org, int64_t grace_ms, bool dry_run,
			   int64_t *count, int64_t *bytes)
{
	static const char count_sql[] =
		"SELECT size FROM registry_links AS l WHERE " SQ_COLLECTIBLE;
	static const char unlink_sql[] =
		"DELETE FROM registry_links AS l WHERE " SQ_COLLECTIBLE " RETURNING size";
	static const char credit_sql[] = "UPDATE registry_orgs SET used = used - ?2 WHERE org = ?1";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, dry_run ? count_sql : unlink_sql, &stmt, "ti", org, grace_ms);

	*count = *bytes = 0;
	while (!rc && (rc = sq_next(s, stmt)) > 0) {
		++*count;
		*bytes += sqlite3_column_int64(stmt, 0);
		rc = 0;
	}
	if (!rc && !dry_run && *count)
		rc = sq_run(s, credit_sql, "ti", org, *bytes);
	return rc < 0 ? rc : 0;
}

static int sq_reg_gc_uploads(struct store *st, const char *org, int64_t grace_ms, bool dry_run,
			     struct strvec *ids)
{
	static const char select_sql[] =
		"SELECT id FROM registry_uploads WHERE touched_at <= " NOW_MS " - ?1 "
		"AND (?2 IS NULL OR substr(repo, 1, length(?2) + 1) = ?2 || '/')";
	static const char delete_sql[] =
		"DELETE FROM registry_uploads WHERE touched_at <= " NOW_MS " - ?1 "
		"AND (?2 IS NULL OR substr(repo, 1, length(?2) + 1) = ?2 || '/') RETURNING id";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, dry_run ? select_sql : delete_sql, &stmt, "it", grace_ms, org);

	while (!rc && (rc = sq_next(s, stmt)) > 0) {
		strvec_push(ids, sq_text(stmt, 0));
		rc = 0;
	}
	return rc;
}

static int sq_reg_robot_set(struct store *st, const char *org, const char *name, const char *hash,
			    const char *actions)
{
	static const char sql[] =
		"INSERT INTO registry_robots (org, name, secret_hash, actions, created_at) "
		"VALUES (?1, ?2, ?3, ?4, " NOW_MS ") ON CONFLICT (org, name) DO UPDATE SET "
		"secret_hash = excluded.secret_hash, actions = excluded.actions, "
		"created_at = excluded.created_at";
	int rc = sq_run(sq(st), sql, "tttt", org, name, hash, actions);

	return rc < 0 ? rc : 0;
}

static int sq_reg_robot_get(struct store *st, const char *org, const char *name,
			    struct strbuf *hash, struct strbuf *actions)
{
	static const char sql[] =
		"SELECT secret_hash, actions FROM registry_robots WHERE org = ?1 AND name = ?2";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "tt", org, name);

	if (!rc)
		rc = sq_next(s, stmt);
	if (rc <= 0)
		return rc < 0 ? rc : -EXIT_NOTFOUND;
	strbuf_addstr(hash, sq_text(stmt, 0));
	strbuf_addstr(actions, sq_text(stmt, 1));
	sq_done(stmt);
	return 0;
}

static int sq_reg_robot_delete(struct store *st, const char *org, const char *name)
{
	static const char sql[] = "DELETE FROM registry_robots WHERE org = ?1 AND name = ?2";

	return store_found(sq_run(sq(st), sql, "tt", org, name));
}

static int sq_reg_robots(struct store *st, const char *org, reg_robot_fn *fn, void *data)
{
	static const char sql[] =
		"SELECT org, name, actions, created_at FROM registry_robots "
		"WHERE ?1 IS NULL OR org = ?1 ORDER BY org, name";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "t", org);

	while (!rc && (rc = sq_next(s, stmt)) > 0) {
		fn(data, sq_text(stmt, 0), sq_text(stmt, 1), sq_text(stmt, 2),
		   sqlite3_column_int64(stmt, 3));
		rc = 0;
	}
	return rc;
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.begin_sql = { "BEGIN", "BEGIN IMMEDIATE" },
	.close = sq_close,
	.exec = sq_exec,
	.rollback = sq_rollback,
	.now_ms = sq_now_ms,
	.version = sq_version,
	.lock_schema = sq_lock_schema,
	.record_migration = sq_record_migration,
	.kv_claim = sq_kv_claim,
	.kv_incr = sq_kv_incr,
	.kv_sweep = sq_kv_sweep,
	.kv_gcra = sq_kv_gcra,
	.kv_breaker = sq_kv_breaker,
	.github_token_get = sq_github_token_get,
	.github_token_put = sq_github_token_put,
	.github_token_drop = sq_github_token_drop,
	.set_deadline = sq_set_deadline,
	.lease_acquire = sq_lease_acquire,
	.lease_renew = sq_lease_renew,
	.lease_release = sq_lease_release,
	.lease_check = sq_lease_check,
	.lease_read = sq_lease_read,
	.job_add = sq_job_add,
	.job_read = sq_job_read,
	.job_claim = sq_job_claim,
	.job_finish = sq_job_finish,
	.job_set_meta = sq_job_set_meta,
	.logs_insert = sq_logs_insert,
	.logs_query = sq_logs_query,
	.logs_prune = sq_logs_prune,
	.reg_link = sq_reg_link,
	.reg_blob = sq_reg_blob,
	.reg_unlink = sq_reg_unlink,
	.reg_blob_drop = sq_reg_blob_drop,
	.reg_upload_new = sq_reg_upload_new,
	.reg_upload_touch = sq_reg_upload_touch,
	.reg_upload_end = sq_reg_upload_end,
	.reg_manifest_put = sq_reg_manifest_put,
	.reg_manifest_get = sq_reg_manifest_get,
	.reg_manifest_delete = sq_reg_manifest_delete,
	.reg_tag_delete = sq_reg_tag_delete,
	.reg_tags = sq_reg_tags,
	.reg_referrers = sq_reg_referrers,
	.reg_quota_set = sq_reg_quota_set,
	.reg_usage = sq_reg_usage,
	.reg_gc_links = sq_reg_gc_links,
	.reg_gc_uploads = sq_reg_gc_uploads,
	.reg_robot_set = sq_reg_robot_set,
	.reg_robot_get = sq_reg_robot_get,
	.reg_robot_delete = sq_reg_robot_delete,
	.reg_robots = sq_reg_robots,
	.cache_put = sq_cache_put,
	.cache_delete = sq_cache_delete,
	.cache_touch = sq_cache_touch,
	.cache_list = sq_cache_list,
	.cache_orgs = sq_cache_orgs,
};

/* mkdir -p for the directories above path, each new one 0700. */
static int create_leading_dirs(const char *path)
{
	char *dir = xstrdup(path);
	int rc = 0;

	for (char *p = strchr(dir + 1, '/'); p && !rc; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			rc = fail_errno(errno == EACCES ? EXIT_PERM : EXIT_FAIL,
					"cannot create directory %s", dir);
		*p = '/';
	}
	free(dir);
	return rc;
}

/* Create the file 0600 when it is missing; an existing one is left to SQLite. */
static int create_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd >= 0)
		return close(fd);
	if (errno == EEXIST)
		return 0;
	return fail_errno(errno == EACCES ? EXIT_PERM : EXIT_FAIL, "cannot create %s", path);
}

/*
 * Switching a new file to WAL needs the lock of every other connection:
 * when processes open a new file together, one of them may see BUSY
 * without the busy handler being called. Retry within the timeout.
 */
static int set_wal(struct sq_store *s, int64_t timeout_ms)
{
	for (int64_t waited = 0;; waited += 10) {
		int rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);

		if (rc == SQLITE_OK)
			return 0;
		if ((rc & 0xff) != SQLITE_BUSY || waited >= timeout_ms)
			return sq_fail(s, rc);
		sqlite3_sleep(10);
	}
}

int store_sqlite_open(struct store **out, const char *path)
{
	struct sq_store *s = xcalloc(1, sizeof(*s));
	int64_t timeout_ms = cfg_int("store.busy_timeout") * 1000;
	int rc;

	s->base.ops = &sqlite_ops;
	s->path = xstrdup(path);
	s->busy_ms = timeout_ms;
	rc = create_leading_dirs(path);
	if (!rc)
		rc = create_file(path);
	if (!rc) {
		rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL);
		if (!s->db)
			die("out of memory opening %s", path);
		rc = rc == SQLITE_OK ? 0 : sq_fail(s, rc);
	}
	if (!rc)
		rc = sqlite3_busy_timeout(s->db, timeout_ms > INT_MAX ? INT_MAX : (int)timeout_ms);
	if (!rc)
		rc = set_wal(s, timeout_ms);
	if (!rc)
		rc = sq_exec(&s->base, "PRAGMA foreign_keys = ON");
	if (rc) {
		sq_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return 0;
}
