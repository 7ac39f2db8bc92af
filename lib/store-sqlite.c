#include "common.h"
#include "config.h"
#include "log.h"
#include "store-internal.h"

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
	.logs_insert = sq_logs_insert,
	.logs_query = sq_logs_query,
	.logs_prune = sq_logs_prune,
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
