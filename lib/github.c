#include "common.h"
#include "base64.h"
#include "config.h"
#include "github-parse.h"
#include "github.h"
#include "jose.h"
#include "log.h"
#include "metrics.h"
#include "output.h"
#include "redact.h"
#include "timeutil.h"

#include <ctype.h>
#include <curl/curl.h>
#include <openssl/rand.h>
#include <pthread.h>

#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS 60000
#define JWT_BACKDATE 60		/* seconds: iat in the past, for clocks behind GitHub's */
#define JWT_LIFETIME 540	/* seconds ahead: GitHub refuses more than 600 */
#define PRIVATE_KEY_MAX (64 << 10)
#define MAX_PAGES 1000
#define ANSWER_MAX (8 << 20)

struct github {
	struct store *st;
	struct kv *kv;
	bool own_st, own_kv;
	struct http_client *http;
	char *api;			/* github.api_url without a trailing slash */
	char *host;			/* HOST[:PORT], the breaker's name */
	char *breaker_key;
	struct kv_breaker_conf breaker;
	int64_t max_attempts, timeout, max_wait_ms;

	struct jose_key *app_key;	/* loaded on first use */
	struct strbuf jwt;
	int64_t jwt_exp;
	/* the installation token last used */
	int64_t token_installation;
	struct strbuf token;
	int64_t token_exp;
	/* installations looked up, by scope */
	struct strvec inst_scopes;
	int64_t *inst_ids;
	size_t inst_alloc;
};

struct request {
	const char *method;
	const char *endpoint;		/* the metrics' label: a fixed name */
	const char *url;
	const char *body;		/* JSON, or NULL */
	int64_t installation;		/* whose token authenticates; 0: the App's JWT */
};

void github_runner_release(struct github_runner *r)
{
	free(r->name);
	free(r->os);
	free(r->status);
	strvec_clear(&r->labels);
	*r = (struct github_runner)GITHUB_RUNNER_INIT;
}

void github_runners_release(struct github_runners *rs)
{
	for (size_t i = 0; i < rs->nr; i++)
		github_runner_release(&rs->v[i]);
	free(rs->v);
	*rs = (struct github_runners)GITHUB_RUNNERS_INIT;
}

