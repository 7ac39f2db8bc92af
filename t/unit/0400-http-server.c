/*
 * lib/http-server with its own route table, driven by lib/http-client and,
 * where a client library would not misbehave on purpose (bodies cut
 * short, chunked bodies, headers alone), by raw sockets.
 */
#include "tap.h"
#include "config.h"
#include "http-client.h"
#include "http-server.h"
#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "timeutil.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/un.h>

static char tmpdir[] = "/tmp/nimbus-http-XXXXXX";
static struct http_server *srv;
static struct http_client *client;
static struct strbuf base = STRBUF_INIT;
static atomic_int done_calls, handler_calls;

/* GET /echo: what the handler sees of the request. */
static void echo(struct http_request *req)
{
	const char *x = http_query(req, "x"), *h = http_header(req, "x-test");

	http_reply_json(req, 200, json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "path", req->path,
					    "query", req->query, "remote", req->remote,
					    "x", x, "header", h));
}

/* Answers with the route's name, to show which route won. */
static void named(struct http_request *req)
{
	http_reply_bytes(req, 200, "text/plain", req->route->name, strlen(req->route->name));
}

static void buffered(struct http_request *req)
{
	handler_calls++;
	http_reply_bytes(req, 200, "application/octet-stream", req->body.buf, req->body.len);
}

struct upload {
	uint64_t bytes;
	size_t pieces;
};

static void upload_start(struct http_request *req)
{
	if (http_header(req, "X-Deny")) {
		http_reply_error(req, 401, "UNAUTHORIZED", "no token");
		return;
	}
	req->ctx = xcalloc(1, sizeof(struct upload));
}

static void upload_body(struct http_request *req, const char *data, size_t len)
{
	struct upload *u = req->ctx;

	u->bytes += len;
	u->pieces++;
	if (memmem(data, len, "STOP", 4))
		http_reply_error(req, 422, "REFUSED", "found STOP at %" PRIu64, u->bytes);
}

static void upload_end(struct http_request *req)
{
	struct upload *u = req->ctx;

	http_reply_json(req, 201, json_pack("{s:I, s:I, s:I}", "bytes", (json_int_t)u->bytes,
					    "pieces", (json_int_t)u->pieces,
					    "buffered", (json_int_t)req->body.len));
}

static void upload_done(struct http_request *req)
{
	free(req->ctx);
	done_calls++;
}

static int file_fd = -1;
static const char file_data[] = "0123456789abcdefghijklmnopqrstuvwxyz";

/* GET /file?off=N&len=N: a range of a file, as the cache will send them. */
static void file_range(struct http_request *req)
{
	uint64_t off = strtoull(http_query(req, "off"), NULL, 10);
	uint64_t len = strtoull(http_query(req, "len"), NULL, 10);
	char range[64];

	xsnprintf(range, sizeof(range), "bytes %" PRIu64 "-%" PRIu64 "/%zu", off, off + len - 1,
		  sizeof(file_data) - 1);
	http_reply_header(req, "Content-Range", range);
	http_reply_fd(req, 206, "application/octet-stream", dup(file_fd), off, len);
}

static void failing(struct http_request *req)
{
	int code = strtol(http_query(req, "code"), NULL, 10);

	http_reply_fail(req, fail(code, "secret internals of failure %d", code));
}

static void silent(struct http_request *req)
{
}

static void slow(struct http_request *req)
{
	sleep_ms(300);
	http_reply_status(req, 204);
}

