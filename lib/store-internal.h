#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include "store.h"

/*
 * What a store driver provides. A domain operation is one more entry
 * here, a wrapper in store.c and an implementation with its own SQL in
 * each driver. Every entry returns 0 or -code after fail().
 */
typedef void store_row_fn(void *cls, const char *name, int64_t a, int64_t b);

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

	/* put and delete run inside a write transaction (store.c opens one). */
	int (*cache_put)(struct store *st, const char *org, const char *key, int64_t size,
			 int64_t at_ms, int64_t *org_bytes);
	int (*cache_delete)(struct store *st, const char *org, const char *key, int64_t *org_bytes);
	int (*cache_touch)(struct store *st, const char *org, const char *key, int64_t at_ms);
	/* Rows of a name and two integers, handed to row() one at a time. */
	int (*cache_list)(struct store *st, const char *org, int64_t limit, store_row_fn *row,
			  void *cls);
	int (*cache_orgs)(struct store *st, store_row_fn *row, void *cls);
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