/* A GitHub login: letters, digits and inner hyphens, 39 at most. */
static bool login_valid(const char *s, size_t len)
{
	if (!len || len > 39 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool repo_name_valid(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > 100 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

bool github_scope_valid(const char *scope)
{
	const char *slash = strchr(scope, '/');

	if (!slash)
		return login_valid(scope, strlen(scope));
	return login_valid(scope, slash - scope) && repo_name_valid(slash + 1);
}

void github_config_scopes(struct strvec *out)
{
	strvec_split(out, cfg_str("github.orgs"), ',');
	strvec_split(out, cfg_str("github.repos"), ',');
}

int github_api_url_check(const char *url, struct strbuf *host, struct strbuf *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *h = NULL, *port = NULL, *user = NULL, *query = NULL, *frag = NULL;
	int rc = -1;

	if (!u)
		die("out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0))
		strbuf_addstr(err, "is not a URL");
	else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
		 (strcmp(scheme, "https") && strcmp(scheme, "http")))
		strbuf_addstr(err, "wants an http or https URL");
	else if (curl_url_get(u, CURLUPART_HOST, &h, 0) || !*h)
		strbuf_addstr(err, "has no host");
	else if (!curl_url_get(u, CURLUPART_USER, &user, 0))
		strbuf_addstr(err, "must not hold credentials");
	else if (!curl_url_get(u, CURLUPART_QUERY, &query, 0) ||
		 !curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0))
		strbuf_addstr(err, "must not have a query or a fragment");
	else
		rc = 0;
	if (!rc && host) {
		strbuf_addstr(host, h);
		if (!curl_url_get(u, CURLUPART_PORT, &port, 0))
			strbuf_addf(host, ":%s", port);
	}
	curl_free(scheme);
	curl_free(h);
	curl_free(port);
	curl_free(user);
	curl_free(query);
	curl_free(frag);
	curl_url_cleanup(u);
	return rc;
}

static struct metric *m_requests, *m_retries, *m_breaker, *m_remaining;

static void metrics_init(void)
{
	static const char *const requests[] = { "endpoint", "status", NULL };
	static const char *const endpoint[] = { "endpoint", NULL };
	static const char *const host[] = { "host", NULL };
	static const char *const installation[] = { "installation", NULL };

	m_requests = metric_counter("nimbus_github_requests_total",
				    "GitHub API requests by endpoint and status (error: no answer).",
				    requests);
	m_retries = metric_counter("nimbus_github_retries_total", "GitHub API requests retried.",
				   endpoint);
	m_breaker = metric_gauge("nimbus_github_breaker_state",
				 "The GitHub API host's circuit breaker: 0 closed, 1 open, 2 half-open.",
				 host);
	m_remaining = metric_gauge("nimbus_github_ratelimit_remaining",
				   "The last x-ratelimit-remaining GitHub sent (installation 0: the App).",
				   installation);
}

int github_open(struct github **out, struct store *st, struct kv *kv)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct strbuf host = STRBUF_INIT, err = STRBUF_INIT, api = STRBUF_INIT;
	struct github *gh;
	int rc;

	*out = NULL;
	strbuf_addstr(&api, cfg_str("github.api_url"));
	while (api.len && api.buf[api.len - 1] == '/')
		strbuf_setlen(&api, api.len - 1);
	if (github_api_url_check(api.buf, &host, &err))
		BUG("github.api_url passed its check but %s", err.buf);
	strbuf_release(&err);
	pthread_once(&once, metrics_init);
	gh = xcalloc(1, sizeof(*gh));
	gh->api = strbuf_detach(&api, NULL);
	gh->host = strbuf_detach(&host, NULL);
	gh->breaker_key = xstrfmt("github:%s", gh->host);
	gh->max_attempts = cfg_int("github.max_attempts");
	gh->timeout = cfg_int("github.timeout");
	gh->max_wait_ms = cfg_int("github.max_wait") * 1000;
	gh->breaker.threshold = cfg_int("github.breaker_failures");
	gh->breaker.open_ms = cfg_int("github.breaker_timeout") * 1000;
	/* a probe that never reports (its process died) frees the way after its timeout */
	gh->breaker.probe_ms = (gh->timeout + 5) * 1000;
	strbuf_init(&gh->jwt, 0);
	strbuf_init(&gh->token, 0);
	gh->inst_scopes = (struct strvec)STRVEC_INIT;
	gh->st = st;
	gh->kv = kv;
	rc = st ? 0 : store_open(&gh->st, STORE_MIGRATE);
	gh->own_st = !st && !rc;
	if (!rc && !kv) {
		rc = kv_open(&gh->kv, gh->st);
		gh->own_kv = !rc;
	}
	if (rc) {
		github_close(gh);
		return rc;
	}
	gh->http = http_client_new();
	*out = gh;
	return 0;
}

void github_close(struct github *gh)
{
	if (!gh)
		return;
	if (gh->own_kv)
		kv_close(gh->kv);
	if (gh->own_st)
		store_close(gh->st);
	http_client_free(gh->http);
	jose_key_free(gh->app_key);
	strbuf_release_secret(&gh->jwt);
	strbuf_release_secret(&gh->token);
	strvec_clear(&gh->inst_scopes);
	free(gh->inst_ids);
	free(gh->api);
	free(gh->host);
	free(gh->breaker_key);
	free(gh);
}

const char *github_api_host(const struct github *gh)
{
	return gh->host;
}

static int64_t now_s(void)
{
	return now_ms() / 1000;
}

static int load_app_key(struct github *gh)
{
	const char *path = cfg_str("github.private_key_file");
	struct strbuf pem = STRBUF_INIT;
	int rc;

	if (!*path)
		return fail(EXIT_CONFIG, "github.private_key_file is not set");
	rc = read_secret_file(path, PRIVATE_KEY_MAX, &pem);
	if (!rc) {
		redact_register_pem(pem.buf, pem.len);
		rc = jose_key_from_pem(pem.buf, pem.len, JOSE_RS256, &gh->app_key);
	}
	strbuf_release_secret(&pem);
	if (rc && fail_code(rc) != EXIT_PERM && fail_code(rc) != EXIT_NOTFOUND) {
		char *why = xstrdup(fail_message());

		rc = fail(EXIT_CONFIG, "github.private_key_file %s: %s", path, why);
		free(why);
	}
	return rc;
}

/* The App's JWT, made again a minute before it expires. */
static int app_jwt(struct github *gh)
{
	static const char jwt_header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	const char *app_id = cfg_str("github.app_id");
	int64_t now = now_s();
	struct strbuf header = STRBUF_INIT;
	json_t *claims;
	char *payload;
	int rc;

	if (gh->jwt.len && gh->jwt_exp - now > 60)
		return 0;
	if (!*app_id)
		return fail(EXIT_CONFIG, "github.app_id is not set");
	if (!gh->app_key && (rc = load_app_key(gh)))
		return rc;
	claims = json_pack("{s:I, s:I, s:s}", "iat", (json_int_t)(now - JWT_BACKDATE),
			   "exp", (json_int_t)(now + JWT_LIFETIME), "iss", app_id);
	payload = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
	if (!payload)
		die("out of memory building the App's JWT");
	base64url_encode(&header, jwt_header, sizeof(jwt_header) - 1);
	strbuf_release_secret(&gh->jwt);
	rc = jose_sign(gh->app_key, header.buf, header.len, payload, strlen(payload), &gh->jwt);
	if (!rc) {
		redact_register(gh->jwt.buf);
		gh->jwt_exp = now + JWT_LIFETIME;
	}
	free(payload);
	json_decref(claims);
	strbuf_release(&header);
	return rc;
}

static const char *path_of(const struct github *gh, const char *url)
{
	size_t n = strlen(gh->api);

	return strncmp(url, gh->api, n) ? url : url + n;
}

static void set_breaker_gauge(struct github *gh, const struct kv_breaker *b)
{
	metric_set(m_breaker, (const char *[]){ gh->host }, b->state);
}

static int circuit_open(struct github *gh, const struct kv_breaker *b)
{
	return fail(EXIT_UNAVAILABLE, "GitHub at %s: circuit open, retry in %" PRId64 " s",
		    gh->host, (b->retry_ms + 999) / 1000);
}

/* Wait until this installation may write: 1/s across processes. */
static int space_writes(struct github *gh, int64_t installation)
{
	static const struct rate one_per_second = { 1, 1 };
	int64_t waited = 0;
	struct kv_limit lim;
	char key[48];
	int rc;

	xsnprintf(key, sizeof(key), "github-write:%" PRId64, installation);
	while (!(rc = kv_ratelimit(gh->kv, key, &one_per_second, 1, 1, &lim))) {
		if (waited > gh->max_wait_ms)
			return fail(EXIT_BUSY, "GitHub installation %" PRId64 ": still waiting to write "
				    "after %" PRId64 " s", installation, waited / 1000);
		sleep_ms(lim.retry_after_ms);
		waited += lim.retry_after_ms;
	}
	return rc < 0 ? rc : 0;
}

static int installation_token(struct github *gh, int64_t installation);

/* Credentials for rq, and for a write the installation's turn. */
static int authorize(struct github *gh, const struct request *rq)
{
	int rc = rq->installation ? installation_token(gh, rq->installation) : app_jwt(gh);

	if (!rc && rq->installation && strcmp(rq->method, "GET"))
		rc = space_writes(gh, rq->installation);
	return rc;
}

static int send_request(struct github *gh, const struct request *rq,
			struct http_client_response *resp)
{
	struct strbuf auth = STRBUF_INIT;
	const char *headers[] = {
		"Accept: application/vnd.github+json",
		"X-GitHub-Api-Version: " GITHUB_API_VERSION,
		NULL,
		rq->body ? "Content-Type: application/json" : NULL,
		NULL,
	};
	struct http_client_request req = {
		.method = rq->method,
		.url = rq->url,
		.headers = headers,
		.body = rq->body,
		.body_len = rq->body ? strlen(rq->body) : 0,
		.timeout = gh->timeout,
		.max_body = ANSWER_MAX,
	};
	int rc;

	strbuf_addf(&auth, "Authorization: Bearer %s", rq->installation ? gh->token.buf : gh->jwt.buf);
	headers[2] = auth.buf;
	http_client_response_release(resp);
	rc = http_client_do(gh->http, &req, resp);
	strbuf_release_secret(&auth);
	return rc;
}

static void count(struct github *gh, const struct request *rq, int rc,
		  const struct http_client_response *resp)
{
	const char *remaining = rc ? NULL : http_client_response_header(resp, "x-ratelimit-remaining");
	char status[16], inst[24];
	int64_t n;

	if (rc)
		xsnprintf(status, sizeof(status), "error");
	else
		xsnprintf(status, sizeof(status), "%ld", resp->status);
	metric_add(m_requests, (const char *[]){ rq->endpoint, status }, 1);
	if (remaining && !parse_i64(remaining, 0, INT64_MAX, &n)) {
		xsnprintf(inst, sizeof(inst), "%" PRId64, rq->installation);
		metric_set(m_remaining, (const char *[]){ inst }, n);
	}
	log_debug("%s %s: %s%s%s", rq->method, path_of(gh, rq->url), rc ? fail_message() : status,
		  remaining ? ", requests left: " : "", remaining ? remaining : "");
}

/* Full jitter: anything from 0 to base * 2^(attempt - 1), at most the cap. */
static int64_t backoff_ms(int64_t attempt)
{
	int64_t ceiling = BACKOFF_CAP_MS;
	uint64_t r;

	if (attempt <= 6)
		ceiling = BACKOFF_BASE_MS << (attempt - 1);
	if (ceiling > BACKOFF_CAP_MS)
		ceiling = BACKOFF_CAP_MS;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		die("no randomness for a backoff");
	return r % (uint64_t)(ceiling + 1);
}

/* What went wrong with rq, for messages: the client's reason or the answer's status. */
static void describe(struct strbuf *sb, const struct request *rq, int rc,
		     const struct http_client_response *resp)
{
	if (rc) {
		const char *msg = fail_message(), *why;
		char *prefix = xstrfmt("%s %s: ", rq->method, rq->url);

		/* http_client_do() names the request, which our messages do already */
		strbuf_addstr(sb, skip_prefix(msg, prefix, &why) ? why : msg);
		free(prefix);
		return;
	}
	strbuf_addf(sb, "%ld", resp->status);
	if (resp->body.len) {
		size_t start = sb->len;

		strbuf_addch(sb, ' ');
		github_error_message(resp->body.buf, resp->body.len, sb);
		if (sb->len == start + 1)
			strbuf_setlen(sb, start);
	}
}

static void forget_token(struct github *gh)
{
	strbuf_release_secret(&gh->token);
	gh->token_installation = 0;
}

/*
 * One request, tried until it gets an answer that is final: 0 and the
 * answer, whatever its status, or a failure when it ran out of attempts
 * or of time, or the breaker is open.
 */
static int call(struct github *gh, const struct request *rq, struct http_client_response *resp)
{
	struct strbuf why = STRBUF_INIT;
	bool refreshed = false;
	int rc;

	for (int64_t attempt = 1;; attempt++) {
		struct kv_breaker b;
		int64_t wait_ms = 0, backoff;
		bool failed;

		/* first: getting a token asks the breaker itself */
		rc = authorize(gh, rq);
		if (rc)
			break;
		rc = kv_breaker_ask(gh->kv, gh->breaker_key, &gh->breaker, &b);
		if (rc >= 0)
			set_breaker_gauge(gh, &b);
		if (rc <= 0) {
			rc = rc < 0 ? rc : circuit_open(gh, &b);
			break;
		}
		rc = send_request(gh, rq, resp);
		if (rc && fail_code(rc) != EXIT_UNAVAILABLE)
			break;	/* not GitHub's doing: a bad URL, an answer over the cap */
		count(gh, rq, rc, resp);
		failed = rc || resp->status >= 500;
		strbuf_reset(&why);
		describe(&why, rq, rc, resp);
		/*
		 * A success after the breaker was found closed and clean changes
		 * nothing, unless another process failed meanwhile: spare the
		 * store a write on every request for that.
		 */
		if (failed || b.state != KV_BREAKER_CLOSED || b.failures) {
			rc = kv_breaker_record(gh->kv, gh->breaker_key, &gh->breaker, !failed, &b);
			if (rc < 0)
				break;
			set_breaker_gauge(gh, &b);
		}
		if (!failed && resp->status == 401 && rq->installation && !refreshed) {
			/*
			 * Revoked, or the App reinstalled: one more try with a new
			 * token, which replaces this one in the store anyway.
			 */
			store_github_token_drop(gh->st, rq->installation, gh->token.buf);
			forget_token(gh);
			refreshed = true;
			attempt--;
			continue;
		}
		if (!failed && !github_retryable(resp, now_ms(), &wait_ms)) {
			rc = 0;
			break;
		}
		if (b.state != KV_BREAKER_CLOSED) {
			rc = fail(EXIT_UNAVAILABLE, "GitHub at %s: circuit open after %" PRId64
				  " failures, retry in %" PRId64 " s; last: %s %s: %s", gh->host,
				  b.failures, (b.retry_ms + 999) / 1000, rq->method,
				  path_of(gh, rq->url), why.buf);
			break;
		}
		if (attempt >= gh->max_attempts) {
			rc = fail(EXIT_UNAVAILABLE, "GitHub: %s %s: %s; gave up after %" PRId64 " attempts",
				  rq->method, path_of(gh, rq->url), why.buf, attempt);
			break;
		}
		backoff = backoff_ms(attempt);
		if (backoff > wait_ms)
			wait_ms = backoff;
		if (wait_ms > gh->max_wait_ms) {
			rc = fail(EXIT_UNAVAILABLE, "GitHub: %s %s: %s; retry in %" PRId64 " s",
				  rq->method, path_of(gh, rq->url), why.buf, (wait_ms + 999) / 1000);
			break;
		}
		log_debug("%s %s: %s; attempt %" PRId64 " of %" PRId64 " in %" PRId64 " ms",
			  rq->method, path_of(gh, rq->url), why.buf, attempt + 1, gh->max_attempts,
			  wait_ms);
		metric_add(m_retries, (const char *[]){ rq->endpoint }, 1);
		sleep_ms(wait_ms);
	}
	strbuf_release(&why);
	return rc;
}

/* A final answer that is not the one wanted, as a failure. */
static int answer_fail(struct github *gh, const struct request *rq,
		       const struct http_client_response *resp)
{
	struct strbuf why = STRBUF_INIT;
	int code, rc;

	switch (resp->status) {
	case 401:
	case 422:
		code = EXIT_REJECTED;
		break;
	case 403:
		code = EXIT_PERM;
		break;
	case 404:
		code = EXIT_NOTFOUND;
		break;
	case 409:
		code = EXIT_BUSY;
		break;
	default:
		code = EXIT_FAIL;
		break;
	}
	describe(&why, rq, 0, resp);
	rc = fail(code, "GitHub: %s %s: %s", rq->method, path_of(gh, rq->url), why.buf);
	strbuf_release(&why);
	return rc;
}

/* A request whose answer must have status want and, unless 204, a JSON body. */
static int call_expect(struct github *gh, const struct request *rq, long want,
		       struct http_client_response *resp)
{
	const char *type;
	int rc = call(gh, rq, resp);

	if (rc)
		return rc;
	if (resp->status != want)
		return answer_fail(gh, rq, resp);
	if (want == 204)
		return 0;
	type = http_client_response_header(resp, "content-type");
	if (!type || strncasecmp(type, "application/json", 16) || (type[16] && type[16] != ';'))
		return fail(EXIT_UNAVAILABLE, "GitHub: %s %s: the answer is %s, not JSON", rq->method,
			    path_of(gh, rq->url), type ? type : "of no content type");
	return 0;
}

/* Say which request a parser's failure comes from, keeping its code. */
static int parse_failed(struct github *gh, const struct request *rq, int rc)
{
	char *why = xstrdup(fail_message());

	rc = fail(fail_code(rc), "GitHub: %s %s: %s", rq->method, path_of(gh, rq->url), why);
	free(why);
	return rc;
}

static int fetch_token(struct github *gh, int64_t installation)
{
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	char *url = xstrfmt("%s/app/installations/%" PRId64 "/access_tokens", gh->api, installation);
	struct request rq = { "POST", "access_tokens", url, "{}", 0 };
	int64_t expires_at = 0;
	int rc = call_expect(gh, &rq, 201, &resp);

	if (!rc && (rc = github_parse_token(resp.body.buf, resp.body.len, &gh->token, &expires_at)))
		rc = parse_failed(gh, &rq, rc);
	/* the answer held the token */
	strbuf_release_secret(&resp.body);
	http_client_response_release(&resp);
	free(url);
	if (rc)
		return rc;
	redact_register(gh->token.buf);
	gh->token_installation = installation;
	gh->token_exp = expires_at;
	log_debug("installation %" PRId64 ": a new token, expiring in %" PRId64 " s", installation,
		  expires_at - now_s());
	return store_github_token_put(gh->st, installation, gh->token.buf, expires_at * 1000);
}

/* The token of installation in gh->token: ours, the store's, or a new one. */
static int installation_token(struct github *gh, int64_t installation)
{
	int64_t expires_ms;
	int rc;

	if (gh->token_installation == installation && gh->token_exp - now_s() > GITHUB_TOKEN_MIN_LEFT)
		return 0;
	forget_token(gh);
	rc = store_github_token_get(gh->st, installation, GITHUB_TOKEN_MIN_LEFT * 1000, &gh->token,
				    &expires_ms);
	if (rc < 0)
		return rc;
	if (!rc)
		return fetch_token(gh, installation);
	redact_register(gh->token.buf);
	gh->token_installation = installation;
	gh->token_exp = expires_ms / 1000;
	log_debug("installation %" PRId64 ": the cached token, expiring in %" PRId64 " s",
		  installation, gh->token_exp - now_s());
	return 0;
}

int github_token(struct github *gh, int64_t installation, struct strbuf *token,
		 int64_t *expires_at)
{
	int rc;

	if (!installation)
		installation = cfg_int("github.installation_id");
	if (!installation)
		return fail(EXIT_CONFIG, "github.installation_id is not set");
	rc = installation_token(gh, installation);
	if (rc)
		return rc;
	strbuf_addbuf(token, &gh->token);
	*expires_at = gh->token_exp;
	return 0;
}

/* API/orgs/ORG/WHAT or API/repos/OWNER/NAME/WHAT. */
static void scope_url(struct github *gh, struct strbuf *url, const char *scope, const char *what)
{
	strbuf_addf(url, "%s/%s/%s/%s", gh->api, strchr(scope, '/') ? "repos" : "orgs", scope, what);
}

static int check_scope(const char *scope)
{
	if (github_scope_valid(scope))
		return 0;
	return fail(EXIT_USAGE, "'%s' is neither an organization nor OWNER/NAME", scope);
}

int github_installation(struct github *gh, const char *scope, int64_t *installation)
{
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	struct strbuf url = STRBUF_INIT;
	struct request rq = { "GET", "installation", NULL, NULL, 0 };
	int rc = check_scope(scope);

	*installation = cfg_int("github.installation_id");
	if (rc || *installation)
		return rc;
	for (size_t i = 0; i < gh->inst_scopes.nr; i++) {
		if (!strcmp(gh->inst_scopes.v[i], scope)) {
			*installation = gh->inst_ids[i];
			return 0;
		}
	}
	scope_url(gh, &url, scope, "installation");
	rq.url = url.buf;
	rc = call_expect(gh, &rq, 200, &resp);
	if (!rc && (rc = github_parse_installation(resp.body.buf, resp.body.len, installation)))
		rc = parse_failed(gh, &rq, rc);
	if (!rc) {
		ALLOC_GROW(gh->inst_ids, gh->inst_scopes.nr + 1, gh->inst_alloc);
		gh->inst_ids[gh->inst_scopes.nr] = *installation;
		strvec_push(&gh->inst_scopes, scope);
	}
	http_client_response_release(&resp);
	strbuf_release(&url);
	return rc;
}

/* The URL of a scope's runners, with a suffix; the scope's installation in *inst. */
static int runners_url(struct github *gh, const char *scope, struct strbuf *url, int64_t *inst,
		       const char *fmt, ...) PRINTF(5, 6);

static int runners_url(struct github *gh, const char *scope, struct strbuf *url, int64_t *inst,
		       const char *fmt, ...)
{
	va_list ap;
	int rc = github_installation(gh, scope, inst);

	if (rc)
		return rc;
	scope_url(gh, url, scope, "actions/runners");
	va_start(ap, fmt);
	strbuf_vaddf(url, fmt, ap);
	va_end(ap);
	return 0;
}

static void add_query_value(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		if (isalnum((unsigned char)*s) || strchr("-._~", *s))
			strbuf_addch(sb, *s);
		else
			strbuf_addf(sb, "%%%02X", (unsigned char)*s);
	}
}

