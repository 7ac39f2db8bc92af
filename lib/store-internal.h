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

	/* Inside a write transaction; *added: how many lines were new. */
	int (*logs_insert)(struct store *st, struct log_batch *const *batches, size_t nr,
			   int64_t *added);
	int (*logs_query)(struct store *st, const struct log_query *q, json_t *rows);
	int (*logs_prune)(struct store *st, int64_t before, int limit);
};

/* The part every driver's handle starts with. */
struct store {
	const struct store_ops *ops;
	char *url;		/* password masked */
	bool in_tx;
};

/* shown: the URL with its password masked, for messages. */
int store_sqlite_open(struct store **out, const char *path);
int store_pg_open(struct store **out, const char *url, const char *shown);

#endif
