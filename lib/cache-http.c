#include "common.h"
#include "cache.h"
#include "config.h"
#include "http-range.h"
#include "http-server.h"
#include "metrics.h"
#include "token.h"

/*
 * The cache's HTTP face: GET, HEAD, PUT and DELETE on /cache/ORG/KEY,
 * the layout that ccache's HTTP remote storage and Bazel's HTTP cache
 * use. Every request carries a Bearer token (aud cache) whose scope
 * covers the action on ORG; the token is checked before the key is even
 * looked at, so a caller without the scope learns nothing about it.
 */

#define PREFIX "/cache/"
#define OBJECT_TYPE "application/octet-stream"

static struct {
	struct cache *cache;
	struct token_verifier *verifier;
	const char *issuer;
	struct metric *requests;
} svc;

/* The state of an upload, from start() to done(). */
struct put {
	char org[40];
	struct strbuf key;
	struct cache_upload *up;
};

static void count(const char *org, const char *op, int status)
{
	char s[8];

	xsnprintf(s, sizeof(s), "%d", status);
	metric_add(svc.requests, (const char *[]){ org, op, s }, 1);
}

/* Reply to a failure and count it under the status it got. */
static void reply_fail(struct http_request *req, const char *org, const char *op, int rc)
{
	switch (fail_code(rc)) {
	case EXIT_NOTFOUND:
		count(org, op, 404);
		break;
	case EXIT_USAGE:
		count(org, op, 400);
		break;
	case EXIT_REJECTED:
		/* content that fails its check is the client's error */
		http_reply_error(req, 400, "DIGEST_INVALID", "%s", fail_message());
		count(org, op, 400);
		return;
	case EXIT_UNAVAILABLE:
		count(org, op, 503);
		break;
	default:
		count(org, op, 500);
		break;
	}
	http_reply_fail(req, rc);
}

/* ORG out of /cache/ORG/KEY, rest pointing at KEY; false after a 400. */
static bool split_path(struct http_request *req, char org[40], const char **rest)
{
	const char *p = req->path + strlen(PREFIX), *slash = strchr(p, '/');

	if (!slash || !org_id_valid(p, slash - p)) {
		http_reply_error(req, 400, "BAD_REQUEST", "wants /cache/ORG/KEY with an org id");
		return false;
	}
	memcpy(org, p, slash - p);
	org[slash - p] = '\0';
	*rest = slash + 1;
	return true;
}

/*
 * A valid token for the cache: 401 otherwise. Its scope must grant
 * action on org: 403 otherwise. False after replying.
 */
static bool authorize(struct http_request *req, const char *org, const char *action)
{
	const char *jwt = http_bearer(req);
	struct token_want want = { .iss = svc.issuer, .aud = "cache" };
	struct token_claims claims = TOKEN_CLAIMS_INIT;
	int rc;

	if (!jwt) {
		http_reply_header(req, "WWW-Authenticate", "Bearer realm=\"nimbus-cache\"");
		http_reply_error(req, 401, "UNAUTHORIZED", "a Bearer token is required");
		return false;
	}
	rc = token_verify(svc.verifier, jwt, strlen(jwt), &want, &claims);
	if (rc && fail_code(rc) == EXIT_REJECTED) {
		http_reply_header(req, "WWW-Authenticate",
				  "Bearer realm=\"nimbus-cache\", error=\"invalid_token\"");
		http_reply_error(req, 401, "UNAUTHORIZED", "%s", fail_message());
	} else if (rc) {
		error("cache: cannot verify tokens: %s", fail_message());
		http_reply_error(req, 503, "UNAVAILABLE", "cannot verify tokens now");
	} else if (!token_allows(&claims, action, org)) {
		http_reply_error(req, 403, "DENIED", "the token does not grant %s:%s", action, org);
		rc = -1;
	}
	token_claims_release(&claims);
	return !rc;
}

/* Org authorized for action, and a valid key: false after replying. */
static bool request_target(struct http_request *req, const char *action, char org[40],
			   struct strbuf *key)
{
	const char *rest;
	int rc;

	if (!split_path(req, org, &rest) || !authorize(req, org, action))
		return false;
	rc = cache_key_parse(rest, key);
	if (rc)
		http_reply_error(req, 400, "BAD_REQUEST", "%s", fail_message());
	return !rc;
}

/* Whether If-None-Match names etag (or is "*"); weak tags compare by their opaque part. */
static bool etag_matches(const char *header, const char *etag)
{
	size_t n = strlen(etag);

	while (header && *header) {
		size_t len;

		header += strspn(header, " \t,");
		if (*header == '*')
			return true;
		if (!strncmp(header, "W/", 2))
			header += 2;
		len = strcspn(header, ",");
		while (len && (header[len - 1] == ' ' || header[len - 1] == '\t'))
			len--;
		if (len == n && !memcmp(header, etag, n))
			return true;
		header += strcspn(header, ",");
	}
	return false;
}

/*
 * Small objects go out with their headers in one write: sendfile() after
 * the headers costs a second system call and often a second packet,
 * which is most of the work for a 4 KiB object.
 */
#define SMALL_REPLY (32 << 10)

static void reply_small(struct http_request *req, int status, struct cache_object *obj,
			uint64_t first, uint64_t len)
{
	char buf[SMALL_REPLY];
	ssize_t n = pread(obj->fd, buf, len, first);

	if (n != (ssize_t)len) {
		error("cache: short read of an object: %s", n < 0 ? strerror(errno) : "truncated");
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error");
		return;
	}
	http_reply_bytes(req, status, OBJECT_TYPE, buf, len);
}