static const struct http_route routes[] = {
	{ .path = "/echo", .methods = HTTP_GET, .name = "echo", .handler = echo },
	{ .path = "/p/", .prefix = true, .methods = HTTP_GET, .name = "p", .handler = named },
	{ .path = "/p/longer/", .prefix = true, .methods = HTTP_GET, .name = "p-longer", .handler = named },
	{ .path = "/p/exact", .methods = HTTP_GET, .name = "p-exact", .handler = named },
	{ .path = "/p/both", .methods = HTTP_GET | HTTP_HEAD, .name = "both-get", .handler = named },
	{ .path = "/p/both", .methods = HTTP_DELETE, .name = "both-delete", .handler = named },
	{ .path = "/raw/", .prefix = true, .methods = HTTP_GET, .name = "raw", .handler = echo },
	{ .path = "/buf", .methods = HTTP_POST, .name = "buf", .max_body = 100, .handler = buffered },
	{ .path = "/up/", .prefix = true, .methods = HTTP_PUT, .name = "up", .max_body = 1 << 20,
	  .start = upload_start, .body = upload_body, .handler = upload_end, .done = upload_done },
	{ .path = "/file", .methods = HTTP_GET | HTTP_HEAD, .name = "file", .handler = file_range },
	{ .path = "/fail", .methods = HTTP_GET, .name = "fail", .handler = failing },
	{ .path = "/silent", .methods = HTTP_GET, .name = "silent", .handler = silent },
	{ .path = "/slow", .methods = HTTP_GET, .name = "slow", .handler = slow },
};

static void check_route_find(void)
{
	unsigned allow;
	const struct http_route *r;

	r = http_route_find(routes, ARRAY_SIZE(routes), "/p/exact", HTTP_GET, &allow);
	is_str(r ? r->name : NULL, "p-exact", "an exact route beats a prefix");
	r = http_route_find(routes, ARRAY_SIZE(routes), "/p/longer/x", HTTP_GET, &allow);
	is_str(r ? r->name : NULL, "p-longer", "the longer prefix wins");
	r = http_route_find(routes, ARRAY_SIZE(routes), "/p/exactly", HTTP_GET, &allow);
	is_str(r ? r->name : NULL, "p", "an exact route does not match as a prefix");
	r = http_route_find(routes, ARRAY_SIZE(routes), "/p/both", HTTP_DELETE, &allow);
	is_str(r ? r->name : NULL, "both-delete", "routes on one path split by method");
	r = http_route_find(routes, ARRAY_SIZE(routes), "/p/both", HTTP_PUT, &allow);
	ok(!r && allow == (HTTP_GET | HTTP_HEAD | HTTP_DELETE), "405: allow is the union of the path's routes");
	r = http_route_find(routes, ARRAY_SIZE(routes), "/p/longer/x", HTTP_PUT, &allow);
	ok(!r && allow == HTTP_GET, "405 on a prefix: only the best match's methods");
	r = http_route_find(routes, ARRAY_SIZE(routes), "/nope", HTTP_GET, &allow);
	ok(!r && !allow, "404: nothing matches");
	r = http_route_find(routes, ARRAY_SIZE(routes), "/echo", 0, &allow);
	ok(!r && allow == HTTP_GET, "an unknown method matches no route");
	is_int(http_method_bit("DELETE"), HTTP_DELETE, "method bit");
	is_int(http_method_bit("get"), 0, "methods are case-sensitive");
}

/* A request through lib/http-client; returns the status, or the fail() code. */
static long do_request(const char *method, const char *path, const char *const *headers,
		       const char *body, size_t len, struct http_client_response *resp)
{
	struct strbuf url = STRBUF_INIT;
	struct http_client_request req = {
		.method = method, .headers = headers, .body = body, .body_len = len, .timeout = 5,
	};
	int rc;

	http_client_response_release(resp);
	strbuf_addf(&url, "%s%s", base.buf, path);
	req.url = url.buf;
	rc = http_client_do(client, &req, resp);
	strbuf_release(&url);
	return rc ? rc : resp->status;
}

