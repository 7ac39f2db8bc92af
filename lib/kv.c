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
	int rc = check_key(key);

	check_ttl(ttl_seconds);
	return rc ? rc : kv->ops->claim(kv, key, ttl_seconds);
}

int kv_incr(struct kv *kv, const char *key, int64_t delta, int64_t ttl_seconds, int64_t *value)
{
	int rc = check_key(key);

	check_ttl(ttl_seconds);
	return rc ? rc : kv->ops->incr(kv, key, delta, ttl_seconds, value);
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
