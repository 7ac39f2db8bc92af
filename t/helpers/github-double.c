/*
 * github-double: the parts of GitHub's REST API that nimbus uses, for
 * the tests, as strict as GitHub about what it is sent.
 *
 *   github-double --listen HOST:PORT --app-id ID --public-key PEM
 *                 [--installation ID]... [--org ORG]... [--repo OWNER/NAME]...
 *                 [--token-ttl SECONDS]
 *
 * Every request needs a User-Agent, Accept: application/vnd.github+json
 * and X-GitHub-Api-Version: 2022-11-28. The App's endpoints want its JWT,
 * checked with the App's public key by OpenSSL directly (RS256; iss, iat
 * and exp as GitHub checks them); the others an installation token it
 * issued that has not expired. 401 otherwise.
 *
 *   POST   /app/installations/ID/access_tokens           access_tokens
 *   GET    /orgs/ORG/installation, /repos/O/R/installation  installation
 *   GET    /orgs/ORG/actions/runners (and /repos/O/R/...)  runners
 *          ?per_page&page&name; Link points at /organizations/N/...
 *          or /repositories/N/..., as GitHub's does
 *   GET    .../actions/runners/ID                          runner
 *   DELETE .../actions/runners/ID                          runner_delete
 *          (422 "still running a job" when busy)
 *   POST   .../actions/runners/generate-jitconfig          jitconfig
 *
 * Control endpoints, for the tests (no credentials):
 *   GET  /_double/counts    requests per endpoint name above, and "total"
 *   POST /_double/fault?kind=K[&count=N][&seconds=S][&endpoint=E]
 *        the next N requests (to endpoint E, or any) get: 500; 429 with
 *        retry-after S (2); secondary (403, secondary rate limit, with
 *        retry-after S when given); status (&status=CODE, a bare error);
 *        ratelimit (403, x-ratelimit-remaining 0, reset in S s); hang (S
 *        s, 30, then the answer); malformed, truncated or html (a broken
 *        successful answer)
 *   POST /_double/runner?scope=S&name=N[&busy=1][&count=C]
 *        register runners (N-1 ... N-C when C is given); prints their ids
 *   POST /_double/busy?id=ID&busy=0|1
 *   POST /_double/revoke    forget every installation token
 */
#include "common.h"
#include "base64.h"
#include "config.h"
#include "http-server.h"
#include "log.h"
#include "netaddr.h"
#include "parse-num.h"
#include "parse-options.h"
#include "timeutil.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>

#define API_VERSION "2022-11-28"
#define RATE_LIMIT 5000

/* Those up to F_RATELIMIT answer instead of the API, the others spoil its answer. */
enum fault_kind {
	F_500, F_429, F_SECONDARY, F_STATUS, F_RATELIMIT, F_HANG, F_MALFORMED, F_TRUNCATED, F_HTML,
};
static const char *const fault_names[] = {
	"500", "429", "secondary", "status", "ratelimit", "hang", "malformed", "truncated", "html",
};

struct fault {
	enum fault_kind kind;
	int64_t count, seconds, status;
	char endpoint[32];		/* "" for any */
};

struct runner {
	int64_t id;
	char *scope, *name;
	bool busy;
	struct strvec labels;
};

struct token {
	char value[41];
	int64_t installation, expires;
};

static struct {
	pthread_mutex_t lock;
	const char *app_id;
	EVP_PKEY *app_key;
	int64_t token_ttl;
	struct strvec installations, orgs, repos;
	struct runner *runners;
	size_t runners_nr, runners_alloc;
	int64_t next_runner_id;
	struct token *tokens;
	size_t tokens_nr, tokens_alloc;
	struct fault *faults;
	size_t faults_nr, faults_alloc;
	json_t *counts;
	int64_t remaining;
} d = { .lock = PTHREAD_MUTEX_INITIALIZER, .token_ttl = 3600, .next_runner_id = 1,
	.remaining = RATE_LIMIT };

/* What a handler answers, sent by one function that can spoil it on demand. */
struct answer {
	int status;
	const char *type;
	struct strbuf body;
	struct strvec headers;
};

static void answer_json(struct answer *a, int status, json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT);

	a->status = status;
	a->type = "application/json; charset=utf-8";
	strbuf_reset(&a->body);
	strbuf_addstr(&a->body, s);
	free(s);
	json_decref(doc);
}