int github_runners_list(struct github *gh, const char *scope, const char *name,
			struct github_runners *out)
{
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	struct strbuf url = STRBUF_INIT, next = STRBUF_INIT;
	struct request rq = { "GET", "runners", NULL, NULL, 0 };
	size_t api_len = strlen(gh->api);
	int rc = runners_url(gh, scope, &url, &rq.installation, "?per_page=100");

	if (!rc && name) {
		strbuf_addstr(&url, "&name=");
		add_query_value(&url, name);
	}
	for (int page = 1; !rc; page++) {
		const char *link;

		rq.url = url.buf;
		rc = call_expect(gh, &rq, 200, &resp);
		if (!rc && (rc = github_parse_runners(resp.body.buf, resp.body.len, out)))
			rc = parse_failed(gh, &rq, rc);
		link = rc ? NULL : http_client_response_header(&resp, "link");
		strbuf_reset(&next);
		if (!link || !github_link_next(link, &next))
			break;
		/* the token goes nowhere but to the API */
		if (strncmp(next.buf, gh->api, api_len) || next.buf[api_len] != '/')
			rc = fail(EXIT_UNAVAILABLE, "GitHub: %s %s: the next page is elsewhere: %s",
				  rq.method, path_of(gh, rq.url), next.buf);
		else if (page == MAX_PAGES)
			rc = fail(EXIT_UNAVAILABLE, "GitHub: %s %s: more than %d pages", rq.method,
				  path_of(gh, rq.url), MAX_PAGES);
		strbuf_reset(&url);
		strbuf_addbuf(&url, &next);
	}
	http_client_response_release(&resp);
	strbuf_release(&url);
	strbuf_release(&next);
	return rc;
}

