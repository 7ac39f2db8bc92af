/*
 * firecracker-double: Firecracker 1.16, for tests on hosts without it.
 *
 *	firecracker-double [--id ID] [--api-sock PATH] [--config-file FILE]
 *		[--seccomp-filter FILE | --no-seccomp] [--no-api] ...
 *
 * No guest runs. Everything around it is real: the API is served on
 * the Unix socket; every request is checked against the API
 * specification (spec.json, Firecracker's swagger in JSON) and the
 * pre-boot and post-boot rules, and the files and taps it names are
 * opened as Firecracker would open them; a configuration file boots the
 * VM at once. Starting (InstanceStart, the configuration file, a
 * snapshot load) makes vcpu_count threads named "fc_vcpu N"; the others
 * are "firecracker" and "fc_api". A seccomp filter is installed before
 * any thread starts, unless --no-seccomp. Ctrl-Alt-Del and SIGTERM make
 * it exit; pause, resume and snapshots (a JSON state file and a sparse
 * memory file) work.
 *
 * Tests reach it through variables the jailer double passes on:
 *	FC_DOUBLE_DIR	where spec.json is read and each request is logged,
 *			one JSON object a line, to <id>.jsonl
 *	FC_DOUBLE_SPEC	the specification, if not in FC_DOUBLE_DIR
 *	FC_DOUBLE_FAIL	fc-socket (never serve the API), fc-config (exit
 *			on the configuration file), fc-start (refuse to
 *			start), fc-vcpus (leave the vCPU threads unnamed),
 *			fc-snapshot-load (refuse loads), fc-ctrl-alt-del
 *			(ignore it), fc-seccomp (no filter), fc-hide (blank
 *			its command line, as a Firecracker taken over by its
 *			guest could)
 */
#include "common.h"
#include "swagger.h"
#include "timeutil.h"

#include <microhttpd.h>
#include <net/if.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#define VERSION "1.16.1"
#define MIB (UINT64_C(1) << 20)

/*
 * In a sanitizer build: the leak check stops the world with ptrace at
 * exit, which the seccomp filter forbids, as Firecracker's does.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

enum state { NOT_STARTED, RUNNING, PAUSED };
static const char *const state_names[] = { "Not started", "Running", "Paused" };

static struct {
	json_t *spec;
	const char *id;
	const char *fail;
	int log_fd;
	pthread_t main;
	enum state state;
	/* the configuration, as GET /vm/config shows it */
	json_t *config;
	bool configured;	/* anything but the logger and the metrics */
	bool exiting;		/* after Ctrl-Alt-Del */
} vm = { .log_fd = -1 };

static bool failing(const char *step)
{
	return vm.fail && !strcmp(vm.fail, step);
}

/* One JSON object a line, appended in one write. */
static void log_event(json_t *ev)
{
	char *line;

	json_object_set_new(ev, "time_ms", json_integer(now_ms()));
	line = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
	/* a failed write shows as a line missing in the test that reads it */
	if (line && vm.log_fd >= 0) {
		struct strbuf sb = STRBUF_INIT;

		strbuf_addf(&sb, "%s\n", line);
		write_in_full(vm.log_fd, sb.buf, sb.len);
		strbuf_release(&sb);
	}
	free(line);
	json_decref(ev);
}

static NORETURN PRINTF(1, 2) void fatal(const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	fprintf(stderr, "firecracker-double: %s\n", sb.buf);
	log_event(json_pack("{s:s, s:s}", "event", "error", "error", sb.buf));
	exit(1);
}

static void *vcpu(void *arg)
{
	char name[16];

	/* as Firecracker names them, unless the test wants them unnamed */
	xsnprintf(name, sizeof(name), failing("fc-vcpus") ? "vcpu%d" : "fc_vcpu %d", (int)(intptr_t)arg);
	prctl(PR_SET_NAME, name);
	for (;;)
		pause();
	return NULL;
}

static json_t *machine(void)
{
	return json_object_get(vm.config, "machine-config");
}

