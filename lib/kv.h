#ifndef KV_H
#define KV_H

#include "store.h"

/*
 * The key/value side: short-lived shared state with TTLs (nonces,
 * counters; later rate-limit buckets, the job queue, breaker state).
 * Redis when redis.url is set, else tables in the store, with the same
 * semantics; either way expiry follows the server's clock. Functions
 * return 0 (or a documented count) or -code after fail():
 * EXIT_UNAVAILABLE when the server cannot be reached in time.
 */

struct kv;

/*
 * Open the kv of the configuration. Without redis.url it lives in st,
 * or in a store it opens (schema migrated) and closes when st is NULL.
 */
int kv_open(struct kv **out, struct store *st);
void kv_close(struct kv *kv);
/* "redis" or "store". */
const char *kv_driver(const struct kv *kv);

/* Keys are 1 to KV_KEY_MAX bytes of UTF-8 without control characters. */
#define KV_KEY_MAX 512
/* TTLs are 1 to KV_TTL_MAX seconds. */
#define KV_TTL_MAX INT32_MAX

/*
 * Claim key for ttl_seconds, atomically: 1 claimed, 0 held by an
 * earlier unexpired claim. Once expired, it can be claimed again.
 */
int kv_claim(struct kv *kv, const char *key, int64_t ttl_seconds);

/*
 * Add delta to the counter key and store the result in *value. A
 * missing or expired counter starts from 0 with a TTL of ttl_seconds;
 * later increments keep that expiry.
 */
int kv_incr(struct kv *kv, const char *key, int64_t delta, int64_t ttl_seconds, int64_t *value);

/*
 * The job queue, on Redis only (without Redis, claims come from the
 * store, which is the authority either way: job.h). It holds job ids in
 * queue order (seq) with their labels. A taken id is hidden for
 * visibility_seconds and then offered again unless it is done, so that
 * one whose claimer dies after taking it is not lost.
 */
bool kv_has_queue(const struct kv *kv);
int kv_queue_push(struct kv *kv, const char *id, int64_t seq, const struct strvec *labels);
/* 1 with the oldest id whose labels are all in labels (NULL: any) in *id, 0 when none. */
int kv_queue_take(struct kv *kv, const struct strvec *labels, int64_t visibility_seconds,
		  char **id);
/* Forget a taken id: its job is claimed in the store, or cannot be. */
int kv_queue_done(struct kv *kv, const char *id);

#endif
