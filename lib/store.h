#ifndef STORE_H
#define STORE_H

#include <jansson.h>

#include "logs.h"

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
/* For commands: the store of store.url with its schema up to date, or die_fail(). */
struct store *store_open_or_die(void);
/* For commands: close the store first, so that the server sees a clean goodbye, then die_fail(). */
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

/*
 * Give up every later call at deadline_ms (mono_ms() time) instead of
 * after the configured timeouts, whichever comes first; 0 goes back to
 * the timeouts alone. A call that gives up fails with EXIT_UNAVAILABLE
 * and leaves the handle usable (a PostgreSQL connection is opened again).
 */
void store_set_deadline(struct store *st, int64_t deadline_ms);

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
 * The build cache's index (lib/cache.c): an entry per stored object of an
 * org, and the org's totals, changed together. Sizes are bytes; times are
 * milliseconds since the epoch of the serving host, which only order
 * evictions (least recently used first).
 */
struct store_cache_entry {
	char *key;
	int64_t size, accessed_ms;
};
struct store_cache_org {
	char *org;
	int64_t entries, bytes;
};

/* Record org/key, replacing an entry; *org_bytes gets the org's new total. */
int store_cache_put(struct store *st, const char *org, const char *key, int64_t size,
		    int64_t at_ms, int64_t *org_bytes);
/* Forget org/key: 1 when it was there, 0 when not; *org_bytes as above. */
int store_cache_delete(struct store *st, const char *org, const char *key, int64_t *org_bytes);
/* org/key was read at at_ms (an earlier time than recorded changes nothing). */
int store_cache_touch(struct store *st, const char *org, const char *key, int64_t at_ms);
/* At most limit (0: all) entries of org, least recently used first; *out is malloc'd. */
int store_cache_list(struct store *st, const char *org, size_t limit,
		     struct store_cache_entry **out, size_t *nr);
void store_cache_entries_free(struct store_cache_entry *v, size_t nr);
/* Every org's totals, by org; *out is malloc'd. */
int store_cache_orgs(struct store *st, struct store_cache_org **out, size_t *nr);
void store_cache_orgs_free(struct store_cache_org *v, size_t nr);

/*
 * Circuit breakers for kv_breaker_*(): a row of consecutive failures,
 * open_until (0: closed) and probe_until, in milliseconds on the store's
 * clock, and that clock's now. PEEK reads; PROBE lets a probe out when
 * the breaker is open and due and no probe is out (1 when it did);
 * FAILURE counts one and opens at threshold failures, or again when it
 * was open; SUCCESS and RESET close it. row is the state afterwards.
 */
enum kv_breaker_op {		/* the numbers are also kv-redis.c's script's */
	KV_BREAKER_PEEK = 0,
	KV_BREAKER_PROBE = 1,
	KV_BREAKER_FAILURE = 2,
	KV_BREAKER_SUCCESS = 3,
	KV_BREAKER_RESET = 4,
};
struct kv_breaker_row {
	int64_t failures, open_until, probe_until, now;
};
int store_kv_breaker(struct store *st, const char *key, enum kv_breaker_op op, int64_t threshold,
		     int64_t open_ms, int64_t probe_ms, struct kv_breaker_row *row);

/*
 * GitHub App installation tokens (github.c), shared by every process.
 * Get: 1 and the token when one is cached that expires more than
 * min_left_ms from now, 0 when none. Put keeps the token that expires
 * last; drop forgets token only (GitHub refused it).
 */
int store_github_token_get(struct store *st, int64_t installation, int64_t min_left_ms,
			   struct strbuf *token, int64_t *expires_ms);
int store_github_token_put(struct store *st, int64_t installation, const char *token,
			   int64_t expires_ms);
int store_github_token_drop(struct store *st, int64_t installation, const char *token);

/*
 * Leases and jobs, the records under lease.h and job.h, which check
 * arguments and explain refusals. Every write that depends on holding a
 * lease is one compare-and-set statement on the fence and the expiry;
 * it returns 0 when it changed nothing, and a later read may only say
 * why. Times are milliseconds since the epoch on the store's clock.
 */
