#include "common.h"
#include "config.h"
#include "migrations.h"
#include "parse-num.h"
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

struct store *store_open_or_die(void)
{
	struct store *st;
	int rc = store_open(&st, STORE_MIGRATE);

	if (rc)
		die_fail(rc);
	return st;
}

void store_die(struct store *st, int rc)
{
	/* keep the message: closing may fail() too */
	char *msg = xstrdup(fail_message());

	store_close(st);
	exit(report_fail(fail(fail_code(rc < 0 ? rc : -EXIT_FAIL), "%s", msg)));
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

void store_set_deadline(struct store *st, int64_t deadline_ms)
{
	st->deadline_ms = deadline_ms;
	st->ops->set_deadline(st);
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

/* A write transaction for one operation, unless the caller holds one already. */
static int begin_own(struct store *st, bool *own)
{
	*own = !st->in_tx;
	return *own ? store_begin(st, STORE_TX_WRITE) : 0;
}

static int end_own(struct store *st, bool own, int rc)
{
	int c;

	if (!own)
		return rc;
	if (rc < 0) {
		store_rollback(st);
		return rc;
	}
	c = store_commit(st);
	return c ? c : rc;
}

int store_cache_put(struct store *st, const char *org, const char *key, int64_t size,
		    int64_t at_ms, int64_t *org_bytes)
{
	bool own;
	int rc = begin_own(st, &own);

	if (!rc)
		rc = st->ops->cache_put(st, org, key, size, at_ms, org_bytes);
	return end_own(st, own, rc);
}

int store_cache_delete(struct store *st, const char *org, const char *key, int64_t *org_bytes)
{
	bool own;
	int rc = begin_own(st, &own);

	if (!rc)
		rc = st->ops->cache_delete(st, org, key, org_bytes);
	return end_own(st, own, rc);
}

int store_cache_touch(struct store *st, const char *org, const char *key, int64_t at_ms)
{
	return st->ops->cache_touch(st, org, key, at_ms);
}

struct entries {
	struct store_cache_entry *v;
	size_t nr, alloc;
};

static void add_entry(void *cls, const char *key, int64_t size, int64_t accessed_ms)
{
	struct entries *e = cls;

	ALLOC_GROW(e->v, e->nr + 1, e->alloc);
	e->v[e->nr++] = (struct store_cache_entry){ xstrdup(key), size, accessed_ms };
}

int store_cache_list(struct store *st, const char *org, size_t limit,
		     struct store_cache_entry **out, size_t *nr)
{
	struct entries e = { NULL, 0, 0 };
	int rc = st->ops->cache_list(st, org, limit && limit < INT64_MAX ? (int64_t)limit : INT64_MAX,
				     add_entry, &e);

	if (rc) {
		store_cache_entries_free(e.v, e.nr);
		e = (struct entries){ NULL, 0, 0 };
	}
	*out = e.v;
	*nr = e.nr;
	return rc;
}

void store_cache_entries_free(struct store_cache_entry *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(v[i].key);
	free(v);
}

struct orgs {
	struct store_cache_org *v;
	size_t nr, alloc;
};

static void add_org(void *cls, const char *org, int64_t entries, int64_t bytes)
{
	struct orgs *o = cls;

	ALLOC_GROW(o->v, o->nr + 1, o->alloc);
	o->v[o->nr++] = (struct store_cache_org){ xstrdup(org), entries, bytes };
}

int store_cache_orgs(struct store *st, struct store_cache_org **out, size_t *nr)
{
	struct orgs o = { NULL, 0, 0 };
	int rc = st->ops->cache_orgs(st, add_org, &o);

	if (rc) {
		store_cache_orgs_free(o.v, o.nr);
		o = (struct orgs){ NULL, 0, 0 };
	}
	*out = o.v;
	*nr = o.nr;
	return rc;
}

void store_cache_orgs_free(struct store_cache_org *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(v[i].org);
	free(v);
}

int store_kv_breaker(struct store *st, const char *key, enum kv_breaker_op op, int64_t threshold,
		     int64_t open_ms, int64_t probe_ms, struct kv_breaker_row *row)
{
	return st->ops->kv_breaker(st, key, op, threshold, open_ms, probe_ms, row);
}

int store_github_token_get(struct store *st, int64_t installation, int64_t min_left_ms,
			   struct strbuf *token, int64_t *expires_ms)
{
	return st->ops->github_token_get(st, installation, min_left_ms, token, expires_ms);
}

int store_github_token_put(struct store *st, int64_t installation, const char *token,
			   int64_t expires_ms)
{
	return st->ops->github_token_put(st, installation, token, expires_ms);
}

int store_github_token_drop(struct store *st, int64_t installation, const char *token)
{
	return st->ops->github_token_drop(st, installation, token);
}

/* Leases and jobs: the drivers return rows as text; they become records here. */

void lease_clear(struct lease *l)
{
	free(l->job);
	free(l->holder);
	*l = (struct lease)LEASE_INIT;
}

bool lease_live(const struct lease *l)
{
	return l->job && l->released_ms < 0 && l->expires_ms > l->now_ms;
}

const char *const job_state_names[] = {
	[JOB_QUEUED] = "queued",
	[JOB_CLAIMED] = "claimed",
	[JOB_SUCCEEDED] = "succeeded",
	[JOB_FAILED] = "failed",
	[JOB_CANCELLED] = "cancelled",
};

int job_state_parse(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(job_state_names); i++)
		if (!strcmp(name, job_state_names[i]))
			return i;
	return -1;
}

void job_clear(struct job *job)
{
	free(job->id);
	free(job->org);
	free(job->repo);
	strvec_clear(&job->labels);
	free(job->payload);
	json_decref(job->meta);
	free(job->reason);
	lease_clear(&job->lease);
	*job = (struct job)JOB_INIT;
}

void job_list_free(struct job *jobs, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		job_clear(&jobs[i]);
	free(jobs);
}

static int bad_column(const char *name, const char *value)
{
	return fail(EXIT_FAIL, "the store returned a bad %s: '%s'", name, value ? value : "NULL");
}

/* An integer column; NULL is null_value. */
static int int_column(const char *name, const char *v, int64_t null_value, int64_t *out)
{
	if (!v) {
		*out = null_value;
		return 0;
	}
	return parse_i64(v, INT64_MIN, INT64_MAX, out) ? bad_column(name, v) : 0;
}

static char *str_column(const char *v)
{
	return v ? xstrdup(v) : NULL;
}

static int lease_from_row(const char *const *c, struct lease *l)
{
	int rc;

	lease_clear(l);
	rc = int_column("time", c[7], 0, &l->now_ms);
	if (rc || !c[0])
		return rc;
	l->job = xstrdup(c[0]);
	l->holder = str_column(c[1]);
	rc = int_column("fence", c[2], 0, &l->fence);
	if (!rc)
		rc = int_column("time", c[3], 0, &l->acquired_ms);
	if (!rc)
		rc = int_column("time", c[4], 0, &l->renewed_ms);
	if (!rc)
		rc = int_column("time", c[5], 0, &l->expires_ms);
	if (!rc)
		rc = int_column("time", c[6], -1, &l->released_ms);
	return rc;
}

static int one_lease(void *data, const char *const *cols)
{
	return lease_from_row(cols, data);
}

struct lease_list {
	struct lease *v;
	size_t nr, alloc;
};

static int add_lease(void *data, const char *const *cols)
{
	struct lease_list *list = data;

	ALLOC_GROW(list->v, list->nr + 1, list->alloc);
	list->v[list->nr] = (struct lease)LEASE_INIT;
	return lease_from_row(cols, &list->v[list->nr++]);
}

static int labels_from_json(const char *text, struct strvec *out)
{
	json_t *a = text ? json_loads(text, 0, NULL) : NULL;
	size_t i;
	json_t *v;
	int rc = json_is_array(a) ? 0 : bad_column("label list", text);

	json_array_foreach(a, i, v) {
		if (!json_is_string(v)) {
			rc = bad_column("label list", text);
			break;
		}
		strvec_push(out, json_string_value(v));
	}
	json_decref(a);
	return rc;
}

static int job_from_row(const char *const *c, struct job *job)
{
	int rc, state;

	job_clear(job);
	rc = int_column("job number", c[0], 0, &job->seq);
	job->id = str_column(c[1]);
	job->org = str_column(c[2]);
	job->repo = str_column(c[3]);
	if (!rc)
		rc = labels_from_json(c[4], &job->labels);
	job->payload = str_column(c[5]);
	job->meta = c[6] ? json_loads(c[6], 0, NULL) : NULL;
	if (!rc && !json_is_object(job->meta))
		rc = bad_column("job metadata", c[6]);
	job->reason = str_column(c[8]);
	if (!rc)
		rc = int_column("time", c[9], 0, &job->created_ms);
	if (!rc)
		rc = int_column("time", c[10], -1, &job->finished_ms);
	if (!rc)
		rc = lease_from_row(c + JOB_NCOLS, &job->lease);
	if (rc)
		return rc;
	if (!c[7])
		job->state = lease_live(&job->lease) ? JOB_CLAIMED : JOB_QUEUED;
	else if ((state = job_state_parse(c[7])) > JOB_CLAIMED)
		job->state = state;
	else
		rc = bad_column("job status", c[7]);
	return rc;
}

static int one_job(void *data, const char *const *cols)
{
	return job_from_row(cols, data);
}

struct job_list {
	struct job *v;
	size_t nr, alloc;
};

static int add_job(void *data, const char *const *cols)
{
	struct job_list *list = data;

	ALLOC_GROW(list->v, list->nr + 1, list->alloc);
	list->v[list->nr] = (struct job)JOB_INIT;
	return job_from_row(cols, &list->v[list->nr++]);
}

/* As JSON text, for the drivers; NULL stays NULL. */
static char *labels_to_json(const struct strvec *labels)
{
	json_t *a;
	char *s;

	if (!labels)
		return NULL;
	a = json_array();
	for (size_t i = 0; i < labels->nr; i++)
		json_array_append_new(a, json_string(labels->v[i]));
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (!s)
		die("out of memory");
	return s;
}

int store_lease_acquire(struct store *st, const char *job, const char *holder,
			int64_t ttl_seconds, struct lease *out)
{
	lease_clear(out);
	return st->ops->lease_acquire(st, job, holder, ttl_seconds, one_lease, out);
}

int store_lease_renew(struct store *st, const char *job, int64_t fence, int64_t ttl_seconds,
		      struct lease *out)
{
	lease_clear(out);
	return st->ops->lease_renew(st, job, fence, ttl_seconds, one_lease, out);
}

int store_lease_release(struct store *st, const char *job, int64_t fence)
{
	return st->ops->lease_release(st, job, fence);
}

int store_lease_check(struct store *st, const char *job, int64_t fence)
{
	return st->ops->lease_check(st, job, fence);
}

int store_lease_get(struct store *st, const char *job, struct lease *out)
{
	lease_clear(out);
	return st->ops->lease_read(st, job, one_lease, out);
}

int store_lease_list(struct store *st, struct lease **out, size_t *nr)
{
	struct lease_list list = { NULL, 0, 0 };
	int rc = st->ops->lease_read(st, NULL, add_lease, &list);

	if (rc < 0) {
		for (size_t i = 0; i < list.nr; i++)
			lease_clear(&list.v[i]);
		free(list.v);
		return rc;
	}
	*out = list.v;
	*nr = list.nr;
	return 0;
}

int store_job_add(struct store *st, struct job *job)
{
	char *labels = labels_to_json(&job->labels);
	int rc = st->ops->job_add(st, job->id, job->org, job->repo, labels, job->payload, &job->seq);

	free(labels);
	return rc;
}

int store_job_get(struct store *st, const char *id, struct job *out)
{
	job_clear(out);
	return st->ops->job_read(st, id, NULL, one_job, out);
}

int store_job_list(struct store *st, int state, struct job **out, size_t *nr)
{
	struct job_list list = { NULL, 0, 0 };
	int rc = st->ops->job_read(st, NULL, state < 0 ? NULL : job_state_names[state], add_job, &list);

	if (rc < 0) {
		job_list_free(list.v, list.nr);
		return rc;
	}
	*out = list.v;
	*nr = list.nr;
	return 0;
}

int store_job_claim(struct store *st, const char *only_id, const char *holder,
		    int64_t ttl_seconds, const struct strvec *labels, struct lease *out)
{
	char *json = labels_to_json(labels);
	int rc;

	lease_clear(out);
	rc = st->ops->job_claim(st, only_id, holder, ttl_seconds, json, one_lease, out);
	free(json);
	return rc;
}

int store_job_finish(struct store *st, const char *id, int64_t fence, enum job_state status,
		     const char *reason)
{
	if (status < JOB_SUCCEEDED)
		BUG("finishing job %s as %s", id, job_state_names[status]);
	return st->ops->job_finish(st, id, fence, job_state_names[status], reason);
}

int store_job_set_meta(struct store *st, const char *id, int64_t fence, const json_t *meta)
{
	char *json = json_dumps(meta, JSON_COMPACT);
	int rc;

	if (!json)
		die("out of memory");
	rc = st->ops->job_set_meta(st, id, fence, json);
	free(json);
	return rc;
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
