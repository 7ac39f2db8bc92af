#include "common.h"
#include "builtin.h"
#include "cache.h"
#include "config.h"
#include "http-server.h"
#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "parse-options.h"
#include "store.h"
#include "token.h"
#include "webhook.h"

#include <signal.h>

/*
 * How long requests in flight may take to finish after SIGTERM: systemd
 * and the operators' scripts expect the process gone within 2 s.
 */
#define SHUTDOWN_GRACE_MS 1500

static const char *const serve_usage[] = {
	"nimbus serve [--listen HOST:PORT] [--log-format text|json]",
	NULL,
};

static void healthz(struct http_request *req)
{
	static const char ok[] = "{\"status\":\"ok\"}";

	http_reply_bytes(req, 200, "application/json", ok, sizeof(ok) - 1);
}

static void metrics(struct http_request *req)
{
	struct strbuf sb = STRBUF_INIT;

	metrics_render(&sb);
	http_reply_bytes(req, 200, METRICS_CONTENT_TYPE, sb.buf, sb.len);
	strbuf_release(&sb);
}

static const struct http_route health_routes[] = {
	{ .path = "/healthz", .methods = HTTP_GET | HTTP_HEAD, .name = "healthz", .handler = healthz },
	{ .path = "/metrics", .methods = HTTP_GET, .name = "metrics", .handler = metrics },
};

static int health_init(struct http_server *srv)
{
	http_server_add_routes(srv, health_routes, ARRAY_SIZE(health_routes));
	return 0;
}

/* The schema is brought up to date before anything is served. */
static int store_init(struct http_server *srv UNUSED)
{
	struct store *st;
	int rc = store_open(&st, STORE_MIGRATE);

	if (!rc)
		store_close(st);
	return rc;
}

static struct token_verifier *jwks_verifier;

/* The public keys for verifiers, cacheable for as long as a key waits to sign. */
static void jwks(struct http_request *req)
{
	json_t *doc;
	int64_t max_age;
	char cc[48];
	int rc = token_verifier_jwks(jwks_verifier, &doc, &max_age);

	if (rc) {
		if (fail_code(rc) == EXIT_NOTFOUND)
			http_reply_error(req, 404, "NOT_FOUND", "no signing keys");
		else
			http_reply_fail(req, rc);
		return;
	}
	xsnprintf(cc, sizeof(cc), "public, max-age=%" PRId64, max_age);
	http_reply_header(req, "Cache-Control", cc);
	http_reply_json(req, 200, doc);
}

static const struct http_route jwks_routes[] = {
	{ .path = "/.well-known/jwks.json", .methods = HTTP_GET | HTTP_HEAD, .name = "jwks",
	  .handler = jwks },
};

static int jwks_init(struct http_server *srv)
{
	jwks_verifier = token_verifier_new(cfg_str("keys.dir"));
	http_server_add_routes(srv, jwks_routes, ARRAY_SIZE(jwks_routes));
	return 0;
}

static void jwks_fini(void)
{
	token_verifier_free(jwks_verifier);
	jwks_verifier = NULL;
}

/*
 * The services of `nimbus serve`, in one process on one address. Each one
 * opens what it needs and adds its routes in init() (0, or a fail() code),
 * and releases it in fini() once the server has stopped; a new service
 * appends its line. The base services run in `nimbus SERVICE serve` too.
 */
static const struct service {
	const char *name;
	int (*init)(struct http_server *srv);
	void (*fini)(void);
	bool base;
} services[] = {
	{ "store", store_init, NULL, true },
	{ "health", health_init, NULL, true },
	{ "jwks", jwks_init, jwks_fini, false },
	{ "cache", cache_service_init, cache_service_fini, false },
	{ "webhook", webhook_service_init, webhook_service_fini, false },
};

static bool enabled(const struct service *s, const char *only)
{
	return !only || s->base || !strcmp(s->name, only);
}

static void listening(struct http_server *srv, const char *only)
{
	struct strbuf addr = STRBUF_INIT, names = STRBUF_INIT;

	http_server_address(srv, &addr);
	for (size_t i = 0; i < ARRAY_SIZE(services); i++)
		if (enabled(&services[i], only))
			strbuf_addf(&names, "%s%s", names.len ? "," : "", services[i].name);
	log_kv(LOG_INFO, "listening", "address", addr.buf, "services", names.buf, NULL);
	strbuf_release(&addr);
	strbuf_release(&names);
}

int cmd_serve(int argc, const char **argv)
{
	return serve_services(argc, argv, serve_usage, NULL);
}

int serve_services(int argc, const char **argv, const char *const *usage, const char *only)
{
	const char *address = NULL, *format = NULL;
	const struct option options[] = {
		OPT_STRING(0, "listen", &address, "HOST:PORT", "address to listen on (serve.listen)"),
		OPT_STRING(0, "log-format", &format, "text|json", "format of the log lines (log.format)"),
		OPT_END(),
	};
	struct strbuf err = STRBUF_INIT;
	struct sockaddr_storage ss;
	socklen_t len;
	enum log_format fmt;
	struct http_server *srv;
	sigset_t set;
	int rc, sig, left;

	argc = parse_options(argc, argv, options, usage, 0);
	if (argc)
		usage_msg(usage, options, "too many arguments");
	if (format && (log_parse_format(format, &fmt) || fmt == LOG_FORMAT_CLI))
		usage_msg(usage, options, "option '--log-format': '%s' is not text or json", format);
	if (address && parse_host_port(address, &ss, &len, &err))
		usage_msg(usage, options, "option '--listen': %s", err.buf);

	if (!format && log_parse_format(cfg_str("log.format"), &fmt))
		BUG("log.format passed its check but does not parse");
	log_set_format(fmt);
	if (!address && parse_host_port(cfg_str("serve.listen"), &ss, &len, &err))
		BUG("serve.listen passed its check but does not parse: %s", err.buf);

	srv = http_server_new();
	for (size_t i = 0; i < ARRAY_SIZE(services); i++) {
		if (!enabled(&services[i], only))
			continue;
		rc = services[i].init(srv);
		if (rc)
			die_fail(rc);
	}
	rc = http_server_listen(srv, (struct sockaddr *)&ss, len);
	if (rc)
		die_fail(rc);

	/* blocked before the workers start, so that they inherit the mask and sigwait() gets them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	rc = http_server_start(srv);
	if (rc)
		die_fail(rc);
	listening(srv, only);

	while (sigwait(&set, &sig))
		;
	log_kv(LOG_INFO, "stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
	left = http_server_stop(srv, SHUTDOWN_GRACE_MS);
	if (left)
		warning("closed %d connections still busy after %d ms", left, SHUTDOWN_GRACE_MS);
	log_kv(LOG_INFO, "stopped", NULL);
	http_server_free(srv);
	for (size_t i = 0; i < ARRAY_SIZE(services); i++)
		if (enabled(&services[i], only) && services[i].fini)
			services[i].fini();
	strbuf_release(&err);
	return 0;
}