int github_runner_get(struct github *gh, const char *scope, int64_t id, struct github_runner *out)
{
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	struct strbuf url = STRBUF_INIT;
	struct request rq = { "GET", "runner", NULL, NULL, 0 };
	int rc = runners_url(gh, scope, &url, &rq.installation, "/%" PRId64, id);

	rq.url = url.buf;
	if (!rc)
		rc = call_expect(gh, &rq, 200, &resp);
	if (!rc && (rc = github_parse_runner(resp.body.buf, resp.body.len, out)))
		rc = parse_failed(gh, &rq, rc);
	http_client_response_release(&resp);
	strbuf_release(&url);
	return rc;
}

int github_runner_find(struct github *gh, const char *scope, const char *name,
		       struct github_runner *out)
{
	struct github_runners rs = GITHUB_RUNNERS_INIT;
	int rc = github_runners_list(gh, scope, name, &rs);
	size_t i;

	for (i = 0; !rc && i < rs.nr && strcmp(rs.v[i].name, name); i++)
		;
	if (!rc && i == rs.nr)
		rc = fail(EXIT_NOTFOUND, "no runner named %s in %s", name, scope);
	if (!rc) {
		*out = rs.v[i];
		rs.v[i] = (struct github_runner)GITHUB_RUNNER_INIT;
	}
	github_runners_release(&rs);
	return rc;
}

