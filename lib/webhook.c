#include "common.h"
#include "base64.h"
#include "escape.h"
#include "redact.h"
#include "timeutil.h"
#include "token.h"
#include "webhook.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>

#define MAC_LEN 32
#define HEX_LEN (2 * MAC_LEN)
/* A MAC in standard base64, with its padding. */
#define B64_LEN 44
#define WHSEC_PREFIX "whsec_"
/* Deeper than any GitHub payload; the search for a time goes no further. */
#define TIME_SEARCH_DEPTH 64

const char *const webhook_scheme_names[] = { "github", "standard", NULL };

int webhook_scheme_parse(const char *name)
{
	for (int i = 0; webhook_scheme_names[i]; i++)
		if (!strcmp(name, webhook_scheme_names[i]))
			return i;
	return -1;
}

struct secret {
	enum webhook_scheme scheme;
	unsigned char *key;
	size_t len;
};

struct webhook_secrets {
	struct secret *v;
	size_t nr, alloc;
};

static bool is_base64(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Standard base64 (RFC 4648 §4) with its padding into out (len bytes): the length, or -1. */
static ssize_t base64_decode_padded(unsigned char *out, const char *s, size_t len)
{
	size_t pad = 0;
	int n;

	if (!len || len % 4 || len > INT_MAX)
		return -1;
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++)
		if (!is_base64((unsigned char)s[i]))
			return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	return n < 0 ? -1 : n - (ssize_t)pad;
}

static int add_secret(struct webhook_secrets *s, const char *line, size_t len, const char *path,
		      int lineno)
{
	struct secret sec = { WEBHOOK_GITHUB, NULL, len };

	redact_register_mem(line, len);
	if (len >= strlen(WHSEC_PREFIX) && !memcmp(line, WHSEC_PREFIX, strlen(WHSEC_PREFIX))) {
		const char *b64 = line + strlen(WHSEC_PREFIX);
		size_t n = len - strlen(WHSEC_PREFIX);
		unsigned char *raw = xmalloc(n + 1);
		ssize_t keylen = base64_decode_padded(raw, b64, n);

		redact_register_mem(b64, n);
		if (keylen > 0) {
			sec.scheme = WEBHOOK_STANDARD;
			sec.key = xmemdup(raw, keylen);
			sec.len = keylen;
		}
		free_secret(raw, n + 1);
		if (keylen <= 0)
			return fail(EXIT_CONFIG, "%s:%d: a Standard Webhooks secret is whsec_ and base64",
				    path, lineno);
	} else {
		sec.key = xmemdup(line, len);
	}
	ALLOC_GROW(s->v, s->nr + 1, s->alloc);
	s->v[s->nr++] = sec;
	return 0;
}

int webhook_secrets_parse(const char *text, size_t len, const char *path,
			  struct webhook_secrets **out)
{
	struct webhook_secrets *s = xcalloc(1, sizeof(*s));
	const char *p = text, *end = text + len;
	int lineno = 0, rc = 0;

