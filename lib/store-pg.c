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
