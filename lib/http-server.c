#include "common.h"
#include "config.h"
#include "escape.h"
#include "http-server.h"
#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "parse-num.h"
#include "timeutil.h"

#include <microhttpd.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>

/*
 * At shutdown, a keep-alive connection idle this long has no request on
 * its way: close it. A shorter wait would race clients that send their
 * next request right after a reply.
 */
#define IDLE_CLOSE_MS 100

/* One per connection, so that a shutdown can tell idle ones from busy ones. */
struct conn {
	struct conn *prev, *next;
	int fd;
	char *remote;
	atomic_bool busy;		/* a request line arrived, no reply sent yet */
	_Atomic int64_t idle_since;	/* mono_ms() */
	bool shut;
};

/* The public part comes first, so that a struct http_request * is one of these. */
struct request {
	struct http_request pub;
	struct http_server *srv;
	struct MHD_Connection *mc;
	struct conn *conn;
	char *uri;
	struct strvec headers;		/* of the reply: name, value, ... */
	struct MHD_Response *response;	/* made, not queued yet */
	unsigned status;
	uint64_t bytes;
	uint64_t limit;
	uint64_t discarded;
	double start;
	bool started;
};

struct http_server {
	struct http_route *routes;
	size_t routes_nr, routes_alloc;
	uint64_t max_body;
	unsigned max_connections, threads, timeout;
	int listen_fd;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct MHD_Daemon *mhd;
	atomic_bool stopping;
	pthread_mutex_t conns_lock;
	struct conn *conns;
	struct metric *requests, *duration, *connections;
};

static const char *const method_names[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
};

unsigned http_method_bit(const char *method)
{
	for (size_t i = 0; i < ARRAY_SIZE(method_names); i++)
		if (!strcmp(method, method_names[i]))
			return 1u << i;
	return 0;
}

void http_methods_format(struct strbuf *sb, unsigned methods)
{
	const char *sep = "";

	for (size_t i = 0; i < ARRAY_SIZE(method_names); i++) {
		if (methods & (1u << i)) {
			strbuf_addf(sb, "%s%s", sep, method_names[i]);
			sep = ", ";
		}
	}
}

/* 0: no match; exact matches rank above every prefix, longer prefixes above shorter. */
static size_t match_rank(const struct http_route *r, const char *path)
{
	size_t n = strlen(r->path);

	if (!r->prefix)
		return strcmp(path, r->path) ? 0 : SIZE_MAX;
	return strncmp(path, r->path, n) ? 0 : n + 1;
}

const struct http_route *http_route_find(const struct http_route *routes, size_t nr,
					 const char *path, unsigned method, unsigned *allow)
{
	const struct http_route *found = NULL;
	size_t best = 0;

	*allow = 0;
	for (size_t i = 0; i < nr; i++) {
		size_t rank = match_rank(&routes[i], path);

		if (!rank || rank < best)
			continue;
		if (rank > best) {
			best = rank;
			found = NULL;
			*allow = 0;
		}
		*allow |= routes[i].methods;
		if (!found && (routes[i].methods & method))
			found = &routes[i];
	}
	return found;
}

static struct request *to_request(const struct http_request *req)
{
	return (struct request *)req;
}

const char *http_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(to_request(req)->mc, MHD_HEADER_KIND, name);
}

const char *http_bearer(const struct http_request *req)
{
	const char *v = http_header(req, MHD_HTTP_HEADER_AUTHORIZATION);

	if (!v || strncasecmp(v, "Bearer ", 7))
		return NULL;
	for (v += 7; *v == ' '; v++)
		;
	return *v ? v : NULL;
}

const char *http_query(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(to_request(req)->mc, MHD_GET_ARGUMENT_KIND, name);
}

bool http_replied(const struct http_request *req)
{
	return to_request(req)->status != 0;
}

void http_reply_header(struct http_request *req, const char *name, const char *value)
{
	struct request *r = to_request(req);

	if (r->status)
		BUG("reply header %s after the reply", name);
	strvec_push(&r->headers, name);
	strvec_push(&r->headers, value);
}