static bool running_a_job(const struct http_client_response *resp)
{
	return resp->status == 422 && strstr(resp->body.buf, "still running a job");
}

int github_runner_deregister(struct github *gh, const char *scope, int64_t id, unsigned flags)
{
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	struct github_runner r = GITHUB_RUNNER_INIT;
	struct strbuf url = STRBUF_INIT;
	struct request rq = { "DELETE", "runner_delete", NULL, NULL, 0 };
	int rc = github_runner_get(gh, scope, id, &r);

	if (rc == -EXIT_NOTFOUND)
		return 0;
	if (!rc && r.busy && !(flags & GITHUB_FORCE))
		rc = fail(EXIT_BUSY, "runner %s (%" PRId64 ") in %s is running a job", r.name, id, scope);
	if (!rc)
		rc = runners_url(gh, scope, &url, &rq.installation, "/%" PRId64, id);
	rq.url = url.buf;
	if (!rc)
		rc = call(gh, &rq, &resp);
	if (!rc && running_a_job(&resp))
		rc = fail(EXIT_BUSY, "GitHub: runner %s (%" PRId64 ") in %s is running a job", r.name,
			  id, scope);
	else if (!rc && resp.status != 204 && resp.status != 404)
		rc = answer_fail(gh, &rq, &resp);
	github_runner_release(&r);
	if (!rc) {
		/* gone for good: not registered again behind our back */
		rc = github_runner_get(gh, scope, id, &r);
		if (!rc)
			rc = fail(EXIT_UNAVAILABLE, "runner %s (%" PRId64 ") in %s is still registered "
				  "after its deletion", r.name, id, scope);
		else if (rc == -EXIT_NOTFOUND)
			rc = resp.status == 204;
	}
	github_runner_release(&r);
	http_client_response_release(&resp);
	strbuf_release(&url);
	return rc;
}

