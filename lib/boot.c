#include "common.h"
#include "boot.h"
#include "cgroup.h"
#include "config.h"
#include "fc-api.h"
#include "fc-config.h"
#include "jail.h"
#include "job.h"
#include "lease.h"
#include "log.h"
#include "netns.h"
#include "output.h"
#include "parse-num.h"
#include "rootfs-attest.h"
#include "sandbox.h"
#include "spawn.h"
#include "teardown.h"
#include "timeutil.h"
#include "topology.h"
#include "vm.h"

#include <dirent.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>

#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define MIB (UINT64_C(1) << 20)
/* What the jailer may say about a failure. */
#define JAILER_STDERR_MAX 4096

struct boot {
	const struct boot_opts *o;
	struct store *st;

	/* settings */
	const char *jailer, *binary, *chroot_base, *netns_dir, *parent, *network, *bridge, *seccomp;
	const char *kernel, *rootfs;
	int64_t vcpus, mem_mib, quota, pids, start_timeout;
	uint64_t overhead, log_max;
	int64_t uid_lo, uid_hi;
	struct cpuset pool;
	struct topology topo;
	struct cgroup_layout cg;

	/* the plan */
	char id[VM_ID_LEN + 1];
	int64_t uid;
	struct cpuset cpus, mems;
	int node;
	char host_link[VM_ID_LEN + 1], peer[VM_ID_LEN + 1], bridge_in[VM_ID_LEN + 1];
	struct strbuf jail, root, netns, socket;
	struct strvec values, cgroups, argv;
	json_t *config;
	char address[VERITY_HEX_SIZE];
	json_t *doc;			/* the record */

	/* what was done, for a rollback */
	bool recorded, netns_made, jail_made, jailer_ran;
	struct strvec links;
	pid_t pid;
	int pidfd;
	struct fc_api api;

	/* microseconds per step, and of waiting for the jailer and Firecracker */
	json_t *timings;
	double started, waited;
	int64_t deadline;		/* mono_ms() time when starting gives up */
};

int uid_range_parse(const char *s, int64_t *lo, int64_t *hi)
{
	const char *dash = strchr(s, '-');
	char *first;
	int rc;

	if (!dash)
		return -1;
	first = xstrndup(s, dash - s);
	rc = parse_i64(first, 1, UINT32_MAX - 1, lo) || parse_i64(dash + 1, 1, UINT32_MAX - 1, hi) ||
	     *hi < *lo ? -1 : 0;
	free(first);
	return rc;
}

static bool dry(const struct boot *b)
{
	return b->o->dry_run;
}

/*
 * Tests make a step fail once it is done, so that its work must be
 * undone, or make nimbus die there as a crash would:
 * NIMBUS_TEST_BOOT_FAIL=STEP or STEP:kill.
 */
static int test_fail(const char *step)
{
	const char *want = getenv("NIMBUS_TEST_BOOT_FAIL"), *rest;

	if (!want || !skip_prefix(want, step, &rest))
		return 0;
	if (!strcmp(rest, ":kill"))
		raise(SIGKILL);
	if (*rest)
		return 0;
	return fail(EXIT_FAIL, "injected failure at %s", step);
}

/*
 * A signal that asks nimbus to stop (an operator's ^C, systemd stopping
 * a unit) while a boot is under way: the boot stops after its step and
 * undoes what it did, as on any failure.
 */
