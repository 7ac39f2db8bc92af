#include "common.h"
#include "builtin.h"
#include "cache.h"
#include "config.h"
#include "http-server.h"
#include "log.h"
#include "logs-service.h"
#include "metrics.h"
#include "netaddr.h"
#include "parse-options.h"
#include "registry.h"
#include "sandbox.h"
#include "store.h"
#include "token.h"

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
 * and releases it in fini() once the server has stopped; dir is the key
 * of the directory it writes, if any. A new service appends its line.
 * `nimbus SERVICE serve` runs the named one alone, beside those marked
 * always.
 */
static const struct service {
	const char *name;
	int (*init)(struct http_server *srv);
	void (*fini)(void);
	bool always;
	const char *dir;
} services[] = {
	{ "store", store_init, NULL, true, NULL },
	{ "health", health_init, NULL, true, NULL },
	{ "jwks", jwks_init, jwks_fini, false, NULL },
	{ "cache", cache_service_init, cache_service_fini, false, "cache.dir" },
	{ "logs", logs_service_init, logs_service_fini, false, "logs.spool_dir" },
	{ "registry", registry_service_init, NULL, false, "registry.dir" },
};

static bool wanted(const struct service *s, const char *only)
{
	return !only || s->always || !strcmp(s->name, only);
}

static void listening(struct http_server *srv, const char *only)
{
	struct strbuf addr = STRBUF_INIT, names = STRBUF_INIT;

	http_server_address(srv, &addr);
	for (size_t i = 0; i < ARRAY_SIZE(services); i++)
		if (wanted(&services[i], only))
			strbuf_addf(&names, "%s%s", names.len ? "," : "", services[i].name);
	log_kv(LOG_INFO, "listening", "address", addr.buf, "services", names.buf, NULL);
	strbuf_release(&addr);
	strbuf_release(&names);
}

/* What the services write must be the user's before they become it. */
static int give_files(const struct sandbox_user *u, const char *only)
{
	static const char *const sqlite_files[] = { "", "-wal", "-shm" };
	const char *db;
	int rc = 0;

	if (skip_prefix(cfg_str("store.url"), "sqlite:", &db)) {
		const char *slash = strrchr(db, '/');

		if (slash && slash > db) {
			char *dir = xstrndup(db, slash - db);

			rc = sandbox_give_dir(dir, u);
			free(dir);
		}
		for (size_t i = 0; !rc && i < ARRAY_SIZE(sqlite_files); i++) {
			char *file = xstrfmt("%s%s", db, sqlite_files[i]);

			rc = sandbox_give_file(file, u);
			free(file);
		}
	}
	for (size_t i = 0; !rc && i < ARRAY_SIZE(services); i++)
		if (services[i].dir && wanted(&services[i], only))
			rc = sandbox_give_dir(cfg_str(services[i].dir), u);
	return rc;
}

/*
 * Once bound, before opening anything: started as root, become
 * serve.user (or stay root, if it says so); in any case keep no
 * capability and take no_new_privs. See nimbus-serve(1).
 */
static void drop_privileges(const char *only)
{
	const char *name = cfg_str("serve.user");
	struct sandbox_user u = SANDBOX_USER_INIT;
	char uid[24];
	int rc = 0;

	/* some defaults depend on who we are */
	cfg_resolve_defaults();
	if (!geteuid() && strcmp(name, "root")) {
		rc = sandbox_user_lookup(name, &u);
		if (rc == -EXIT_NOTFOUND)
			die_code(EXIT_PERM, "refusing to run as root: no user %s to become; create it "
				 "(useradd --system %s), or set serve.user (root: stay root, without "
				 "capabilities)", name, name);
		if (!rc)
			rc = give_files(&u, only);
	}
	if (!rc)
		rc = sandbox_drop(u.name && u.uid ? &u : NULL);
	if (rc)
		die_fail(rc);
	xsnprintf(uid, sizeof(uid), "%u", (unsigned)geteuid());
	log_kv(LOG_INFO, "privileges dropped", "uid", uid, NULL);
	/* every token is checked against the public keys in there */
	if (access(cfg_str("keys.dir"), R_OK | X_OK) && errno != ENOENT)
		warning("cannot read keys.dir %s as uid %s: %s; no token will verify (see "
			"nimbus-serve(1), Privileges)", cfg_str("keys.dir"), uid, strerror(errno));
	sandbox_user_release(&u);
}

int cmd_serve(int argc, const char **argv)
{
	return serve_main(argc, argv, serve_usage, NULL);
}

int serve_main(int argc, const char **argv, const char *const *usage, const char *only)
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

	/*
	 * Blocked before any thread starts (the workers, a service's own), so
	 * that they inherit the mask and sigwait() gets them.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* the address first: a port in use is the likeliest mistake, and the cheapest to find */
	srv = http_server_new();
	rc = http_server_listen(srv, (struct sockaddr *)&ss, len);
	if (rc)
		die_fail(rc);
	drop_privileges(only);
	for (size_t i = 0; i < ARRAY_SIZE(services); i++) {
		if (!wanted(&services[i], only))
			continue;
		rc = services[i].init(srv);
		if (rc)
			die_fail(rc);
	}
	/* initialised: from here on, only what serving takes */
	rc = sandbox_seccomp_serve();
	if (!rc)
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
		if (wanted(&services[i], only) && services[i].fini)
			services[i].fini();
	strbuf_release(&err);
	return 0;
}
