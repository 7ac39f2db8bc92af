#include "common.h"
#include "config.h"
#include "escape.h"
#include "kv-internal.h"

int kv_open(struct kv **out, struct store *st)
{
	const char *url = cfg_str("redis.url");

	*out = NULL;
	if (*url)
		return kv_redis_open(out, url);
	return kv_store_open(out, st);
}

void kv_close(struct kv *kv)
{
	if (kv)
		kv->ops->close(kv);
}

const char *kv_driver(const struct kv *kv)
{
	return kv->ops->name;
}

/* Keys may come from the network (delivery ids): refuse what cannot be stored as is. */
static int check_key(const char *key)
{
	size_t len = strlen(key);

	if (!len || len > KV_KEY_MAX)
		return fail(EXIT_USAGE, "a kv key has 1 to %d bytes, not %zu", KV_KEY_MAX, len);
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq_len((const unsigned char *)key + i, len - i);

		if (!n || (n == 1 && ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)))
			return fail(EXIT_USAGE, "a kv key is UTF-8 without control characters");
		i += n;
	}
	return 0;
}

static void check_ttl(int64_t ttl)
{
	if (ttl < 1 || ttl > KV_TTL_MAX)
		BUG("kv TTL of %" PRId64 " seconds", ttl);
}

int kv_claim(struct kv *kv, const char *key, int64_t ttl_seconds)
{
	return kv_claim_all(kv, &key, 1, ttl_seconds);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The keys checked and sorted into sorted[]: claimers of overlapping sets
 * then take their keys in one order, and the store's row locks cannot
 * deadlock.
 */
static int sort_keys(const char *const *keys, size_t nr, const char **sorted)
{
	if (!nr || nr > KV_CLAIM_MAX)
		BUG("kv claim of %zu keys", nr);
	for (size_t i = 0; i < nr; i++) {
		int rc = check_key(keys[i]);

		if (rc)
			return rc;
		sorted[i] = keys[i];
	}
	qsort(sorted, nr, sizeof(*sorted), cmp_key);
	for (size_t i = 1; i < nr; i++)
		if (!strcmp(sorted[i - 1], sorted[i]))
			BUG("kv key %s claimed twice at once", sorted[i]);
	return 0;
}

int kv_claim_all(struct kv *kv, const char *const *keys, size_t nr, int64_t ttl_seconds)
{
	const char *sorted[KV_CLAIM_MAX];
	int rc = sort_keys(keys, nr, sorted);

	check_ttl(ttl_seconds);
	return rc ? rc : kv->ops->claim(kv, sorted, nr, ttl_seconds);
}

int kv_unclaim(struct kv *kv, const char *const *keys, size_t nr)
{
	const char *sorted[KV_CLAIM_MAX];
	int rc = sort_keys(keys, nr, sorted);

	return rc ? rc : kv->ops->unclaim(kv, sorted, nr);
}

int kv_incr(struct kv *kv, const char *key, int64_t delta, int64_t ttl_seconds, int64_t *value)
{
	int rc = check_key(key);

	check_ttl(ttl_seconds);
	return rc ? rc : kv->ops->incr(kv, key, delta, ttl_seconds, value);
}

int kv_ratelimit(struct kv *kv, const char *key, const struct rate *rate, int64_t burst,
		 int64_t cost, struct kv_limit *res)
{
	/* Microseconds: rates above a million per second admit everything. */
	int64_t interval = rate->period * 1000000 / (int64_t)rate->count, tau, ahead;
	int rc = check_key(key);

	if (rc)
		return rc;
	if (burst < 1 || burst > 1000000000)
		return fail(EXIT_USAGE, "a burst is 1 to 1000000000, not %" PRId64, burst);
	if (cost < 0 || cost > burst)
		return fail(EXIT_USAGE, "a cost of %" PRId64 " can never pass a burst of %" PRId64,
			    cost, burst);
	if (interval < 1)
		interval = 1;
	tau = interval * burst;
	rc = kv->ops->gcra(kv, key, interval, tau, cost, &ahead);
	if (rc < 0)
		return rc;
	if (ahead < 0)
		ahead = 0;
	res->reset_ms = (ahead + 999) / 1000;
	if (rc) {
		res->retry_after_ms = 0;
		res->remaining = (tau - ahead) / interval;
	} else {
		res->retry_after_ms = (ahead + interval * cost - tau + 999) / 1000;
		res->remaining = 0;
	}
	return rc;
}

const char *kv_breaker_state_name(enum kv_breaker_state state)
{
	static const char *const names[] = { "closed", "open", "half-open" };

	return names[state];
}

static void check_breaker_conf(const struct kv_breaker_conf *c)
{
	if (c->threshold < 1 || c->open_ms < 1 || c->probe_ms < 1 ||
	    c->open_ms > KV_TTL_MAX * 1000LL || c->probe_ms > KV_TTL_MAX * 1000LL)
		BUG("kv breaker of %" PRId64 " failures, %" PRId64 " ms open, %" PRId64 " ms probes",
		    c->threshold, c->open_ms, c->probe_ms);
}

/* The row's state as of its clock. */
static void breaker_state(const struct kv_breaker_row *row, struct kv_breaker *out)
{
	memset(out, 0, sizeof(*out));
	out->failures = row->failures;
	if (!row->open_until)
		return;
	if (row->now < row->open_until) {
		out->state = KV_BREAKER_OPEN;
		out->retry_ms = row->open_until - row->now;
		return;
	}
	out->state = KV_BREAKER_HALF_OPEN;
	out->probing = row->probe_until > row->now;
	if (out->probing)
		out->retry_ms = row->probe_until - row->now;
}

static int breaker_op(struct kv *kv, const char *key, enum kv_breaker_op op,
		      const struct kv_breaker_conf *c, struct kv_breaker *out)
{
	struct kv_breaker_row row;
	int rc = check_key(key);

	if (c)
		check_breaker_conf(c);
	if (!rc)
		rc = kv->ops->breaker(kv, key, op, c ? c->threshold : 0, c ? c->open_ms : 0,
				      c ? c->probe_ms : 0, &row);
	if (rc >= 0 && out)
		breaker_state(&row, out);
	return rc;
}

/*
 * A read first: closed is the common case and costs no write. Only a
 * breaker due for a probe is written to, and only one asker wins it.
 */
int kv_breaker_ask(struct kv *kv, const char *key, const struct kv_breaker_conf *conf,
		   struct kv_breaker *out)
{
	int rc = breaker_op(kv, key, KV_BREAKER_PEEK, conf, out);

	if (rc < 0 || out->state == KV_BREAKER_CLOSED)
		return rc < 0 ? rc : 1;
	if (out->state == KV_BREAKER_OPEN || out->probing)
		return 0;
	rc = breaker_op(kv, key, KV_BREAKER_PROBE, conf, out);
	if (rc == 0 && out->state == KV_BREAKER_CLOSED)
		return 1;	/* closed meanwhile */
	return rc;
}

int kv_breaker_record(struct kv *kv, const char *key, const struct kv_breaker_conf *conf,
		      bool success, struct kv_breaker *out)
{
	return breaker_op(kv, key, success ? KV_BREAKER_SUCCESS : KV_BREAKER_FAILURE, conf, out);
}

int kv_breaker_peek(struct kv *kv, const char *key, struct kv_breaker *out)
{
	return breaker_op(kv, key, KV_BREAKER_PEEK, NULL, out);
}

int kv_breaker_reset(struct kv *kv, const char *key)
{
	return breaker_op(kv, key, KV_BREAKER_RESET, NULL, NULL);
}

bool kv_has_queue(const struct kv *kv)
{
	return kv->ops->queue_push != NULL;
}

static char *join_labels(const struct strvec *labels)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < labels->nr; i++)
		strbuf_addf(&sb, "%s%s", i ? "," : "", labels->v[i]);
	return strbuf_detach(&sb, NULL);
}

int kv_queue_push(struct kv *kv, const char *id, int64_t seq, const struct strvec *labels)
{
	char *joined = join_labels(labels);
	int rc = kv->ops->queue_push(kv, id, seq, joined);

	free(joined);
	return rc;
}

int kv_queue_take(struct kv *kv, const struct strvec *labels, int64_t visibility_seconds,
		  char **id)
{
	char *joined = labels ? join_labels(labels) : xstrdup("*");
	int rc;

	check_ttl(visibility_seconds);
	rc = kv->ops->queue_take(kv, joined, visibility_seconds, id);
	free(joined);
	return rc;
}

int kv_queue_done(struct kv *kv, const char *id)
{
	return kv->ops->queue_done(kv, id);
}