struct lease {
	char *job;		/* NULL: the job never had a lease */
	char *holder;
	int64_t fence;
	int64_t acquired_ms, renewed_ms, expires_ms;
	int64_t released_ms;	/* -1: not released */
	int64_t now_ms;		/* the store's clock when this was read or written */
};
#define LEASE_INIT { NULL, NULL, 0, 0, 0, 0, -1, 0 }
void lease_clear(struct lease *l);
/* Unexpired and not released, at l->now_ms. */
bool lease_live(const struct lease *l);

/*
 * Acquire: 1 with a new fence in *out, larger than every fence before
 * it; 0 when another holder's lease is unexpired. The same holder
 * acquiring again gets a new fence, and the old one stops counting.
 */
int store_lease_acquire(struct store *st, const char *job, const char *holder,
			int64_t ttl_seconds, struct lease *out);
/* 1 with the new expiry in *out; 0 when fence is not the job's current unexpired fence. */
int store_lease_renew(struct store *st, const char *job, int64_t fence, int64_t ttl_seconds,
		      struct lease *out);
/* 1 released; 0 when fence did not hold the job. */
int store_lease_release(struct store *st, const char *job, int64_t fence);
/* 1 when fence is the job's current unexpired fence, else 0. */
int store_lease_check(struct store *st, const char *job, int64_t fence);
/* 1 with the job's lease, live or not, in *out; 0 when it never had one. */
int store_lease_get(struct store *st, const char *job, struct lease *out);
/* Every live lease, by job. */
int store_lease_list(struct store *st, struct lease **out, size_t *nr);

enum job_state {
	JOB_QUEUED,		/* open, no live lease: claimable */
	JOB_CLAIMED,		/* open, with a live lease */
	JOB_SUCCEEDED,
	JOB_FAILED,
	JOB_CANCELLED,
};
extern const char *const job_state_names[];
/* The state called name, or -1. */
int job_state_parse(const char *name);

struct job {
	int64_t seq;		/* queue order */
	char *id;
	char *org, *repo;	/* NULL when not given */
	struct strvec labels;	/* lower case, sorted, unique */
	char *payload;		/* JSON text, or NULL */
	json_t *meta;		/* an object of strings */
	enum job_state state;
	char *reason;		/* why it finished, or NULL */
	int64_t created_ms;
	int64_t finished_ms;	/* -1 while open */
	struct lease lease;	/* lease.job NULL: never leased */
};
#define JOB_INIT { 0, NULL, NULL, NULL, STRVEC_INIT, NULL, NULL, JOB_QUEUED, NULL, 0, -1, LEASE_INIT }
void job_clear(struct job *job);

/* Add id, org, repo, labels and payload of job: 1 with job->seq set, 0 when the id exists. */
int store_job_add(struct store *st, struct job *job);
/* 1 with the job in *out, 0 when unknown. */
int store_job_get(struct store *st, const char *id, struct job *out);
/* Every job in state (-1: any), in queue order. */
int store_job_list(struct store *st, int state, struct job **out, size_t *nr);
void job_list_free(struct job *jobs, size_t nr);
/*
 * Acquire the lease of the oldest claimable job (only_id, when not NULL)
 * whose labels are all in labels (NULL: any labels), in one step:
 * 1 with the lease in *out, 0 when there is none.
 */
int store_job_claim(struct store *st, const char *only_id, const char *holder,
		    int64_t ttl_seconds, const struct strvec *labels, struct lease *out);
/*
 * Finish an open job: 1 finished, 0 refused. fence 0 finishes it
 * without a lease ("unless finished", for the webhook receiver).
 */
int store_job_finish(struct store *st, const char *id, int64_t fence, enum job_state status,
		     const char *reason);
/* Merge meta (an object of strings) into the job's: 1 written, 0 refused. */
int store_job_set_meta(struct store *st, const char *id, int64_t fence, const json_t *meta);

/*
 * Job logs (logs.h), for the store sink. Insert stores each (org, repo,
 * job, seq) once, in one transaction, leaving a line stored before
 * alone; it returns how many lines were new. Query appends the lines q
 * asks for to rows, as log_entry_json() objects in (ts, repo, job, seq)
 * order. Prune deletes at most limit lines older than before (seconds)
 * and returns how many it deleted.
 */
int store_logs_insert(struct store *st, struct log_batch *const *batches, size_t nr);
int store_logs_query(struct store *st, const struct log_query *q, json_t *rows);
int store_logs_prune(struct store *st, int64_t before, int limit);

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
