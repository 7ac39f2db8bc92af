#include "common.h"
#include "config.h"
#include "migrations.h"
#include "redact.h"
#include "store-internal.h"

int store_open_url(struct store **out, const char *url, unsigned flags)
{
	struct strbuf shown = STRBUF_INIT;
	const char *path;
	int rc;

	*out = NULL;
	redact_register_url(url);
	strbuf_addstr(&shown, url);
	redact(&shown);
	if (skip_prefix(url, "sqlite:", &path)) {
		if (*path)
			rc = store_sqlite_open(out, path);
		else
			rc = fail(EXIT_CONFIG, "store URL '%s' has no path (sqlite:PATH)", shown.buf);
	} else if (starts_with(url, "postgres://") || starts_with(url, "postgresql://")) {
		rc = store_pg_open(out, url, shown.buf);
	} else {
		rc = fail(EXIT_CONFIG, "store URL '%s' is not sqlite:PATH, postgres://... or postgresql://...",
			  shown.buf);
	}
	if (rc) {
		strbuf_release(&shown);
		return rc;
	}
	(*out)->url = strbuf_detach(&shown, NULL);
	if (flags & STORE_MIGRATE) {
		rc = store_migrate(*out, NULL);
		if (rc) {
			store_close(*out);
			*out = NULL;
		}
	}
	return rc;
}

int store_open(struct store **out, unsigned flags)
{
	return store_open_url(out, cfg_str("store.url"), flags);
}

void store_close(struct store *st)
{
	char *url;

	if (!st)
		return;
	store_rollback(st);
	url = st->url;
	st->ops->close(st);
	free(url);
}

void store_die(struct store *st, int rc)
{
	store_close(st);
	die_fail(rc);
}

const char *store_driver(const struct store *st)
{
	return st->ops->name;
}

const char *store_url(const struct store *st)
{
	return st->url;
}

int store_begin(struct store *st, enum store_tx mode)
{
	int rc;

	if (st->in_tx)
		BUG("store transactions do not nest");
	rc = st->ops->exec(st, st->ops->begin_sql[mode]);
	if (!rc)
		st->in_tx = true;
	return rc;
}

int store_commit(struct store *st)
{
	int rc;

	if (!st->in_tx)
		BUG("store_commit outside a transaction");
	rc = st->ops->exec(st, "COMMIT");
	/* A failed COMMIT may leave SQLite's transaction open. */
	if (rc)
		st->ops->rollback(st);
	st->in_tx = false;
	return rc;
}

void store_rollback(struct store *st)
{
	if (!st->in_tx)
		return;
	st->ops->rollback(st);
	st->in_tx = false;
}

int store_now_ms(struct store *st, int64_t *ms)
{
	return st->ops->now_ms(st, ms);
}

int store_version(struct store *st, int *version)
{
	return st->ops->version(st, version);
}

int store_latest_version(const struct store *st)
{
	int latest = 0;

	for (const struct migration *m = migrations; m->driver; m++)
		if (!strcmp(m->driver, st->ops->name) && m->version > latest)
			latest = m->version;
	return latest;
}

const char *store_migration_name(const struct store *st, int version)
{
	for (const struct migration *m = migrations; m->driver; m++)
		if (!strcmp(m->driver, st->ops->name) && m->version == version)
			return m->name;
	return NULL;
}

void store_migrate_result_release(struct store_migrate_result *res)
{
	free(res->applied);
	res->applied = NULL;
	res->applied_nr = res->applied_alloc = 0;
}

static int too_new(int version, int latest)
{
	return fail(EXIT_FAIL, "the schema is at version %d, newer than this nimbus knows (%d); "
		    "upgrade nimbus", version, latest);
}

/* Say which migration a failure comes from, keeping its exit code. */
static int migration_failed(const struct migration *m, int rc)
{
	char *why = xstrdup(fail_message());

	rc = fail(fail_code(rc), "migration %04d-%s: %s", m->version, m->name, why);
	free(why);
	return rc;
}

/*
 * One migration in its own write transaction. The version is read again
 * under the lock: another process may have applied it meanwhile.
 * *version is the version once the transaction is over.
 */
static int apply(struct store *st, const struct migration *m, int latest, int *version,
		 bool *applied)
{
	int rc;

	*applied = false;
	rc = store_begin(st, STORE_TX_WRITE);
	if (!rc)
		rc = st->ops->lock_schema(st);
	if (!rc)
		rc = st->ops->version(st, version);
	if (!rc && *version > latest)
		rc = too_new(*version, latest);
	if (rc || *version >= m->version) {
		store_rollback(st);
		return rc;
	}
	rc = st->ops->exec(st, m->sql);
	if (!rc)
		rc = st->ops->record_migration(st, m->version, m->name);
	if (!rc)
		rc = store_commit(st);
	if (rc) {
		store_rollback(st);
		return migration_failed(m, rc);
	}
	*version = m->version;
	*applied = true;
	return 0;
}

