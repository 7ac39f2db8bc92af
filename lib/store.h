#ifndef STORE_H
#define STORE_H

#include "oci.h"

/*
 * The metadata store: SQLite (sqlite:PATH, one host) or PostgreSQL
 * (postgres://..., a fleet), chosen by store.url. The interface speaks
 * the domain; each driver holds its own SQL (store-sqlite.c,
 * store-pg.c). Functions return 0 (or a documented count) on success
 * and -code after fail() on failure: EXIT_CONFIG for a bad URL,
 * EXIT_UNAVAILABLE when the database cannot be reached or stays locked.
 *
 * Time that decides correctness is the store's clock, never the host's.
 * A handle serves one thread at a time.
 */

struct store;

enum {
	/* Bring the schema up to date while opening. */
	STORE_MIGRATE = 1,
};

/* Open the store of store.url. */
int store_open(struct store **out, unsigned flags);
int store_open_url(struct store **out, const char *url, unsigned flags);
void store_close(struct store *st);

/*
 * Commands: close st, so that the server sees a clean goodbye, then
 * report rc and exit with its code.
 */
NORETURN void store_die(struct store *st, int rc);

/* "sqlite" or "postgres". */
const char *store_driver(const struct store *st);
/* The URL with its password masked, for messages and output. */
const char *store_url(const struct store *st);

/*
 * Transactions do not nest. A write transaction takes the write lock
 * at once (SQLite's BEGIN IMMEDIATE), so it cannot fail half-way on a
 * lock upgrade.
 */
enum store_tx {
	STORE_TX_READ,
	STORE_TX_WRITE,
};
int store_begin(struct store *st, enum store_tx mode);
int store_commit(struct store *st);
/* Safe to call after any failure; does nothing outside a transaction. */
void store_rollback(struct store *st);

/* The store's clock, in milliseconds since the epoch. */
int store_now_ms(struct store *st, int64_t *ms);

/* Schema versions: 0 is an empty database. */
int store_version(struct store *st, int *version);
/* The newest version this binary knows for the store's driver. */
int store_latest_version(const struct store *st);

struct store_migrate_result {
	int from, to;
	/* Versions applied by this call, in order (others may have run concurrently). */
	int *applied;
	size_t applied_nr, applied_alloc;
};
#define STORE_MIGRATE_RESULT_INIT { 0, 0, NULL, 0, 0 }
void store_migrate_result_release(struct store_migrate_result *res);

/*
 * Apply the missing migrations in order, each in its own transaction.
 * Concurrent callers serialise; a database newer than this binary is
 * refused (EXIT_FAIL) and left alone. res may be NULL.
 */
int store_migrate(struct store *st, struct store_migrate_result *res);
/* The name of a migration of this store's driver ("core"), or NULL. */
const char *store_migration_name(const struct store *st, int version);

/*
 * Key/value tables, for the kv's store driver (kv.h has the semantics).
 * Claim: 1 claimed, 0 held and unexpired. Sweep deletes at most limit
 * expired rows and returns how many it deleted.
 */
int store_kv_claim(struct store *st, const char *key, int64_t ttl_seconds);
int store_kv_incr(struct store *st, const char *key, int64_t delta, int64_t ttl_seconds,
		  int64_t *value);
int store_kv_sweep(struct store *st, int limit);
/* GCRA for kv_ratelimit(): 1 admitted, 0 limited (kv-internal.h). */
int store_kv_gcra(struct store *st, const char *key, int64_t interval, int64_t tau, int64_t cost,
		  int64_t *ahead);

/*
 * The OCI registry's metadata (registry.c): blobs, their links to orgs
 * (the org boundary and the quota), repositories, manifests, tags,
 * upload sessions and robot accounts. Digests are sha256:HEX, times the
 * store's. Writers of an org's links and manifests serialise on the org
 * (its row), so that usage, links and references stay consistent.
 */
struct reg_usage {
	const char *org;
	int64_t used, quota, blobs;
};

/*
 * Link a blob of size bytes to org, in one transaction with the quota
 * check: 1 linked now, 0 linked already (its access time is renewed),
 * -EXIT_REJECTED when it does not fit (the message names used, quota
 * and size). default_quota is the quota of an org without its own.
 */
int store_reg_link(struct store *st, const char *org, const char *digest, int64_t size,
		   int64_t default_quota);