static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static void catch_stop_signals(struct sigaction *old)
{
	/* restarted: the libraries' reads, writes and waits go on; poll() and sleeps return */
	struct sigaction sa = { .sa_handler = on_stop_signal, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	stop_signal = 0;
	for (size_t i = 0; i < ARRAY_SIZE(stop_signals); i++)
		sigaction(stop_signals[i], &sa, &old[i]);
}

static void restore_stop_signals(const struct sigaction *old)
{
	for (size_t i = 0; i < ARRAY_SIZE(stop_signals); i++)
		sigaction(stop_signals[i], &old[i], NULL);
}

/* Run a step and time it, unless nimbus was asked to stop. */
static int step(struct boot *b, const char *name, int (*fn)(struct boot *))
{
	double t = mono_seconds();
	int rc;

	if (stop_signal)
		return fail(EXIT_FAIL, "interrupted by SIG%s before %s", sigabbrev_np(stop_signal), name);
	rc = fn(b);
	if (!rc)
		rc = test_fail(name);
	json_object_set_new(b->timings, name,
			    json_integer((json_int_t)((mono_seconds() - t) * 1e6) +
					 json_integer_value(json_object_get(b->timings, name))));
	return rc;
}

/* Time spent waiting for the jailer or Firecracker, not working. */
static void waited(struct boot *b, double since)
{
	b->waited += mono_seconds() - since;
}

static int read_snapshot_meta(struct boot *b)
{
	struct strbuf path = STRBUF_INIT, sb = STRBUF_INIT;
	json_t *meta = NULL;
	int rc = 0;

	strbuf_addf(&path, "%s/%s", b->o->snapshot, SNAPSHOT_META);
	if (strbuf_read_file(&sb, path.buf, 1 << 16) < 0)
		rc = fail_errno(errno == ENOENT ? EXIT_NOTFOUND : EXIT_FAIL, "cannot read %s", path.buf);
	else if (!(meta = json_loadb(sb.buf, sb.len, 0, NULL)) ||
		 !json_is_integer(json_object_get(meta, "vcpus")) ||
		 !json_is_integer(json_object_get(meta, "mem_mib")))
		rc = fail(EXIT_FAIL, "%s is not a snapshot's description", path.buf);
	else {
		/* the machine is the snapshot's */
		b->vcpus = json_integer_value(json_object_get(meta, "vcpus"));
		b->mem_mib = json_integer_value(json_object_get(meta, "mem_mib"));
		if (b->vcpus < 1 || b->vcpus > FC_MAX_VCPUS || b->mem_mib < 1)
			rc = fail(EXIT_FAIL, "%s describes an impossible machine", path.buf);
	}
	for (const char *const *f = (const char *const[]){ SNAPSHOT_STATE, SNAPSHOT_MEMORY, NULL };
	     !rc && *f; f++) {
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", b->o->snapshot, *f);
		rc = jail_file_check(path.buf);
	}
	json_decref(meta);
	strbuf_release(&path);
	strbuf_release(&sb);
	return rc;
}

static int files_check(struct boot *b)
{
	int rc = jail_file_check(b->kernel);

	if (!rc)
		rc = jail_file_check(b->rootfs);
	for (size_t i = 0; !rc && i < b->o->nr_overlays; i++)
		rc = jail_file_check(b->o->overlays[i]);
	if (!rc && *b->seccomp)
		rc = jail_file_check(b->seccomp);
	if (!rc && b->o->snapshot)
		rc = read_snapshot_meta(b);
	return rc;
}

static int executable(const char *key)
{
	const char *path = cfg_str(key);

	if (!*path || access(path, X_OK))
		return fail(EXIT_CONFIG, "%s: '%s' is not an executable file", key, path);
	return 0;
}

/* Everything that can be known and refused before the host is touched. */
static int prepare(struct boot *b)
{
	const struct boot_opts *o = b->o;
	const char *pool = cfg_str("firecracker.cpu_pool");
	int rc;

	b->jailer = cfg_str("firecracker.jailer");
	b->binary = cfg_str("firecracker.binary");
	b->chroot_base = cfg_str("firecracker.chroot_base");
	b->netns_dir = cfg_str("firecracker.netns_dir");
	b->parent = cfg_str("firecracker.parent_cgroup");
	b->network = cfg_str("firecracker.network");
	b->bridge = cfg_str("firecracker.bridge");
	b->seccomp = cfg_str("firecracker.seccomp_filter");
	b->kernel = o->kernel ? o->kernel : cfg_str("firecracker.kernel");
	b->rootfs = o->rootfs ? o->rootfs : cfg_str("firecracker.rootfs");
	b->vcpus = o->vcpus ? o->vcpus : cfg_int("firecracker.vcpus");
	b->mem_mib = o->mem_mib ? o->mem_mib : cfg_int("firecracker.mem_mib");
	b->quota = o->cpu_quota ? o->cpu_quota : cfg_int("firecracker.cpu_quota");
	b->pids = cfg_int("firecracker.pids_max");
	b->start_timeout = cfg_int("firecracker.start_timeout");
	b->overhead = cfg_size("firecracker.mem_overhead");
	b->log_max = cfg_size("firecracker.log_max");
	if (uid_range_parse(cfg_str("firecracker.uid_range"), &b->uid_lo, &b->uid_hi))
		BUG("firecracker.uid_range passed its check");
	if (!*b->kernel)
		return fail(EXIT_USAGE, "no kernel: give --kernel or set firecracker.kernel");
	if (!*b->rootfs)
		return fail(EXIT_USAGE, "no rootfs: give --rootfs or set firecracker.rootfs");
	rc = files_check(b);
	if (!rc && !dry(b))
		rc = executable("firecracker.jailer");
	if (!rc && !dry(b))
		rc = executable("firecracker.binary");
	if (!rc && *b->bridge && !if_nametoindex(b->bridge))
		rc = fail(EXIT_CONFIG, "firecracker.bridge: there is no link %s", b->bridge);
	if (!rc)
		rc = topology_read(cfg_str("firecracker.sysfs"), &b->topo);
	if (!rc) {
		if (!*pool)
			b->pool = cpuset_empty(&b->topo.isolated) ? b->topo.online : b->topo.isolated;
		else if (cpulist_parse(pool, &b->pool))
			BUG("firecracker.cpu_pool passed its check");
		rc = cgroup_layout_read(&b->cg);
	}
	if (!rc)
		rc = cgroup_layout_check(&b->cg);
	return rc;
}

int boot_host_check(void)
{
	int api;

	if (geteuid())
		return fail(EXIT_PERM, "booting a VM needs root (jails, namespaces, cgroups)");
	return kvm_check(cfg_str("firecracker.kvm_device"), &api);
}

static int check_fence(struct boot *b)
{
	return lease_check(b->st, b->o->job, b->o->fence);
}

static int attest(struct boot *b)
{
	struct rootfs_opts opts = { .type = ROOTFS_AUTO, .cached = true };

	return rootfs_attest(b->st, b->o->job, b->o->fence, b->rootfs, b->o->overlays,
			     b->o->nr_overlays, &opts, b->address);
}

static bool name_free(const struct boot *b, const char *id, const struct vm_record *v, size_t nr)
{
	struct strbuf path = STRBUF_INIT;
	bool ok = true;

	for (size_t i = 0; i < nr && ok; i++)
		ok = strcmp(v[i].id, id);
	/* leftovers of a crash carry the id too, until the reaper has been */
	jail_path(&path, b->chroot_base, b->binary, id);
	ok = ok && access(path.buf, F_OK);
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/%s", b->netns_dir, id);
	ok = ok && access(path.buf, F_OK);
	strbuf_release(&path);
	return ok;
}

/* --cpus, as given: shared with other VMs if the operator says so. */
static int given_cpus(struct boot *b)
{
	if (cpulist_parse(b->o->cpus, &b->cpus) || cpuset_empty(&b->cpus))
		return fail(EXIT_USAGE, "--cpus: '%s' is not a CPU list", b->o->cpus);
	if (!cpuset_subset(&b->cpus, &b->topo.online))
		return fail(EXIT_USAGE, "--cpus: %s are not all online CPUs", b->o->cpus);
	if (cpuset_count(&b->cpus) < b->vcpus)
		return fail(EXIT_USAGE, "--cpus: %s has fewer CPUs than the %" PRId64 " vCPUs",
			    b->o->cpus, b->vcpus);
	topology_nodes_of(&b->topo, &b->cpus, &b->mems);
	b->node = cpuset_count(&b->mems) == 1 ? cpuset_next(&b->mems, 0) : -1;
	return 0;
}

/* CPUs of the pool that no VM has, on one node. */
static int pool_cpus(struct boot *b, const struct vm_record *v, size_t nr)
{
	struct cpuset used, pool = b->pool;
	int rc;

	cpuset_zero(&used);
	for (size_t i = 0; i < nr; i++)
		cpuset_or(&used, &v[i].cpus);
	cpuset_and(&pool, &b->topo.online);
	rc = topology_allocate(&b->topo, &pool, &used, b->vcpus, b->o->numa_node, &b->cpus, &b->node);
	if (!rc) {
		cpuset_zero(&b->mems);
		cpuset_add(&b->mems, b->node);
	}
	return rc;
}

static int choose(struct boot *b, const struct vm_record *v, size_t nr)
{
	int tries = 0;

	do {
		vm_id_new(b->id);
	} while (!name_free(b, b->id, v, nr) && ++tries < 100);
	if (tries == 100)
		return fail(EXIT_FAIL, "cannot find a free VM id");
	for (b->uid = b->uid_lo; b->uid <= b->uid_hi; b->uid++) {
		size_t i = 0;

		while (i < nr && v[i].uid != b->uid)
			i++;
		if (i == nr)
			break;
	}
	if (b->uid > b->uid_hi)
		return fail(EXIT_BUSY, "every uid of firecracker.uid_range is taken by a VM");
	return b->o->cpus ? given_cpus(b) : pool_cpus(b, v, nr);
}

static void arg(struct strvec *argv, const char *name, const char *fmt, ...) PRINTF(3, 4);
static void arg(struct strvec *argv, const char *name, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	strvec_push(argv, name);
	strvec_push(argv, sb.buf);
	strbuf_release(&sb);
}

static json_t *strings_json(const struct strvec *sv)
{
	json_t *a = json_array();

	for (size_t i = 0; i < sv->nr; i++)
		json_array_append_new(a, xjson_string(sv->v[i]));
	return a;
}

/* Write the record (create: a new one, which fails when the id is taken). */
static int save_record(struct boot *b, bool create)
{
	struct vm_record rec;
	int rc = vm_record_from_json(&rec, json_incref(b->doc));

	if (!rc) {
		rc = create ? vm_record_create(&rec) : vm_record_save(&rec);
		vm_record_release(&rec);
	}
	return rc;
}

/* The VM's names and paths, its configuration and its record. */
static void name(struct boot *b)
{
	struct fc_config fc = {
		.kernel = "/" JAIL_KERNEL, .rootfs = "/" JAIL_ROOTFS, .vcpus = b->vcpus,
		.mem_mib = b->mem_mib, .tap = b->id, .boot_args = cfg_str("firecracker.boot_args"),
		.huge_pages = cfg_bool("firecracker.huge_pages"),
		.console = cfg_bool("firecracker.console"),
		.io_engine = cfg_str("firecracker.io_engine"),
		.log_path = "/" JAIL_LOG, .metrics_path = "/" JAIL_METRICS,
	};
	struct strvec overlays = STRVEC_INIT;
	char mac[FC_MAC_SIZE];

	vm_link_name(b->host_link, b->id, 'h');
	vm_link_name(b->peer, b->id, 'n');
	vm_link_name(b->bridge_in, b->id, 'b');
	jail_path(&b->jail, b->chroot_base, b->binary, b->id);
	strbuf_addf(&b->root, "%s/root", b->jail.buf);
	strbuf_addf(&b->netns, "%s/%s", b->netns_dir, b->id);
	strbuf_addf(&b->socket, "%s/%s", b->root.buf, JAIL_SOCKET);

	for (size_t i = 0; i < b->o->nr_overlays; i++)
		strvec_pushf(&overlays, "/" JAIL_OVERLAY, i + 1);
	fc.overlays = overlays.v;
	fc.nr_overlays = overlays.nr;
	fc_mac_of(mac, b->id);
	fc.mac = mac;
	b->config = fc_config_json(&fc);
	strvec_clear(&overlays);

	b->doc = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:i, s:o, s:I, s:I, s:s, s:s, s:s,"
			   " s:o, s:s, s:s, s:s, s:s, s:o, s:o, s:O}",
			   "id", b->id, "state", "booting", "job", b->o->job,
			   "fence", (json_int_t)b->o->fence, "uid", (json_int_t)b->uid,
			   "gid", (json_int_t)b->uid, "cpus", cpulist_json(&b->cpus), "node", b->node,
			   "mems", cpulist_json(&b->mems), "vcpus", (json_int_t)b->vcpus,
			   "mem_mib", (json_int_t)b->mem_mib, "network", b->network,
			   "netns", b->netns.buf, "tap", b->id, "links", json_array(),
			   "jail", b->jail.buf, "socket", b->socket.buf, "kernel", b->kernel,
			   "rootfs", b->rootfs, "overlays", json_array(), "snapshot",
			   b->o->snapshot ? xjson_string(b->o->snapshot) : json_null(),
			   "timings_us", b->timings);
	if (!b->doc)
		die("out of memory building a VM record");
	if (!strcmp(b->network, "veth"))
		json_array_append_new(json_object_get(b->doc, "links"), xjson_string(b->host_link));
	for (size_t i = 0; i < b->o->nr_overlays; i++)
		json_array_append_new(json_object_get(b->doc, "overlays"),
				      xjson_string(b->o->overlays[i]));
	json_object_set_new(b->doc, "created", xjson_time_ms(now_ms()));
}

