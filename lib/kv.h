#ifndef KV_H
#define KV_H

#include "parse-num.h"
#include "store.h"

/*
 * The key/value side: short-lived shared state with TTLs (nonces,
 * counters, rate-limit buckets, circuit breakers; later the job queue).
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
 * Claim the nr distinct keys together: 1 when every one was claimed, 0
 * when any was held, and then none is. Up to KV_CLAIM_MAX keys.
 */
#define KV_CLAIM_MAX 8
int kv_claim_all(struct kv *kv, const char *const *keys, size_t nr, int64_t ttl_seconds);
/*
 * Give up claims before they expire, so that the keys can be claimed
 * again (what they guarded did not happen). It deletes whoever's claim
 * is there: only for claims just made, well within their TTL.
 */
int kv_unclaim(struct kv *kv, const char *const *keys, size_t nr);

/*
 * Add delta to the counter key and store the result in *value. A
 * missing or expired counter starts from 0 with a TTL of ttl_seconds;
 * later increments keep that expiry.
 */
int kv_incr(struct kv *kv, const char *key, int64_t delta, int64_t ttl_seconds, int64_t *value);

/*
 * Rate limits, by the generic cell rate algorithm: the bucket key admits
 * rate->count per rate->period seconds, in bursts of up to burst. Taking
 * cost returns 1 when admitted, 0 when limited; cost 0 only looks. *res
 * says what is left and when to come back. cost above burst is refused.
 */
struct kv_limit {
	int64_t retry_after_ms;	/* limited: wait this long before cost is admitted */
	int64_t remaining;	/* how many more would be admitted now */
	int64_t reset_ms;	/* until the bucket is full again */
};
int kv_ratelimit(struct kv *kv, const char *key, const struct rate *rate, int64_t burst,
		 int64_t cost, struct kv_limit *res);

/*
 * Circuit breakers: the breaker key counts consecutive failures and
 * opens at conf->threshold of them. While open it refuses; open_ms after
 * it opened it lets one probe through, refusing the others while the
 * probe is out (at most probe_ms); the probe's success closes it, its
 * failure opens it again. Any success closes it and clears the count.
 */
struct kv_breaker_conf {
	int64_t threshold;
	int64_t open_ms, probe_ms;	/* 1 to KV_TTL_MAX seconds' worth */
};
enum kv_breaker_state {
	KV_BREAKER_CLOSED,
	KV_BREAKER_OPEN,
	KV_BREAKER_HALF_OPEN,		/* due for a probe, or probing */
};
struct kv_breaker {
	enum kv_breaker_state state;
	bool probing;			/* half-open with a probe out */
	int64_t failures;		/* consecutive */
	int64_t retry_ms;		/* until a refused ask may pass */
};
/* "closed", "open" or "half-open". */
const char *kv_breaker_state_name(enum kv_breaker_state state);
/* Before a request: 1 when it may go (closed, or as the probe), 0 refused. */
int kv_breaker_ask(struct kv *kv, const char *key, const struct kv_breaker_conf *conf,
		   struct kv_breaker *out);
/* After it: whether the dependency did its part. */
int kv_breaker_record(struct kv *kv, const char *key, const struct kv_breaker_conf *conf,
		      bool success, struct kv_breaker *out);
int kv_breaker_peek(struct kv *kv, const char *key, struct kv_breaker *out);
int kv_breaker_reset(struct kv *kv, const char *key);

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
