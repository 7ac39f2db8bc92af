#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include "store.h"

/*
 * Reads hand their rows to common code (store.c) as text: cols[i] is
 * NULL for SQL NULL, integers are decimal, times are milliseconds since
 * the epoch. A nonzero return stops the read and is returned.
 */
typedef int (*store_row_fn)(void *data, const char *const *cols);

/*
 * A lease row has LEASE_NCOLS columns: job, holder, fence, acquired,
 * renewed, expires, released and now (the store's clock). A job row has
 * JOB_NCOLS columns: seq, id, org, repo, labels, payload, meta, status,
 * reason, created and finished; then a lease row, whose job is NULL when
 * the job has no lease (now is always there).
 */
#define LEASE_NCOLS 8
#define JOB_NCOLS 11

/*
 * What a store driver provides. A domain operation is one more entry
 * here, a wrapper in store.c and an implementation with its own SQL in
 * each driver. Every entry returns 0 or -code after fail().
 */
/* The cache index hands rows of a name and two integers one at a time. */
typedef void store_cache_row_fn(void *cls, const char *name, int64_t a, int64_t b);

struct store_ops {
	const char *name;
	/* BEGIN statements for STORE_TX_READ and STORE_TX_WRITE. */
	const char *begin_sql[2];
	void (*close)(struct store *st);
	/* Run statements that return no rows. */
	int (*exec)(struct store *st, const char *sql);
	/* End the transaction, keeping quiet: a failure is being reported. */
	void (*rollback)(struct store *st);
	int (*now_ms)(struct store *st, int64_t *ms);

	/* Schema bookkeeping: 0 when schema_migrations does not exist yet. */
	int (*version)(struct store *st, int *version);
	/* Inside a write transaction: keep other migrators out until it ends. */
	int (*lock_schema)(struct store *st);
	int (*record_migration)(struct store *st, int version, const char *name);

	int (*kv_claim)(struct store *st, const char *key, int64_t ttl_seconds);
	int (*kv_incr)(struct store *st, const char *key, int64_t delta, int64_t ttl_seconds,
		       int64_t *value);
	int (*kv_sweep)(struct store *st, int limit);
	int (*kv_gcra)(struct store *st, const char *key, int64_t interval, int64_t tau,
		       int64_t cost, int64_t *ahead);
	int (*kv_breaker)(struct store *st, const char *key, enum kv_breaker_op op,
			  int64_t threshold, int64_t open_ms, int64_t probe_ms,
			  struct kv_breaker_row *row);

	int (*github_token_get)(struct store *st, int64_t installation, int64_t min_left_ms,
				struct strbuf *token, int64_t *expires_ms);
	int (*github_token_put)(struct store *st, int64_t installation, const char *token,
				int64_t expires_ms);
	int (*github_token_drop)(struct store *st, int64_t installation, const char *token);

	/* Apply st->deadline_ms to what the driver waits for. */
	void (*set_deadline)(struct store *st);

	/*
	 * Leases and jobs (store.h has the semantics). Acquire, renew and
	 * claim give the lease row they wrote to fn and return how many
	 * rows they gave; the other writes return how many rows they changed.
	 */
	int (*lease_acquire)(struct store *st, const char *job, const char *holder, int64_t ttl,
			     store_row_fn fn, void *data);
	int (*lease_renew)(struct store *st, const char *job, int64_t fence, int64_t ttl,
			   store_row_fn fn, void *data);
	int (*lease_release)(struct store *st, const char *job, int64_t fence);
	int (*lease_check)(struct store *st, const char *job, int64_t fence);
	/* One job's lease, or every live one when job is NULL. */
	int (*lease_read)(struct store *st, const char *job, store_row_fn fn, void *data);
	/* labels: a JSON array; the new job's seq goes to *seq. */
	int (*job_add)(struct store *st, const char *id, const char *org, const char *repo,
		       const char *labels, const char *payload, int64_t *seq);
	/* One job, or every job in state (a name, or NULL for any) when id is NULL. */
	int (*job_read)(struct store *st, const char *id, const char *state, store_row_fn fn,
			void *data);
	/* labels: a JSON array, or NULL for any. */
	int (*job_claim)(struct store *st, const char *only_id, const char *holder, int64_t ttl,
			 const char *labels, store_row_fn fn, void *data);
	int (*job_finish)(struct store *st, const char *id, int64_t fence, const char *status,
			  const char *reason);
	/* meta: a JSON object. */
	int (*job_set_meta)(struct store *st, const char *id, int64_t fence, const char *meta);

