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
 * copied: it must live until the statement has run).
 */
static int sq_stmt(struct sq_store *s, const char *sql, sqlite3_stmt **out, const char *types, ...)
{
	sqlite3_stmt *stmt = NULL;
	va_list ap;
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
	va_start(ap, types);
	for (int i = 0; types[i] && rc == SQLITE_OK; i++) {
		if (types[i] == 'i')
			rc = sqlite3_bind_int64(stmt, i + 1, va_arg(ap, int64_t));
		else
			rc = sqlite3_bind_text(stmt, i + 1, va_arg(ap, const char *), -1, SQLITE_STATIC);
	}
	va_end(ap);
	if (rc != SQLITE_OK) {
		sqlite3_clear_bindings(stmt);
		return sq_fail(s, rc);
	}
	*out = stmt;
	return 0;
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

static int sq_kv_unclaim(struct store *st, const char *key)
{
	static const char sql[] = "DELETE FROM kv_claims WHERE key = ?1";
	struct sq_store *s = sq(st);
	sqlite3_stmt *stmt;
	int rc = sq_stmt(s, sql, &stmt, "t", key);

	if (!rc)
		rc = sq_step(s, stmt, NULL);
	return rc < 0 ? rc : 0;
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
	.kv_unclaim = sq_kv_unclaim,
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