	while (!rc && p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t n = (nl ? nl : end) - p;

		lineno++;
		if (n && p[n - 1] == '\r')
			n--;
		if (n)
			rc = add_secret(s, p, n, path, lineno);
		p = nl ? nl + 1 : end;
	}
	if (!rc && !s->nr)
		rc = fail(EXIT_CONFIG, "%s holds no webhook secret", path);
	if (rc) {
		webhook_secrets_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int webhook_secrets_load(const char *path, struct webhook_secrets **out)
{
	struct strbuf sb = STRBUF_INIT;
	int rc = read_secret_file(path, WEBHOOK_SECRETS_MAX, &sb);

	if (!rc)
		rc = webhook_secrets_parse(sb.buf, sb.len, path, out);
	strbuf_release_secret(&sb);
	return rc;
}

void webhook_secrets_free(struct webhook_secrets *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nr; i++)
		free_secret(s->v[i].key, s->v[i].len);
	free(s->v);
	free(s);
}

static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void fetch_hmac(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

struct part {
	const void *p;
	size_t len;
};

/* The HMAC-SHA256 of the parts, one after the other, under the key of sec. */
static void hmac_sha256(const struct secret *sec, const struct part *parts, size_t n,
			unsigned char out[MAC_LEN])
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx;
	size_t len;
	bool ok;

	pthread_once(&hmac_once, fetch_hmac);
	ctx = hmac_alg ? EVP_MAC_CTX_new(hmac_alg) : NULL;
	ok = ctx && EVP_MAC_init(ctx, sec->key, sec->len, params);
	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_MAC_update(ctx, parts[i].p, parts[i].len);
	ok = ok && EVP_MAC_final(ctx, out, &len, MAC_LEN) && len == MAC_LEN;
	EVP_MAC_CTX_free(ctx);
	if (!ok)
		die("HMAC-SHA256 failed in OpenSSL");
}

/* X-Hub-Signature-256's hex digest of body under sec. */
static void sign_github(const struct secret *sec, const char *body, size_t len,
			char out[HEX_LEN + 1])
{
	unsigned char mac[MAC_LEN];

	hmac_sha256(sec, &(struct part){ body, len }, 1, mac);
	hex_encode(out, mac, MAC_LEN);
}

/* A v1 signature of Standard Webhooks in base64: of "id.timestamp.body". */
static void sign_standard(const struct secret *sec, const char *id, const char *ts,
			  const char *body, size_t len, char out[B64_LEN + 1])
{
	const struct part parts[] = {
		{ id, strlen(id) }, { ".", 1 }, { ts, strlen(ts) }, { ".", 1 }, { body, len },
	};
	unsigned char mac[MAC_LEN];

	hmac_sha256(sec, parts, ARRAY_SIZE(parts), mac);
	EVP_EncodeBlock((unsigned char *)out, mac, MAC_LEN);
}

int webhook_sign(const struct webhook_secrets *s, enum webhook_scheme scheme, const char *id,
		 int64_t timestamp, const char *body, size_t len, struct strvec *headers)
{
	struct strbuf sig = STRBUF_INIT;
	char ts[24], mac[HEX_LEN + 1];	/* a hex digest or, shorter, base64 */

	xsnprintf(ts, sizeof(ts), "%" PRId64, timestamp);
	for (size_t i = 0; i < s->nr; i++) {
		if (s->v[i].scheme != scheme)
			continue;
		if (scheme == WEBHOOK_GITHUB) {
			sign_github(&s->v[i], body, len, mac);
			strbuf_addf(&sig, "sha256=%s", mac);
			break;
		}
		sign_standard(&s->v[i], id, ts, body, len, mac);
		strbuf_addf(&sig, "%sv1,%s", sig.len ? " " : "", mac);
	}
	if (!sig.len)
		return fail(EXIT_NOTFOUND, "no %s secret%s", scheme == WEBHOOK_GITHUB ? "GitHub" :
			    "Standard Webhooks", scheme == WEBHOOK_GITHUB ? "" : " (whsec_...)");
	if (scheme == WEBHOOK_GITHUB) {
		strvec_push(headers, "X-Hub-Signature-256");
		strvec_push(headers, sig.buf);
		strvec_push(headers, "X-GitHub-Delivery");
		strvec_push(headers, id);
	} else {
		strvec_push(headers, "webhook-id");
		strvec_push(headers, id);
		strvec_push(headers, "webhook-timestamp");
		strvec_push(headers, ts);
		strvec_push(headers, "webhook-signature");
		strvec_push(headers, sig.buf);
	}
	strbuf_release(&sig);
	return 0;
}

void webhook_new_id(enum webhook_scheme scheme, struct strbuf *out)
{
	unsigned char raw[16];
	char h[33];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		die("no random bytes for a delivery id");
	if (scheme == WEBHOOK_STANDARD) {
		strbuf_addstr(out, "msg_");
		base64url_encode(out, raw, sizeof(raw));
		return;
	}
	raw[6] = (raw[6] & 0x0f) | 0x40;	/* version 4 */
	raw[8] = (raw[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	hex_encode(h, raw, sizeof(raw));
	strbuf_addf(out, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

const char *webhook_header_in_lines(void *lines, const char *name)
{
	const struct strvec *sv = lines;
	size_t n = strlen(name);

	for (size_t i = 0; i < sv->nr; i++) {
		const char *v = sv->v[i];

		if (strncasecmp(v, name, n) || v[n] != ':')
			continue;
		for (v += n + 1; *v == ' ' || *v == '\t'; v++)
			;
		return v;
	}
	return NULL;
}

void webhook_release(struct webhook *wh)
{
	json_decref(wh->payload);
	for (size_t i = 0; i < wh->keys_nr; i++)
		free(wh->keys[i]);
	*wh = (struct webhook)WEBHOOK_INIT;
}

/* Record the verdict and fail with its exit code. */
static int PRINTF(3, 4) refuse(struct webhook *wh, enum webhook_verdict v, const char *fmt, ...)
{
	static const int codes[] = {
		[WEBHOOK_MALFORMED] = EXIT_USAGE,
		[WEBHOOK_SIGNATURE] = EXIT_REJECTED,
		[WEBHOOK_WINDOW] = EXIT_REJECTED,
		[WEBHOOK_REPLAY] = EXIT_BUSY,
		[WEBHOOK_LIMITED] = EXIT_BUSY,
	};
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	wh->verdict = v;
	rc = fail(codes[v], "%s", sb.buf);
	strbuf_release(&sb);
	return rc;
}

/* Ids become kv keys and log fields. */
bool webhook_id_valid(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-");

	return n && n <= WEBHOOK_ID_MAX && !s[n];
}

/* The header name, present and a valid id (ids), or refuse. */
static int need(struct webhook *wh, webhook_header_fn *header, void *ctx, const char *name,
		bool id, const char **out)
{
	*out = header(ctx, name);
	if (!*out || !**out)
		return refuse(wh, WEBHOOK_MALFORMED, "missing header %s", name);
	if (id && !webhook_id_valid(*out))
		return refuse(wh, WEBHOOK_MALFORMED, "header %s: 1 to %d letters, digits, '.', '_', "
			      "':' or '-'", name, WEBHOOK_ID_MAX);
	return 0;
}

static int check_github(struct webhook *wh, const struct webhook_secrets *s,
			webhook_header_fn *header, void *ctx, const char *body, size_t len)
{
	const char *sig, *got;
	char want[HEX_LEN + 1], lower[HEX_LEN + 1];
	bool match = false;
	int rc = need(wh, header, ctx, "X-Hub-Signature-256", false, &sig);

	if (!rc)
		rc = need(wh, header, ctx, "X-GitHub-Event", true, &wh->event);
	if (!rc)
		rc = need(wh, header, ctx, "X-GitHub-Delivery", true, &wh->id);
	if (!rc)
		rc = need(wh, header, ctx, "X-GitHub-Hook-ID", true, &wh->hook_id);
	if (rc)
		return rc;
	if (!skip_prefix(sig, "sha256=", &got) || strlen(got) != HEX_LEN ||
	    strspn(got, "0123456789abcdefABCDEF") != HEX_LEN)
		return refuse(wh, WEBHOOK_SIGNATURE, "X-Hub-Signature-256 is not sha256= and %d hex "
			      "digits", HEX_LEN);
	for (size_t i = 0; i <= HEX_LEN; i++)
		lower[i] = got[i] >= 'A' && got[i] <= 'F' ? got[i] + 'a' - 'A' : got[i];
	/* every secret is tried: the time taken says nothing about which matched */
	for (size_t i = 0; i < s->nr; i++) {
		if (s->v[i].scheme != WEBHOOK_GITHUB)
			continue;
		sign_github(&s->v[i], body, len, want);
		match |= !CRYPTO_memcmp(want, lower, HEX_LEN);
	}
	if (!match)
		return refuse(wh, WEBHOOK_SIGNATURE, "bad signature: no GitHub secret signed this "
			      "delivery");
	return 0;
}

/* Whether one of the space-separated entries of sigs is "v1," and mac. */
static bool has_v1(const char *sigs, const char *mac)
{
	bool match = false;

	while (*sigs) {
		size_t n = strcspn(sigs, " ");

		if (n == 3 + B64_LEN && starts_with(sigs, "v1,"))
			match |= !CRYPTO_memcmp(sigs + 3, mac, B64_LEN);
		sigs += n;
		sigs += strspn(sigs, " ");
	}
	return match;
}

static int check_standard(struct webhook *wh, const struct webhook_secrets *s,
			  webhook_header_fn *header, void *ctx, const char *body, size_t len)
{
	const char *ts, *sigs;
	char mac[B64_LEN + 1];
	bool match = false;
	int rc = need(wh, header, ctx, "webhook-signature", false, &sigs);

	if (!rc)
		rc = need(wh, header, ctx, "webhook-id", true, &wh->id);
	if (!rc)
		rc = need(wh, header, ctx, "webhook-timestamp", false, &ts);
	if (rc)
		return rc;
	if (parse_i64(ts, 0, WEBHOOK_TIME_MAX, &wh->time))
		return refuse(wh, WEBHOOK_MALFORMED, "header webhook-timestamp: '%s' is not seconds "
			      "since the epoch", ts);
	for (size_t i = 0; i < s->nr; i++) {
		if (s->v[i].scheme != WEBHOOK_STANDARD)
			continue;
		sign_standard(&s->v[i], wh->id, ts, body, len, mac);
		match |= has_v1(sigs, mac);
	}
	if (!match)
		return refuse(wh, WEBHOOK_SIGNATURE, "bad signature: no Standard Webhooks secret "
			      "signed this delivery");
	return 0;
}

/* A time field's value: an RFC 3339 string or seconds since the epoch. */
static bool time_value(const json_t *v, int64_t *secs)
{
	if (json_is_string(v))
		return !parse_rfc3339(json_string_value(v), secs);
	if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) >= WEBHOOK_TIME_MAX)
		return false;
	*secs = json_integer_value(v);
	return true;
}

static bool time_key(const char *key)
{
	return ends_with(key, "_at") || !strcmp(key, "timestamp");
}

static void newest_time(const json_t *v, int depth, bool *found, int64_t *newest)
{
	const char *key;
	json_t *item;
	size_t i;
	int64_t t;

	if (depth > TIME_SEARCH_DEPTH)
		return;
	if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			newest_time(item, depth + 1, found, newest);
		return;
	}
	json_object_foreach((json_t *)v, key, item) {
		if (time_key(key) && time_value(item, &t)) {
			if (!*found || t > *newest)
				*newest = t;
			*found = true;
		} else {
			newest_time(item, depth + 1, found, newest);
		}
	}
}

int webhook_event_time(const char *event, const json_t *payload, int64_t *secs)
{
	static const struct {
		const char *action, *field;
	} job_times[] = {
		{ "queued", "created_at" },
		{ "in_progress", "started_at" },
		{ "completed", "completed_at" },
	};
	const char *action = json_string_value(json_object_get(payload, "action"));
	bool found = false;

	for (size_t i = 0; event && action && !strcmp(event, "workflow_job") &&
	     i < ARRAY_SIZE(job_times); i++) {
		const json_t *job = json_object_get(payload, "workflow_job");

		if (strcmp(action, job_times[i].action))
			continue;
		if (!time_value(json_object_get(job, job_times[i].field), secs))
			return fail(EXIT_USAGE, "a workflow_job %s without a time in workflow_job.%s",
				    action, job_times[i].field);
		return 1;
	}
	newest_time(payload, 0, &found, secs);
	return found;
}

/* The org: the organization's login, else the repository owner's, in lower case. */
static int payload_org(struct webhook *wh)
{
	const json_t *p = wh->payload;
	const char *login = json_string_value(json_object_get(json_object_get(p, "organization"),
							      "login"));
	size_t len;

	if (!login)
		login = json_string_value(json_object_get(json_object_get(json_object_get(p,
				"repository"), "owner"), "login"));
	if (!login)
		return 0;
	len = strlen(login);
	if (len < sizeof(wh->org)) {
		for (size_t i = 0; i <= len; i++)
			wh->org[i] = login[i] >= 'A' && login[i] <= 'Z' ? login[i] + 'a' - 'A' : login[i];
	}
	if (len >= sizeof(wh->org) || !org_id_valid(wh->org, len)) {
		wh->org[0] = '\0';
		return refuse(wh, WEBHOOK_MALFORMED, "the payload's org '%.64s' is not an org id "
			      "([a-z0-9][a-z0-9-]{0,38} in lower case)", login);
	}
	return 0;
}

static void replay_keys(struct webhook *wh, const char *body, size_t len)
{
	unsigned char md[MAC_LEN];
	char h[HEX_LEN + 1];

	if (wh->scheme == WEBHOOK_STANDARD) {
		wh->keys[wh->keys_nr++] = xstrfmt("webhook:standard:%s", wh->id);
		return;
	}
	wh->keys[wh->keys_nr++] = xstrfmt("webhook:github:%s:%s", wh->hook_id, wh->id);
	if (!EVP_Digest(body, len, md, NULL, EVP_sha256(), NULL))
		die("SHA-256 failed in OpenSSL");
	hex_encode(h, md, MAC_LEN);
	wh->keys[wh->keys_nr++] = xstrfmt("webhook:sha256:%s", h);
}

int webhook_check(struct webhook *wh, const struct webhook_secrets *s, webhook_header_fn *header,
		  void *ctx, const char *body, size_t len, int64_t window, int64_t now)
{
	json_error_t err;
	struct strbuf when = STRBUF_INIT;
	int rc;

	wh->scheme = header(ctx, "webhook-signature") || header(ctx, "webhook-id") ||
		     header(ctx, "webhook-timestamp") ? WEBHOOK_STANDARD : WEBHOOK_GITHUB;
	if (wh->scheme == WEBHOOK_STANDARD) {
		wh->event = header(ctx, "X-GitHub-Event");
		if (wh->event && !webhook_id_valid(wh->event))
			return refuse(wh, WEBHOOK_MALFORMED, "header X-GitHub-Event: not an event name");
		rc = check_standard(wh, s, header, ctx, body, len);
	} else {
		rc = check_github(wh, s, header, ctx, body, len);
	}
	if (rc)
		return rc;
	wh->payload = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
	if (!json_is_object(wh->payload))
		return refuse(wh, WEBHOOK_MALFORMED, "the payload is not a JSON object: %s",
			      wh->payload ? "another value" : err.text);
	if (wh->scheme == WEBHOOK_GITHUB) {
		rc = webhook_event_time(wh->event, wh->payload, &wh->time);
		if (rc < 0)
			return refuse(wh, WEBHOOK_MALFORMED, "%s", fail_message());
		if (!rc)
			wh->time = -1;
	}
	if (wh->time >= 0 && (wh->time < now - window || wh->time > now + window)) {
		fmt_rfc3339(&when, wh->time);
		rc = refuse(wh, WEBHOOK_WINDOW, "the event time %s is %" PRId64 " s %s, outside the "
			    "window of %" PRId64 " s", when.buf, wh->time < now ? now - wh->time : wh->time - now,
			    wh->time < now ? "ago" : "ahead", window);
		strbuf_release(&when);
		return rc;
	}
	rc = payload_org(wh);
	if (!rc)
		replay_keys(wh, body, len);
	return rc;
}

int webhook_ratelimit(struct kv *kv, struct webhook *wh, const struct rate *rate, int64_t burst,
		      int64_t *retry_after_ms)
{
	char *key = xstrfmt("webhook:%s", *wh->org ? wh->org : "-");
	struct kv_limit lim;
	int rc = kv_ratelimit(kv, key, rate, burst, 1, &lim);

	free(key);
	if (rc < 0)
		return rc;
	*retry_after_ms = lim.retry_after_ms;
	if (!rc)
		return refuse(wh, WEBHOOK_LIMITED, "org %s is over its webhook rate limit; retry in "
			      "%" PRId64 " s", *wh->org ? wh->org : "-", (lim.retry_after_ms + 999) / 1000);
	return 0;
}

int webhook_claim(struct kv *kv, struct webhook *wh, int64_t window)
{
	int rc = kv_claim_all(kv, (const char *const *)wh->keys, wh->keys_nr, 2 * window);

	if (rc < 0)
		return rc;
	if (!rc)
		return refuse(wh, WEBHOOK_REPLAY, "replay: delivery %s%s was accepted before", wh->id,
			      wh->keys_nr > 1 ? ", or its body," : "");
	return 0;
}

int webhook_unclaim(struct kv *kv, const struct webhook *wh)
{
	return kv_unclaim(kv, (const char *const *)wh->keys, wh->keys_nr);
}

void webhook_effect_release(struct webhook_effect *e)
{
	job_clear(&e->job);
	*e = (struct webhook_effect)WEBHOOK_EFFECT_INIT;
}

/* Whether the workflow_job's labels hold each of want, ignoring case as GitHub does. */
static bool has_labels(const json_t *labels, const struct strvec *want)
{
	for (size_t i = 0; i < want->nr; i++) {
		bool found = false;
		size_t j;
		json_t *v;

		json_array_foreach(labels, j, v)
			found |= json_is_string(v) && !strcasecmp(json_string_value(v), want->v[i]);
		if (!found)
			return false;
	}
	return true;
}

/* The job's labels: GitHub's, as job labels (no comma can hide in one). */
static int job_labels(const json_t *labels, struct strvec *out)
{
	struct strbuf joined = STRBUF_INIT;
	size_t i;
	json_t *v;
	int rc = 0;

	json_array_foreach(labels, i, v) {
		const char *l = json_string_value(v);

		if (!l || strchr(l, ','))
			rc = fail(EXIT_USAGE, "workflow_job.labels[%zu] is not a label", i);
		else
			strbuf_addf(&joined, "%s%s", i ? "," : "", l);
	}
	if (!rc)
		rc = job_labels_parse(joined.buf, out);
	strbuf_release(&joined);
	return rc;
}

static enum job_state conclusion_state(const char *conclusion)
{
	if (conclusion && !strcmp(conclusion, "success"))
		return JOB_SUCCEEDED;
	if (conclusion && !strcmp(conclusion, "cancelled"))
		return JOB_CANCELLED;
	return JOB_FAILED;
}

/* The job to add: org, repository and payload, checked as job_add() will. */
static int queued_job(const struct webhook *wh, const char *body, size_t len, struct job *job)
{
	const char *repo = json_string_value(json_object_get(json_object_get(wh->payload,
							     "repository"), "full_name"));
	int rc = 0;

	if (!*wh->org)
		rc = fail(EXIT_USAGE, "a queued workflow_job names no organization nor repository owner");
	else if (!repo)
		rc = fail(EXIT_USAGE, "a queued workflow_job without repository.full_name");
	else if (len > PAYLOAD_MAX)
		rc = fail(EXIT_USAGE, "a queued workflow_job's payload has more than %d bytes",
			  PAYLOAD_MAX);
	if (!rc)
		rc = job_repo_check(repo);
	if (rc)
		return rc;
	job->org = xstrdup(wh->org);
	job->repo = xstrdup(repo);
	job->payload = xstrndup(body, len);
	return 0;
}

static int effect(const struct webhook *wh, const struct strvec *labels, const char *body,
		  size_t len, struct webhook_effect *out)
{
	const json_t *wj = json_object_get(wh->payload, "workflow_job");
	const json_t *id = json_object_get(wj, "id"), *run = json_object_get(wj, "run_id");
	const json_t *gh_labels = json_object_get(wj, "labels");
	const char *action = json_string_value(json_object_get(wh->payload, "action"));
	int rc;

	out->action = WEBHOOK_IGNORE;
	if (!wh->event || strcmp(wh->event, "workflow_job") || !action)
		return 0;
	if (!strcmp(action, "queued"))
		out->action = WEBHOOK_QUEUE;
	else if (!strcmp(action, "completed"))
		out->action = WEBHOOK_FINISH;
	else
		return 0;
	if (!json_is_array(gh_labels) || !has_labels(gh_labels, labels)) {
		out->action = WEBHOOK_IGNORE;
		return 0;
	}
	if (!json_is_integer(id) || json_integer_value(id) <= 0)
		return fail(EXIT_USAGE, "a workflow_job without a positive workflow_job.id");
	out->job.id = xstrfmt("gh-%" JSON_INTEGER_FORMAT, json_integer_value(id));
	out->run_id = json_is_integer(run) ? json_integer_value(run) : 0;
	if (out->action == WEBHOOK_FINISH) {
		out->reason = json_string_value(json_object_get(wj, "conclusion"));
		out->status = conclusion_state(out->reason);
		return 0;
	}
	rc = job_labels(gh_labels, &out->job.labels);
	return rc ? rc : queued_job(wh, body, len, &out->job);
}

int webhook_effect(struct webhook *wh, const struct strvec *labels, const char *body, size_t len,
		   struct webhook_effect *out)
{
	int rc = effect(wh, labels, body, len, out);

	return rc ? refuse(wh, WEBHOOK_MALFORMED, "%s", fail_message()) : 0;
}

int webhook_apply(struct store *st, struct kv *queue, struct webhook_effect *e,
		  const char **result)
{
	int rc = 0;

	switch (e->action) {
	case WEBHOOK_IGNORE:
		*result = "ignored";
		break;
	case WEBHOOK_QUEUE:
		rc = job_add(st, queue, &e->job);
		*result = rc ? "queued" : "exists";
		break;
	case WEBHOOK_FINISH:
		rc = job_finish_unless_finished(st, e->job.id, e->status, e->reason);
		*result = rc ? "finished" : "finished_already";
		if (fail_code(rc) == EXIT_NOTFOUND) {
			*result = "unknown_job";
			rc = 0;
		}
		break;
	}
	return rc < 0 ? rc : 0;
}