/* Send a request on a new connection; read until the server closes or 3 s pass. */
static void raw_exchange(const char *data, struct strbuf *out)
{
	struct sockaddr_storage ss;
	struct strbuf err = STRBUF_INIT;
	socklen_t sl;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int64_t deadline = mono_ms() + 3000;

	strbuf_reset(out);
	if (parse_host_port(base.buf + strlen("http://"), &ss, &sl, &err) ||
	    connect(fd, (struct sockaddr *)&ss, sl))
		BUG("cannot connect to the test server");
	/* the server may close before taking it all: that is the point of some tests */
	write_in_full(fd, data, strlen(data));
	while (mono_ms() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[4096];
		ssize_t n;

		if (poll(&p, 1, deadline - mono_ms()) <= 0)
			break;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		strbuf_add(out, buf, n);
	}
	close(fd);
	strbuf_release(&err);
}

static const char *json_field(const struct http_client_response *resp, const char *key)
{
	static char value[256];
	json_t *doc = json_loads(resp->body.buf, 0, NULL), *v = json_object_get(doc, key);

	xsnprintf(value, sizeof(value), "%s", json_is_string(v) ? json_string_value(v) :
		  json_is_integer(v) ? "(integer)" : "(none)");
	if (json_is_integer(v))
		xsnprintf(value, sizeof(value), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	json_decref(doc);
	return value;
}

static void check_basics(struct http_client_response *resp)
{
	const char *const hdr[] = { "X-Test: hello", NULL };

	is_int(do_request(NULL, "/echo?x=a%20b+c&y", hdr, NULL, 0, resp), 200, "GET /echo");
	is_str(json_field(resp, "x"), "a b c", "query values are decoded");
	is_str(json_field(resp, "query"), "x=a%20b+c&y", "the raw query is kept");
	is_str(json_field(resp, "header"), "hello", "header lookup ignores case");
	is_str(json_field(resp, "remote"), "127.0.0.1", "remote address without port");
	is_str(http_client_response_header(resp, "content-type"), "application/json", "JSON content type");

	is_int(do_request(NULL, "/raw/a%2Fb/%2e%2e/c", NULL, NULL, 0, resp), 200, "GET /raw/...");
	is_str(json_field(resp, "path"), "/raw/a%2Fb/%2e%2e/c", "the path reaches the handler raw");

	is_int(do_request(NULL, "/nope", NULL, NULL, 0, resp), 404, "unknown path: 404");
	is_str(resp->body.buf, "{\"errors\":[{\"code\":\"NOT_FOUND\",\"message\":\"no such route\"}]}",
	       "404 in the JSON error form");
	is_int(do_request("PUT", "/p/both", NULL, "x", 1, resp), 405, "wrong method: 405");
	is_str(http_client_response_header(resp, "Allow"), "GET, HEAD, DELETE", "Allow lists every method of the path");
	is_str(json_field(resp, "message"), "(none)", "the error is inside errors[]");
	ok(strstr(resp->body.buf, "\"code\":\"METHOD_NOT_ALLOWED\""), "405 code");
	is_int(do_request("DELETE", "/p/both", NULL, NULL, 0, resp), 200, "the DELETE route of the path");
	is_str(resp->body.buf, "both-delete", "... answers");

	is_int(do_request(NULL, "/echo?x=a%00b", NULL, NULL, 0, resp), 400, "an encoded NUL in the query: 400");

	is_int(do_request(NULL, "/fail?code=4", NULL, NULL, 0, resp), 404, "fail(EXIT_NOTFOUND) is 404");
	is_str(json_field(resp, "message"), "(none)", "fail message inside errors[]");
	ok(strstr(resp->body.buf, "secret internals of failure 4"), "a 4xx carries fail_message()");
	is_int(do_request(NULL, "/fail?code=6", NULL, NULL, 0, resp), 503, "fail(EXIT_UNAVAILABLE) is 503");
	is_int(do_request(NULL, "/fail?code=1", NULL, NULL, 0, resp), 500, "fail(EXIT_FAIL) is 500");
	ok(!strstr(resp->body.buf, "secret internals"), "a 500 does not show internals");
	is_int(do_request(NULL, "/silent", NULL, NULL, 0, resp), 500, "a handler that does not reply: 500");
}

static void check_bodies(struct http_client_response *resp)
{
	struct strbuf big = STRBUF_INIT, raw = STRBUF_INIT;

	is_int(do_request("POST", "/buf", NULL, "hello body", 10, resp), 200, "a body under the limit");
	is_str(resp->body.buf, "hello body", "is buffered for the handler");

	handler_calls = 0;
	strbuf_addchars(&big, 'x', 101);
	is_int(do_request("POST", "/buf", NULL, big.buf, big.len, resp), 413, "one byte over the limit: 413");
	ok(strstr(resp->body.buf, "\"code\":\"TOO_LARGE\""), "413 in the JSON error form");
	is_int(handler_calls, 0, "the handler never ran");

	/* headers only: the 413 must come from Content-Length, before any body */
	raw_exchange("POST /buf HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n", &raw);
	ok(starts_with(raw.buf, "HTTP/1.1 413 "), "413 from Content-Length before the body is sent");

	/* chunked: no length up front, so the limit trips while reading */
	raw_exchange("POST /buf HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "40\r\n" "0123456789012345678901234567890123456789012345678901234567890123" "\r\n"
		     "40\r\n" "0123456789012345678901234567890123456789012345678901234567890123" "\r\n"
		     "0\r\n\r\n", &raw);
	ok(starts_with(raw.buf, "HTTP/1.1 413 ") && strstr(raw.buf, "TOO_LARGE"),
	   "413 for a chunked body that grows over the limit");
	is_int(handler_calls, 0, "the handler never ran");

	/* a chunked body that goes on past the discard allowance is cut off */
	strbuf_reset(&big);
	strbuf_addstr(&big, "POST /buf HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 40; i++) {
		strbuf_addf(&big, "%x\r\n", 64 << 10);
		strbuf_addchars(&big, 'y', 64 << 10);
		strbuf_addstr(&big, "\r\n");
	}
	strbuf_addstr(&big, "0\r\n\r\n");
	raw_exchange(big.buf, &raw);
	is_int(raw.len, 0, "a body far over the limit is cut off without a reply");

	strbuf_release(&big);
	strbuf_release(&raw);
}

static void check_streaming(struct http_client_response *resp)
{
	const char *const deny[] = { "X-Deny: 1", NULL };
	struct strbuf big = STRBUF_INIT, raw = STRBUF_INIT;
	int done_before = done_calls;

	strbuf_addchars(&big, 'z', 300000);
	is_int(do_request("PUT", "/up/key", NULL, big.buf, big.len, resp), 201, "a streamed upload");
	is_str(json_field(resp, "bytes"), "300000", "every byte reached body()");
	ok(strtol(json_field(resp, "pieces"), NULL, 10) > 1, "in several pieces");
	is_str(json_field(resp, "buffered"), "0", "nothing was buffered");

	memcpy(big.buf + 150000, "STOP", 4);
	is_int(do_request("PUT", "/up/key", NULL, big.buf, big.len, resp), 422,
	       "body() refusing in the middle: its reply, after the body");
	ok(strstr(resp->body.buf, "\"code\":\"REFUSED\""), "with its code");

	raw_exchange("PUT /up/key HTTP/1.1\r\nHost: x\r\nX-Deny: 1\r\nContent-Length: 300000\r\n\r\n", &raw);
	ok(starts_with(raw.buf, "HTTP/1.1 401 "), "start() refuses before the body is sent");
	is_int(do_request("PUT", "/up/key", deny, NULL, 0, resp), 401, "start() refusing an empty body");
	strbuf_reset(&big);
	strbuf_addchars(&big, 'z', (1 << 20) + 1);
	is_int(do_request("PUT", "/up/key", NULL, big.buf, big.len, resp), 413, "the route's own limit");
	/* done() runs after the reply went out: give the worker a moment */
	for (int i = 0; i < 100 && done_calls - done_before < 5; i++)
		sleep_ms(10);
	is_int(done_calls - done_before, 5, "done() ran once for every request the route took");
	strbuf_release(&big);
	strbuf_release(&raw);
}

/* A client body made as it is sent: pieces of 1 to 99999 bytes; "STOP" or a failure at stop_at, if not 0. */
struct maker {
	size_t total, made, stop_at;
	bool fail;
};

static ssize_t make_body(void *ctx, char *buf, size_t max)
{
	struct maker *m = ctx;
	size_t n = 1 + m->made * 7919 % 99999;

	if (m->made >= m->total)
		return 0;
	if (m->fail && m->stop_at && m->made >= m->stop_at)
		return -1;
	n = n < max ? n : max;
	n = n < m->total - m->made ? n : m->total - m->made;
	memset(buf, 'm', n);
	if (m->stop_at && !m->fail && m->stop_at >= m->made && m->stop_at - m->made + 4 <= n)
		memcpy(buf + (m->stop_at - m->made), "STOP", 4);
	m->made += n;
	return n;
}

static long made_request(const char *url, struct maker *m, struct http_client_response *resp)
{
	struct http_client_request req = {
		.url = url, .method = "PUT", .timeout = 5, .upload_read = make_body, .upload_ctx = m,
	};
	int rc;

	http_client_response_release(resp);
	rc = http_client_do(client, &req, resp);
	return rc ? rc : resp->status;
}

/* What one connection to a bare listener brought, until the client closed it. */
static void *read_all(void *arg)
{
	int lfd = *(int *)arg, fd = accept(lfd, NULL, NULL);
	struct strbuf *got = xcalloc(1, sizeof(*got));
	char buf[65536];
	ssize_t n;

	strbuf_init(got, 0);
	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		strbuf_add(got, buf, n);
	if (fd >= 0)
		close(fd);
	return got;
}

static void check_made_body(struct http_client_response *resp)
{
	struct maker m = { .total = 900000 };
	struct strbuf url = STRBUF_INIT, *got;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pthread_t t;

	strbuf_addf(&url, "%s/up/key", base.buf);
	is_int(made_request(url.buf, &m, resp), 201, "a body made while it is sent");
	is_str(json_field(resp, "bytes"), "900000", "arrives whole, chunked");
	m = (struct maker){ .total = 900000, .stop_at = 500000 };
	is_int(made_request(url.buf, &m, resp), 422, "its bytes are the ones made");

	/* cut short, the body must not look whole to the server: no last chunk */
	if (bind(lfd, (struct sockaddr *)&sin, sl) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl))
		BUG("cannot listen: %s", strerror(errno));
	pthread_create(&t, NULL, read_all, &lfd);
	strbuf_reset(&url);
	strbuf_addf(&url, "http://127.0.0.1:%d/", ntohs(sin.sin_port));
	m = (struct maker){ .total = 900000, .stop_at = 500000, .fail = true };
	ok(made_request(url.buf, &m, resp) < 0, "a maker that fails aborts the exchange");
	pthread_join(t, (void **)&got);
	ok(strstr(got->buf, "Transfer-Encoding: chunked\r\n") && got->len > 500000,
	   "after sending what was made, chunked");
	ok(!ends_with(got->buf, "\r\n0\r\n\r\n"), "and closes the connection without the last chunk");
	close(lfd);
	strbuf_release(got);
	free(got);
	strbuf_release(&url);
}