/* The jailer's command line, in its documented forms: "--name value", one --cgroup per value. */
static void jailer_argv(struct boot *b)
{
	strvec_push(&b->argv, b->jailer);
	arg(&b->argv, "--id", "%s", b->id);
	arg(&b->argv, "--exec-file", "%s", b->binary);
	arg(&b->argv, "--uid", "%" PRId64, b->uid);
	arg(&b->argv, "--gid", "%" PRId64, b->uid);
	arg(&b->argv, "--chroot-base-dir", "%s", b->chroot_base);
	arg(&b->argv, "--netns", "%s", b->netns.buf);
	arg(&b->argv, "--cgroup-version", "%d", b->cg.version);
	arg(&b->argv, "--parent-cgroup", "%s", b->parent);
	for (size_t i = 0; i < b->values.nr; i++)
		arg(&b->argv, "--cgroup", "%s", b->values.v[i]);
	/* logs and metrics stay below this, and a snapshot of the memory fits */
	arg(&b->argv, "--resource-limit", "fsize=%" PRIu64, b->mem_mib * MIB + b->log_max);
	strvec_push(&b->argv, "--daemonize");
	strvec_push(&b->argv, "--new-pid-ns");
	strvec_push(&b->argv, "--");
	arg(&b->argv, "--api-sock", "/%s", JAIL_SOCKET);
	if (!b->o->snapshot)
		arg(&b->argv, "--config-file", "/%s", JAIL_CONFIG);
	if (*b->seccomp)
		arg(&b->argv, "--seccomp-filter", "/%s", JAIL_SECCOMP);
}

