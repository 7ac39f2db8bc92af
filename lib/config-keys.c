#include "common.h"
#include "config.h"
#include "redis-url.h"

/*
 * Every configuration key, sorted by name. nimbus.conf.5 documents each
 * one (t/0010-meta-docs.bats checks that it does).
 */

static void xdg_dir(struct strbuf *out, const char *env, const char *fallback)
{
	const char *v = getenv(env), *home = getenv("HOME");

	if (v && *v == '/')
		strbuf_addstr(out, v);
	else
		strbuf_addf(out, "%s/%s", home && *home ? home : "", fallback);
}

static void default_state_dir(struct strbuf *out)
{
	if (running_as_root()) {
		strbuf_addstr(out, "/var/lib/nimbus");
		return;
	}
	xdg_dir(out, "XDG_STATE_HOME", ".local/state");
	strbuf_addstr(out, "/nimbus");
}

static void default_run_dir(struct strbuf *out)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (running_as_root())
		strbuf_addstr(out, "/run/nimbus");
	else if (xdg && *xdg == '/')
		strbuf_addf(out, "%s/nimbus", xdg);
	else
		strbuf_addf(out, "%s/run", cfg_str("core.state_dir"));
}

static void default_store_url(struct strbuf *out)
{
	strbuf_addf(out, "sqlite:%s/nimbus.db", cfg_str("core.state_dir"));
}

static void default_keys_dir(struct strbuf *out)
{
	cfg_dir(out);
	strbuf_addstr(out, "/keys");
}

static int check_store_url(const char *v, struct strbuf *err)
{
	if (starts_with(v, "sqlite:") || starts_with(v, "postgres://") ||
	    starts_with(v, "postgresql://"))
		return 0;
	strbuf_addstr(err, "wants sqlite:PATH, postgres://... or postgresql://...");
	return -1;
}

static int check_redis_url(const char *v, struct strbuf *err)
{
	struct redis_url u = REDIS_URL_INIT;

	if (!*v)
		return 0;
	if (redis_url_parse(v, &u, err))
		return -1;
	redis_url_release(&u);
	return 0;
}

static int check_listen(const char *v, struct strbuf *err)
{
	const char *colon = strrchr(v, ':');

	if (colon && colon != v && colon[1])
		return 0;
	strbuf_addstr(err, "wants HOST:PORT");
	return -1;
}

static int check_absolute(const char *v, struct strbuf *err)
{
	if (*v == '/')
		return 0;
	strbuf_addstr(err, "wants an absolute path");
	return -1;
}

const struct cfg_key cfg_keys[] = {
	{ .name = "core.holder", .type = CFG_STRING,
	  .help = "lease holder name (default: the host name)" },
	{ .name = "core.run_dir", .type = CFG_PATH, .def_fn = default_run_dir,
	  .check = check_absolute, .help = "per-boot state: VM records, sockets" },
	{ .name = "core.state_dir", .type = CFG_PATH, .def_fn = default_state_dir,
	  .check = check_absolute, .help = "durable state" },
	{ .name = "keys.dir", .type = CFG_PATH, .def_fn = default_keys_dir,
	  .help = "signing keys" },
	{ .name = "lease.ttl", .type = CFG_SECONDS, .def = "60", .min = 1, .max = 31536000,
	  .help = "default lease TTL of lease and job commands" },
	{ .name = "log.format", .type = CFG_ENUM, .def = "text", .choices = "text|json",
	  .help = "log format of daemons" },
	{ .name = "redis.timeout", .type = CFG_SECONDS, .def = "5", .min = 1, .max = 300,
	  .help = "Redis connect and command timeout" },
	{ .name = "redis.url", .type = CFG_URL, .check = check_redis_url,
	  .help = "Redis for nonces, rate limits, the queue and breaker state" },
	{ .name = "serve.listen", .type = CFG_STRING, .def = "127.0.0.1:8480",
	  .check = check_listen, .help = "address of the HTTP services" },
	{ .name = "serve.max_body", .type = CFG_SIZE, .def = "1M",
	  .help = "default request body limit" },
	{ .name = "serve.max_connections", .type = CFG_INT, .def = "1024", .min = 1, .max = 65536,
	  .help = "concurrent connections" },
	{ .name = "serve.threads", .type = CFG_INT, .def = "0", .min = 0, .max = 256,
	  .help = "worker threads (0: one per CPU)" },
	{ .name = "serve.timeout", .type = CFG_SECONDS, .def = "30", .min = 1, .max = 3600,
	  .help = "idle connection timeout" },
	{ .name = "store.busy_timeout", .type = CFG_SECONDS, .def = "5", .min = 0, .max = 3600,
	  .help = "how long SQLite waits for a lock" },
	{ .name = "store.connect_timeout", .type = CFG_SECONDS, .def = "5", .min = 1, .max = 300,
	  .help = "PostgreSQL connect timeout" },
	{ .name = "store.statement_timeout", .type = CFG_SECONDS, .def = "10", .min = 1, .max = 3600,
	  .help = "how long a PostgreSQL statement may take" },
	{ .name = "store.url", .type = CFG_URL, .def_fn = default_store_url,
	  .check = check_store_url, .help = "the metadata store" },
};

const size_t cfg_keys_nr = ARRAY_SIZE(cfg_keys);