static void check_files(struct http_client_response *resp)
{
	char path[64];

	xsnprintf(path, sizeof(path), "%s/file", tmpdir);
	file_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	write_in_full(file_fd, file_data, sizeof(file_data) - 1);
	is_int(do_request(NULL, "/file?off=10&len=6", NULL, NULL, 0, resp), 206, "a range of a file");
	is_str(resp->body.buf, "abcdef", "the right bytes");
	is_str(http_client_response_header(resp, "Content-Range"), "bytes 10-15/36", "extra header");
	is_str(http_client_response_header(resp, "Content-Length"), "6", "length of the range");
	is_int(do_request("HEAD", "/file?off=0&len=36", NULL, NULL, 0, resp), 206, "HEAD of a file");
	is_str(http_client_response_header(resp, "Content-Length"), "36", "HEAD has the length");
	is_int(resp->body.len, 0, "and no body");
}

static void check_client_cap(void)
{
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	struct strbuf url = STRBUF_INIT;
	struct http_client_request req = { .max_body = 5, .timeout = 5 };

	strbuf_addf(&url, "%s/p/exact", base.buf);
	req.url = url.buf;
	is_int(http_client_do(client, &req, &resp), -EXIT_FAIL, "a response over the client's cap fails");
	ok(ends_with(fail_message(), ": response larger than 5 bytes"), "and says so: %s", fail_message());
	http_client_response_release(&resp);
	strbuf_release(&url);
}