int github_jitconfig(struct github *gh, const char *scope, const struct github_jit_spec *spec,
		     struct strbuf *encoded, struct github_runner *runner)
{
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	struct github_runner ignored = GITHUB_RUNNER_INIT;
	struct strvec config_labels = STRVEC_INIT;
	const struct strvec *labels = spec->labels;
	struct strbuf url = STRBUF_INIT;
	struct request rq = { "POST", "jitconfig", NULL, NULL, 0 };
	json_t *body, *ls = json_array();
	char *text;
	int rc;

	if (!spec->name)
		BUG("a JIT runner without a name");
	if (!labels) {
		strvec_split(&config_labels, cfg_str("github.runner_labels"), ',');
		labels = &config_labels;
	}
	for (size_t i = 0; i < labels->nr; i++)
		json_array_append_new(ls, xjson_string(labels->v[i]));
	body = json_pack("{s:s, s:I, s:o, s:s}", "name", spec->name, "runner_group_id",
			 (json_int_t)(spec->group ? spec->group : cfg_int("github.runner_group")),
			 "labels", ls, "work_folder", spec->work_folder ? spec->work_folder : "_work");
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!text)
		die("out of memory building a JIT configuration request");
	rc = runners_url(gh, scope, &url, &rq.installation, "/generate-jitconfig");
	rq.url = url.buf;
	rq.body = text;
	if (!rc)
		rc = call_expect(gh, &rq, 201, &resp);
	if (!rc) {
		rc = github_parse_jitconfig(resp.body.buf, resp.body.len, encoded,
					    runner ? runner : &ignored);
		if (rc)
			rc = parse_failed(gh, &rq, rc);
		else
			redact_register(encoded->buf);
	}
	strbuf_release_secret(&resp.body);
	http_client_response_release(&resp);
	github_runner_release(&ignored);
	strvec_clear(&config_labels);
	strbuf_release(&url);
	json_decref(body);
	free(text);
	return rc;
}

int github_breaker(struct github *gh, struct kv_breaker *out)
{
	int rc = kv_breaker_peek(gh->kv, gh->breaker_key, out);

	if (!rc)
		set_breaker_gauge(gh, out);
	return rc;
}

int github_breaker_reset(struct github *gh)
{
	return kv_breaker_reset(gh->kv, gh->breaker_key);
}
