#include "common.h"
#include "escape.h"
#include "github-parse.h"
#include "timeutil.h"

#include <curl/curl.h>
#include <jansson.h>

/* Tokens go into Authorization headers: nothing that could end one. */
#define TOKEN_MAX 4096
#define JIT_CONFIG_MAX (256 << 10)

static int malformed(const char *what, const char *why)
{
	return fail(EXIT_UNAVAILABLE, "malformed %s from GitHub: %s", what, why);
}

static json_t *load(const char *body, size_t len, const char *what)
{
	json_error_t err;
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);

	if (!doc) {
		struct strbuf sb = STRBUF_INIT;

		strbuf_add_printable(&sb, err.text, strlen(err.text));
		malformed(what, sb.buf);
		strbuf_release(&sb);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		malformed(what, "not a JSON object");
		return NULL;
	}
	return doc;
}

static bool charset_ok(const char *s, size_t len, const char *extra)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (!(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') &&
		    !strchr(extra, c))
			return false;
	}
	return true;
}

/* A string member of up to max bytes, or NULL. */
static const char *member_string(json_t *obj, const char *name, size_t max)
{
	json_t *v = json_object_get(obj, name);

	if (!json_is_string(v) || json_string_length(v) > max)
		return NULL;
	return json_string_value(v);
}

/* A positive integer member, or 0. */
static int64_t member_id(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);

	return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
}

int github_parse_token(const char *body, size_t len, struct strbuf *token, int64_t *expires_at)
{
	static const char what[] = "installation token";
	json_t *doc = load(body, len, what);
	const char *t, *exp;
	int rc = 0;

	if (!doc)
		return -EXIT_UNAVAILABLE;
	t = member_string(doc, "token", TOKEN_MAX);
	exp = member_string(doc, "expires_at", 64);
	if (!t || !*t || !charset_ok(t, strlen(t), "_-.~+/="))
		rc = malformed(what, "no usable \"token\"");
	else if (!exp || parse_rfc3339(exp, expires_at))
		rc = malformed(what, "no RFC 3339 \"expires_at\"");
	else
		strbuf_addstr(token, t);
	/* jansson's copy cannot be wiped from here; it is freed at once */
	json_decref(doc);
	return rc;
}

int github_parse_installation(const char *body, size_t len, int64_t *id)
{
	static const char what[] = "installation";
	json_t *doc = load(body, len, what);
	int rc = 0;

	if (!doc)
		return -EXIT_UNAVAILABLE;
	*id = member_id(doc, "id");
	if (!*id)
		rc = malformed(what, "no positive integer \"id\"");
	json_decref(doc);
	return rc;
}

static char *xstrdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* One runner object; names are kept as GitHub has them (output escapes them). */
static int runner_from_json(json_t *obj, struct github_runner *r, const char *what)
{
	json_t *labels, *label, *busy;
	const char *name;
	size_t i;

	if (!json_is_object(obj))
		return malformed(what, "a runner that is not an object");
	r->id = member_id(obj, "id");
	name = member_string(obj, "name", 1024);
	busy = json_object_get(obj, "busy");
	if (!r->id || !name || !json_is_boolean(busy))
		return malformed(what, "a runner without a positive \"id\", a \"name\" or \"busy\"");
	r->name = xstrdup(name);
	r->busy = json_is_true(busy);
	r->os = xstrdup_or_null(member_string(obj, "os", 1024));
	r->status = xstrdup_or_null(member_string(obj, "status", 1024));
	labels = json_object_get(obj, "labels");
	if (labels && !json_is_array(labels))
		return malformed(what, "\"labels\" is not an array");
	json_array_foreach(labels, i, label) {
		const char *l = member_string(label, "name", 1024);

		if (!l)
			return malformed(what, "a label without a \"name\"");
		strvec_push(&r->labels, l);
	}
	return 0;
}

int github_parse_runners(const char *body, size_t len, struct github_runners *out)
{
	static const char what[] = "runner list";
	json_t *doc = load(body, len, what), *runners, *obj;
	size_t i;
	int rc = 0;

	if (!doc)
		return -EXIT_UNAVAILABLE;
	runners = json_object_get(doc, "runners");
	if (!json_is_array(runners))
		rc = malformed(what, "\"runners\" is not an array");
	json_array_foreach(runners, i, obj) {
		struct github_runner *r;

		ALLOC_GROW(out->v, out->nr + 1, out->alloc);
		r = &out->v[out->nr++];
		*r = (struct github_runner)GITHUB_RUNNER_INIT;
		rc = runner_from_json(obj, r, what);
		if (rc)
			break;
	}
	json_decref(doc);
	return rc;
}

int github_parse_runner(const char *body, size_t len, struct github_runner *out)
{
	static const char what[] = "runner";
	json_t *doc = load(body, len, what);
	int rc;

	if (!doc)
		return -EXIT_UNAVAILABLE;
	rc = runner_from_json(doc, out, what);
	json_decref(doc);
	return rc;
}