static void check_metrics_and_log(int log_fd)
{
	struct strbuf sb = STRBUF_INIT;

	metrics_render(&sb);
	ok(strstr(sb.buf, "nimbus_http_requests_total{route=\"echo\",status=\"200\"} 1\n"), "requests counted by route and status");
	ok(strstr(sb.buf, "nimbus_http_requests_total{route=\"none\",status=\"404\"} 1\n"), "unrouted requests counted");
	ok(strstr(sb.buf, "nimbus_http_request_duration_seconds_count{route=\"buf\"} "), "latency histogram by route");
	strbuf_reset(&sb);
	lseek(log_fd, 0, SEEK_SET);
	strbuf_read_fd(&sb, log_fd, 0);
	ok(strstr(sb.buf, " request method=GET path=/echo status=200 bytes="), "access log line");
	ok(strstr(sb.buf, " remote=127.0.0.1\n"), "with the remote address");
	ok(strstr(sb.buf, "path=/buf status=413 bytes="), "refused requests are logged");
	ok(strstr(sb.buf, "secret internals of failure 1"), "a 500's details go to the log");
	ok(strstr(sb.buf, "route silent sent no reply"), "a handler without reply is logged");
	strbuf_release(&sb);
}

static void *slow_client(void *arg)
{
	struct http_client *c = http_client_new();
	struct http_client_response *resp = arg;
	struct strbuf url = STRBUF_INIT;
	struct http_client_request req = { .timeout = 5 };

	strbuf_addf(&url, "%s/slow", base.buf);
	req.url = url.buf;
	if (http_client_do(c, &req, resp))
		resp->status = -1;
	strbuf_release(&url);
	http_client_free(c);
	return NULL;
}

