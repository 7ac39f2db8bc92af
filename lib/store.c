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

int store_logs_insert(struct store *st, struct log_batch *const *batches, size_t nr)
{
	int64_t added = 0;
	int rc = store_begin(st, STORE_TX_WRITE);

	if (!rc)
		rc = st->ops->logs_insert(st, batches, nr, &added);
	if (!rc)
		rc = store_commit(st);
	if (rc) {
		store_rollback(st);
		return rc;
	}
	return added > INT_MAX ? INT_MAX : (int)added;
}

int store_logs_query(struct store *st, const struct log_query *q, json_t *rows)
{
	return st->ops->logs_query(st, q, rows);
}

int store_logs_prune(struct store *st, int64_t before, int limit)
{
	return st->ops->logs_prune(st, before, limit);
}
