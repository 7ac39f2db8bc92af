#include "common.h"
#include "config.h"
#include "netaddr.h"
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

static void default_registry_dir(struct strbuf *out)
{
	strbuf_addf(out, "%s/registry", cfg_str("core.state_dir"));
}

/* The token endpoint's URL goes into a quoted header parameter. */
static int check_realm(const char *v, struct strbuf *err)
{
	bool ok = !*v || starts_with(v, "http://") || starts_with(v, "https://");

	for (const char *p = v; ok && *p; p++)
		ok = (unsigned char)*p > ' ' && *p != 0x7f && *p != '"' && *p != '\\';
	if (!ok)
		strbuf_addstr(err, "wants an http:// or https:// URL without blanks, quotes or controls");
	return ok ? 0 : -1;
}

static int check_listen(const char *v, struct strbuf *err)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return parse_host_port(v, &ss, &len, err);
}

static int check_absolute(const char *v, struct strbuf *err)
{
	if (*v == '/')
		return 0;
	strbuf_addstr(err, "wants an absolute path");
	return -1;
}

static int check_issuer(const char *v, struct strbuf *err)
{
	if (*v)
		return 0;
	strbuf_addstr(err, "must not be empty");
	return -1;
}

const struct cfg_key cfg_keys[] = {
	{ .name = "core.holder", .type = CFG_STRING,
	  .help = "lease holder name (default: the host name)" },
	{ .name = "core.run_dir", .type = CFG_PATH, .def_fn = default_run_dir,
	  .check = check_absolute, .help = "per-boot state: VM records, sockets" },
	{ .name = "core.state_dir", .type = CFG_PATH, .def_fn = default_state_dir,
	  .check = check_absolute, .help = "durable state" },
	{ .name = "keys.activate_after", .type = CFG_SECONDS, .def = "300", .min = 0, .max = 86400,
	  .help = "delay before a rotated key signs; the JWKS max-age" },
	{ .name = "keys.dir", .type = CFG_PATH, .def_fn = default_keys_dir,
	  .help = "signing keys" },
	{ .name = "log.format", .type = CFG_ENUM, .def = "text", .choices = "text|json",
	  .help = "log format of daemons" },
	{ .name = "redis.timeout", .type = CFG_SECONDS, .def = "5", .min = 1, .max = 300,
	  .help = "Redis connect and command timeout" },
	{ .name = "redis.url", .type = CFG_URL, .check = check_redis_url,
	  .help = "Redis for nonces, rate limits, the queue and breaker state" },
	{ .name = "registry.dir", .type = CFG_PATH, .def_fn = default_registry_dir,
	  .check = check_absolute, .help = "blobs and uploads of the OCI registry" },
	{ .name = "registry.max_blob", .type = CFG_SIZE, .def = "10G",
	  .help = "largest blob an upload may make" },
	{ .name = "registry.max_manifest", .type = CFG_SIZE, .def = "4M",
	  .help = "largest manifest" },
	{ .name = "registry.quota", .type = CFG_SIZE, .def = "10G",
	  .help = "storage of an org without a quota of its own" },
	{ .name = "registry.realm", .type = CFG_STRING, .check = check_realm,
	  .help = "URL of the token endpoint in challenges (default: http://HOST/token)" },
	{ .name = "registry.token_ttl", .type = CFG_SECONDS, .def = "300", .min = 60, .max = 86400,
	  .help = "lifetime of the tokens /token hands out" },
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
	{ .name = "store.url", .type = CFG_URL, .def_fn = default_store_url,
	  .check = check_store_url, .help = "the metadata store" },
	{ .name = "token.issuer", .type = CFG_STRING, .def = "nimbus", .check = check_issuer,
	  .help = "the iss claim of minted tokens, required of verified ones" },
	{ .name = "token.max_ttl", .type = CFG_SECONDS, .def = "3600", .min = 1, .max = 31 * 86400,
	  .help = "longest lifetime of a minted token" },
	{ .name = "token.mint_burst", .type = CFG_INT, .def = "20", .min = 1, .max = 1000000,
	  .help = "tokens an org may mint at once above token.mint_rate" },
	{ .name = "token.mint_rate", .type = CFG_RATE, .def = "10/s",
	  .help = "tokens an org may mint, sustained" },
};

const size_t cfg_keys_nr = ARRAY_SIZE(cfg_keys);