static void check_stop(void)
{
	struct http_client_response slow_resp = HTTP_CLIENT_RESPONSE_INIT, resp = HTTP_CLIENT_RESPONSE_INIT;
	pthread_t t;
	int64_t t0;
	int left;

	/* an idle keep-alive connection: stop must not wait for it */
	is_int(do_request(NULL, "/echo", NULL, NULL, 0, &resp), 200, "a keep-alive connection");
	pthread_create(&t, NULL, slow_client, &slow_resp);
	sleep_ms(100);
	t0 = mono_ms();
	left = http_server_stop(srv, 2000);
	pthread_join(t, NULL);
	is_int(left, 0, "stop: nothing was cut off");
	ok(mono_ms() - t0 < 1000, "stop waited for the request, not for the idle connection");
	is_int(slow_resp.status, 204, "the request in flight got its reply");
	is_str(http_client_response_header(&slow_resp, "Connection"), "close", "with Connection: close");
	is_int(fail_code(do_request(NULL, "/echo", NULL, NULL, 0, &resp)), EXIT_UNAVAILABLE,
	       "a stopped server refuses connections (the client says unavailable)");
	http_client_response_release(&slow_resp);
	http_client_response_release(&resp);
}

static void check_unix_socket(void)
{
	struct http_server *us = http_server_new();
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct http_client_request req = { .url = "http://localhost/p/exact", .timeout = 5 };
	struct strbuf addr = STRBUF_INIT;

	xsnprintf(un.sun_path, sizeof(un.sun_path), "%s/api.sock", tmpdir);
	http_server_add_routes(us, routes, ARRAY_SIZE(routes));
	is_int(http_server_listen(us, (struct sockaddr *)&un, sizeof(un)), 0, "listen on a Unix socket");
	http_server_address(us, &addr);
	is_str(addr.buf, un.sun_path, "its address is the path");
	is_int(http_server_start(us), 0, "start");
	req.unix_socket = un.sun_path;
	is_int(http_client_do(client, &req, &resp), 0, "the client speaks to a socket");
	is_int(resp.status, 200, "and gets the answer");
	is_str(resp.body.buf, "p-exact", "from the right route");
	is_int(http_server_stop(us, 1000), 0, "stop");
	http_server_free(us);
	unlink(un.sun_path);
	http_client_response_release(&resp);
	strbuf_release(&addr);
}

