#include "common.h"
#include "config.h"
#include "kv-internal.h"
#include "redact.h"
#include "redis-url.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

/*
 * The kv in Redis. Each operation is one command, or one Lua script
 * when it has several steps, so that it is atomic; expiry is Redis'
 * own. Keys carry a prefix per kind, so that a claim and a counter of
 * the same name do not meet (they live in separate tables in the store).
 */
#define CLAIM_PREFIX "nimbus:claim:"
#define COUNTER_PREFIX "nimbus:count:"
#define BUCKET_PREFIX "nimbus:rate:"
#define BREAKER_PREFIX "nimbus:breaker:"

struct kv_redis {
	struct kv base;
	redisContext *c;
	struct redis_url url;
	char *shown;		/* the URL with its password masked */
	struct timeval timeout;
};

/*
 * The job queue: QUEUE_KEY orders ids by seq, TAKEN_KEY holds taken ids
 * until their visibility deadline, JOBS_KEY maps an id to "SEQ LABELS".
 * Every script gets the three keys in this order.
 */
#define QUEUE_KEY "nimbus:queue"
#define TAKEN_KEY "nimbus:queue:taken"
#define JOBS_KEY "nimbus:queue:jobs"
/* How many queued ids a take looks at for matching labels; beyond, the store answers. */
#define QUEUE_SCAN "256"

static const char push_script[] =
	"redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])\n"
	"return redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])\n";

/* ARGV: labels ("a,b" or "*"), visibility seconds, how many ids to look at. */
static const char take_script[] =
	"local now = tonumber(redis.call('TIME')[1])\n"
	"for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)) do\n"
	"  redis.call('ZREM', KEYS[2], id)\n"
	"  local info = redis.call('HGET', KEYS[3], id)\n"
	"  if info then redis.call('ZADD', KEYS[1], 'NX', string.match(info, '^%d+'), id) end\n"
	"end\n"
	"local want\n"
	"if ARGV[1] ~= '*' then\n"
	"  want = {}\n"
	"  for l in string.gmatch(ARGV[1], '[^,]+') do want[l] = true end\n"
	"end\n"
	"for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)) do\n"
	"  local info = redis.call('HGET', KEYS[3], id)\n"
	"  local fits = info ~= false\n"
	"  if fits and want then\n"
	"    for l in string.gmatch(string.match(info, '^%d+ (.*)$'), '[^,]+') do\n"
	"      if not want[l] then fits = false break end\n"
	"    end\n"
	"  end\n"
	"  if not info then redis.call('ZREM', KEYS[1], id) end\n"
	"  if fits then\n"
	"    redis.call('ZREM', KEYS[1], id)\n"
	"    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)\n"
	"    return id\n"
	"  end\n"
	"end\n"
	"return false\n";

static const char done_script[] =
	"redis.call('ZREM', KEYS[1], ARGV[1])\n"
	"redis.call('ZREM', KEYS[2], ARGV[1])\n"
	"redis.call('HDEL', KEYS[3], ARGV[1])\n";

/* Every key of KEYS or none; ARGV: the TTL in seconds. */
static const char claim_script[] =
	"for _, k in ipairs(KEYS) do\n"
	"  if redis.call('EXISTS', k) == 1 then return 0 end\n"
	"end\n"
	"for _, k in ipairs(KEYS) do redis.call('SET', k, '1', 'EX', ARGV[1]) end\n"
	"return 1\n";

/* Create the counter with its TTL only when missing; INCRBY keeps the TTL. */
static const char incr_script[] =
	"redis.call('SET', KEYS[1], 0, 'NX', 'EX', ARGV[2])\n"
	"return redis.call('INCRBY', KEYS[1], ARGV[1])\n";

/*
 * GCRA on Redis' clock, in microseconds (exact in a Lua number until
 * 2255). ARGV: interval, tau, cost. Returns {admitted, ahead}.
 */