int store_migrate(struct store *st, struct store_migrate_result *res)
{
	int latest = store_latest_version(st), version, rc;

	rc = store_version(st, &version);
	if (rc)
		return rc;
	if (res)
		res->from = res->to = version;
	if (version > latest)
		return too_new(version, latest);
	for (const struct migration *m = migrations; m->driver; m++) {
		bool applied;

		if (strcmp(m->driver, st->ops->name) || m->version <= version)
			continue;
		rc = apply(st, m, latest, &version, &applied);
		if (rc)
			return rc;
		if (res && applied) {
			ALLOC_GROW(res->applied, res->applied_nr + 1, res->applied_alloc);
			res->applied[res->applied_nr++] = m->version;
		}
	}
	if (res)
		res->to = version;
	return 0;
}

int store_kv_claim(struct store *st, const char *key, int64_t ttl_seconds)
{
	return st->ops->kv_claim(st, key, ttl_seconds);
}

int store_kv_incr(struct store *st, const char *key, int64_t delta, int64_t ttl_seconds,
		  int64_t *value)
{
	return st->ops->kv_incr(st, key, delta, ttl_seconds, value);
}

int store_kv_sweep(struct store *st, int limit)
{
	return st->ops->kv_sweep(st, limit);
}

int store_kv_gcra(struct store *st, const char *key, int64_t interval, int64_t tau, int64_t cost,
		  int64_t *ahead)
{
	return st->ops->kv_gcra(st, key, interval, tau, cost, ahead);
}

int reg_over_quota(const char *org, int64_t used, int64_t quota, int64_t size)
{
	return fail(EXIT_REJECTED, "quota of org %s exceeded: %" PRId64 " bytes used of %" PRId64
		    ", %" PRId64 " more refused", org, used, quota, size);
}

int reg_referenced(const char *digest, int64_t refs)
{
	return fail(EXIT_BUSY, "blob %s is referenced by %" PRId64 " manifest%s; delete %s first",
		    digest, refs, refs == 1 ? "" : "s", refs == 1 ? "it" : "them");
}

int reg_blob_unknown(const char *what, const char *digest)
{
	return fail(EXIT_NOTFOUND, "%s %s is unknown", what, digest);
}

int reg_blob_size(const struct oci_descriptor *d, int64_t size)
{
	return fail(EXIT_REJECTED, "blob %s has %" PRId64 " bytes, not %" PRId64, d->digest, size,
		    d->size);
}

/* End the transaction of a write: commit after success, roll back after a failure. */
static int end_write(struct store *st, int rc)
{
	int c;

	if (rc < 0) {
		store_rollback(st);
		return rc;
	}
	c = store_commit(st);
	return c ? c : rc;
}

/* A driver's missing row, worded. */
static int not_found(int rc, const char *fmt, ...) PRINTF(2, 3);
static int not_found(int rc, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (rc != -EXIT_NOTFOUND)
		return rc;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	rc = fail(EXIT_NOTFOUND, "%s", sb.buf);
	strbuf_release(&sb);
	return rc;
}

int store_reg_link(struct store *st, const char *org, const char *digest, int64_t size,
		   int64_t default_quota)
{
	int rc = store_begin(st, STORE_TX_WRITE);

	return rc ? rc : end_write(st, st->ops->reg_link(st, org, digest, size, default_quota));
}

int store_reg_blob(struct store *st, const char *org, const char *digest, int64_t *size)
{
	return not_found(st->ops->reg_blob(st, org, digest, size), "blob %s is unknown", digest);
}

int store_reg_unlink(struct store *st, const char *org, const char *digest)
{
	int rc = store_begin(st, STORE_TX_WRITE);

	if (!rc)
		rc = end_write(st, st->ops->reg_unlink(st, org, digest));
	return not_found(rc, "blob %s is unknown", digest);
}

int store_reg_blob_drop(struct store *st, const char *digest, bool dry_run)
{
	int rc = store_begin(st, STORE_TX_WRITE);

	return rc ? rc : end_write(st, st->ops->reg_blob_drop(st, digest, dry_run));
}

int store_reg_upload_new(struct store *st, const char *id, const char *repo)
{
	return st->ops->reg_upload_new(st, id, repo);
}