static void check_listen_errors(void)
{
	struct http_server *other = http_server_new();
	struct sockaddr_storage ss;
	struct strbuf err = STRBUF_INIT;
	socklen_t len;

	parse_host_port(base.buf + strlen("http://"), &ss, &len, &err);
	is_int(http_server_listen(other, (struct sockaddr *)&ss, len), -EXIT_UNAVAILABLE,
	       "an address in use is 'unavailable'");
	ok(strstr(fail_message(), "cannot listen on 127.0.0.1:") &&
	   strstr(fail_message(), "Address already in use"), "and says so: %s", fail_message());
	http_server_free(other);
	strbuf_release(&err);
}

int main(void)
{
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	struct sockaddr_storage ss;
	struct strbuf sb = STRBUF_INIT;
	socklen_t len;
	char path[64];
	int log_fd;

	if (!mkdtemp(tmpdir))
		die_errno("mkdtemp");
	xsnprintf(path, sizeof(path), "%s/nimbus.conf", tmpdir);
	close(open(path, O_WRONLY | O_CREAT | O_EXCL, 0600));
	cfg_set_file(path);
	cfg_add_override("serve.threads=2");
	xsnprintf(path, sizeof(path), "%s/log", tmpdir);
	log_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	log_set_fd(log_fd);
	log_set_format(LOG_FORMAT_TEXT);

	check_route_find();

	srv = http_server_new();
	http_server_add_routes(srv, routes, ARRAY_SIZE(routes));
	parse_host_port("127.0.0.1:0", &ss, &len, &sb);
	is_int(http_server_listen(srv, (struct sockaddr *)&ss, len), 0, "listen on port 0");
	strbuf_addstr(&base, "http://");
	http_server_address(srv, &base);
	ok(!ends_with(base.buf, ":0"), "the system's port is reported: %s", base.buf);
	is_int(http_server_start(srv), 0, "start");
	client = http_client_new();

	check_listen_errors();
	check_basics(&resp);
	check_bodies(&resp);
	check_streaming(&resp);
	check_made_body(&resp);
	check_files(&resp);
	check_client_cap();
	check_metrics_and_log(log_fd);
	check_stop();
	check_unix_socket();

	http_server_free(srv);
	http_client_free(client);
	http_client_response_release(&resp);
	close(file_fd);
	for (const char *f = "nimbus.conf\0log\0file\0"; *f; f += strlen(f) + 1) {
		xsnprintf(path, sizeof(path), "%s/%s", tmpdir, f);
		unlink(path);
	}
	rmdir(tmpdir);
	strbuf_release(&sb);
	return done_testing();
}
