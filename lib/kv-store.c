#include "common.h"
#include "kv-internal.h"

/*
 * The kv in the store's tables. Expired rows are harmless (every
 * operation compares with the store's clock) but would pile up: every
 * SWEEP_EVERY-th operation of a handle, starting with the first, also
 * deletes up to SWEEP_LIMIT of them.
 */
#define SWEEP_EVERY 128
#define SWEEP_LIMIT 256

struct kv_store {
	struct kv base;
	struct store *st;
	bool own_store;
	unsigned ops;
};

static struct kv_store *ks(struct kv *kv)
{
	return (struct kv_store *)kv;
}

/* After the operation, whose result stands whatever the sweep does. */
static int sweep_after(struct kv_store *k, int rc)
{
	if (rc >= 0 && !(k->ops++ % SWEEP_EVERY))
		store_kv_sweep(k->st, SWEEP_LIMIT);
	return rc;
}

/* Several keys in one write transaction, rolled back when one is held. */
static int ks_claim(struct kv *kv, const char *const *keys, size_t nr, int64_t ttl)
{
	struct store *st = ks(kv)->st;
	int rc, claimed = 1;

	if (nr == 1)
		return sweep_after(ks(kv), store_kv_claim(st, keys[0], ttl));
	rc = store_begin(st, STORE_TX_WRITE);
	if (rc)
		return rc;
	for (size_t i = 0; claimed == 1 && i < nr; i++)
		claimed = store_kv_claim(st, keys[i], ttl);
	if (claimed == 1) {
		rc = store_commit(st);
		claimed = rc ? rc : 1;
	} else {
		store_rollback(st);
	}
	return sweep_after(ks(kv), claimed);
}

static int ks_unclaim(struct kv *kv, const char *const *keys, size_t nr)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < nr; i++)
		rc = store_kv_unclaim(ks(kv)->st, keys[i]);
	return rc;
}

static int ks_incr(struct kv *kv, const char *key, int64_t delta, int64_t ttl, int64_t *value)
{
	return sweep_after(ks(kv), store_kv_incr(ks(kv)->st, key, delta, ttl, value));
}

static int ks_gcra(struct kv *kv, const char *key, int64_t interval, int64_t tau, int64_t cost,
		   int64_t *ahead)
{
	return sweep_after(ks(kv), store_kv_gcra(ks(kv)->st, key, interval, tau, cost, ahead));
}

static int ks_breaker(struct kv *kv, const char *key, enum kv_breaker_op op, int64_t threshold,
		      int64_t open_ms, int64_t probe_ms, struct kv_breaker_row *row)
{
	return sweep_after(ks(kv), store_kv_breaker(ks(kv)->st, key, op, threshold, open_ms,
						    probe_ms, row));
}

static void ks_close(struct kv *kv)
{
	if (ks(kv)->own_store)
		store_close(ks(kv)->st);
	free(kv);
}

static const struct kv_ops store_ops = {
	.name = "store",
	.close = ks_close,
	.claim = ks_claim,
	.unclaim = ks_unclaim,
	.incr = ks_incr,
	.gcra = ks_gcra,
	.breaker = ks_breaker,
};

int kv_store_open(struct kv **out, struct store *st)
{
	struct kv_store *k;
	bool own = !st;

	if (own) {
		int rc = store_open(&st, STORE_MIGRATE);

		if (rc)
			return rc;
	}
	k = xcalloc(1, sizeof(*k));
	k->base.ops = &store_ops;
	k->st = st;
	k->own_store = own;
	*out = &k->base;
	return 0;
}