static void set_reply(struct request *r, int status, struct MHD_Response *resp,
		      const char *type, uint64_t bytes)
{
	if (!resp)
		die("out of memory for an HTTP reply");
	if (r->status)
		BUG("second reply to %s %s", r->pub.method, r->pub.path);
	if (type) {
		strvec_push(&r->headers, MHD_HTTP_HEADER_CONTENT_TYPE);
		strvec_push(&r->headers, type);
	}
	for (size_t i = 0; i + 1 < r->headers.nr; i += 2)
		if (MHD_add_response_header(resp, r->headers.v[i], r->headers.v[i + 1]) != MHD_YES)
			error("%s %s: reply header %s refused", r->pub.method, r->pub.path, r->headers.v[i]);
	r->response = resp;
	r->status = status;
	r->bytes = bytes;
}

void http_reply_status(struct http_request *req, int status)
{
	set_reply(to_request(req), status,
		  MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT), NULL, 0);
}

void http_reply_bytes(struct http_request *req, int status, const char *type,
		      const void *data, size_t len)
{
	set_reply(to_request(req), status,
		  MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY),
		  type, len);
}

void http_reply_json(struct http_request *req, int status, json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT);
	size_t len;

	if (!s)
		die("out of memory for an HTTP reply");
	json_decref(doc);
	len = strlen(s);
	set_reply(to_request(req), status,
		  MHD_create_response_from_buffer_with_free_callback(len, s, free),
		  "application/json", len);
}

void http_reply_fd(struct http_request *req, int status, const char *type,
		   int fd, uint64_t offset, uint64_t len)
{
	if (offset > INT64_MAX || len > INT64_MAX - offset)
		BUG("reply of %" PRIu64 " bytes at %" PRIu64, len, offset);
	set_reply(to_request(req), status, MHD_create_response_from_fd_at_offset64(len, fd, offset),
		  type, len);
}

void http_reply_error(struct http_request *req, int status, const char *code, const char *fmt, ...)
{
	struct strbuf msg = STRBUF_INIT, body = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	/* not json_pack(): a message may quote the client's bytes, valid UTF-8 or not */
	strbuf_addstr(&body, "{\"errors\":[{\"code\":");
	strbuf_add_json_string(&body, code, strlen(code));
	strbuf_addstr(&body, ",\"message\":");
	strbuf_add_json_string(&body, msg.buf, msg.len);
	strbuf_addstr(&body, "}]}");
	http_reply_bytes(req, status, "application/json", body.buf, body.len);
	strbuf_release(&msg);
	strbuf_release(&body);
}

void http_reply_fail(struct http_request *req, int rc)
{
	static const struct {
		int code, status;
		const char *name;
	} map[] = {
		{ EXIT_USAGE, 400, "BAD_REQUEST" },
		{ EXIT_REJECTED, 403, "DENIED" },
		{ EXIT_NOTFOUND, 404, "NOT_FOUND" },
		{ EXIT_BUSY, 409, "CONFLICT" },
		{ EXIT_UNAVAILABLE, 503, "UNAVAILABLE" },
		{ EXIT_PERM, 403, "DENIED" },
	};
	int code = fail_code(rc);

	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		if (map[i].code == code) {
			http_reply_error(req, map[i].status, map[i].name, "%s", fail_message());
			return;
		}
	}
	/* the details of an internal failure are for the log, not the client */
	error("%s %s: %s", req->method, req->path, fail_message());
	http_reply_error(req, 500, "INTERNAL_ERROR", "internal error");
}

