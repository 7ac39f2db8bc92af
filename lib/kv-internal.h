#ifndef KV_INTERNAL_H
#define KV_INTERNAL_H

#include "kv.h"

/*
 * What a kv driver provides: an operation is one more entry here and an
 * implementation in each driver. Arguments are checked by kv.c.
 */
struct kv_ops {
	const char *name;
	void (*close)(struct kv *kv);
	/* All of keys (sorted, distinct) or none: 1 claimed, 0 one was held. */
	int (*claim)(struct kv *kv, const char *const *keys, size_t nr, int64_t ttl_seconds);
	int (*unclaim)(struct kv *kv, const char *const *keys, size_t nr);
	int (*incr)(struct kv *kv, const char *key, int64_t delta, int64_t ttl_seconds,
		    int64_t *value);
	/*
	 * GCRA in microseconds: admit when the new theoretical arrival time
	 * is within tau of now. *ahead is that time minus now afterwards
	 * (admitted) or as it stands (limited).
	 */
	int (*gcra)(struct kv *kv, const char *key, int64_t interval, int64_t tau, int64_t cost,
		    int64_t *ahead);
	/* store.h has the operations; 1 when PROBE let a probe out. */
	int (*breaker)(struct kv *kv, const char *key, enum kv_breaker_op op, int64_t threshold,
		       int64_t open_ms, int64_t probe_ms, struct kv_breaker_row *row);
	/* The job queue; NULL when the driver has none. labels: "a,b", or "*" for any. */
	int (*queue_push)(struct kv *kv, const char *id, int64_t seq, const char *labels);
	int (*queue_take)(struct kv *kv, const char *labels, int64_t visibility, char **id);
	int (*queue_done)(struct kv *kv, const char *id);
};

/* The part every driver's handle starts with. */
struct kv {
	const struct kv_ops *ops;
};

int kv_redis_open(struct kv **out, const char *url);
int kv_store_open(struct kv **out, struct store *st);

#endif