/* The size of a blob org links: 0, or -EXIT_NOTFOUND. Renews its access time now and then. */
int store_reg_blob(struct store *st, const char *org, const char *digest, int64_t *size);
/* Unlink a blob from org: 0, -EXIT_NOTFOUND, or -EXIT_BUSY while a manifest references it. */
int store_reg_unlink(struct store *st, const char *org, const char *digest);
/*
 * gc: forget a blob no org links (1; the caller then removes its file),
 * or leave it (0). dry_run only says which.
 */
int store_reg_blob_drop(struct store *st, const char *digest, bool dry_run);

/* Upload sessions of repo. touch: 0, or -EXIT_NOTFOUND (unknown, or another repo's). */
int store_reg_upload_new(struct store *st, const char *id, const char *repo);
int store_reg_upload_touch(struct store *st, const char *id, const char *repo);
int store_reg_upload_end(struct store *st, const char *id);

/* A manifest to store, with what it references. */
struct reg_manifest {
	const char *repo, *org, *digest, *media_type;
	const char *content;
	size_t size;
	const char *subject, *artifact_type, *annotations;	/* NULL when absent */
	/* blobs the org must link, with these sizes; manifests the repo must hold */
	const struct oci_descriptor *blobs, *children;
	size_t blobs_nr, children_nr;
	/* every digest it references: blobs, children, subject */
	const char *const *refs;
	size_t refs_nr;
};
/*
 * Store a manifest (again: a no-op) and point tag at it (tag may be
 * NULL). -EXIT_NOTFOUND names the first blob or child manifest that is
 * missing; -EXIT_REJECTED a blob whose size differs.
 */
int store_reg_manifest_put(struct store *st, const struct reg_manifest *m, const char *tag);
/* By digest or by tag: the content, its media type and digest; or -EXIT_NOTFOUND. */
int store_reg_manifest_get(struct store *st, const char *repo, const char *ref, bool by_digest,
			   struct strbuf *content, struct strbuf *media_type,
			   char digest[OCI_DIGEST_LEN + 1]);
/* Delete a manifest and its tags, or a tag: 0, or -EXIT_NOTFOUND. */
int store_reg_manifest_delete(struct store *st, const char *repo, const char *digest);
int store_reg_tag_delete(struct store *st, const char *repo, const char *tag);
/*
 * At most limit tags of repo after last (NULL: from the start), in
 * lexical order, case-insensitive first. -EXIT_NOTFOUND for an unknown
 * repository.
 */
int store_reg_tags(struct store *st, const char *repo, const char *last, int64_t limit,
		   struct strvec *tags);
/* The manifests of repo whose subject is digest, of artifact_type unless NULL. */
typedef void reg_referrer_fn(void *data, const char *digest, const char *media_type, int64_t size,
			     const char *artifact_type, const char *annotations);
int store_reg_referrers(struct store *st, const char *repo, const char *digest,
			const char *artifact_type, reg_referrer_fn *fn, void *data);

/* Whether size more bytes fit in org's quota: 0, or -EXIT_REJECTED as store_reg_link() words it. */
int store_reg_quota_check(struct store *st, const char *org, int64_t size, int64_t default_quota);
/* quota < 0: back to the default. */
int store_reg_quota_set(struct store *st, const char *org, int64_t quota);
/* Each org's usage (only org's when not NULL; an org never seen uses 0). */
typedef void reg_usage_fn(void *data, const struct reg_usage *u);
int store_reg_usage(struct store *st, const char *org, int64_t default_quota, reg_usage_fn *fn,
		    void *data);

/*
 * gc: unlink org's blobs that no manifest of org references, linked and
 * last read more than grace_ms ago; *count and *bytes say how many.
 */
int store_reg_gc_links(struct store *st, const char *org, int64_t grace_ms, bool dry_run,
		       int64_t *count, int64_t *bytes);
/* gc: end the upload sessions of org (all when NULL) untouched for grace_ms; their ids. */
int store_reg_gc_uploads(struct store *st, const char *org, int64_t grace_ms, bool dry_run,
			 struct strvec *ids);

/* Robot accounts: a secret's hash and the actions ("pull push") it grants. */
int store_reg_robot_set(struct store *st, const char *org, const char *name, const char *hash,
			const char *actions);
int store_reg_robot_get(struct store *st, const char *org, const char *name, struct strbuf *hash,
			struct strbuf *actions);
int store_reg_robot_delete(struct store *st, const char *org, const char *name);
typedef void reg_robot_fn(void *data, const char *org, const char *name, const char *actions,
			  int64_t created_ms);
int store_reg_robots(struct store *st, const char *org, reg_robot_fn *fn, void *data);

#endif
