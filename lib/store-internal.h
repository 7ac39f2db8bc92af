#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include "store.h"

/*
 * What a store driver provides. A domain operation is one more entry
 * here, a wrapper in store.c and an implementation with its own SQL in
 * each driver. Every entry returns 0 or -code after fail().
 */
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
};

/* The part every driver's handle starts with. */
struct store {
	const struct store_ops *ops;
	char *url;		/* password masked */
	bool in_tx;
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