/*
 * The VM's cgroups: the values the jailer writes, the directories it
 * makes them in, known to the record before it runs.
 */
static int place_cgroups(struct boot *b)
{
	struct cgroup_limits lim = {
		.cpus = b->cpus, .mems = b->mems, .pids = b->pids,
		.quota_pct = b->quota ? b->quota : 100 * cpuset_count(&b->cpus),
		.memory = b->mem_mib * MIB + b->overhead,
	};
	cgroup_values(b->cg.version, &lim, &b->values);
	cgroup_dirs(&b->cg, b->parent, b->id, &b->cgroups);
	jailer_argv(b);
	json_object_set_new(b->doc, "cgroup_version", json_integer(b->cg.version));
	json_object_set_new(b->doc, "cgroups", strings_json(&b->cgroups));
	json_object_set_new(b->doc, "cgroup_values", strings_json(&b->values));
	return dry(b) ? 0 : save_record(b, false);
}

static int allocate(struct boot *b)
{
	struct vm_record *v;
	size_t nr;
	int lock = dry(b) ? 0 : vm_lock(), rc;

	if (lock < 0)
		return lock;
	rc = vm_record_list(&v, &nr);
	if (!rc)
		rc = choose(b, v, nr);
	if (!rc)
		name(b);
	if (!rc && !dry(b)) {
		/* from now on, other boots see the id, the uid and the CPUs taken */
		rc = save_record(b, true);
		b->recorded = !rc;
	}
	vm_record_list_free(v, nr);
	if (!dry(b))
		vm_unlock(lock);
	return rc;
}