static const char gcra_script[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
	"local interval, tau, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
	"local tat = tonumber(redis.call('GET', KEYS[1]) or 0)\n"
	"if tat < now then tat = now end\n"
	"local new = tat + interval * cost\n"
	"if new - tau > now then return {0, tat - now} end\n"
	"if cost > 0 then\n"
	"  redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', math.ceil((new - now) / 1000))\n"
	"end\n"
	"return {1, new - now}\n";

/*
 * A circuit breaker as a hash of failures (f), open_until (o) and
 * probe_until (p), in milliseconds of Redis' clock; no key is closed.
 * ARGV: the operation (enum kv_breaker_op), threshold, open_ms,
 * probe_ms. Returns {probed, f, o, p, now}.
 */
static const char breaker_script[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local op, threshold = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
	"local open_ms, probe_ms = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
	"local v = redis.call('HMGET', KEYS[1], 'f', 'o', 'p')\n"
	"local f, o, p = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0\n"
	"local probed = 0\n"
	"if op == 1 then\n"
	"  if o ~= 0 and o <= now and p <= now then\n"
	"    p = now + probe_ms\n"
	"    probed = 1\n"
	"    redis.call('HSET', KEYS[1], 'p', p)\n"
	"  end\n"
	"elseif op == 2 then\n"
	"  f = f + 1\n"
	"  if o ~= 0 or f >= threshold then o = now + open_ms end\n"
	"  p = 0\n"
	"  redis.call('HSET', KEYS[1], 'f', f, 'o', o, 'p', p)\n"
	"elseif op >= 3 then\n"
	"  redis.call('DEL', KEYS[1])\n"
	"  f, o, p = 0, 0, 0\n"
	"end\n"
	"return {probed, f, o, p, now}\n";

static struct kv_redis *kr(struct kv *kv)
{
	return (struct kv_redis *)kv;
}

static int io_failed(struct kv_redis *r, bool connecting)
{
	const char *why = r->c->errstr;

	/* hiredis reports a read timeout as EAGAIN's text. */
	if (r->c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
		why = "timed out";
	return fail(EXIT_UNAVAILABLE, "%sRedis at %s: %s", connecting ? "cannot connect to " : "",
		    r->shown, why);
}

/* Error replies that retrying (6) or the configuration (7) may cure. */
static const struct {
	const char *prefix;
	int code;
} reply_codes[] = {
	{ "NOAUTH", EXIT_CONFIG },
	{ "WRONGPASS", EXIT_CONFIG },
	{ "NOPERM", EXIT_CONFIG },
	{ "ERR AUTH", EXIT_CONFIG },
	{ "ERR invalid password", EXIT_CONFIG },
	{ "ERR DB index", EXIT_CONFIG },
	{ "LOADING", EXIT_UNAVAILABLE },
	{ "BUSY", EXIT_UNAVAILABLE },
	{ "READONLY", EXIT_UNAVAILABLE },
	{ "MASTERDOWN", EXIT_UNAVAILABLE },
	{ "TRYAGAIN", EXIT_UNAVAILABLE },
};

static int reply_failed(struct kv_redis *r, const redisReply *reply)
{
	int code = EXIT_FAIL;

	for (size_t i = 0; i < ARRAY_SIZE(reply_codes); i++)
		if (starts_with(reply->str, reply_codes[i].prefix))
			code = reply_codes[i].code;
	return fail(code, "Redis at %s: %s", r->shown, reply->str);
}

static int connect_redis(struct kv_redis *r);

/*
 * Send one command (C strings), connecting again when an earlier failure
 * (a restart, a timeout) broke the connection. Error replies are
 * returned as replies.
 */
static int send_cmd(struct kv_redis *r, int argc, const char **argv, redisReply **out)
{
	if (r->c->err) {
		int rc = connect_redis(r);

		if (rc)
			return rc;
	}
	*out = redisCommandArgv(r->c, argc, argv, NULL);
	if (!*out)
		return io_failed(r, false);
	return 0;
}

/* Turn an error reply into a failure. */
static int check_reply(struct kv_redis *r, redisReply **reply)
{
	int rc;

	if ((*reply)->type != REDIS_REPLY_ERROR)
		return 0;
	rc = reply_failed(r, *reply);
	freeReplyObject(*reply);
	*reply = NULL;
	return rc;
}

static int command(struct kv_redis *r, int argc, const char **argv, redisReply **out)
{
	int rc = send_cmd(r, argc, argv, out);

	return rc ? rc : check_reply(r, out);
}

/* Run a command whose reply does not matter beyond success. */
static int command_ok(struct kv_redis *r, int argc, const char **argv)
{
	redisReply *reply;
	int rc = command(r, argc, argv, &reply);

	if (!rc)
		freeReplyObject(reply);
	return rc;
}

static int connect_redis(struct kv_redis *r)
{
	const char *argv[3];
	char db[16];
	int argc = 0, rc = 0;

	if (r->c)
		redisFree(r->c);
	r->c = redisConnectWithTimeout(r->url.host, r->url.port, r->timeout);
	if (!r->c)
		die("out of memory connecting to Redis");
	if (r->c->err || redisSetTimeout(r->c, r->timeout) != REDIS_OK)
		return io_failed(r, true);
	if (r->url.password) {
		argv[argc++] = "AUTH";
		if (r->url.user)
			argv[argc++] = r->url.user;
		argv[argc++] = r->url.password;
		rc = command_ok(r, argc, argv);
	}
	if (!rc && r->url.db) {
		xsnprintf(db, sizeof(db), "%d", r->url.db);
		rc = command_ok(r, 2, (const char *[]){ "SELECT", db });
	}
	return rc;
}

/*
 * A script is sent by its SHA-1 (EVALSHA), and whole only when Redis
 * does not have it yet. argv[0] and argv[1] are left for EVALSHA or EVAL
 * and the script.
 */
static int eval(struct kv_redis *r, const char *script, int argc, const char **argv,
		redisReply **out)
{
	unsigned char md[SHA_DIGEST_LENGTH];
	char sha[2 * SHA_DIGEST_LENGTH + 1];
	int rc;

	SHA1((const unsigned char *)script, strlen(script), md);
	for (size_t i = 0; i < sizeof(md); i++)
		xsnprintf(sha + 2 * i, 3, "%02x", md[i]);
	argv[0] = "EVALSHA";
	argv[1] = sha;
	rc = send_cmd(r, argc, argv, out);
	if (!rc && (*out)->type == REDIS_REPLY_ERROR && starts_with((*out)->str, "NOSCRIPT")) {
		freeReplyObject(*out);
		argv[0] = "EVAL";
		argv[1] = script;
		rc = send_cmd(r, argc, argv, out);
	}
	return rc ? rc : check_reply(r, out);
}

/* The claim keys of keys in argv[first...], to be freed by free_claim_keys(). */
static void claim_keys(const char **argv, int first, const char *const *keys, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		argv[first + i] = xstrfmt(CLAIM_PREFIX "%s", keys[i]);
}

static void free_claim_keys(const char **argv, int first, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free((char *)argv[first + i]);
}

static int kr_claim(struct kv *kv, const char *const *keys, size_t nr, int64_t ttl)
{
	struct kv_redis *r = kr(kv);
	const char *argv[3 + KV_CLAIM_MAX + 1];
	char n[8], t[24];
	redisReply *reply;
	int rc;

	xsnprintf(n, sizeof(n), "%zu", nr);
	xsnprintf(t, sizeof(t), "%" PRId64, ttl);
	argv[2] = n;
	claim_keys(argv, 3, keys, nr);
	argv[3 + nr] = t;
	rc = eval(r, claim_script, 4 + nr, argv, &reply);
	free_claim_keys(argv, 3, nr);
	if (rc)
		return rc;
	if (reply->type == REDIS_REPLY_INTEGER)
		rc = reply->integer == 1;
	else
		rc = fail(EXIT_FAIL, "Redis at %s: unexpected answer to the claim script", r->shown);
	freeReplyObject(reply);
	return rc;
}

static int kr_unclaim(struct kv *kv, const char *const *keys, size_t nr)
{
	const char *argv[1 + KV_CLAIM_MAX];
	int rc;

	argv[0] = "DEL";
	claim_keys(argv, 1, keys, nr);
	rc = command_ok(kr(kv), 1 + nr, argv);
	free_claim_keys(argv, 1, nr);
	return rc;
}

static int kr_incr(struct kv *kv, const char *key, int64_t delta, int64_t ttl, int64_t *value)
{
	struct kv_redis *r = kr(kv);
	char *k = xstrfmt(COUNTER_PREFIX "%s", key), d[24], t[24];
	const char *argv[] = { NULL, NULL, "1", k, d, t };
	redisReply *reply;
	int rc;

	xsnprintf(d, sizeof(d), "%" PRId64, delta);
	xsnprintf(t, sizeof(t), "%" PRId64, ttl);
	rc = eval(r, incr_script, ARRAY_SIZE(argv), argv, &reply);
	free(k);
	if (rc)
		return rc;
	if (reply->type == REDIS_REPLY_INTEGER)
		*value = reply->integer;
	else
		rc = fail(EXIT_FAIL, "Redis at %s: unexpected answer to INCRBY", r->shown);
	freeReplyObject(reply);
	return rc;
}

static int kr_gcra(struct kv *kv, const char *key, int64_t interval, int64_t tau, int64_t cost,
		   int64_t *ahead)
{
	struct kv_redis *r = kr(kv);
	char *k = xstrfmt(BUCKET_PREFIX "%s", key), i[24], t[24], c[24];
	const char *argv[] = { NULL, NULL, "1", k, i, t, c };
	redisReply *reply;
	int rc;

	xsnprintf(i, sizeof(i), "%" PRId64, interval);
	xsnprintf(t, sizeof(t), "%" PRId64, tau);
	xsnprintf(c, sizeof(c), "%" PRId64, cost);
	rc = eval(r, gcra_script, ARRAY_SIZE(argv), argv, &reply);
	free(k);
	if (rc)
		return rc;
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
	    reply->element[0]->type == REDIS_REPLY_INTEGER &&
	    reply->element[1]->type == REDIS_REPLY_INTEGER) {
		rc = reply->element[0]->integer == 1;
		*ahead = reply->element[1]->integer;
	} else {
		rc = fail(EXIT_FAIL, "Redis at %s: unexpected answer to the rate-limit script", r->shown);
	}
	freeReplyObject(reply);
	return rc;
}

static int kr_breaker(struct kv *kv, const char *key, enum kv_breaker_op op, int64_t threshold,
		      int64_t open_ms, int64_t probe_ms, struct kv_breaker_row *row)
{
	struct kv_redis *r = kr(kv);
	char *k = xstrfmt(BREAKER_PREFIX "%s", key), o[8], t[24], m[24], p[24];
	const char *argv[] = { NULL, NULL, "1", k, o, t, m, p };
	int64_t *cols[] = { &row->failures, &row->open_until, &row->probe_until, &row->now };
	redisReply *reply;
	bool ok;
	int rc;

	xsnprintf(o, sizeof(o), "%d", (int)op);
	xsnprintf(t, sizeof(t), "%" PRId64, threshold);
	xsnprintf(m, sizeof(m), "%" PRId64, open_ms);
	xsnprintf(p, sizeof(p), "%" PRId64, probe_ms);
	rc = eval(r, breaker_script, ARRAY_SIZE(argv), argv, &reply);
	free(k);
	if (rc)
		return rc;
	ok = reply->type == REDIS_REPLY_ARRAY && reply->elements == 5;
	for (size_t i = 0; ok && i < 5; i++)
		ok = reply->element[i]->type == REDIS_REPLY_INTEGER;
	if (ok) {
		rc = reply->element[0]->integer == 1;
		for (size_t i = 0; i < ARRAY_SIZE(cols); i++)
			*cols[i] = reply->element[i + 1]->integer;
	} else {
		rc = fail(EXIT_FAIL, "Redis at %s: unexpected answer to the breaker script", r->shown);
	}
	freeReplyObject(reply);
	return rc;
}

/* Run a queue script with the queue's keys and args; out NULL: the reply does not matter. */
static int queue_script(struct kv_redis *r, const char *script, const char *const *args, int nargs,
			redisReply **out)
{
	const char *argv[9] = { NULL, NULL, "3", QUEUE_KEY, TAKEN_KEY, JOBS_KEY };
	redisReply *reply;
	int rc;

	memcpy(argv + 6, args, nargs * sizeof(*args));
	rc = eval(r, script, 6 + nargs, argv, &reply);
	if (rc)
		return rc;
	if (out)
		*out = reply;
	else
		freeReplyObject(reply);
	return 0;
}

static int kr_queue_push(struct kv *kv, const char *id, int64_t seq, const char *labels)
{
	char s[24];

	xsnprintf(s, sizeof(s), "%" PRId64, seq);
	return queue_script(kr(kv), push_script, (const char *[]){ id, s, labels }, 3, NULL);
}

static int kr_queue_take(struct kv *kv, const char *labels, int64_t visibility, char **id)
{
	struct kv_redis *r = kr(kv);
	redisReply *reply;
	char v[24];
	int rc;

	xsnprintf(v, sizeof(v), "%" PRId64, visibility);
	rc = queue_script(r, take_script, (const char *[]){ labels, v, QUEUE_SCAN }, 3, &reply);
	if (rc)
		return rc;
	if (reply->type == REDIS_REPLY_STRING)
		*id = xstrndup(reply->str, reply->len);
	else if (reply->type != REDIS_REPLY_NIL)
		rc = fail(EXIT_FAIL, "Redis at %s: unexpected answer to a queue take", r->shown);
	rc = rc ? rc : reply->type == REDIS_REPLY_STRING;
	freeReplyObject(reply);
	return rc;
}

static int kr_queue_done(struct kv *kv, const char *id)
{
	return queue_script(kr(kv), done_script, (const char *[]){ id }, 1, NULL);
}

static void kr_close(struct kv *kv)
{
	struct kv_redis *r = kr(kv);

	if (r->c)
		redisFree(r->c);
	redis_url_release(&r->url);
	free(r->shown);
	free(r);
}

static const struct kv_ops redis_ops = {
	.name = "redis",
	.close = kr_close,
	.claim = kr_claim,
	.unclaim = kr_unclaim,
	.incr = kr_incr,
	.gcra = kr_gcra,
	.breaker = kr_breaker,
	.queue_push = kr_queue_push,
	.queue_take = kr_queue_take,
	.queue_done = kr_queue_done,
};

int kv_redis_open(struct kv **out, const char *url)
{
	struct kv_redis *r = xcalloc(1, sizeof(*r));
	struct strbuf sb = STRBUF_INIT;
	int rc;

	r->base.ops = &redis_ops;
	if (redis_url_parse(url, &r->url, &sb)) {
		/* Not the URL: a malformed one may hide its password from redaction. */
		rc = fail(EXIT_CONFIG, "bad Redis URL: it %s", sb.buf);
		strbuf_release(&sb);
		free(r);
		return rc;
	}
	redact_register_url(url);
	redact_register(r->url.password);
	strbuf_addstr(&sb, url);
	redact(&sb);
	r->shown = strbuf_detach(&sb, NULL);
	r->timeout.tv_sec = cfg_int("redis.timeout");
	rc = connect_redis(r);
	if (rc) {
		kr_close(&r->base);
		return rc;
	}
	*out = &r->base;
	return 0;
}