static void answer_message(struct answer *a, int status, const char *msg)
{
	answer_json(a, status, json_pack("{s:s, s:s}", "message", msg, "documentation_url",
					 "https://docs.github.com/rest"));
}

static void answer_header(struct answer *a, const char *name, const char *fmt, ...) PRINTF(3, 4);

static void answer_header(struct answer *a, const char *name, const char *fmt, ...)
{
	struct strbuf v = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&v, fmt, ap);
	va_end(ap);
	strvec_push(&a->headers, name);
	strvec_push(&a->headers, v.buf);
	strbuf_release(&v);
}

static int64_t now_s(void)
{
	return now_ms() / 1000;
}

static void count(const char *endpoint)
{
	json_t *n = json_object_get(d.counts, endpoint);

	json_object_set_new(d.counts, endpoint, json_integer(n ? json_integer_value(n) + 1 : 1));
	n = json_object_get(d.counts, "total");
	json_object_set_new(d.counts, "total", json_integer(json_integer_value(n) + 1));
}

/* The next fault for endpoint, taken; with the lock held. */
static bool take_fault(const char *endpoint, struct fault *out)
{
	for (size_t i = 0; i < d.faults_nr; i++) {
		struct fault *f = &d.faults[i];

		if (*f->endpoint && strcmp(f->endpoint, endpoint))
			continue;
		*out = *f;
		if (!--f->count)
			memmove(f, f + 1, (--d.faults_nr - i) * sizeof(*f));
		return true;
	}
	return false;
}

/* ---- credentials ---- */

static json_t *decode_json(const char *s, size_t len)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *doc = NULL;

	if (!base64url_decode(&sb, s, len))
		doc = json_loadb(sb.buf, sb.len, JSON_REJECT_DUPLICATES, NULL);
	strbuf_release(&sb);
	if (doc && !json_is_object(doc)) {
		json_decref(doc);
		doc = NULL;
	}
	return doc;
}

static bool rs256_ok(const char *input, size_t len, const char *sig64, size_t sig_len)
{
	struct strbuf sig = STRBUF_INIT;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && !base64url_decode(&sig, sig64, sig_len) &&
		  EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, d.app_key) == 1 &&
		  EVP_DigestVerify(ctx, (const unsigned char *)sig.buf, sig.len,
				   (const unsigned char *)input, len) == 1;

	EVP_MD_CTX_free(ctx);
	strbuf_release(&sig);
	return ok;
}

/* GitHub's checks of an App JWT; NULL when it passes, else the reason. */
static const char *jwt_refusal(const char *jwt)
{
	const char *dot1 = strchr(jwt, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	json_t *header = NULL, *claims = NULL, *iss, *iat, *exp;
	const char *why = NULL;
	int64_t now = now_s();
	char idbuf[32];

	if (!dot2 || strchr(dot2 + 1, '.'))
		return "A JSON web token could not be decoded";
	header = decode_json(jwt, dot1 - jwt);
	claims = decode_json(dot1 + 1, dot2 - dot1 - 1);
	if (!header || !claims) {
		why = "A JSON web token could not be decoded";
		goto out;
	}
	if (!json_is_string(json_object_get(header, "alg")) ||
	    strcmp(json_string_value(json_object_get(header, "alg")), "RS256")) {
		why = "JWT alg is not RS256";
		goto out;
	}
	if (!rs256_ok(jwt, dot2 - jwt, dot2 + 1, strlen(dot2 + 1))) {
		why = "A JSON web token could not be decoded";	/* what GitHub says to a bad signature */
		goto out;
	}
	iss = json_object_get(claims, "iss");
	iat = json_object_get(claims, "iat");
	exp = json_object_get(claims, "exp");
	if (json_is_integer(iss))
		xsnprintf(idbuf, sizeof(idbuf), "%" JSON_INTEGER_FORMAT, json_integer_value(iss));
	if ((!json_is_string(iss) || strcmp(json_string_value(iss), d.app_id)) &&
	    (!json_is_integer(iss) || strcmp(idbuf, d.app_id)))
		why = "'Issuer' claim ('iss') must be the App's id";
	else if (!json_is_integer(iat) || json_integer_value(iat) > now + 60)
		why = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
	else if (!json_is_integer(exp) || json_integer_value(exp) <= now)
		why = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
	else if (json_integer_value(exp) > now + 600 ||
		 json_integer_value(exp) - json_integer_value(iat) > 600)
		why = "'Expiration time' claim ('exp') is too far in the future";
out:
	json_decref(header);
	json_decref(claims);
	return why;
}

/* The installation of a valid token in Authorization, or 0; lock held. */
static int64_t token_installation(const struct http_request *req)
{
	const char *v = http_header(req, "Authorization");

	if (!v || (strncasecmp(v, "Bearer ", 7) && strncasecmp(v, "token ", 6)))
		return 0;
	v = strchr(v, ' ') + 1;
	for (size_t i = 0; i < d.tokens_nr; i++)
		if (!strcmp(d.tokens[i].value, v) && d.tokens[i].expires > now_s())
			return d.tokens[i].installation;
	return 0;
}

/* ---- the API ---- */

static bool known(const struct strvec *sv, const char *s)
{
	for (size_t i = 0; i < sv->nr; i++)
		if (!strcasecmp(sv->v[i], s))
			return true;
	return false;
}

static json_t *runner_json(const struct runner *r)
{
	json_t *labels = json_array();

	for (size_t i = 0; i < r->labels.nr; i++)
		json_array_append_new(labels, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)(i + 1),
							"name", r->labels.v[i], "type",
							i ? "custom" : "read-only"));
	return json_pack("{s:I, s:s, s:s, s:s, s:b, s:b, s:i, s:o}", "id", (json_int_t)r->id,
			 "name", r->name, "os", "linux", "status", "online", "busy", r->busy,
			 "ephemeral", true, "runner_group_id", 1, "labels", labels);
}

