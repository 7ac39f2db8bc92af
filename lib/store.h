#ifndef STORE_H
#define STORE_H

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

#endif