int store_reg_upload_touch(struct store *st, const char *id, const char *repo)
{
	return not_found(st->ops->reg_upload_touch(st, id, repo), "upload %s is unknown", id);
}

int store_reg_upload_end(struct store *st, const char *id)
{
	return st->ops->reg_upload_end(st, id);
}

int store_reg_manifest_put(struct store *st, const struct reg_manifest *m, const char *tag)
{
	int rc = store_begin(st, STORE_TX_WRITE);

	return rc ? rc : end_write(st, st->ops->reg_manifest_put(st, m, tag));
}

int store_reg_manifest_get(struct store *st, const char *repo, const char *ref, bool by_digest,
			   struct strbuf *content, struct strbuf *media_type,
			   char digest[OCI_DIGEST_LEN + 1])
{
	return not_found(st->ops->reg_manifest_get(st, repo, ref, by_digest, content, media_type, digest),
			 "manifest %s is unknown", ref);
}

int store_reg_manifest_delete(struct store *st, const char *repo, const char *digest)
{
	return not_found(st->ops->reg_manifest_delete(st, repo, digest), "manifest %s is unknown",
			 digest);
}

int store_reg_tag_delete(struct store *st, const char *repo, const char *tag)
{
	return not_found(st->ops->reg_tag_delete(st, repo, tag), "tag %s is unknown", tag);
}

int store_reg_tags(struct store *st, const char *repo, const char *last, int64_t limit,
		   struct strvec *tags)
{
	return not_found(st->ops->reg_tags(st, repo, last, limit, tags), "repository %s is unknown",
			 repo);
}

int store_reg_referrers(struct store *st, const char *repo, const char *digest,
			const char *artifact_type, reg_referrer_fn *fn, void *data)
{
	return st->ops->reg_referrers(st, repo, digest, artifact_type, fn, data);
}

int store_reg_quota_set(struct store *st, const char *org, int64_t quota)
{
	return st->ops->reg_quota_set(st, org, quota);
}

struct usage_seen {
	reg_usage_fn *fn;
	void *data;
	bool seen;
};

static void usage_seen(void *data, const struct reg_usage *u)
{
	struct usage_seen *s = data;

	s->seen = true;
	s->fn(s->data, u);
}

int store_reg_usage(struct store *st, const char *org, int64_t default_quota, reg_usage_fn *fn,
		    void *data)
{
	struct usage_seen s = { fn, data, false };
	int rc = st->ops->reg_usage(st, org, default_quota, usage_seen, &s);

	if (!rc && org && !s.seen)
		fn(data, &(struct reg_usage){ org, 0, default_quota, 0 });
	return rc;
}

static void copy_usage(void *data, const struct reg_usage *u)
{
	*(struct reg_usage *)data = *u;
}

int store_reg_quota_check(struct store *st, const char *org, int64_t size, int64_t default_quota)
{
	struct reg_usage u = { 0 };
	int rc = store_reg_usage(st, org, default_quota, copy_usage, &u);

	if (!rc && size > u.quota - u.used)
		rc = reg_over_quota(org, u.used, u.quota, size);
	return rc;
}

int store_reg_gc_links(struct store *st, const char *org, int64_t grace_ms, bool dry_run,
		       int64_t *count, int64_t *bytes)
{
	int rc = store_begin(st, dry_run ? STORE_TX_READ : STORE_TX_WRITE);

	return rc ? rc : end_write(st, st->ops->reg_gc_links(st, org, grace_ms, dry_run, count, bytes));
}

int store_reg_gc_uploads(struct store *st, const char *org, int64_t grace_ms, bool dry_run,
			 struct strvec *ids)
{
	return st->ops->reg_gc_uploads(st, org, grace_ms, dry_run, ids);
}

int store_reg_robot_set(struct store *st, const char *org, const char *name, const char *hash,
			const char *actions)
{
	return st->ops->reg_robot_set(st, org, name, hash, actions);
}

int store_reg_robot_get(struct store *st, const char *org, const char *name, struct strbuf *hash,
			struct strbuf *actions)
{
	return not_found(st->ops->reg_robot_get(st, org, name, hash, actions), "no robot %s+%s",
			 org, name);
}

int store_reg_robot_delete(struct store *st, const char *org, const char *name)
{
	return not_found(st->ops->reg_robot_delete(st, org, name), "no robot %s+%s", org, name);
}

int store_reg_robots(struct store *st, const char *org, reg_robot_fn *fn, void *data)
{
	return st->ops->reg_robots(st, org, fn, data);
}