static void reply_object(struct http_request *req, const char *org, struct cache_object *obj)
{
	uint64_t first = 0, len = obj->size;
	struct strbuf cr = STRBUF_INIT;
	int status = 200;

	http_reply_header(req, "ETag", obj->etag);
	http_reply_header(req, "Accept-Ranges", "bytes");
	if (etag_matches(http_header(req, "If-None-Match"), obj->etag)) {
		http_reply_status(req, 304);
		status = 304;
	} else if (req->method_bit == HTTP_GET) {
		switch (http_range_parse(http_header(req, "Range"), obj->size, &first, &len)) {
		case HTTP_RANGE_NONE:
			break;
		case HTTP_RANGE_PARTIAL:
			http_content_range(&cr, first, len, obj->size);
			http_reply_header(req, "Content-Range", cr.buf);
			status = 206;
			break;
		case HTTP_RANGE_UNSATISFIABLE:
			http_content_range(&cr, 0, 0, obj->size);
			http_reply_header(req, "Content-Range", cr.buf);
			http_reply_error(req, 416, "RANGE_NOT_SATISFIABLE", "no such range");
			status = 416;
			break;
		}
	}
	if (status == 200 || status == 206) {
		/* a HEAD from S3 has no content: MHD reads nothing for HEAD, but wants a size */
		if (obj->fd < 0)
			obj->fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
		if (obj->fd < 0) {
			error("cache: cannot open /dev/zero: %s", strerror(errno));
			http_reply_error(req, 500, "INTERNAL_ERROR", "internal error");
			status = 500;
		} else if (len <= SMALL_REPLY && req->method_bit == HTTP_GET) {
			reply_small(req, status, obj, first, len);
		} else {
			http_reply_fd(req, status, OBJECT_TYPE, obj->fd, first, len);
			obj->fd = -1;
		}
	}
	if (obj->fd >= 0)
		close(obj->fd);
	count(org, req->method_bit == HTTP_GET ? "get" : "head", status);
	strbuf_release(&cr);
}

static void cache_read(struct http_request *req)
{
	struct strbuf key = STRBUF_INIT;
	struct cache_object obj;
	char org[40];
	int rc;

	if (!request_target(req, "pull", org, &key))
		goto out;
	rc = cache_get(svc.cache, org, key.buf, req->method_bit == HTTP_GET, &obj);
	if (rc) {
		reply_fail(req, org, req->method_bit == HTTP_GET ? "get" : "head", rc);
		goto out;
	}
	cache_accessed(svc.cache, org, key.buf);
	reply_object(req, org, &obj);
out:
	strbuf_release(&key);
}

static void cache_delete_one(struct http_request *req)
{
	struct strbuf key = STRBUF_INIT;
	char org[40];
	int rc;

	if (!request_target(req, "delete", org, &key))
		goto out;
	rc = cache_delete(svc.cache, org, key.buf);
	if (rc) {
		reply_fail(req, org, "delete", rc);
	} else {
		http_reply_status(req, 204);
		count(org, "delete", 204);
	}
out:
	strbuf_release(&key);
}

/* Headers in, no body yet: refuse early what would be refused at the end. */
static void put_start(struct http_request *req)
{
	struct put *p = xcalloc(1, sizeof(*p));
	const char *cl = http_header(req, "Content-Length");
	uint64_t len;
	int rc;

	strbuf_init(&p->key, 0);
	req->ctx = p;
	if (!request_target(req, "push", p->org, &p->key))
		return;
	if (!cl || parse_u64(cl, UINT64_MAX, &len)) {
		http_reply_error(req, 411, "LENGTH_REQUIRED", "uploads need a Content-Length");
		return;
	}
	rc = cache_upload_begin(svc.cache, p->org, p->key.buf, len, http_header(req, "X-Content-SHA256"),
				&p->up);
	if (rc)
		reply_fail(req, p->org, "put", rc);
}

static void put_body(struct http_request *req, const char *data, size_t len)
{
	struct put *p = req->ctx;
	int rc = cache_upload_write(p->up, data, len);

	if (rc)
		reply_fail(req, p->org, "put", rc);
}

static void put_end(struct http_request *req)
{
	struct put *p = req->ctx;
	int rc = cache_upload_commit(p->up);

	if (rc) {
		reply_fail(req, p->org, "put", rc);
	} else {
		http_reply_status(req, 201);
		count(p->org, "put", 201);
	}
}

static void put_done(struct http_request *req)
{
	struct put *p = req->ctx;

	if (!p)
		return;
	cache_upload_free(p->up);
	strbuf_release(&p->key);
	free(p);
}

int cache_service_init(struct http_server *srv)
{
	static const char *const labels[] = { "org", "op", "status", NULL };
	const struct http_route routes[] = {
		{ .path = PREFIX, .prefix = true, .methods = HTTP_GET | HTTP_HEAD, .name = "cache",
		  .handler = cache_read },
		{ .path = PREFIX, .prefix = true, .methods = HTTP_DELETE, .name = "cache_delete",
		  .handler = cache_delete_one },
		{ .path = PREFIX, .prefix = true, .methods = HTTP_PUT, .name = "cache_put",
		  .max_body = cfg_size("cache.max_object_size"), .start = put_start,
		  .body = put_body, .handler = put_end, .done = put_done },
	};
	int rc = cache_open(&svc.cache, CACHE_SERVING);

	if (rc)
		return rc;
	svc.verifier = token_verifier_new(cfg_str("keys.dir"));
	svc.issuer = cfg_str("token.issuer");
	svc.requests = metric_counter("nimbus_cache_requests_total",
				      "Cache requests that passed the token check, by org, operation and status.",
				      labels);
	http_server_add_routes(srv, routes, ARRAY_SIZE(routes));
	return 0;
}

void cache_service_fini(void)
{
	cache_close(svc.cache);
	token_verifier_free(svc.verifier);
	svc.cache = NULL;
	svc.verifier = NULL;
}