	/* Inside a write transaction; *added: how many lines were new. */
	int (*logs_insert)(struct store *st, struct log_batch *const *batches, size_t nr,
			   int64_t *added);
	int (*logs_query)(struct store *st, const struct log_query *q, json_t *rows);
	int (*logs_prune)(struct store *st, int64_t before, int limit);

	/*
	 * The registry's (store.h). store.c wraps the writes of several
	 * statements in a transaction; a missing row is a bare
	 * -EXIT_NOTFOUND, which store.c words.
	 */
	int (*reg_link)(struct store *st, const char *org, const char *digest, int64_t size,
			int64_t default_quota);
	int (*reg_blob)(struct store *st, const char *org, const char *digest, int64_t *size);
	int (*reg_unlink)(struct store *st, const char *org, const char *digest);
	int (*reg_blob_drop)(struct store *st, const char *digest, bool dry_run);
	int (*reg_upload_new)(struct store *st, const char *id, const char *repo);
	int (*reg_upload_touch)(struct store *st, const char *id, const char *repo);
	int (*reg_upload_end)(struct store *st, const char *id);
	int (*reg_manifest_put)(struct store *st, const struct reg_manifest *m, const char *tag);
	int (*reg_manifest_get)(struct store *st, const char *repo, const char *ref, bool by_digest,
				struct strbuf *content, struct strbuf *media_type,
				char digest[OCI_DIGEST_LEN + 1]);
	int (*reg_manifest_delete)(struct store *st, const char *repo, const char *digest);
	int (*reg_tag_delete)(struct store *st, const char *repo, const char *tag);
	int (*reg_tags)(struct store *st, const char *repo, const char *last, int64_t limit,
			struct strvec *tags);
	int (*reg_referrers)(struct store *st, const char *repo, const char *digest,
			     const char *artifact_type, reg_referrer_fn *fn, void *data);
	int (*reg_quota_set)(struct store *st, const char *org, int64_t quota);
	int (*reg_usage)(struct store *st, const char *org, int64_t default_quota, reg_usage_fn *fn,
			 void *data);
	int (*reg_gc_links)(struct store *st, const char *org, int64_t grace_ms, bool dry_run,
			    int64_t *count, int64_t *bytes);
	int (*reg_gc_uploads)(struct store *st, const char *org, int64_t grace_ms, bool dry_run,
			      struct strvec *ids);
	int (*reg_robot_set)(struct store *st, const char *org, const char *name, const char *hash,
			     const char *actions);
	int (*reg_robot_get)(struct store *st, const char *org, const char *name, struct strbuf *hash,
			     struct strbuf *actions);
	int (*reg_robot_delete)(struct store *st, const char *org, const char *name);
	int (*reg_robots)(struct store *st, const char *org, reg_robot_fn *fn, void *data);

	/* put and delete run inside a write transaction (store.c opens one). */
	int (*cache_put)(struct store *st, const char *org, const char *key, int64_t size,
			 int64_t at_ms, int64_t *org_bytes);
	int (*cache_delete)(struct store *st, const char *org, const char *key, int64_t *org_bytes);
	int (*cache_touch)(struct store *st, const char *org, const char *key, int64_t at_ms);
	/* Rows of a name and two integers, handed to row() one at a time. */
	int (*cache_list)(struct store *st, const char *org, int64_t limit, store_cache_row_fn *row,
			  void *cls);
	int (*cache_orgs)(struct store *st, store_cache_row_fn *row, void *cls);
};

/* The part every driver's handle starts with. */
struct store {
	const struct store_ops *ops;
	char *url;		/* password masked */
	bool in_tx;
	int64_t deadline_ms;	/* mono_ms(), or 0 */
};

/* Rows changed by a statement (or -code) as 0, or a bare -EXIT_NOTFOUND for none. */
static inline int store_found(int changed)
{
	return changed < 0 ? changed : changed ? 0 : -EXIT_NOTFOUND;
}

/* A blob's access time is renewed when it is this old (ms): a read seldom writes. */
#define REG_ACCESS_RESOLUTION_MS "60000"

/* The registry's refusals, worded once for both drivers. */
int reg_over_quota(const char *org, int64_t used, int64_t quota, int64_t size);
int reg_referenced(const char *digest, int64_t refs);
int reg_blob_unknown(const char *what, const char *digest);
int reg_blob_size(const struct oci_descriptor *d, int64_t size);

/* shown: the URL with its password masked, for messages. */
int store_sqlite_open(struct store **out, const char *path);
int store_pg_open(struct store **out, const char *url, const char *shown);

#endif