static struct runner *add_runner(const char *scope, const char *name, bool busy)
{
	struct runner *r;

	ALLOC_GROW(d.runners, d.runners_nr + 1, d.runners_alloc);
	r = &d.runners[d.runners_nr++];
	r->id = d.next_runner_id++;
	r->scope = xstrdup(scope);
	r->name = xstrdup(name);
	r->busy = busy;
	r->labels = (struct strvec)STRVEC_INIT;
	strvec_push(&r->labels, "self-hosted");
	return r;
}

static struct runner *find_runner(const char *scope, int64_t id)
{
	for (size_t i = 0; i < d.runners_nr; i++)
		if (d.runners[i].id == id && !strcasecmp(d.runners[i].scope, scope))
			return &d.runners[i];
	return NULL;
}

static void access_tokens(struct answer *a, int64_t installation)
{
	struct token *t;
	unsigned char raw[27];
	struct strbuf sb = STRBUF_INIT;
	char id[24];

	xsnprintf(id, sizeof(id), "%" PRId64, installation);
	if (!known(&d.installations, id)) {
		answer_message(a, 404, "Not Found");
		return;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		die("no randomness");
	base64url_encode(&sb, raw, sizeof(raw));
	for (size_t i = 0; i < sb.len; i++)
		if (sb.buf[i] == '-' || sb.buf[i] == '_')
			sb.buf[i] = 'x';
	ALLOC_GROW(d.tokens, d.tokens_nr + 1, d.tokens_alloc);
	t = &d.tokens[d.tokens_nr++];
	xsnprintf(t->value, sizeof(t->value), "ghs_%.36s", sb.buf);
	t->installation = installation;
	t->expires = now_s() + d.token_ttl;
	strbuf_reset(&sb);
	fmt_rfc3339(&sb, t->expires);
	answer_json(a, 201, json_pack("{s:s, s:s, s:{s:s}, s:s}", "token", t->value,
				      "expires_at", sb.buf, "permissions",
				      "organization_self_hosted_runners", "write",
				      "repository_selection", "all"));
	strbuf_release(&sb);
}

/* Where GitHub's Link headers point for a scope: /organizations/N or /repositories/N. */
static void numeric_base(struct strbuf *sb, const char *scope)
{
	if (strchr(scope, '/')) {
		for (size_t i = 0; i < d.repos.nr; i++)
			if (!strcasecmp(d.repos.v[i], scope))
				strbuf_addf(sb, "/repositories/%zu", 2000 + i);
	} else {
		for (size_t i = 0; i < d.orgs.nr; i++)
			if (!strcasecmp(d.orgs.v[i], scope))
				strbuf_addf(sb, "/organizations/%zu", 1000 + i);
	}
}

static int64_t query_int(const struct http_request *req, const char *name, int64_t def,
			 int64_t min, int64_t max, bool *bad)
{
	const char *v = http_query(req, name);
	int64_t n;

	if (!v)
		return def;
	if (parse_i64(v, min, max, &n))
		*bad = true;
	return n;
}

static void list_runners(struct answer *a, const struct http_request *req, const char *scope)
{
	bool bad = false;
	int64_t per_page = query_int(req, "per_page", 30, 1, 100, &bad);
	int64_t page = query_int(req, "page", 1, 1, INT32_MAX, &bad);
	const char *name = http_query(req, "name");
	json_t *list = json_array();
	struct strbuf link = STRBUF_INIT, base = STRBUF_INIT;
	const char *host = http_header(req, "Host");
	int64_t total = 0, last;

	if (bad) {
		answer_message(a, 422, "Validation Failed");
		json_decref(list);
		return;
	}
	for (size_t i = 0; i < d.runners_nr; i++) {
		const struct runner *r = &d.runners[i];

		if (strcasecmp(r->scope, scope) || (name && strcmp(r->name, name)))
			continue;
		if (total >= (page - 1) * per_page && total < page * per_page)
			json_array_append_new(list, runner_json(r));
		total++;
	}
	last = total ? (total + per_page - 1) / per_page : 1;
	strbuf_addf(&base, "http://%s", host ? host : "localhost");
	numeric_base(&base, scope);
	strbuf_addf(&base, "/actions/runners?per_page=%" PRId64, per_page);
	if (name)
		strbuf_addf(&base, "&name=%s", name);	/* names the tests use need no escaping */
	if (page < last)
		strbuf_addf(&link, "<%s&page=%" PRId64 ">; rel=\"next\", <%s&page=%" PRId64 ">; rel=\"last\"",
			    base.buf, page + 1, base.buf, last);
	if (page > 1)
		strbuf_addf(&link, "%s<%s&page=%" PRId64 ">; rel=\"prev\", <%s&page=1>; rel=\"first\"",
			    link.len ? ", " : "", base.buf, page - 1, base.buf);
	if (link.len)
		answer_header(a, "Link", "%s", link.buf);
	answer_json(a, 200, json_pack("{s:I, s:o}", "total_count", (json_int_t)total, "runners", list));
	strbuf_release(&link);
	strbuf_release(&base);
}

static void delete_runner(struct answer *a, const char *scope, int64_t id)
{
	struct runner *r = find_runner(scope, id);
	struct strbuf msg = STRBUF_INIT;

	if (!r) {
		answer_message(a, 404, "Not Found");
		return;
	}
	if (r->busy) {
		strbuf_addf(&msg, "Bad request - Runner \"%s\" is still running a job\"", r->name);
		answer_message(a, 422, msg.buf);
		strbuf_release(&msg);
		return;
	}
	free(r->scope);
	free(r->name);
	strvec_clear(&r->labels);
	memmove(r, r + 1, (d.runners + --d.runners_nr - r) * sizeof(*r));
	a->status = 204;
}

static void jitconfig(struct answer *a, const struct http_request *req, const char *scope)
{
	json_t *body = json_loadb(req->body.buf, req->body.len, 0, NULL), *labels, *l;
	const char *name = json_string_value(json_object_get(body, "name"));
	struct strbuf enc = STRBUF_INIT, msg = STRBUF_INIT;
	struct runner *r;
	char *cfg;
	size_t i;

	labels = json_object_get(body, "labels");
	if (!json_is_object(body) || !name || !*name ||
	    !json_is_integer(json_object_get(body, "runner_group_id")) ||
	    !json_is_array(labels) || !json_array_size(labels) || json_array_size(labels) > 100) {
		answer_message(a, json_is_object(body) ? 422 : 400,
			       json_is_object(body) ? "Invalid request." : "Problems parsing JSON");
		json_decref(body);
		return;
	}
	json_array_foreach(labels, i, l) {
		if (!json_is_string(l)) {
			answer_message(a, 422, "Invalid request.");
			json_decref(body);
			return;
		}
	}
	for (i = 0; i < d.runners_nr; i++) {
		if (!strcasecmp(d.runners[i].scope, scope) && !strcmp(d.runners[i].name, name)) {
			strbuf_addf(&msg, "Already exists - A runner with the name %s already exists.", name);
			answer_message(a, 409, msg.buf);
			strbuf_release(&msg);
			json_decref(body);
			return;
		}
	}
	r = add_runner(scope, name, false);
	strvec_clear(&r->labels);
	json_array_foreach(labels, i, l)
		strvec_push(&r->labels, json_string_value(l));
	cfg = xstrfmt("{\".runner\":\"%s\",\".credentials\":\"secret-%" PRId64 "\"}", name, r->id);
	/* GitHub's is standard base64, padded */
	strbuf_grow(&enc, 4 * (strlen(cfg) + 2) / 3 + 1);
	strbuf_setlen(&enc, EVP_EncodeBlock((unsigned char *)enc.buf, (unsigned char *)cfg, strlen(cfg)));
	answer_json(a, 201, json_pack("{s:o, s:s}", "runner", runner_json(r),
				      "encoded_jit_config", enc.buf));
	free(cfg);
	strbuf_release(&enc);
	json_decref(body);
}

/*
 * Route an API request: the endpoint's name (for the counts), whether
 * the App's JWT authenticates it, the scope it is about and the id in its
 * path (an installation's, a runner's); a 404 when nothing matches. With
 * the lock held.
 */
static void route(struct answer *a, const struct http_request *req, const char **endpoint,
		  bool *app_auth, struct strbuf *scope, int64_t *idp)
{
	struct strvec parts = STRVEC_INIT;
	const char *m = req->method;
	size_t rest = 0;
	int64_t id;

	strvec_split(&parts, req->path, '/');
	*endpoint = "unknown";
	*app_auth = false;
	if (parts.nr == 4 && !strcmp(parts.v[0], "app") && !strcmp(parts.v[1], "installations") &&
	    !strcmp(parts.v[3], "access_tokens") && !parse_i64(parts.v[2], 1, INT64_MAX, &id) &&
	    !strcmp(m, "POST")) {
		*endpoint = "access_tokens";
		*app_auth = true;
		*idp = id;
		goto out;
	}
	if (parts.nr >= 2 && !strcmp(parts.v[0], "orgs") && known(&d.orgs, parts.v[1])) {
		strbuf_addstr(scope, parts.v[1]);
		rest = 2;
	} else if (parts.nr >= 3 && !strcmp(parts.v[0], "repos")) {
		strbuf_addf(scope, "%s/%s", parts.v[1], parts.v[2]);
		rest = known(&d.repos, scope->buf) ? 3 : 0;
	} else if (parts.nr >= 2 && !parse_i64(parts.v[1], 0, INT32_MAX, &id)) {
		/* the numeric forms of GitHub's Link headers */
		bool org = !strcmp(parts.v[0], "organizations");
		const struct strvec *sv = org ? &d.orgs : &d.repos;
		int64_t i = id - (org ? 1000 : 2000);

		if ((org || !strcmp(parts.v[0], "repositories")) && i >= 0 && i < (int64_t)sv->nr) {
			strbuf_addstr(scope, sv->v[i]);
			rest = 2;
		}
	}
	if (!rest) {
		;
	} else if (parts.nr == rest + 1 && !strcmp(parts.v[rest], "installation") && !strcmp(m, "GET")) {
		*endpoint = "installation";
		*app_auth = true;
	} else if (parts.nr < rest + 2 || strcmp(parts.v[rest], "actions") ||
		   strcmp(parts.v[rest + 1], "runners")) {
		;
	} else if (parts.nr == rest + 2 && !strcmp(m, "GET")) {
		*endpoint = "runners";
	} else if (parts.nr == rest + 3 && !strcmp(parts.v[rest + 2], "generate-jitconfig") &&
		   !strcmp(m, "POST")) {
		*endpoint = "jitconfig";
	} else if (parts.nr == rest + 3 && !parse_i64(parts.v[rest + 2], 1, INT64_MAX, &id) &&
		   (!strcmp(m, "GET") || !strcmp(m, "DELETE"))) {
		*endpoint = !strcmp(m, "DELETE") ? "runner_delete" : "runner";
		*idp = id;
	}
out:
	if (!strcmp(*endpoint, "unknown"))
		answer_message(a, 404, "Not Found");
	strvec_clear(&parts);
}

static void answer_api(struct answer *a, const struct http_request *req, const char *endpoint,
		       const char *scope, int64_t id)
{
	int64_t inst = 0;

	if (!strcmp(endpoint, "access_tokens")) {
		access_tokens(a, id);
	} else if (!strcmp(endpoint, "installation")) {
		parse_i64(d.installations.v[0], 1, INT64_MAX, &inst);
		answer_json(a, 200, json_pack("{s:I, s:{s:s}}", "id", (json_int_t)inst,
					      "account", "login", scope));
	} else if (!strcmp(endpoint, "runners")) {
		list_runners(a, req, scope);
	} else if (!strcmp(endpoint, "jitconfig")) {
		jitconfig(a, req, scope);
	} else if (!strcmp(endpoint, "runner_delete")) {
		delete_runner(a, scope, id);
	} else {
		struct runner *r = find_runner(scope, id);

		if (r)
			answer_json(a, 200, runner_json(r));
		else
			answer_message(a, 404, "Not Found");
	}
}

/* What GitHub wants of every request. */
static bool headers_refused(struct answer *a, const struct http_request *req)
{
	const char *accept = http_header(req, "Accept");
	const char *version = http_header(req, "X-GitHub-Api-Version");

	if (!http_header(req, "User-Agent"))
		answer_message(a, 403, "Request forbidden by administrative rules. "
			       "Please make sure your request has a User-Agent header");
	else if (!version || strcmp(version, API_VERSION))
		answer_message(a, 400, "API version is not supported (the double wants " API_VERSION ")");
	else if (!accept || strcmp(accept, "application/vnd.github+json"))
		answer_message(a, 415, "Unsupported 'Accept' header (the double wants "
			       "application/vnd.github+json)");
	else if (req->body.len && (!http_header(req, "Content-Type") ||
				   strncmp(http_header(req, "Content-Type"), "application/json", 16)))
		answer_message(a, 415, "Unsupported 'Content-Type' header");
	return a->status != 0;
}

static void apply_fault(struct answer *a, const struct fault *f)
{
	int64_t secs = f->seconds;

	switch (f->kind) {
	case F_500:
		answer_message(a, 500, "Server Error");
		break;
	case F_429:
		answer_header(a, "Retry-After", "%" PRId64, secs ? secs : 2);
		answer_message(a, 429, "Too Many Requests");
		break;
	case F_SECONDARY:
		if (secs)
			answer_header(a, "Retry-After", "%" PRId64, secs);
		answer_message(a, 403, "You have exceeded a secondary rate limit. Please wait a few "
			       "minutes before you try again.");
		break;
	case F_STATUS:
		answer_message(a, f->status, f->status == 403 ? "Resource not accessible by integration" :
			       f->status == 401 ? "Bad credentials" : "Validation Failed");
		break;
	case F_RATELIMIT:
		answer_header(a, "X-RateLimit-Reset", "%" PRId64, now_s() + (secs ? secs : 2));
		answer_message(a, 403, "API rate limit exceeded for installation.");
		break;
	default:
		break;
	}
}

/* Spoil a successful answer as a fault asks. */
static void spoil(struct answer *a, const struct fault *f)
{
	if (a->status >= 300 || !a->body.len)
		return;
	if (f->kind == F_MALFORMED) {
		strbuf_reset(&a->body);
		strbuf_addstr(&a->body, "{\"message\": this is not JSON");
	} else if (f->kind == F_TRUNCATED) {
		strbuf_setlen(&a->body, a->body.len / 2);
	} else if (f->kind == F_HTML) {
		a->type = "text/html; charset=utf-8";
		strbuf_reset(&a->body);
		strbuf_addstr(&a->body, "<html><body>Unicorn!</body></html>");
	}
}

static void send_answer(struct http_request *req, struct answer *a)
{
	char n[24];

	xsnprintf(n, sizeof(n), "%d", RATE_LIMIT);
	http_reply_header(req, "X-RateLimit-Limit", n);
	for (size_t i = 0; i + 1 < a->headers.nr; i += 2)
		http_reply_header(req, a->headers.v[i], a->headers.v[i + 1]);
	http_reply_header(req, "X-GitHub-Media-Type", "github.v3; format=json");
	if (a->status == 204)
		http_reply_status(req, 204);
	else
		http_reply_bytes(req, a->status, a->type, a->body.buf, a->body.len);
	strbuf_release(&a->body);
	strvec_clear(&a->headers);
}

static void handle_api(struct http_request *req)
{
	struct answer a = { 0, NULL, STRBUF_INIT, STRVEC_INIT };
	struct strbuf scope = STRBUF_INIT;
	const char *endpoint, *bearer, *why = NULL;
	struct fault f = { 0 };
	bool app_auth, faulted;
	int64_t id = 0;

	pthread_mutex_lock(&d.lock);
	route(&a, req, &endpoint, &app_auth, &scope, &id);
	count(endpoint);
	faulted = take_fault(endpoint, &f);
	if (faulted && f.kind <= F_RATELIMIT)
		apply_fault(&a, &f);
	if (!a.status && !headers_refused(&a, req)) {
		bearer = http_bearer(req);
		if (app_auth)
			why = bearer ? jwt_refusal(bearer) : "A JSON web token could not be decoded";
		else if (!token_installation(req))
			why = "Bad credentials";
		if (why)
			answer_message(&a, 401, why);
		else
			answer_api(&a, req, endpoint, scope.buf, id);
	}
	if (faulted && f.kind == F_RATELIMIT) {
		answer_header(&a, "X-RateLimit-Remaining", "0");
	} else {
		if (--d.remaining < 0)
			d.remaining = RATE_LIMIT - 1;
		answer_header(&a, "X-RateLimit-Remaining", "%" PRId64, d.remaining);
		answer_header(&a, "X-RateLimit-Reset", "%" PRId64, now_s() + 3600);
	}
	pthread_mutex_unlock(&d.lock);
	if (faulted && f.kind == F_HANG)
		sleep_ms((f.seconds ? f.seconds : 30) * 1000);
	else if (faulted)
		spoil(&a, &f);
	send_answer(req, &a);
	strbuf_release(&scope);
}

/* ---- control ---- */

static void control(struct http_request *req)
{
	const char *what = req->path + strlen("/_double/");
	bool bad = false;

	pthread_mutex_lock(&d.lock);
	if (!strcmp(what, "counts") && !strcmp(req->method, "GET")) {
		http_reply_json(req, 200, json_deep_copy(d.counts));
	} else if (!strcmp(what, "fault") && !strcmp(req->method, "POST")) {
		const char *kind = http_query(req, "kind"), *ep = http_query(req, "endpoint");
		struct fault f = { 0 };
		size_t k;

		for (k = 0; kind && k < ARRAY_SIZE(fault_names) && strcmp(kind, fault_names[k]); k++)
			;
		f.kind = k;
		f.count = query_int(req, "count", 1, 1, 1000000, &bad);
		f.seconds = query_int(req, "seconds", 0, 0, 3600, &bad);
		f.status = query_int(req, "status", 400, 400, 599, &bad);
		if (!kind || k == ARRAY_SIZE(fault_names) || bad || (ep && strlen(ep) >= sizeof(f.endpoint))) {
			http_reply_error(req, 400, "BAD_FAULT", "kind, count, seconds or endpoint");
		} else {
			xsnprintf(f.endpoint, sizeof(f.endpoint), "%s", ep ? ep : "");
			ALLOC_GROW(d.faults, d.faults_nr + 1, d.faults_alloc);
			d.faults[d.faults_nr++] = f;
			http_reply_status(req, 204);
		}
	} else if (!strcmp(what, "runner") && !strcmp(req->method, "POST")) {
		const char *scope = http_query(req, "scope"), *name = http_query(req, "name");
		int64_t n = query_int(req, "count", 0, 0, 100000, &bad);
		bool busy = query_int(req, "busy", 0, 0, 1, &bad);
		struct strbuf ids = STRBUF_INIT;

		if (!scope || !name || bad) {
			http_reply_error(req, 400, "BAD_RUNNER", "scope and name");
		} else {
			for (int64_t i = n ? 1 : 0; i <= n; i++) {
				char *nm = n ? xstrfmt("%s-%" PRId64, name, i) : xstrdup(name);

				strbuf_addf(&ids, "%" PRId64 "\n", add_runner(scope, nm, busy)->id);
				free(nm);
			}
			http_reply_bytes(req, 200, "text/plain", ids.buf, ids.len);
		}
		strbuf_release(&ids);
	} else if (!strcmp(what, "busy") && !strcmp(req->method, "POST")) {
		int64_t id = query_int(req, "id", 0, 1, INT64_MAX, &bad);
		bool busy = query_int(req, "busy", 1, 0, 1, &bad);
		bool found = false;

		for (size_t i = 0; !bad && i < d.runners_nr; i++) {
			if (d.runners[i].id == id) {
				d.runners[i].busy = busy;
				found = true;
			}
		}
		if (found)
			http_reply_status(req, 204);
		else
			http_reply_error(req, 404, "NOT_FOUND", "no runner %" PRId64, id);
	} else if (!strcmp(what, "revoke") && !strcmp(req->method, "POST")) {
		d.tokens_nr = 0;
		http_reply_status(req, 204);
	} else {
		http_reply_error(req, 404, "NOT_FOUND", "no control %s %s", req->method, what);
	}
	pthread_mutex_unlock(&d.lock);
}

static const struct http_route routes[] = {
	{ .path = "/app/", .prefix = true, .methods = ~0u, .name = "app", .handler = handle_api },
	{ .path = "/orgs/", .prefix = true, .methods = ~0u, .name = "orgs", .handler = handle_api },
	{ .path = "/repos/", .prefix = true, .methods = ~0u, .name = "repos", .handler = handle_api },
	{ .path = "/organizations/", .prefix = true, .methods = ~0u, .name = "organizations",
	  .handler = handle_api },
	{ .path = "/repositories/", .prefix = true, .methods = ~0u, .name = "repositories",
	  .handler = handle_api },
	{ .path = "/_double/", .prefix = true, .methods = HTTP_GET | HTTP_POST, .name = "control",
	  .handler = control },
};

static const char *const usage[] = {
	"github-double --listen HOST:PORT --app-id ID --public-key PEM [--installation ID]... "
	"[--org ORG]... [--repo OWNER/NAME]... [--token-ttl SECONDS]",
	NULL,
};

int main(int argc, const char **argv)
{
	const char *listen = NULL, *key = NULL;
	const struct option options[] = {
		OPT_STRING(0, "listen", &listen, "HOST:PORT", "address to listen on"),
		OPT_STRING(0, "app-id", &d.app_id, "ID", "the App's id (or client id)"),
		OPT_STRING(0, "public-key", &key, "PEM", "the App's public key"),
		OPT_STRVEC(0, "installation", &d.installations, "ID", "an installation of the App"),
		OPT_STRVEC(0, "org", &d.orgs, "ORG", "an organization"),
		OPT_STRVEC(0, "repo", &d.repos, "OWNER/NAME", "a repository"),
		OPT_SECONDS(0, "token-ttl", &d.token_ttl, "lifetime of installation tokens", 1, 86400),
		OPT_END(),
	};
	struct strbuf err = STRBUF_INIT;
	struct sockaddr_storage ss;
	struct http_server *srv;
	socklen_t len;
	sigset_t set;
	FILE *fp;
	int rc, sig;

	set_progname("github-double");
	d.installations = d.orgs = d.repos = (struct strvec)STRVEC_INIT;
	argc = parse_options(argc, argv, options, usage, 0);
	if (argc || !listen || !d.app_id || !key || !d.installations.nr)
		usage_with_options(usage, options);
	if (parse_host_port(listen, &ss, &len, &err))
		die_code(EXIT_USAGE, "--listen: %s", err.buf);
	fp = fopen(key, "r");
	if (!fp || !(d.app_key = PEM_read_PUBKEY(fp, NULL, NULL, NULL)))
		die("cannot read a public key from %s", key);
	fclose(fp);
	d.counts = json_object();
	log_set_format(LOG_FORMAT_TEXT);
	/* hanging requests must not hold up the others */
	cfg_add_override("serve.threads=16");
	srv = http_server_new();
	http_server_add_routes(srv, routes, ARRAY_SIZE(routes));
	rc = http_server_listen(srv, (struct sockaddr *)&ss, len);
	if (rc)
		die_fail(rc);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	rc = http_server_start(srv);
	if (rc)
		die_fail(rc);
	while (sigwait(&set, &sig))
		;
	http_server_stop(srv, 100);
	http_server_free(srv);
	return 0;
}
