#include "common.h"
#include "boot.h"
#include "cgroup.h"
#include "clickhouse.h"
#include "config.h"
#include "cpulist.h"
#include "github.h"
#include "job.h"
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

static void default_cache_dir(struct strbuf *out)
{
	strbuf_addf(out, "%s/cache", cfg_str("core.state_dir"));
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

static int check_http_url(const char *v, struct strbuf *err)
{
	if (!*v || starts_with(v, "http://") || starts_with(v, "https://"))
		return 0;
	strbuf_addstr(err, "wants http://... or https://...");
	return -1;
}

static int check_issuer(const char *v, struct strbuf *err)
{
	if (*v)
		return 0;
	strbuf_addstr(err, "must not be empty");
	return -1;
}

static int check_github_url(const char *v, struct strbuf *err)
{
	return github_api_url_check(v, NULL, err);
}

/* A GitHub App id, or its client id (Iv1.0123abcd...). */
static int check_app_id(const char *v, struct strbuf *err)
{
	size_t n = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.");

	if (!v[n] && n <= 64)
		return 0;
	strbuf_addstr(err, "wants the App's id or client id");
	return -1;
}

/* Comma-separated items, each of which ok() accepts. */
static int check_list(const char *v, bool (*ok)(const char *), const char *what,
		      struct strbuf *err)
{
	struct strvec items = STRVEC_INIT;
	int rc = 0;

	strvec_split(&items, v, ',');
	for (size_t i = 0; i < items.nr && !rc; i++) {
		if (!ok(items.v[i])) {
			strbuf_addf(err, "'%s' is not %s", items.v[i], what);
			rc = -1;
		}
	}
	strvec_clear(&items);
	return rc;
}

static bool is_org(const char *s)
{
	return !strchr(s, '/') && github_scope_valid(s);
}

static bool is_repo(const char *s)
{
	return strchr(s, '/') && github_scope_valid(s);
}

static bool is_label(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > 256)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int check_orgs(const char *v, struct strbuf *err)
{
	return check_list(v, is_org, "an organization", err);
}

static int check_repos(const char *v, struct strbuf *err)
{
	return check_list(v, is_repo, "OWNER/NAME", err);
}

static int check_labels(const char *v, struct strbuf *err)
{
	if (!v[strspn(v, ",")]) {
		strbuf_addstr(err, "wants at least one label");
		return -1;
	}
	return check_list(v, is_label, "a label", err);
}

static int check_cpu_list(const char *v, struct strbuf *err)
{
	struct cpuset set;

	if (!cpulist_parse(v, &set))
		return 0;
	strbuf_addstr(err, "wants a CPU list such as 2-7,10");
	return -1;
}

static int check_uid_range(const char *v, struct strbuf *err)
{
	int64_t lo, hi;

	if (!uid_range_parse(v, &lo, &hi))
		return 0;
	strbuf_addstr(err, "wants FIRST-LAST, two ids above 0");
	return -1;
}

static int check_cgroup_parent(const char *v, struct strbuf *err)
{
	if (cgroup_parent_valid(v))
		return 0;
	strbuf_addstr(err, "wants a relative path of [A-Za-z0-9._-] names");
	return -1;
}

/* A link name as Linux takes it: 1 to 15 bytes, no '/', blank or ':'. */
static int check_link_name(const char *v, struct strbuf *err)
{
	if (!*v || (strlen(v) < 16 && !strpbrk(v, "/: \t\n") && strcmp(v, ".") && strcmp(v, "..")))
		return 0;
	strbuf_addstr(err, "wants a link name of at most 15 characters");
	return -1;
}

/* Job labels (job.h), at least one: an empty list would take every job. */
static int check_job_labels(const char *v, struct strbuf *err)
{
	struct strvec labels = STRVEC_INIT;
	bool parsed = !job_labels_parse(v, &labels), some = labels.nr > 0;

	if (!parsed)
		strbuf_addstr(err, fail_message());
	else if (!some)
		strbuf_addstr(err, "wants at least one label");
	strvec_clear(&labels);
	return parsed && some ? 0 : -1;
}

static void default_logs_sink(struct strbuf *out)
{
	strbuf_addstr(out, *cfg_str("logs.clickhouse_url") ? "clickhouse" : "store");
}

static void default_spool_dir(struct strbuf *out)
{
	strbuf_addf(out, "%s/logs-spool", cfg_str("core.state_dir"));
}

static void default_logs_url(struct strbuf *out)
{
	strbuf_addf(out, "http://%s", cfg_str("serve.listen"));
}

static int check_clickhouse_database(const char *v, struct strbuf *err)
{
	if (clickhouse_ident_valid(v) && !strchr(v, '-'))
		return 0;
	strbuf_addstr(err, "wants 1 to 64 of A-Z, a-z, 0-9 and _");
	return -1;
}

/* Sizes below 4K make no sense for a spool and its segments. */
static int check_4k(const char *v, struct strbuf *err)
{
	uint64_t n;

	if (!parse_size(v, &n) && n >= 4096)
		return 0;
	strbuf_addstr(err, "wants 4K or more");
	return -1;
}

/* A user name as useradd(8) takes it; it is looked up when a service starts. */
static int check_user(const char *v, struct strbuf *err)
{
	size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");

	if (*v && *v != '-' && !v[n] && n <= 32)
		return 0;
	strbuf_addstr(err, "wants a user name");
	return -1;
}

static int check_absolute_or_empty(const char *v, struct strbuf *err)
{
	return *v ? check_absolute(v, err) : 0;
}

const struct cfg_key cfg_keys[] = {
	{ .name = "cache.backend", .type = CFG_ENUM, .def = "auto", .choices = "auto|local|s3",
	  .help = "where cache objects live (auto: s3 when cache.s3_endpoint is set)" },
	{ .name = "cache.dir", .type = CFG_PATH, .def_fn = default_cache_dir, .check = check_absolute,
	  .help = "cache objects (local backend) and uploads in flight" },
	{ .name = "cache.max_bytes_per_org", .type = CFG_SIZE, .def = "10G",
	  .help = "bytes an org may keep in the cache (0: no limit)" },
	{ .name = "cache.max_object_size", .type = CFG_SIZE, .def = "4G",
	  .help = "largest cache upload" },
	{ .name = "cache.s3_bucket", .type = CFG_STRING,
	  .help = "S3 bucket of the cache" },
	{ .name = "cache.s3_credentials_file", .type = CFG_PATH,
	  .help = "aws_access_key_id and aws_secret_access_key for S3 (mode 0600)" },
	{ .name = "cache.s3_endpoint", .type = CFG_URL, .check = check_http_url,
	  .help = "S3 endpoint, e.g. https://s3.eu-west-1.amazonaws.com" },
	{ .name = "cache.s3_region", .type = CFG_STRING, .def = "us-east-1",
	  .help = "S3 region, for the request signatures" },
	{ .name = "core.holder", .type = CFG_STRING,
	  .help = "lease holder name (default: the host name)" },
	{ .name = "core.run_dir", .type = CFG_PATH, .def_fn = default_run_dir,
	  .check = check_absolute, .help = "per-boot state: VM records, sockets" },
	{ .name = "core.state_dir", .type = CFG_PATH, .def_fn = default_state_dir,
	  .check = check_absolute, .help = "durable state" },
	{ .name = "firecracker.binary", .type = CFG_PATH, .def = "/usr/bin/firecracker",
	  .check = check_absolute, .help = "the Firecracker binary the jailer copies into each jail" },
	{ .name = "firecracker.boot_args", .type = CFG_STRING,
	  .help = "kernel arguments appended to the defaults" },
	{ .name = "firecracker.bridge", .type = CFG_STRING, .check = check_link_name,
	  .help = "host bridge for the host end of each VM's veth pair (empty: none)" },
	{ .name = "firecracker.chroot_base", .type = CFG_PATH, .def = "/srv/jailer",
	  .check = check_absolute, .help = "where the jailer builds the jails" },
	{ .name = "firecracker.console", .type = CFG_BOOL, .def = "false",
	  .help = "give VMs a serial console (slower boots)" },
	{ .name = "firecracker.cpu_pool", .type = CFG_STRING, .check = check_cpu_list,
	  .help = "CPUs given to VMs (empty: the isolated CPUs, else every online CPU)" },
	{ .name = "firecracker.cpu_quota", .type = CFG_INT, .def = "0", .min = 0, .max = 100000,
	  .help = "CPU quota of a VM in percent of one CPU (0: 100 per CPU of the VM)" },
	{ .name = "firecracker.huge_pages", .type = CFG_BOOL, .def = "false",
	  .help = "back guest memory with 2 MiB huge pages" },
	{ .name = "firecracker.io_engine", .type = CFG_ENUM, .def = "Sync", .choices = "Sync|Async",
	  .help = "block device I/O engine" },
	{ .name = "firecracker.jailer", .type = CFG_PATH, .def = "/usr/bin/jailer",
	  .check = check_absolute, .help = "the jailer binary" },
	{ .name = "firecracker.kernel", .type = CFG_PATH,
	  .help = "default guest kernel (uncompressed vmlinux)" },
	{ .name = "firecracker.kvm_device", .type = CFG_PATH, .def = "/dev/kvm",
	  .check = check_absolute, .help = "the KVM device boot checks for" },
	{ .name = "firecracker.log_max", .type = CFG_SIZE, .def = "16M",
	  .help = "room for a VM's logs and metrics beyond its memory size (RLIMIT_FSIZE)" },
	{ .name = "firecracker.mem_mib", .type = CFG_INT, .def = "1024", .min = 32, .max = 1048576,
	  .help = "default guest memory in MiB" },
	{ .name = "firecracker.mem_overhead", .type = CFG_SIZE, .def = "64M",
	  .help = "memory limit of a VM beyond its guest memory" },
	{ .name = "firecracker.netns_dir", .type = CFG_PATH, .def = "/run/netns",
	  .check = check_absolute, .help = "where network namespaces are mounted" },
	{ .name = "firecracker.network", .type = CFG_ENUM, .def = "veth", .choices = "veth|none",
	  .help = "veth: a tap bridged to a veth pair; none: an isolated tap" },
	{ .name = "firecracker.parent_cgroup", .type = CFG_STRING, .def = "firecracker",
	  .check = check_cgroup_parent, .help = "the cgroup under which VMs' cgroups are made" },
	{ .name = "firecracker.pids_max", .type = CFG_INT, .def = "128", .min = 16, .max = 65536,
	  .help = "tasks a VM's Firecracker may have" },
	{ .name = "firecracker.rootfs", .type = CFG_PATH,
	  .help = "default root filesystem image" },
	{ .name = "firecracker.seccomp_filter", .type = CFG_PATH,
	  .help = "a custom seccomp filter for Firecracker (empty: its built-in filters)" },
	{ .name = "firecracker.start_timeout", .type = CFG_SECONDS, .def = "10", .min = 1, .max = 600,
	  .help = "how long boot waits for the jailer, the socket, the start and the vCPUs" },
	{ .name = "firecracker.stop_timeout", .type = CFG_SECONDS, .def = "10", .min = 0, .max = 3600,
	  .help = "how long vm stop waits for a guest to shut down before killing it" },
	{ .name = "firecracker.sysfs", .type = CFG_PATH, .def = "/sys", .check = check_absolute,
	  .help = "where the CPU and NUMA topology is read (tests)" },
	{ .name = "firecracker.uid_range", .type = CFG_STRING, .def = "3000000-3065535",
	  .check = check_uid_range, .help = "uids (and gids) given to VMs, one each" },
	{ .name = "firecracker.vcpus", .type = CFG_INT, .def = "2", .min = 1, .max = 32,
	  .help = "default vCPUs of a VM" },
	{ .name = "github.api_url", .type = CFG_URL, .def = "https://api.github.com",
	  .check = check_github_url, .help = "the GitHub API (GitHub Enterprise Server: .../api/v3)" },
	{ .name = "github.app_id", .type = CFG_STRING, .check = check_app_id,
	  .help = "the GitHub App's id or client id, the iss of its JWTs" },
	{ .name = "github.breaker_failures", .type = CFG_INT, .def = "5", .min = 1, .max = 1000,
	  .help = "consecutive failures that open the circuit breaker" },
	{ .name = "github.breaker_timeout", .type = CFG_SECONDS, .def = "60", .min = 1, .max = 3600,
	  .help = "how long the breaker stays open before a probe" },
	{ .name = "github.installation_id", .type = CFG_INT, .def = "0", .min = 0, .max = INT64_MAX,
	  .help = "the App's installation (0: look it up for each org or repository)" },
	{ .name = "github.max_attempts", .type = CFG_INT, .def = "6", .min = 1, .max = 100,
	  .help = "tries of one request" },
	{ .name = "github.max_wait", .type = CFG_SECONDS, .def = "120", .min = 1, .max = 86400,
	  .help = "longest wait before a retry; a rate limit asking for more gives up" },
	{ .name = "github.orgs", .type = CFG_STRING, .check = check_orgs,
	  .help = "organizations whose runners nimbus manages, comma-separated" },
	{ .name = "github.private_key_file", .type = CFG_PATH,
	  .help = "the GitHub App's private key (PEM, mode 0600)" },
	{ .name = "github.repos", .type = CFG_STRING, .check = check_repos,
	  .help = "repositories whose runners nimbus manages, OWNER/NAME, comma-separated" },
	{ .name = "github.runner_group", .type = CFG_INT, .def = "1", .min = 1, .max = INT64_MAX,
	  .help = "runner group of JIT runners (1: Default)" },
	{ .name = "github.runner_labels", .type = CFG_STRING, .def = "self-hosted,linux,x64",
	  .check = check_labels, .help = "labels of JIT runners, comma-separated" },
	{ .name = "github.timeout", .type = CFG_SECONDS, .def = "30", .min = 1, .max = 600,
	  .help = "timeout of one request" },
	{ .name = "keys.activate_after", .type = CFG_SECONDS, .def = "300", .min = 0, .max = 86400,
	  .help = "delay before a rotated key signs; the JWKS max-age" },
	{ .name = "keys.dir", .type = CFG_PATH, .def_fn = default_keys_dir,
	  .help = "signing keys" },
	{ .name = "lease.ttl", .type = CFG_SECONDS, .def = "60", .min = 1, .max = 31536000,
	  .help = "default lease TTL of lease and job commands" },
	{ .name = "log.format", .type = CFG_ENUM, .def = "text", .choices = "text|json",
	  .help = "log format of daemons" },
	{ .name = "logs.batch_bytes", .type = CFG_SIZE, .def = "4M", .check = check_4k,
	  .help = "lines stored in one batch at most" },
	{ .name = "logs.clickhouse_credentials_file", .type = CFG_PATH, .check = check_absolute_or_empty,
	  .help = "USER:PASSWORD for ClickHouse, mode 0600" },
	{ .name = "logs.clickhouse_database", .type = CFG_STRING, .def = "nimbus",
	  .check = check_clickhouse_database, .help = "ClickHouse database of the logs table" },
	{ .name = "logs.clickhouse_url", .type = CFG_URL, .check = check_http_url,
	  .help = "ClickHouse's HTTP interface" },
	{ .name = "logs.flush_interval", .type = CFG_SECONDS, .def = "1", .min = 1, .max = 3600,
	  .help = "longest wait before received lines are stored" },
	{ .name = "logs.max_body", .type = CFG_SIZE, .def = "4M",
	  .help = "largest POST /logs body" },
	{ .name = "logs.retention_days", .type = CFG_INT, .def = "90", .min = 1, .max = 36500,
	  .help = "days a line is kept" },
	{ .name = "logs.sink", .type = CFG_ENUM, .def_fn = default_logs_sink, .choices = "store|clickhouse",
	  .help = "where lines are kept (default: clickhouse when logs.clickhouse_url is set)" },
	{ .name = "logs.spool_dir", .type = CFG_PATH, .def_fn = default_spool_dir, .check = check_absolute,
	  .help = "durable queue of received lines" },
	{ .name = "logs.spool_max", .type = CFG_SIZE, .def = "1G", .check = check_4k,
	  .help = "spool size at which POST /logs answers 503" },
	{ .name = "logs.url", .type = CFG_URL, .def_fn = default_logs_url, .check = check_http_url,
	  .help = "the log service, for nimbus logs query and ingest" },
	{ .name = "ratelimit.webhook", .type = CFG_RATE, .def = "50/s",
	  .help = "webhook deliveries an org may send, sustained" },
	{ .name = "ratelimit.webhook_burst", .type = CFG_INT, .def = "100", .min = 1, .max = 1000000000,
	  .help = "webhook deliveries an org may send at once above ratelimit.webhook" },
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
	{ .name = "serve.user", .type = CFG_STRING, .def = "nimbus", .check = check_user,
	  .help = "the user a service started as root runs as (root: stay root, without capabilities)" },
	{ .name = "store.busy_timeout", .type = CFG_SECONDS, .def = "5", .min = 0, .max = 3600,
	  .help = "how long SQLite waits for a lock" },
	{ .name = "store.connect_timeout", .type = CFG_SECONDS, .def = "5", .min = 1, .max = 300,
	  .help = "PostgreSQL connect timeout" },
	{ .name = "store.statement_timeout", .type = CFG_SECONDS, .def = "10", .min = 1, .max = 3600,
	  .help = "how long a PostgreSQL statement may take" },
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
	{ .name = "webhook.labels", .type = CFG_STRING, .def = "nimbus", .check = check_job_labels,
	  .help = "labels a workflow_job must all have to be queued, comma-separated" },
	{ .name = "webhook.max_body", .type = CFG_SIZE, .def = "25M",
	  .help = "largest webhook delivery" },
	{ .name = "webhook.secret_file", .type = CFG_PATH,
	  .help = "webhook secrets, one per line: GitHub's, and whsec_ ones (mode 0600)" },
	{ .name = "webhook.window", .type = CFG_SECONDS, .def = "600", .min = 1, .max = 86400,
	  .help = "how far an event's time may be from now; replays are remembered twice as long" },
};

const size_t cfg_keys_nr = ARRAY_SIZE(cfg_keys);