int github_parse_jitconfig(const char *body, size_t len, struct strbuf *encoded,
			   struct github_runner *runner)
{
	static const char what[] = "JIT configuration";
	json_t *doc = load(body, len, what);
	const char *enc;
	int rc = 0;

	if (!doc)
		return -EXIT_UNAVAILABLE;
	enc = member_string(doc, "encoded_jit_config", JIT_CONFIG_MAX);
	if (!enc || !*enc || !charset_ok(enc, strlen(enc), "+/="))
		rc = malformed(what, "no base64 \"encoded_jit_config\"");
	else
		rc = runner_from_json(json_object_get(doc, "runner"), runner, what);
	if (!rc)
		strbuf_addstr(encoded, enc);
	json_decref(doc);
	return rc;
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Whether rel's value (quoted or not) holds the relation type "next". */
static bool has_next(const char *v, size_t n)
{
	if (n >= 2 && *v == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	while (n) {
		const char *sp = memchr(v, ' ', n);
		size_t len = sp ? (size_t)(sp - v) : n;

		if (len == 4 && !strncasecmp(v, "next", 4))
			return true;
		v += len;
		n -= len;
		if (n) {
			v++;
			n--;
		}
	}
	return false;
}

/* Whether the parameters of one link, up to end, say rel="next". */
static bool rel_next(const char *p, const char *end)
{
	while (p < end) {
		const char *semi = memchr(p, ';', end - p);
		size_t n;

		p = skip_ows(p);
		n = (semi ? semi : end) - p;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 4 && !strncasecmp(p, "rel=", 4) && has_next(p + 4, n - 4))
			return true;
		p = semi ? semi + 1 : end;
	}
	return false;
}

int github_link_next(const char *link, struct strbuf *url)
{
	const char *p = link;

	while (*p) {
		const char *lt, *gt, *end;
		bool quoted = false;

		p = skip_ows(p);
		if (*p == ',') {
			p++;
			continue;
		}
		lt = p;
		if (*lt != '<' || !(gt = strchr(lt, '>')))
			return 0;
		/* the parameters run to the comma before the next link, outside quotes */
		for (end = gt + 1; *end; end++) {
			if (*end == '"')
				quoted = !quoted;
			else if (quoted && *end == '\\' && end[1])
				end++;
			else if (!quoted && *end == ',')
				break;
		}
		if (rel_next(gt + 1, end)) {
			strbuf_add(url, lt + 1, gt - lt - 1);
			return 1;
		}
		p = end;
	}
	return 0;
}

/* Waits past a day are nonsense; cap them before any arithmetic. */
#define WAIT_MAX_MS (86400 * 1000LL)

static int64_t retry_after_ms(const char *v, int64_t now_ms)
{
	int64_t secs;
	time_t t;

	if (!parse_i64(v, 0, 86400, &secs))
		return secs * 1000;
	t = curl_getdate(v, NULL);
	if (t == -1)
		return 0;
	if ((int64_t)t * 1000 - now_ms > WAIT_MAX_MS)
		return WAIT_MAX_MS;
	return (int64_t)t * 1000 > now_ms ? (int64_t)t * 1000 - now_ms : 0;
}

/* GitHub's words for its secondary limits, old and new. */
static bool secondary_limit(const struct http_client_response *resp)
{
	struct strbuf msg = STRBUF_INIT;
	bool found;

	github_error_message(resp->body.buf, resp->body.len, &msg);
	strbuf_tolower(&msg);
	found = strstr(msg.buf, "secondary rate limit") || strstr(msg.buf, "abuse detection");
	strbuf_release(&msg);
	return found;
}

bool github_retryable(const struct http_client_response *resp, int64_t now_ms, int64_t *wait_ms)
{
	const char *after = http_client_response_header(resp, "retry-after");
	const char *remaining = http_client_response_header(resp, "x-ratelimit-remaining");
	const char *reset = http_client_response_header(resp, "x-ratelimit-reset");
	bool exhausted = remaining && !strcmp(remaining, "0");
	int64_t secs;

	*wait_ms = 0;
	if (resp->status != 429 && resp->status != 403 && resp->status < 500)
		return false;
	if (after)
		*wait_ms = retry_after_ms(after, now_ms);
	if (exhausted && reset && !parse_i64(reset, 0, INT64_MAX / 1000, &secs) &&
	    secs * 1000 - now_ms > *wait_ms)
		*wait_ms = secs * 1000 - now_ms > WAIT_MAX_MS ? WAIT_MAX_MS : secs * 1000 - now_ms;
	return resp->status != 403 || after || exhausted || secondary_limit(resp);
}

void github_error_message(const char *body, size_t len, struct strbuf *out)
{
	json_t *doc = json_loadb(body, len, 0, NULL);
	const char *msg = json_is_object(doc) ? member_string(doc, "message", 512) : NULL;

	if (msg)
		strbuf_add_printable(out, msg, strlen(msg));
	json_decref(doc);
}