static bool has_body(struct request *r)
{
	const char *cl = http_header(&r->pub, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (cl && strcmp(cl, "0")) || http_header(&r->pub, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* The first call: route, method and limits, before any of the body is read. */
static void begin(struct request *r, const char *method)
{
	struct http_request *req = &r->pub;
	const char *cl = http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	struct strbuf allowed = STRBUF_INIT;
	uint64_t len;
	unsigned allow;

	req->method = method;
	req->method_bit = http_method_bit(method);
	req->route = http_route_find(r->srv->routes, r->srv->routes_nr, req->path,
				     req->method_bit, &allow);
	if (!allow) {
		http_reply_error(req, 404, "NOT_FOUND", "no such route");
		return;
	}
	if (!req->route) {
		http_methods_format(&allowed, allow);
		http_reply_header(req, MHD_HTTP_HEADER_ALLOW, allowed.buf);
		http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "method %s not allowed; allowed: %s",
				 method, allowed.buf);
		strbuf_release(&allowed);
		return;
	}
	/* MHD cuts a decoded value at a NUL byte: refuse rather than misread it */
	if (strstr(req->query, "%00")) {
		http_reply_error(req, 400, "BAD_REQUEST", "NUL byte in the query");
		return;
	}
	r->limit = req->route->max_body ? req->route->max_body : r->srv->max_body;
	if (cl && !parse_u64(cl, UINT64_MAX, &len) && len > r->limit) {
		http_reply_error(req, 413, "TOO_LARGE", "body larger than %" PRIu64 " bytes", r->limit);
		return;
	}
	if (req->route->start)
		req->route->start(req);
}

static enum MHD_Result take_body(struct request *r, const char *data, size_t len)
{
	struct http_request *req = &r->pub;

	if (r->status) {
		/* replied already: drop the rest, but not without end */
		r->discarded += len;
		return r->discarded <= HTTP_DISCARD_MAX ? MHD_YES : MHD_NO;
	}
	req->body_len += len;
	if (req->body_len > r->limit) {
		http_reply_error(req, 413, "TOO_LARGE", "body larger than %" PRIu64 " bytes", r->limit);
		r->discarded = len;
		return MHD_YES;
	}
	if (req->route->body)
		req->route->body(req, data, len);
	else
		strbuf_add(&req->body, data, len);
	return MHD_YES;
}

static enum MHD_Result queue(struct request *r)
{
	enum MHD_Result ret;

	if (atomic_load_explicit(&r->srv->stopping, memory_order_relaxed))
		MHD_add_response_header(r->response, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(r->mc, r->status, r->response);
	MHD_destroy_response(r->response);
	r->response = NULL;
	return ret;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *mc, const char *url,
				 const char *method, const char *version, const char *data,
				 size_t *size, void **con_cls)
{
	struct request *r = *con_cls;
	size_t len = *size;

	if (!r->started) {
		r->started = true;
		begin(r, method);
		/*
		 * A reply queued now makes MHD close the connection after it:
		 * right when a body follows that we will not read, wasteful
		 * otherwise, so it waits for the final call.
		 */
		if (r->status && has_body(r))
			return queue(r);
		return MHD_YES;
	}
	if (len) {
		*size = 0;
		return take_body(r, data, len);
	}
	if (!r->status) {
		r->pub.route->handler(&r->pub);
		if (!r->status) {
			error("route %s sent no reply to %s %s", r->pub.route->name, method, r->pub.path);
			http_reply_error(&r->pub, 500, "INTERNAL_ERROR", "internal error");
		}
	}
	return queue(r);
}

/* MHD calls this when the request line is in, with the URI as sent. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct request *r = xcalloc(1, sizeof(*r));
	char *q;

	r->srv = cls;
	r->mc = mc;
	r->conn = ci->socket_context;
	r->start = mono_seconds();
	r->uri = xstrdup(uri);
	q = strchr(r->uri, '?');
	if (q)
		*q++ = '\0';
	r->pub.path = r->uri;
	r->pub.query = q ? q : "";
	r->pub.remote = r->conn->remote;
	strbuf_init(&r->pub.body, 0);
	r->headers = (struct strvec)STRVEC_INIT;
	atomic_store(&r->conn->busy, true);
	return r;
}

static const char *termination(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK:
		return NULL;
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
		return "timeout";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
		return "shutdown";
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
	case MHD_REQUEST_TERMINATED_READ_ERROR:
		return "client went away";
	default:
		return "error";
	}
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct request *r = *con_cls;
	struct http_request *req = &r->pub;
	const char *route = req->route ? req->route->name : "none";
	const char *why = termination(toe);
	char status[16], bytes[24], duration[24];
	double secs = mono_seconds() - r->start;
	unsigned code = r->status;

	*con_cls = NULL;
	if (!code) {
		/* MHD's own answers: 400 for a malformed request, 431 ... */
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_HTTP_STATUS);

		if (ci)
			code = ci->http_status;
	}
	if (req->method_bit == HTTP_HEAD)
		r->bytes = 0;
	xsnprintf(status, sizeof(status), "%u", code);
	xsnprintf(bytes, sizeof(bytes), "%" PRIu64, r->bytes);
	xsnprintf(duration, sizeof(duration), "%.6f", secs);
	metric_add(srv->requests, (const char *[]){ route, status }, 1);
	metric_observe(srv->duration, (const char *[]){ route }, secs);
	/* a NULL key ends the list: "error" only when the request did not complete */
	log_kv(LOG_INFO, "request", "method", req->method ? req->method : "-", "path", req->path,
	       "status", status, "bytes", bytes, "duration", duration, "remote", req->remote,
	       why ? "error" : NULL, why, NULL);

	if (req->route && req->route->done)
		req->route->done(req);
	if (r->response)
		MHD_destroy_response(r->response);
	atomic_store(&r->conn->idle_since, mono_ms());
	atomic_store(&r->conn->busy, false);
	strbuf_release(&req->body);
	strvec_clear(&r->headers);
	free(r->uri);
	free(r);
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	struct conn *c;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *addr = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		struct strbuf sb = STRBUF_INIT;

		c = xcalloc(1, sizeof(*c));
		c->fd = fd->connect_fd;
		format_sockaddr(&sb, addr->client_addr, 0, false);
		c->remote = strbuf_detach(&sb, NULL);
		atomic_init(&c->busy, false);
		atomic_init(&c->idle_since, mono_ms());
		pthread_mutex_lock(&srv->conns_lock);
		c->next = srv->conns;
		if (c->next)
			c->next->prev = c;
		srv->conns = c;
		pthread_mutex_unlock(&srv->conns_lock);
		metric_add(srv->connections, NULL, 1);
		*socket_ctx = c;
		return;
	}
	c = *socket_ctx;
	pthread_mutex_lock(&srv->conns_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&srv->conns_lock);
	metric_add(srv->connections, NULL, -1);
	free(c->remote);
	free(c);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_vaddf(&sb, fmt, ap);
	strbuf_rtrim(&sb);
	log_msg(LOG_WARNING, "libmicrohttpd: %s", sb.buf);
	strbuf_release(&sb);
}

