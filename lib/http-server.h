#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <jansson.h>
#include <sys/socket.h>

/*
 * HTTP services on libmicrohttpd, which does all the HTTP parsing.
 *
 * A server holds a route table that services contribute to. A request is
 * matched on its raw path (an exact route wins over a prefix, a longer
 * prefix over a shorter one), then on its method (405 with Allow when only
 * the path matches), then its body is held to the route's limit (413:
 * against Content-Length before anything is read, and again while
 * reading). Handlers run in the server's worker threads and must be
 * thread-safe; each request gets exactly one http_reply_*().
 *
 * A reply made before the body is complete (start() refusing it, a body
 * over the limit, a streaming body() refusing it) is sent right away when
 * nothing of the body was read, and the connection closes; otherwise at
 * most HTTP_DISCARD_MAX more bytes are read and dropped to be able to
 * answer (libmicrohttpd cannot answer in the middle of a body), and a
 * client that sends more is cut off.
 *
 * Errors have one form everywhere (DESIGN §5), with the matching status:
 *	{"errors":[{"code":"NOT_FOUND","message":"no route for /x"}]}
 *
 * Each request is logged (one "request" line through the logger, hence
 * redacted: method, path, status, bytes, duration in seconds, remote) and
 * counted in nimbus_http_requests_total{route,status} and
 * nimbus_http_request_duration_seconds{route}. Status 0 means that no
 * reply was sent (the client went away, the connection timed out).
 *
 * A service adds its routes before the server starts:
 *
 *	static const struct http_route cache_routes[] = {
 *		{ .path = "/cache/", .prefix = true, .methods = HTTP_GET | HTTP_HEAD,
 *		  .name = "cache", .handler = cache_get },
 *		{ .path = "/cache/", .prefix = true, .methods = HTTP_PUT,
 *		  .name = "cache_put", .max_body = UINT64_MAX,
 *		  .start = cache_put_start, .body = cache_put_body,
 *		  .handler = cache_put_end, .done = cache_put_done },
 *	};
 *	http_server_add_routes(srv, cache_routes, ARRAY_SIZE(cache_routes));
 */

#define HTTP_DISCARD_MAX (1 << 20)

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
	HTTP_PUT = 1 << 3,
	HTTP_PATCH = 1 << 4,
	HTTP_DELETE = 1 << 5,
	HTTP_OPTIONS = 1 << 6,
};

struct http_request;

struct http_route {
	const char *path;		/* with .prefix, "/v2/" matches "/v2/..." */
	bool prefix;
	unsigned methods;		/* HTTP_GET | HTTP_HEAD ... */
	const char *name;		/* the route label of the metrics */
	uint64_t max_body;		/* bytes; 0: serve.max_body */
	/* Optional: the headers are in, no body read yet; a reply refuses the body. */
	void (*start)(struct http_request *req);
	/* Optional: take the body piece by piece instead of req->body. */
	void (*body)(struct http_request *req, const char *data, size_t len);
	/* The request is complete (unless replied to already): reply. */
	void (*handler)(struct http_request *req);
	/* Optional: the request is over, however it ended: release req->ctx. */
	void (*done)(struct http_request *req);
	void *data;			/* the service's state, for its handlers */
};

struct http_request {
	const struct http_route *route;
	const char *method;		/* as sent */
	unsigned method_bit;		/* an enum http_method, or 0 */
	const char *path;		/* raw: percent-decoding is the handler's */
	const char *query;		/* raw, after '?'; "" when none */
	const char *remote;		/* the client's address, without port */
	struct strbuf body;		/* routes without .body: the whole body */
	uint64_t body_len;		/* bytes of body received so far */
	void *ctx;			/* the handlers' per-request state */
};

/* A request header (names are case-insensitive), or NULL. */
const char *http_header(const struct http_request *req, const char *name);
/* The credentials of "Authorization: Bearer CREDENTIALS", or NULL. */
const char *http_bearer(const struct http_request *req);
/*
 * A query parameter, percent- and '+'-decoded, or NULL. A query with an
 * encoded NUL byte was refused with 400 before any handler ran.
 */
const char *http_query(const struct http_request *req, const char *name);

/* Add a header to the coming reply. */
void http_reply_header(struct http_request *req, const char *name, const char *value);
/* An empty body. */
void http_reply_status(struct http_request *req, int status);
void http_reply_bytes(struct http_request *req, int status, const char *type,
		      const void *data, size_t len);
/* doc is compact JSON; the reference is stolen. */
void http_reply_json(struct http_request *req, int status, json_t *doc);
/* len bytes of fd from offset (sendfile); the reply owns fd and closes it. */
void http_reply_fd(struct http_request *req, int status, const char *type,
		   int fd, uint64_t offset, uint64_t len);
void http_reply_error(struct http_request *req, int status, const char *code,
		      const char *fmt, ...) PRINTF(4, 5);
/*
 * A fail() code as an error: 400, 403, 404, 409 or 503 with
 * fail_message(); anything else is logged and answered with a bare 500.
 */
void http_reply_fail(struct http_request *req, int rc);
bool http_replied(const struct http_request *req);

struct http_server;

/* Settings come from serve.max_body, serve.max_connections, serve.threads, serve.timeout. */
struct http_server *http_server_new(void);
/* The routes are copied; only before http_server_start(). */
void http_server_add_routes(struct http_server *srv, const struct http_route *routes, size_t nr);
/* Bind and listen: 0, or -EXIT_UNAVAILABLE (in use), -EXIT_PERM, -EXIT_FAIL via fail(). */
int http_server_listen(struct http_server *srv, const struct sockaddr *addr, socklen_t len);
/* Where it listens, as HOST:PORT (the actual port when 0 was asked for). */
void http_server_address(const struct http_server *srv, struct strbuf *out);
/* Start the worker threads; SIGPIPE is ignored from now on. 0 or a fail() code. */
int http_server_start(struct http_server *srv);
/*
 * Stop accepting, let requests in flight finish for at most grace_ms (their
 * replies say Connection: close), close idle keep-alive connections, then
 * stop. Returns the number of connections still busy when time ran out.
 */
int http_server_stop(struct http_server *srv, int64_t grace_ms);
void http_server_free(struct http_server *srv);

/* HTTP_GET for "GET" ...; 0 for any other method. */
unsigned http_method_bit(const char *method);
/* "GET, HEAD": the value of an Allow header. */
void http_methods_format(struct strbuf *sb, unsigned methods);
/*
 * The route for path and method, or NULL. *allow gets the methods of the
 * routes that match the path: 0 means 404, otherwise NULL means 405.
 */
const struct http_route *http_route_find(const struct http_route *routes, size_t nr,
					 const char *path, unsigned method, unsigned *allow);

#endif