/* Whether Firecracker, as this process, can open path: what it opens, it needs. */
static int can_open(const char *path, int flags, const char *what, struct strbuf *err)
{
	int fd = path ? open(path, flags | O_CLOEXEC) : -1;

	if (fd < 0) {
		strbuf_addf(err, "Cannot open the %s %s: %s", what, path ? path : "(none)", strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* Open what Firecracker opens when it starts: the drives and the taps. */
static int open_devices(struct strbuf *err)
{
	json_t *d;
	size_t i;

	json_array_foreach(json_object_get(vm.config, "drives"), i, d) {
		const char *path = json_string_value(json_object_get(d, "path_on_host"));

		if (can_open(path, json_is_true(json_object_get(d, "is_read_only")) ? O_RDONLY : O_RDWR,
			     "block device", err))
			return -1;
	}
	json_array_foreach(json_object_get(vm.config, "network-interfaces"), i, d) {
		const char *tap = json_string_value(json_object_get(d, "host_dev_name"));

		if (!if_nametoindex(tap)) {
			strbuf_addf(err, "Open tap device failed: %s: no such tap in this namespace", tap);
			return -1;
		}
	}
	return 0;
}

static int start_vcpus(enum state state, struct strbuf *err)
{
	json_int_t n = json_integer_value(json_object_get(machine(), "vcpu_count"));

	if (failing("fc-start")) {
		strbuf_addstr(err, "Failed to start the microVM, as FC_DOUBLE_FAIL says");
		return -1;
	}
	if (open_devices(err))
		return -1;
	for (json_int_t i = 0; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, vcpu, (void *)(intptr_t)i))
			fatal("cannot start vCPU %d", (int)i);
		pthread_detach(t);
	}
	vm.state = state;
	log_event(json_pack("{s:s, s:s, s:I}", "event", "started", "state", state_names[state],
			    "vcpus", (json_int_t)n));
	return 0;
}

static int instance_start(struct strbuf *err)
{
	const char *kernel = json_string_value(json_object_get(json_object_get(vm.config, "boot-source"),
							       "kernel_image_path"));

	if (!kernel) {
		strbuf_addstr(err, "Cannot start microvm without kernel configuration.");
		return -1;
	}
	if (can_open(kernel, O_RDONLY, "kernel image", err))
		return -1;
	return start_vcpus(RUNNING, err);
}

/* Keep a device of an array by its id, replacing one of the same id. */
static void put_device(const char *key, const char *idkey, json_t *dev)
{
	json_t *list = json_object_get(vm.config, key), *d;
	const char *id = json_string_value(json_object_get(dev, idkey));
	size_t i;

	if (!list) {
		list = json_array();
		json_object_set_new(vm.config, key, list);
	}
	json_array_foreach(list, i, d) {
		if (!strcmp(json_string_value(json_object_get(d, idkey)), id)) {
			json_array_set(list, i, dev);
			return;
		}
	}
	json_array_append(list, dev);
}

static void apply_config(json_t *doc)
{
	const char *key;
	json_t *v, *d;
	size_t i;

	json_object_foreach(doc, key, v) {
		if (!strcmp(key, "drives")) {
			json_array_foreach(v, i, d)
				put_device("drives", "drive_id", d);
		} else if (!strcmp(key, "network-interfaces")) {
			json_array_foreach(v, i, d)
				put_device("network-interfaces", "iface_id", d);
		} else {
			json_object_set(vm.config, key, v);
		}
		vm.configured |= strcmp(key, "logger") && strcmp(key, "metrics");
	}
}

/* The state file of a snapshot: this double's own format, the configuration. */
static int snapshot_create(json_t *body, struct strbuf *err)
{
	const char *state = json_string_value(json_object_get(body, "snapshot_path"));
	const char *mem = json_string_value(json_object_get(body, "mem_file_path"));
	const char *type = json_string_value(json_object_get(body, "snapshot_type"));
	json_int_t mib = json_integer_value(json_object_get(machine(), "mem_size_mib"));
	int fd;

	if (vm.state != PAUSED) {
		strbuf_addstr(err, "Cannot create a snapshot: the microVM is not paused.");
		return -1;
	}
	if (type && !strcmp(type, "Diff") &&
	    !json_is_true(json_object_get(machine(), "track_dirty_pages"))) {
		strbuf_addstr(err, "Diff snapshots need dirty page tracking.");
		return -1;
	}
	if (json_dump_file(vm.config, state, JSON_COMPACT)) {
		strbuf_addf(err, "Cannot write the snapshot state %s: %s", state, strerror(errno));
		return -1;
	}
	fd = open(mem, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, mib * MIB)) {
		strbuf_addf(err, "Cannot write the memory file %s: %s", mem, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int override_network(json_t *conf, json_t *overrides, struct strbuf *err)
{
	json_t *o, *d;
	size_t i, k;

	json_array_foreach(overrides, i, o) {
		const char *id = json_string_value(json_object_get(o, "iface_id"));
		bool found = false;

		json_array_foreach(json_object_get(conf, "network-interfaces"), k, d) {
			if (!strcmp(json_string_value(json_object_get(d, "iface_id")), id)) {
				json_object_set(d, "host_dev_name", json_object_get(o, "host_dev_name"));
				found = true;
			}
		}
		if (!found) {
			strbuf_addf(err, "Invalid network override: the snapshot has no interface %s", id);
			return -1;
		}
	}
	return 0;
}

static int snapshot_load(json_t *body, struct strbuf *err)
{
	const char *state = json_string_value(json_object_get(body, "snapshot_path"));
	json_t *backend = json_object_get(body, "mem_backend"), *conf;
	const char *mem = json_string_value(json_object_get(body, "mem_file_path"));
	int rc;

	if (vm.configured) {
		strbuf_addstr(err, "Loading a microVM snapshot not allowed after configuring boot-specific resources.");
		return -1;
	}
	if (!!backend == !!mem) {
		strbuf_addstr(err, "Exactly one of mem_backend and mem_file_path is required.");
		return -1;
	}
	if (backend)
		mem = json_string_value(json_object_get(backend, "backend_path"));
	if (failing("fc-snapshot-load")) {
		strbuf_addstr(err, "Loading the snapshot failed, as FC_DOUBLE_FAIL says");
		return -1;
	}
	if (can_open(mem, O_RDONLY, "memory file", err))
		return -1;
	conf = json_load_file(state, 0, NULL);
	if (!conf) {
		strbuf_addf(err, "Cannot read the snapshot state %s", state);
		return -1;
	}
	rc = override_network(conf, json_object_get(body, "network_overrides"), err);
	if (!rc) {
		json_decref(vm.config);
		vm.config = json_incref(conf);
		vm.configured = true;
		rc = start_vcpus(json_is_true(json_object_get(body, "resume_vm")) ? RUNNING : PAUSED, err);
	}
	json_decref(conf);
	return rc;
}

static int action(json_t *body, struct strbuf *err)
{
	const char *type = json_string_value(json_object_get(body, "action_type"));

	if (!strcmp(type, "InstanceStart")) {
		if (vm.state != NOT_STARTED) {
			strbuf_addstr(err, "The requested operation is not supported after starting the microVM.");
			return -1;
		}
		return instance_start(err);
	}
	if (vm.state == NOT_STARTED) {
		strbuf_addstr(err, "The requested operation is not supported before starting the microVM.");
		return -1;
	}
	if (!strcmp(type, "FlushMetrics") && !json_object_get(vm.config, "metrics")) {
		strbuf_addstr(err, "The metrics system is not initialized.");
		return -1;
	}
	/* the guest reboots and Firecracker exits, once this answer is out */
	if (!strcmp(type, "SendCtrlAltDel") && !failing("fc-ctrl-alt-del"))
		vm.exiting = true;
	return 0;
}

static void vm_state(json_t *body)
{
	const char *s = json_string_value(json_object_get(body, "state"));

	vm.state = !strcmp(s, "Paused") ? PAUSED : RUNNING;
	log_event(json_pack("{s:s, s:s}", "event", "state", "state", state_names[vm.state]));
}

/* GETs: their answer, or NULL for 400. */
static json_t *get(const char *path)
{
	if (!strcmp(path, "/"))
		return json_pack("{s:s, s:s, s:s, s:s}", "app_name", "Firecracker", "id", vm.id,
				 "state", state_names[vm.state], "vmm_version", VERSION);
	if (!strcmp(path, "/version"))
		return json_pack("{s:s}", "firecracker_version", VERSION);
	if (!strcmp(path, "/machine-config"))
		return json_incref(machine());
	if (!strcmp(path, "/vm/config"))
		return json_incref(vm.config);
	return NULL;
}

/* The configuration resources a PUT of path sets, by the keys of a configuration file. */
static const char *config_key(const char *tmpl)
{
	static const char *const keys[][2] = {
		{ "/boot-source", "boot-source" }, { "/machine-config", "machine-config" },
		{ "/logger", "logger" }, { "/metrics", "metrics" }, { "/balloon", "balloon" },
		{ "/vsock", "vsock" }, { "/entropy", "entropy" }, { "/mmds/config", "mmds-config" },
		{ "/cpu-config", "cpu-config" }, { "/serial", "serial" },
		{ "/hotplug/memory", "memory-hotplug" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(tmpl, keys[i][0]))
			return keys[i][1];
	return NULL;
}

/* A PUT of a device: its id in the body must be the one of the path. */
static int put_by_id(const char *path, const char *idkey, const char *list, json_t *body,
		     struct strbuf *err)
{
	const char *id = strrchr(path, '/') + 1;

	if (strcmp(json_string_value(json_object_get(body, idkey)), id)) {
		strbuf_addf(err, "The id from the path does not match the id from the body!");
		return -1;
	}
	put_device(list, idkey, body);
	vm.configured = true;
	return 0;
}

static int dispatch(const char *method, const char *path, const struct swagger_op *op,
		    json_t *body, json_t **answer, struct strbuf *err)
{
	const char *summary = json_string_value(json_object_get(op->op, "summary"));
	const char *key;

	if (summary && strstr(summary, "Pre-boot only") && vm.state != NOT_STARTED) {
		strbuf_addstr(err, "The requested operation is not supported after starting the microVM.");
		return -1;
	}
	if (summary && strstr(summary, "Post-boot only") && vm.state == NOT_STARTED) {
		strbuf_addstr(err, "The requested operation is not supported before starting the microVM.");
		return -1;
	}
	if (!strcmp(method, "get")) {
		*answer = get(path);
		return 0;
	}
	if (!strcmp(op->path, "/actions"))
		return action(body, err);
	if (!strcmp(op->path, "/snapshot/create"))
		return snapshot_create(body, err);
	if (!strcmp(op->path, "/snapshot/load"))
		return snapshot_load(body, err);
	if (!strcmp(op->path, "/vm")) {
		if (vm.state == NOT_STARTED) {
			strbuf_addstr(err, "The microVM is not started.");
			return -1;
		}
		vm_state(body);
		return 0;
	}
	if (!strcmp(method, "put") && !strcmp(op->path, "/drives/{drive_id}"))
		return put_by_id(path, "drive_id", "drives", body, err);
	if (!strcmp(method, "put") && !strcmp(op->path, "/network-interfaces/{iface_id}"))
		return put_by_id(path, "iface_id", "network-interfaces", body, err);
	if (!strcmp(method, "put") && (key = config_key(op->path))) {
		json_t *doc = json_pack("{s:O}", key, body);

		apply_config(doc);
		json_decref(doc);
		return 0;
	}
	/* post-boot updates and the MMDS store: accepted as they are */
	return 0;
}

struct request {
	struct strbuf body;
};

static enum MHD_Result reply(struct MHD_Connection *c, int status, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	struct MHD_Response *r = MHD_create_response_from_buffer(text ? strlen(text) : 0,
								  text ? text : "", MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (text)
		MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	free(text);
	return ret;
}

/* A request: 0 with its answer (NULL: none), or -1 with the fault in err; ev logs its body. */
static int handle(const char *method, const char *url, const struct strbuf *raw, json_t *ev,
		  json_t **answer, struct strbuf *err)
{
	struct swagger_op op;
	char lower[16];
	json_t *body = NULL;
	int rc;

	xsnprintf(lower, sizeof(lower), "%.15s", method);
	for (char *p = lower; *p; p++)
		*p = *p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p;
	if (swagger_find(vm.spec, lower, url, &op)) {
		strbuf_addf(err, "Invalid request method and/or path: %s %s.", method, url);
		return -1;
	}
	if (op.body && raw->len) {
		json_error_t jerr;

		body = json_loadb(raw->buf, raw->len, JSON_REJECT_DUPLICATES, &jerr);
		if (!body) {
			strbuf_addf(err, "An error occurred when deserializing the json body of a "
				    "request: %s.", jerr.text);
			return -1;
		}
		json_object_set(ev, "body", body);
		if (swagger_validate(vm.spec, op.body, body, err)) {
			json_decref(body);
			return -1;
		}
	} else if (op.body && op.body_required) {
		strbuf_addstr(err, "The request body is required.");
		return -1;
	}
	rc = dispatch(lower, url, &op, body, answer, err);
	json_decref(body);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **ctx)
{
	struct request *rq = *ctx;
	struct strbuf err = STRBUF_INIT;
	json_t *answer = NULL, *ev;
	int status;
	enum MHD_Result ret;

	if (!rq) {
		rq = xcalloc(1, sizeof(*rq));
		strbuf_init(&rq->body, 0);
		*ctx = rq;
		return MHD_YES;
	}
	if (*size) {
		strbuf_add(&rq->body, data, *size);
		*size = 0;
		return MHD_YES;
	}
	ev = json_pack("{s:s, s:s, s:s}", "event", "request", "method", method, "path", url);
	if (handle(method, url, &rq->body, ev, &answer, &err)) {
		status = 400;
		answer = json_pack("{s:s}", "fault_message", err.buf);
	} else {
		status = answer ? 200 : 204;
	}
	json_object_set_new(ev, "status", json_integer(status));
	if (status == 400)
		json_object_set_new(ev, "error", json_string(err.buf));
	log_event(ev);
	ret = reply(c, status, answer);
	json_decref(answer);
	strbuf_release(&err);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
			 enum MHD_RequestTerminationCode code)
{
	struct request *rq = *ctx;

	if (rq) {
		strbuf_release(&rq->body);
		free(rq);
	}
	*ctx = NULL;
	if (vm.exiting)
		pthread_kill(vm.main, SIGUSR1);
}

static void *api_thread(void *arg)
{
	struct MHD_Daemon *d = arg;

	prctl(PR_SET_NAME, "fc_api");
	/* MHD's own threads would carry its names: serve from this one */
	for (;;)
		MHD_run_wait(d, -1);
	return NULL;
}

static struct MHD_Daemon *serve(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct MHD_Daemon *d;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (strlen(path) >= sizeof(un.sun_path))
		fatal("socket path %s is too long", path);
	memcpy(un.sun_path, path, strlen(path));
	if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof(un)) || listen(fd, 64))
		fatal("Failed to open the API socket at %s: %s", path, strerror(errno));
	d = MHD_start_daemon(MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
			     MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	if (!d)
		fatal("cannot start the API server");
	return d;
}

/* Syscalls no VMM thread makes; a filter of this kind is what an audit looks for. */
static void install_seccomp(void)
{
	static const char *const denied[] = {
		"execve", "execveat", "ptrace", "process_vm_writev", "mount", "umount2",
		"pivot_root", "chroot", "unshare", "setns", "kexec_load", "kexec_file_load",
		"reboot", "init_module", "finit_module", "delete_module", "bpf", "perf_event_open",
		"add_key", "keyctl", "request_key", "swapon", "swapoff",
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

	if (!ctx)
		fatal("seccomp_init failed");
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);

		if (nr != __NR_SCMP_ERROR && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0))
			fatal("cannot filter %s", denied[i]);
	}
	if (seccomp_load(ctx))
		fatal("cannot install the seccomp filter");
	seccomp_release(ctx);
}

static void boot_from_file(const char *path)
{
	struct strbuf err = STRBUF_INIT;
	json_error_t jerr;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

	if (!doc)
		fatal("Cannot read the configuration file %s: %s", path, jerr.text);
	if (swagger_validate(vm.spec, swagger_definition(vm.spec, "FullVmConfiguration"), doc, &err))
		fatal("Configuration for VMM from one single json failed: %s", err.buf);
	if (failing("fc-config"))
		fatal("Configuration for VMM from one single json failed, as FC_DOUBLE_FAIL says");
	apply_config(doc);
	log_event(json_pack("{s:s, s:s, s:O}", "event", "config-file", "path", path, "config", doc));
	if (instance_start(&err))
		fatal("Building the microVM failed: %s", err.buf);
	json_decref(doc);
	strbuf_release(&err);
}

struct args {
	const char *api_sock, *config_file, *seccomp_filter;
	bool no_seccomp, no_api;
};

static const char *const value_args[] = {
	"id", "start-time-us", "start-time-cpu-us", "parent-cpu-time-us", "api-sock", "config-file",
	"seccomp-filter", "level", "log-path", "metrics-path", "module", "http-api-max-payload-size",
	"mmds-size-limit", NULL,
};
static const char *const flag_args[] = {
	"no-seccomp", "no-api", "boot-timer", "show-level", "show-log-origin", NULL,
};

/* "--name value" or "--name=value", each at most once. */
static void parse_args(const char **argv, struct args *a)
{
	struct strvec seen = STRVEC_INIT;

	for (argv++; *argv; argv++) {
		const char *arg = *argv, *eq, *v = NULL;
		char *name;

		if (!starts_with(arg, "--"))
			fatal("Found argument '%s' which wasn't expected", arg);
		eq = strchr(arg, '=');
		name = xstrndup(arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
		if (str_in_list(seen.v, name))
			fatal("The argument '%s' was provided more than once.", name);
		strvec_push(&seen, name);
		if (str_in_list(value_args, name)) {
			v = eq ? eq + 1 : argv[1];
			if (!v || (!eq && starts_with(v, "--")))
				fatal("The argument '%s' requires a value, but none was supplied.", name);
			if (!eq)
				argv++;
		} else if (!str_in_list(flag_args, name) || eq) {
			fatal("Found argument '%s' which wasn't expected, or isn't valid in this context.",
			      name);
		}
		if (!strcmp(name, "id"))
			vm.id = xstrdup(v);	/* argv may be blanked (fc-hide) */
		else if (!strcmp(name, "api-sock"))
			a->api_sock = v;
		else if (!strcmp(name, "config-file"))
			a->config_file = v;
		else if (!strcmp(name, "seccomp-filter"))
			a->seccomp_filter = v;
		a->no_seccomp |= !strcmp(name, "no-seccomp");
		a->no_api |= !strcmp(name, "no-api");
		free(name);
	}
	if (a->no_api && !a->config_file)
		fatal("Argument 'config-file' required, but not found.");
	if (a->seccomp_filter && a->no_seccomp)
		fatal("--seccomp-filter and --no-seccomp exclude each other");
	strvec_clear(&seen);
}

static void open_log_and_spec(void)
{
	const char *dir = getenv("FC_DOUBLE_DIR"), *spec = getenv("FC_DOUBLE_SPEC");
	struct strbuf path = STRBUF_INIT;
	json_error_t jerr;

	if (dir) {
		strbuf_addf(&path, "%s/%s.jsonl", dir, vm.id);
		vm.log_fd = open(path.buf, O_WRONLY | O_APPEND | O_CLOEXEC);
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/spec.json", dir);
	}
	if (spec) {
		strbuf_reset(&path);
		strbuf_addstr(&path, spec);
	}
	vm.spec = json_load_file(path.buf, 0, &jerr);
	if (!vm.spec)
		fatal("no API specification at '%s': %s", path.buf, jerr.text);
	strbuf_release(&path);
}

/* Blank the arguments where /proc/PID/cmdline reads them. */
static void hide(const char **argv)
{
	for (; *argv; argv++)
		memset((char *)*argv, 0, strlen(*argv));
}

static void on_signal(int sig)
{
	/* a handler of its own: as the first process of a pid namespace, no default applies */
}

int main(int argc UNUSED, const char **argv)
{
	struct args a = { .api_sock = "/run/firecracker.socket" };
	sigset_t set;
	pthread_t t;
	int sig;

	vm.id = "anonymous-instance";
	vm.fail = getenv("FC_DOUBLE_FAIL");
	vm.main = pthread_self();
	vm.config = json_pack("{s:{s:i, s:i, s:b, s:b}}", "machine-config", "vcpu_count", 1,
			      "mem_size_mib", 128, "smt", 0, "track_dirty_pages", 0);
	prctl(PR_SET_NAME, "firecracker");
	parse_args(argv, &a);
	open_log_and_spec();
	if (a.seccomp_filter && access(a.seccomp_filter, R_OK))
		fatal("Cannot read the seccomp filter %s: %s", a.seccomp_filter, strerror(errno));
	log_event(json_pack("{s:s, s:s, s:b}", "event", "start", "id", vm.id, "seccomp",
			    !a.no_seccomp && !failing("fc-seccomp")));
	if (!a.no_seccomp && !failing("fc-seccomp"))
		install_seccomp();
	sigemptyset(&set);
	for (int s = 0, sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 }; s < 4; s++) {
		signal(sigs[s], on_signal);
		sigaddset(&set, sigs[s]);
	}
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* the API thread starts first, as Firecracker's does; requests wait for the boot */
	if (!a.no_api && !failing("fc-socket")) {
		struct MHD_Daemon *d = serve(a.api_sock);

		if (a.config_file)
			boot_from_file(a.config_file);
		if (pthread_create(&t, NULL, api_thread, d))
			fatal("cannot start the API thread");
	} else if (a.config_file) {
		boot_from_file(a.config_file);
	}
	if (failing("fc-hide"))
		hide(argv);
	sigwait(&set, &sig);
	log_event(json_pack("{s:s, s:s}", "event", "exit", "why", sig == SIGUSR1 ? "ctrl-alt-del" :
			    strsignal(sig)));
	return 0;
}