static NORETURN void on_mhd_panic(void *cls, const char *file, unsigned line, const char *reason)
{
	BUG_fl(file, line, "libmicrohttpd: %s", reason ? reason : "panic");
}

static unsigned cpus(void)
{
	cpu_set_t set;
	long n;

	/* the CPUs we may run on (taskset, cgroup cpusets), not all there are */
	if (!sched_getaffinity(0, sizeof(set), &set))
		return CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

struct http_server *http_server_new(void)
{
	static const char *const request_labels[] = { "route", "status", NULL };
	static const char *const route_labels[] = { "route", NULL };
	static const double bounds[] = {
		0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
	};
	struct http_server *srv = xcalloc(1, sizeof(*srv));

	srv->max_body = cfg_size("serve.max_body");
	srv->max_connections = cfg_int("serve.max_connections");
	srv->threads = cfg_int("serve.threads");
	if (!srv->threads)
		srv->threads = cpus();
	srv->timeout = cfg_int("serve.timeout");
	srv->listen_fd = -1;
	atomic_init(&srv->stopping, false);
	pthread_mutex_init(&srv->conns_lock, NULL);
	srv->requests = metric_counter("nimbus_http_requests_total",
				       "HTTP requests by route and status.", request_labels);
	srv->duration = metric_histogram("nimbus_http_request_duration_seconds",
					 "Time from the request line to the end of the reply.",
					 route_labels, bounds, ARRAY_SIZE(bounds));
	srv->connections = metric_gauge("nimbus_http_connections", "Open HTTP connections.", NULL);
	return srv;
}

void http_server_add_routes(struct http_server *srv, const struct http_route *routes, size_t nr)
{
	if (srv->mhd)
		BUG("routes added to a running server");
	for (size_t i = 0; i < nr; i++)
		if (!routes[i].path || !routes[i].name || !routes[i].handler || !routes[i].methods)
			BUG("route %zu lacks a path, name, handler or method", i);
	ALLOC_GROW(srv->routes, srv->routes_nr + nr, srv->routes_alloc);
	memcpy(srv->routes + srv->routes_nr, routes, nr * sizeof(*routes));
	srv->routes_nr += nr;
}

int http_server_listen(struct http_server *srv, const struct sockaddr *addr, socklen_t len)
{
	struct strbuf name = STRBUF_INIT;
	int fd, one = 1, rc = 0;

	format_sockaddr(&name, addr, len, true);
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* a restart must not wait for the old connections' TIME_WAIT */
	if (fd >= 0 && addr->sa_family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, addr, len) || listen(fd, SOMAXCONN)) {
		int err = errno;
		int code = err == EADDRINUSE || err == EADDRNOTAVAIL ? EXIT_UNAVAILABLE :
			   err == EACCES || err == EPERM ? EXIT_PERM : EXIT_FAIL;

		if (fd >= 0)
			close(fd);
		errno = err;
		rc = fail_errno(code, "cannot listen on %s", name.buf);
	} else {
		srv->listen_fd = fd;
		srv->addr_len = sizeof(srv->addr);
		if (getsockname(fd, (struct sockaddr *)&srv->addr, &srv->addr_len))
			BUG("getsockname on a bound socket: %s", strerror(errno));
	}
	strbuf_release(&name);
	return rc;
}