static int make_links(struct boot *b)
{
	bool veth = !strcmp(b->network, "veth");
	int fd, saved, rc = 0;

	if (veth) {
		fd = open(b->netns.buf, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail_errno(EXIT_FAIL, "cannot open %s", b->netns.buf);
		rc = link_add_veth(b->host_link, b->peer, fd);
		close(fd);
		if (rc)
			return rc;
		strvec_push(&b->links, b->host_link);
	}
	rc = netns_enter(b->netns.buf, &saved);
	if (rc)
		return rc;
	rc = link_add_tap(b->id, b->uid, b->uid);
	/* the tap and the peer, bridged inside the namespace */
	if (!rc && veth)
		rc = link_add_bridge(b->bridge_in);
	if (!rc && veth)
		rc = link_up(b->peer, b->bridge_in);
	if (!rc)
		rc = link_up(b->id, veth ? b->bridge_in : NULL);
	if (!rc && veth)
		rc = link_up(b->bridge_in, NULL);
	netns_leave(saved);
	if (!rc && veth)
		rc = link_up(b->host_link, *b->bridge ? b->bridge : NULL);
	return rc;
}

static int make_network(struct boot *b)
{
	int rc = netns_add(b->netns_dir, b->id);

	if (rc)
		return rc;
	b->netns_made = true;
	return make_links(b);
}

static int make_jail(struct boot *b)
{
	const char *root = b->root.buf;
	char *text;
	int rc = jail_create(b->jail.buf);

	if (rc)
		return rc;
	b->jail_made = true;
	rc = jail_place(root, JAIL_KERNEL, b->kernel);
	if (!rc)
		rc = jail_place(root, JAIL_ROOTFS, b->rootfs);
	for (size_t i = 0; !rc && i < b->o->nr_overlays; i++) {
		char name[32];

		xsnprintf(name, sizeof(name), JAIL_OVERLAY, i + 1);
		rc = jail_place(root, name, b->o->overlays[i]);
	}
	if (!rc && *b->seccomp)
		rc = jail_place(root, JAIL_SECCOMP, b->seccomp);
	if (!rc && b->o->snapshot) {
		struct strbuf src = STRBUF_INIT;

		strbuf_addf(&src, "%s/%s", b->o->snapshot, SNAPSHOT_STATE);
		rc = jail_place(root, JAIL_SNAPSHOT_STATE, src.buf);
		strbuf_reset(&src);
		strbuf_addf(&src, "%s/%s", b->o->snapshot, SNAPSHOT_MEMORY);
		if (!rc)
			rc = jail_place(root, JAIL_SNAPSHOT_MEMORY, src.buf);
		strbuf_release(&src);
	}
	/* Firecracker opens these, and does not create them */
	if (!rc)
		rc = jail_write(root, JAIL_LOG, NULL, 0, 0600, b->uid, b->uid);
	if (!rc)
		rc = jail_write(root, JAIL_METRICS, NULL, 0, 0600, b->uid, b->uid);
	if (!rc) {
		text = json_dumps(b->config, JSON_INDENT(2) | JSON_SORT_KEYS);
		if (!text)
			die("out of memory");
		rc = jail_write(root, JAIL_CONFIG, text, strlen(text), 0640, 0, b->uid);
		free(text);
	}
	return rc;
}

/* Read what the jailer says on stderr until it closes it, at most until the deadline. */
static void read_stderr(int fd, int64_t deadline, struct strbuf *out)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (mono_ms() < deadline && poll(&p, 1, deadline - mono_ms()) > 0) {
		char buf[512];
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		if (out->len < JAILER_STDERR_MAX)
			strbuf_add(out, buf, n);
	}
}

