#ifndef STORE_H
#define STORE_H

#include "logs.h"

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

#endif