void http_server_address(const struct http_server *srv, struct strbuf *out)
{
	format_sockaddr(out, (const struct sockaddr *)&srv->addr, srv->addr_len, true);
}

int http_server_start(struct http_server *srv)
{
	/* MHD warns about a pool of one thread: one worker is its own thread */
	struct MHD_OptionItem pool[] = {
		{ srv->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, srv->threads, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};

	if (srv->listen_fd < 0)
		BUG("http_server_start before http_server_listen");
	/* writes to a client that went away must fail, not kill us */
	signal(SIGPIPE, SIG_IGN);
	MHD_set_panic_func(on_mhd_panic, NULL);
	srv->mhd = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG,
				    0, NULL, NULL, on_access, srv,
				    /* first, or MHD prints to stderr behind the logger's back */
				    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
				    MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
				    MHD_OPTION_ARRAY, pool,
				    MHD_OPTION_CONNECTION_LIMIT, srv->max_connections,
				    MHD_OPTION_CONNECTION_TIMEOUT, srv->timeout,
				    MHD_OPTION_STRICT_FOR_CLIENT, 1,
				    MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
				    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
				    MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
				    MHD_OPTION_END);
	if (!srv->mhd)
		return fail(EXIT_FAIL, "cannot start the HTTP server");
	return 0;
}

static bool pending_input(int fd)
{
	int n = 0;

	return !ioctl(fd, FIONREAD, &n) && n > 0;
}

/*
 * Shut down the connections that are idle and have nothing coming; MHD
 * sees the end and closes them. Returns how many connections are left.
 * The lock keeps every listed descriptor open: MHD drops a connection
 * from the list before it closes its socket.
 */
static int close_idle(struct http_server *srv)
{
	int64_t now = mono_ms();
	int left = 0;

	pthread_mutex_lock(&srv->conns_lock);
	for (struct conn *c = srv->conns; c; c = c->next) {
		left++;
		if (c->shut || atomic_load(&c->busy) ||
		    now - atomic_load(&c->idle_since) < IDLE_CLOSE_MS || pending_input(c->fd))
			continue;
		shutdown(c->fd, SHUT_RDWR);
		c->shut = true;
	}
	pthread_mutex_unlock(&srv->conns_lock);
	return left;
}

int http_server_stop(struct http_server *srv, int64_t grace_ms)
{
	int64_t deadline = mono_ms() + grace_ms;
	int left;

	MHD_quiesce_daemon(srv->mhd);
	/*
	 * Refuse new connections (those that wait in the backlog are reset,
	 * as by any server that stops listening); MHD wants the descriptor
	 * open until it stops.
	 */
	shutdown(srv->listen_fd, SHUT_RDWR);
	/*
	 * Only now may replies say Connection: close: a client told so earlier
	 * reconnects at once, into the backlog that the shutdown resets.
	 */
	atomic_store(&srv->stopping, true);
	while ((left = close_idle(srv)) && mono_ms() < deadline)
		sleep_ms(10);
	MHD_stop_daemon(srv->mhd);
	srv->mhd = NULL;
	close(srv->listen_fd);
	srv->listen_fd = -1;
	return left;
}

void http_server_free(struct http_server *srv)
{
	if (!srv)
		return;
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	pthread_mutex_destroy(&srv->conns_lock);
	free(srv->routes);
	free(srv);
}