/* The jailer's exit status, waiting at most until deadline; -1 on a timeout. */
static int wait_child(pid_t pid, int64_t deadline)
{
	struct pollfd p = { .fd = pidfd_open(pid, 0), .events = POLLIN };
	int status;

	/* the pidfd of a child is readable once it has exited; without one, wait for it */
	if (p.fd < 0)
		return waitpid(pid, &status, 0) == pid ? status : -1;
	while (poll(&p, 1, deadline > mono_ms() ? deadline - mono_ms() : 0) < 0 && errno == EINTR)
		;
	close(p.fd);
	if (waitpid(pid, &status, WNOHANG) == pid)
		return status;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static int jailer_failed(int status, struct strbuf *err)
{
	char *nl;

	strbuf_trim(err);
	/* its last line says why */
	nl = strrchr(err->buf, '\n');
	if (status < 0)
		return fail(EXIT_UNAVAILABLE, "the jailer did not finish in time");
	if (WIFSIGNALED(status))
		return fail(EXIT_FAIL, "the jailer was killed by signal %d", WTERMSIG(status));
	return fail(EXIT_FAIL, "the jailer exited with status %d%s%s", WEXITSTATUS(status),
		    err->len ? ": " : "", nl ? nl + 1 : err->buf);
}

static int read_pid(struct boot *b)
{
	struct strbuf path = STRBUF_INIT, sb = STRBUF_INIT;
	const char *exec = strrchr(b->binary, '/') ? strrchr(b->binary, '/') + 1 : b->binary;
	int64_t pid;
	int rc = 0;

	strbuf_addf(&path, "%s/%s.pid", b->root.buf, exec);
	if (strbuf_read_file(&sb, path.buf, 64) < 0)
		rc = fail_errno(EXIT_FAIL, "the jailer wrote no %s", path.buf);
	strbuf_trim(&sb);
	if (!rc && parse_i64(sb.buf, 1, INT32_MAX, &pid))
		rc = fail(EXIT_FAIL, "%s holds no pid", path.buf);
	if (!rc) {
		b->pid = pid;
		b->pidfd = pidfd_open(pid, 0);
		if (b->pidfd < 0)
			rc = fail_errno(EXIT_FAIL, "Firecracker (pid %d) is gone", b->pid);
	}
	strbuf_release(&path);
	strbuf_release(&sb);
	return rc;
}

static int run_jailer(struct boot *b)
{
	struct child c = CHILD_INIT;
	struct strbuf err = STRBUF_INIT;
	double t = mono_seconds();
	int pipefd[2], rc, status;

	b->deadline = mono_ms() + b->start_timeout * 1000;
	if (pipe2(pipefd, O_CLOEXEC))
		return fail_errno(EXIT_FAIL, "pipe");
	/* stdout is nimbus' result; the jailer's errors come back through the pipe */
	c.argv = (const char **)b->argv.v;
	c.in = c.out = open("/dev/null", O_RDWR | O_CLOEXEC);
	c.err = pipefd[1];
	rc = c.in < 0 ? fail_errno(EXIT_FAIL, "/dev/null") : child_start(&c);
	if (c.in >= 0)
		close(c.in);
	close(pipefd[1]);
	if (rc) {
		close(pipefd[0]);
		return rc;
	}
	b->jailer_ran = true;
	read_stderr(pipefd[0], b->deadline, &err);
	close(pipefd[0]);
	status = wait_child(c.pid, b->deadline);
	waited(b, t);
	if (status)
		rc = jailer_failed(status, &err);
	if (!rc)
		rc = read_pid(b);
	strbuf_release(&err);
	return rc;
}

static bool running(json_t *info)
{
	const char *state = json_string_value(json_object_get(info, "state"));

	return state && !strcmp(state, "Running");
}

/* The configuration file boots the VM as Firecracker starts: see that it runs. */
static int start(struct boot *b)
{
	json_t *info = NULL;
	double t = mono_seconds();
	int rc;

	while (!(rc = fc_api_call(&b->api, "GET", "/", NULL, &info)) && !running(info) &&
	       mono_ms() < b->deadline && !stop_signal) {
		json_decref(info);
		info = NULL;
		sleep_ms(1);
	}
	if (!rc && !running(info) && !stop_signal)
		rc = fail(EXIT_UNAVAILABLE, "the VM did not start in time");
	json_decref(info);
	waited(b, t);
	return rc;
}

static int load_snapshot(struct boot *b)
{
	json_t *body = json_pack("{s:s, s:{s:s, s:s}, s:[{s:s, s:s}], s:b}",
				 "snapshot_path", "/" JAIL_SNAPSHOT_STATE,
				 "mem_backend", "backend_type", "File",
				 "backend_path", "/" JAIL_SNAPSHOT_MEMORY,
				 "network_overrides", "iface_id", FC_IFACE_ID, "host_dev_name", b->id,
				 "resume_vm", 1);
	double t = mono_seconds();
	int rc = fc_api_call(&b->api, "PUT", "/snapshot/load", body, NULL);

	waited(b, t);
	json_decref(body);
	return rc;
}

static int wait_socket(struct boot *b)
{
	double t = mono_seconds();
	int rc = fc_api_wait(&b->api, b->pidfd, b->deadline);

	waited(b, t);
	return rc;
}

static int recheck_fence(struct boot *b)
{
	return lease_check(b->st, b->o->job, b->o->fence);
}

/* A thread's tid and its name, "fc_vcpu 3". */
struct thread {
	pid_t tid;
	char comm[32];
};

static size_t threads_of(pid_t pid, struct thread **out, size_t *alloc)
{
	struct strbuf path = STRBUF_INIT, sb = STRBUF_INIT;
	struct dirent *de;
	size_t nr = 0;
	DIR *d;

	strbuf_addf(&path, "/proc/%d/task", (int)pid);
	d = opendir(path.buf);
	while (d && (de = readdir(d))) {
		int64_t tid;

		if (parse_i64(de->d_name, 1, INT32_MAX, &tid))
			continue;
		strbuf_reset(&path);
		strbuf_addf(&path, "/proc/%d/task/%s/comm", (int)pid, de->d_name);
		strbuf_reset(&sb);
		if (strbuf_read_file(&sb, path.buf, 64) < 0)
			continue;
		strbuf_rtrim(&sb);
		ALLOC_GROW(*out, nr + 1, *alloc);
		(*out)[nr].tid = tid;
		xsnprintf((*out)[nr].comm, sizeof((*out)[nr].comm), "%.31s", sb.buf);
		nr++;
	}
	if (d)
		closedir(d);
	strbuf_release(&path);
	strbuf_release(&sb);
	return nr;
}

/* The vCPU number of a thread, or -1. */
static int64_t vcpu_of(const struct thread *t)
{
	const char *n;
	int64_t v;

	if (!skip_prefix(t->comm, "fc_vcpu ", &n) || parse_i64(n, 0, FC_MAX_VCPUS - 1, &v))
		return -1;
	return v;
}

static int set_affinity(pid_t tid, const cpu_set_t *set, size_t size)
{
	int rc;

	/* the thread is the VM's uid's */
	caps_raise(CAP_SYS_NICE);
	rc = sched_setaffinity(tid, size, set);
	caps_lower(CAP_SYS_NICE);
	/* a thread that ended meanwhile needs no CPU */
	if (rc && errno != ESRCH)
		return fail_errno(EXIT_FAIL, "cannot pin thread %d", (int)tid);
	return 0;
}

static int pin(struct boot *b)
{
	struct thread *t = NULL;
	size_t alloc = 0, nr = 0, size = CPU_ALLOC_SIZE(CPUSET_MAX);
	cpu_set_t *set = CPU_ALLOC(CPUSET_MAX);
	int cpu[FC_MAX_VCPUS], n = 0, rc = 0;
	int64_t found = 0;
	double t0 = mono_seconds();

	cpuset_for_each(c, &b->cpus)
		if (n < FC_MAX_VCPUS)
			cpu[n++] = c;
	/* vCPU threads exist once the VM runs; they may take a moment to be named */
	while (found < b->vcpus) {
		nr = threads_of(b->pid, &t, &alloc);
		found = 0;
		for (size_t i = 0; i < nr; i++)
			found += vcpu_of(&t[i]) >= 0;
		if (found >= b->vcpus || stop_signal)
			break;
		if (mono_ms() >= b->deadline) {
			rc = fail(EXIT_UNAVAILABLE, "%" PRId64 " of the %" PRId64 " vCPU threads of "
				  "Firecracker (pid %d) appeared in time", found, b->vcpus, (int)b->pid);
			break;
		}
		sleep_ms(1);
	}
	waited(b, t0);
	for (size_t i = 0; !rc && i < nr; i++) {
		int64_t v = vcpu_of(&t[i]);

		CPU_ZERO_S(size, set);
		if (v >= 0)
			CPU_SET_S(cpu[v % n], size, set);
		else
			cpuset_for_each(c, &b->cpus)
				CPU_SET_S(c, size, set);
		rc = set_affinity(t[i].tid, set, size);
	}
	CPU_FREE(set);
	free(t);
	return rc;
}

static int finish(struct boot *b)
{
	json_t *meta = json_pack("{s:s}", "vm.id", b->id);
	int rc;

	json_object_set_new(b->doc, "state", xjson_string("running"));
	json_object_set_new(b->doc, "pid", json_integer(b->pid));
	/* ours, which the jailer and Firecracker inherited: the audit looks for Firecracker's own */
	json_object_set_new(b->doc, "inherited_seccomp_filters", json_integer(sandbox_seccomp_filters()));
	json_object_set_new(b->doc, "rootfs_address", xjson_string(b->address));
	rc = save_record(b, false);
	/* fenced: a job lost meanwhile gets no VM */
	if (!rc)
		rc = job_set_meta(b->st, b->o->job, b->o->fence, meta);
	json_decref(meta);
	return rc;
}

/* Undo, in reverse, what was done: the same teardown as `vm stop`. */
static void rollback(struct boot *b)
{
	struct teardown_vm vm = {
		.id = b->id, .pid = b->pid, .jail = b->jail_made ? b->jail.buf : NULL,
		.netns = b->netns_made ? b->netns.buf : NULL, .links = &b->links,
		.cgroups = b->jailer_ran ? &b->cgroups : NULL, .record = b->recorded,
	};
	struct teardown_actions acts = TEARDOWN_ACTIONS_INIT;
	struct strbuf sb = STRBUF_INIT;
	struct teardown *td;

	if (!*b->id)
		return;
	td = teardown_new(b->st, TEARDOWN_KEEP_JOB | TEARDOWN_NO_GITHUB);
	/* the message of the step that failed, not the teardown's */
	strbuf_addstr(&sb, fail_message());
	teardown_vm(td, &vm, &acts);
	for (size_t i = 0; i < acts.nr; i++) {
		struct strbuf line = STRBUF_INIT;

		teardown_action_text(&line, &acts.v[i]);
		if (acts.v[i].rc)
			warning("rollback of %s: %s", b->id, line.buf);
		else
			log_debug("rollback of %s: %s", b->id, line.buf);
		strbuf_release(&line);
	}
	fail(EXIT_FAIL, "%s", sb.buf);
	strbuf_release(&sb);
	teardown_actions_release(&acts);
	teardown_free(td);
}

static void release(struct boot *b)
{
	topology_release(&b->topo);
	cgroup_layout_release(&b->cg);
	strbuf_release(&b->jail);
	strbuf_release(&b->root);
	strbuf_release(&b->netns);
	strbuf_release(&b->socket);
	strvec_clear(&b->values);
	strvec_clear(&b->cgroups);
	strvec_clear(&b->argv);
	strvec_clear(&b->links);
	json_decref(b->config);
	json_decref(b->doc);
	json_decref(b->timings);
	if (b->pidfd >= 0)
		close(b->pidfd);
	fc_api_close(&b->api);
}

static json_t *plan_json(struct boot *b)
{
	json_t *doc = json_deep_copy(b->doc);

	json_object_del(doc, "state");
	json_object_del(doc, "timings_us");
	json_object_del(doc, "created");
	json_object_set_new(doc, "jailer", strings_json(&b->argv));
	json_object_set(doc, "config", b->config);
	return doc;
}

/* A dry run: what a boot would do now. */
static int plan(struct boot *b, json_t **out)
{
	int rc = step(b, "allocate", allocate);

	if (!rc)
		rc = place_cgroups(b);
	if (!rc)
		*out = plan_json(b);
	return rc;
}

/* The steps that change the host, after the checks. */
static int run(struct boot *b)
{
	bool snapshot = b->o->snapshot;
	int rc = step(b, "allocate", allocate);

	if (!rc)
		rc = step(b, "network", make_network);
	if (!rc)
		rc = step(b, "cgroups", place_cgroups);
	if (!rc)
		rc = step(b, "chroot", make_jail);
	/* the VM starts with the jailer, or when its snapshot is loaded: check just before */
	if (!rc && !snapshot)
		rc = step(b, "fence_check", recheck_fence);
	if (!rc)
		rc = fc_api_open(&b->api, b->socket.buf, b->start_timeout);
	if (!rc)
		rc = step(b, "jailer", run_jailer);
	if (!rc)
		rc = step(b, "socket", wait_socket);
	if (!rc && snapshot)
		rc = step(b, "fence_check", recheck_fence);
	if (!rc)
		rc = snapshot ? step(b, "snapshot_load", load_snapshot) : step(b, "start", start);
	if (!rc)
		rc = step(b, "pinning", pin);
	if (!rc) {
		json_object_set_new(b->timings, "total", json_integer((mono_seconds() - b->started) * 1e6));
		json_object_set_new(b->timings, "waiting", json_integer(b->waited * 1e6));
		rc = step(b, "record", finish);
	}
	return rc;
}

int vm_boot(struct store *st, const struct boot_opts *o, json_t **out)
{
	struct boot b = { .o = o, .st = st, .pidfd = -1, .api = { .dirfd = -1 }, .topo = TOPOLOGY_INIT,
			  .cg = CGROUP_LAYOUT_INIT, .jail = STRBUF_INIT, .root = STRBUF_INIT,
			  .netns = STRBUF_INIT, .socket = STRBUF_INIT, .values = STRVEC_INIT,
			  .cgroups = STRVEC_INIT, .argv = STRVEC_INIT, .links = STRVEC_INIT };
	struct sigaction old[ARRAY_SIZE(stop_signals)];
	int rc;

	b.started = mono_seconds();
	b.timings = json_object();
	*out = NULL;
	rc = prepare(&b);
	if (!rc)
		rc = step(&b, "fence_check", check_fence);
	if (!rc && dry(&b))
		rc = plan(&b, out);
	else if (!rc)
		rc = step(&b, "attest", attest);
	if (!rc && !dry(&b)) {
		catch_stop_signals(old);
		rc = run(&b);
		if (rc)
			rollback(&b);
		else
			*out = json_incref(b.doc);
		restore_stop_signals(old);
	}
	release(&b);
	return rc;
}
