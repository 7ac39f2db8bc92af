/*
 * jailer-double: Firecracker's jailer, for tests on hosts without it.
 *
 *	jailer-double --id ID --exec-file FILE --uid UID --gid GID
 *		[--parent-cgroup PATH] [--cgroup-version 1|2] [--cgroup FILE=VALUE]...
 *		[--chroot-base-dir DIR] [--netns PATH] [--resource-limit RES=N]...
 *		[--daemonize] [--new-pid-ns] [-- FIRECRACKER-ARGS...]
 *
 * It checks its arguments as the real one documents them (docs/jailer.md
 * of Firecracker 1.16) and does what the real one does, for real: the
 * jail <base>/<exec>/<id>/root with a copy of the exec file, resource
 * limits, the cgroups (values inherited from the parent in v1, the
 * controller enabled in every parent's subtree_control in v2), a mount
 * namespace pivoted into the jail, /dev/net/tun and /dev/kvm in it, the
 * network namespace, a new session on /dev/null, a new pid namespace
 * whose first process's pid goes to <exec>.pid, the uid and gid, and
 * the exec of the copy with --id ID, the start times and the arguments
 * after "--", as the real one execs Firecracker.
 *
 * Where it differs, for the Firecracker double: that double is
 * dynamically linked, maybe with sanitizers, so the host's /usr, /lib,
 * /lib64 and /proc are bind-mounted read-only into the jail; and these
 * variables pass to it (the real jailer clears the environment):
 *
 *	FC_DOUBLE_DIR	a directory bind-mounted on /double in the jail: the
 *			double reads spec.json and logs each request to
 *			<id>.jsonl there (created here for the VM's uid)
 *	FC_DOUBLE_FAIL	a step to fail at: jailer-args, jailer-chroot,
 *			jailer-cgroup, jailer-jail, jailer-netns, jailer-exec,
 *			or one of the Firecracker double's (fc-...); STEP:crash
 *			(a jailer step but exec) dies there by SIGKILL with
 *			its caller, as when the host's agent crashes
 *	FC_DOUBLE_MOUNTS a file read instead of /proc/mounts (cgroup tests)
 */
#include "common.h"
#include "cgroup.h"
#include "parse-num.h"

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <grp.h>
#include <linux/sched.h>
#include <time.h>

struct args {
	const char *id, *exec_file, *parent, *base, *netns;
	int64_t uid, gid, version;
	struct strvec cgroups, limits;
	bool daemonize, new_pid_ns;
	const char *const *extra;
};

static NORETURN PRINTF(1, 2) void jail_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "Jailer error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

/* FC_DOUBLE_FAIL names this step: stop here, with what was done left in place. */
static void step_done(const char *step)
{
	const char *f = getenv("FC_DOUBLE_FAIL"), *rest;

	if (!f || !skip_prefix(f, step, &rest))
		return;
	/* the caller, nimbus boot, is the parent until the clone into a new pid namespace */
	if (!strcmp(rest, ":crash")) {
		if (getppid() > 1)
			kill(getppid(), SIGKILL);
		raise(SIGKILL);
	}
	if (!*rest)
		jail_error("failing at %s, as FC_DOUBLE_FAIL says", step);
}

static const char *value(const char *name, const char *const **argv)
{
	const char *v = (*argv)[1];

	/* as Firecracker's argument parser: a value never starts with "--" */
	if (!v || starts_with(v, "--"))
		jail_error("The argument '%s' requires a value, but none was supplied.", name);
	(*argv)++;
	return v;
}

static int64_t id_number(const char *name, const char *v)
{
	int64_t n;

	if (parse_i64(v, 0, UINT32_MAX, &n))
		jail_error("Invalid %s: %s", name, v);
	return n;
}

static NORETURN void unexpected(const char *arg)
{
	jail_error("Found argument '%s' which wasn't expected, or isn't valid in this context.", arg);
}

static void parse_args(const char *const *argv, struct args *a)
{
	const char *uid = NULL, *gid = NULL, *version = NULL;
	struct { const char *name, **value; } one[] = {
		{ "id", &a->id }, { "exec-file", &a->exec_file }, { "uid", &uid }, { "gid", &gid },
		{ "parent-cgroup", &a->parent }, { "cgroup-version", &version },
		{ "chroot-base-dir", &a->base }, { "netns", &a->netns },
	};
	struct { const char *name; struct strvec *values; } many[] = {
		{ "cgroup", &a->cgroups }, { "resource-limit", &a->limits },
	};
	struct { const char *name; bool *set; } flags[] = {
		{ "daemonize", &a->daemonize }, { "new-pid-ns", &a->new_pid_ns },
	};

	for (argv++; *argv; argv++) {
		const char *name;
		bool known = false;

		if (!strcmp(*argv, "--")) {
			a->extra = argv + 1;
			break;
		}
		if (!skip_prefix(*argv, "--", &name))
			unexpected(*argv);
		for (size_t i = 0; i < ARRAY_SIZE(one) && !known; i++) {
			if ((known = !strcmp(name, one[i].name))) {
				if (*one[i].value)
					jail_error("The argument '%s' was provided more than once.", name);
				*one[i].value = value(name, &argv);
			}
		}
		for (size_t i = 0; i < ARRAY_SIZE(many) && !known; i++)
			if ((known = !strcmp(name, many[i].name)))
				strvec_push(many[i].values, value(name, &argv));
		for (size_t i = 0; i < ARRAY_SIZE(flags) && !known; i++) {
			if ((known = !strcmp(name, flags[i].name))) {
				if (*flags[i].set)
					jail_error("The argument '%s' was provided more than once.", name);
				*flags[i].set = true;
			}
		}
		if (!known)
			unexpected(name);
	}
	if (!a->id || !a->exec_file || !uid || !gid)
		jail_error("Argument '%s' required, but not found.",
			   !a->id ? "id" : !a->exec_file ? "exec-file" : !uid ? "uid" : "gid");
	a->uid = id_number("uid", uid);
	a->gid = id_number("gid", gid);
	a->version = 1;
	if (version && (parse_i64(version, 1, 2, &a->version)))
		jail_error("Invalid cgroup version: %s", version);
	if (!a->base)
		a->base = "/srv/jailer";
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static void check_args(const struct args *a)
{
	size_t n = strlen(a->id);
	struct stat st;

	if (!n || n > 64 || a->id[strspn(a->id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					   "0123456789-")])
		jail_error("Invalid instance ID: %s", a->id);
	if (stat(a->exec_file, &st) || !S_ISREG(st.st_mode))
		jail_error("Invalid exec file path: %s", a->exec_file);
	/* the jailer is for Firecracker only, and says so */
	if (!strstr(base_name(a->exec_file), "firecracker"))
		jail_error("Invalid filename. The filename of `--exec-file` option must contain "
			   "\"firecracker\": %s", a->exec_file);
	if (a->netns && stat(a->netns, &st))
		jail_error("Failed to open the network namespace %s: %s", a->netns, strerror(errno));
	if (a->parent && !cgroup_parent_valid(a->parent))
		jail_error("Invalid parent cgroup: %s", a->parent);
	for (size_t i = 0; i < a->cgroups.nr; i++) {
		const char *eq = strchr(a->cgroups.v[i], '=');
		struct strbuf file = STRBUF_INIT, ctl = STRBUF_INIT;

		/* FILE=VALUE, one '=' and a value */
		if (!eq || !eq[1] || strchr(eq + 1, '='))
			jail_error("Invalid format for cgroups: %s", a->cgroups.v[i]);
		strbuf_add(&file, a->cgroups.v[i], eq - a->cgroups.v[i]);
		if (cgroup_file_controller(file.buf, &ctl))
			jail_error("Cgroup invalid file: %s", a->cgroups.v[i]);
		strbuf_release(&file);
		strbuf_release(&ctl);
	}
	for (size_t i = 0; i < a->limits.nr; i++) {
		const char *v;
		uint64_t limit;

		if ((!skip_prefix(a->limits.v[i], "fsize=", &v) &&
		     !skip_prefix(a->limits.v[i], "no-file=", &v)) || parse_u64(v, UINT64_MAX, &limit))
			jail_error("Invalid resource argument: %s", a->limits.v[i]);
	}
}

static void copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (in < 0 || out < 0)
		jail_error("Failed to copy %s to %s: %s", from, to, strerror(errno));
	while ((n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0)) > 0)
		;
	if (n < 0)
		jail_error("Failed to copy %s to %s: %s", from, to, strerror(errno));
	close(in);
	close(out);
}

static void set_limits(const struct args *a)
{
	bool no_file = false;

	for (size_t i = 0; i < a->limits.nr; i++) {
		const char *v = strchr(a->limits.v[i], '=') + 1;
		uint64_t n;
		struct rlimit rl;

		parse_u64(v, UINT64_MAX, &n);
		rl.rlim_cur = rl.rlim_max = n;
		no_file |= starts_with(a->limits.v[i], "no-file=");
		if (setrlimit(starts_with(a->limits.v[i], "fsize=") ? RLIMIT_FSIZE : RLIMIT_NOFILE, &rl))
			jail_error("Failed to set %s: %s", a->limits.v[i], strerror(errno));
	}
	/* the jailer's default */
	if (!no_file && setrlimit(RLIMIT_NOFILE, &(struct rlimit){ 2048, 2048 }))
		jail_error("Failed to set no-file: %s", strerror(errno));
}

/*
 * A line to a cgroup file. Appending and creating change nothing on a
 * cgroup file system, and let a fake tree of plain files (a test's)
 * keep every line written.
 */
static void write_file(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	struct strbuf line = STRBUF_INIT;

	strbuf_addf(&line, "%s\n", v);
	if (fd < 0 || write_in_full(fd, line.buf, line.len) < 0 || close(fd))
		jail_error("Failed to write %s to %s: %s", v, path, strerror(errno));
	strbuf_release(&line);
}

/* The first line of path, or "". */
static void read_first(const char *path, struct strbuf *out)
{
	strbuf_reset(out);
	if (strbuf_read_file(out, path, 1 << 16) < 0)
		jail_error("Failed to read %s: %s", path, strerror(errno));
	if (strchr(out->buf, '\n'))
		strbuf_setlen(out, strchr(out->buf, '\n') - out->buf);
}

/* v1: a new cgroup's file is empty until its parent's is copied (recursively up to the mount). */
static void inherit(const char *dir, const char *file, int depth)
{
	struct strbuf parent = STRBUF_INIT, path = STRBUF_INIT, line = STRBUF_INIT;

	strbuf_add(&parent, dir, strrchr(dir, '/') - dir);
	strbuf_addf(&path, "%s/%s", parent.buf, file);
	read_first(path.buf, &line);
	if (!line.len && depth > 0) {
		inherit(parent.buf, file, depth - 1);
		read_first(path.buf, &line);
	}
	if (!line.len)
		jail_error("Failed to inherit %s from the parent of %s", file, dir);
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/%s", dir, file);
	write_file(path.buf, line.buf);
	strbuf_release(&parent);
	strbuf_release(&path);
	strbuf_release(&line);
}

/* v2: the controller enabled from the mount down to the leaf's parent. */
static void enable_subtree(const char *mount, const char *dir, const char *controller)
{
	struct strbuf path = STRBUF_INIT, v = STRBUF_INIT;

	strbuf_addstr(&path, mount);
	strbuf_addf(&v, "+%s", controller);
	for (const char *p = dir + strlen(mount); ; p = strchr(p + 1, '/')) {
		size_t len = path.len;

		strbuf_addstr(&path, "/cgroup.subtree_control");
		write_file(path.buf, v.buf);
		strbuf_setlen(&path, len);
		if (!p || !*p || !strchr(p + 1, '/'))
			break;
		strbuf_add(&path, p, strchr(p + 1, '/') - p);
	}
	strbuf_release(&path);
	strbuf_release(&v);
}

static void make_cgroups(const struct args *a, const char *parent, struct strvec *dirs)
{
	struct cgroup_layout l = CGROUP_LAYOUT_INIT;
	struct strbuf mounts = STRBUF_INIT, ctl = STRBUF_INIT, dir = STRBUF_INIT, path = STRBUF_INIT;
	const char *fake = getenv("FC_DOUBLE_MOUNTS");
	int depth = 1;

	if (strbuf_read_file(&mounts, fake ? fake : "/proc/mounts", 1 << 24) < 0)
		jail_error("Failed to read %s", fake ? fake : "/proc/mounts");
	cgroup_layout_parse(&l, mounts.buf);
	for (const char *p = parent; (p = strchr(p, '/')); p++)
		depth++;
	for (size_t i = 0; i < a->cgroups.nr; i++) {
		const char *file = a->cgroups.v[i], *eq = strchr(file, '=');
		struct strbuf name = STRBUF_INIT;
		const struct cgroup_mount *m;

		strbuf_add(&name, file, eq - file);
		strbuf_reset(&ctl);
		cgroup_file_controller(name.buf, &ctl);
		m = cgroup_mount_of(&l, a->version, ctl.buf);
		if (!m)
			jail_error("Cgroup controller %s is unavailable", ctl.buf);
		strbuf_reset(&dir);
		strbuf_addf(&dir, "%s/%s/%s", m->path, parent, a->id);
		if (mkdir_p(dir.buf, 0755))
			jail_error("Failed to create directory %s: %s", dir.buf, strerror(errno));
		if (a->version == 1)
			inherit(dir.buf, name.buf, depth);
		else
			enable_subtree(m->path, dir.buf, ctl.buf);
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir.buf, name.buf);
		write_file(path.buf, eq + 1);
		for (size_t k = 0; k <= dirs->nr; k++) {
			if (k == dirs->nr) {
				strvec_push(dirs, dir.buf);
				break;
			}
			if (!strcmp(dirs->v[k], dir.buf))
				break;
		}
		strbuf_release(&name);
	}
	/* the children, the Firecracker among them, stay where the jailer is */
	for (size_t k = 0; k < dirs->nr; k++) {
		char pid[32];

		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dirs->v[k], a->version == 1 ? "tasks" : "cgroup.procs");
		xsnprintf(pid, sizeof(pid), "%d", (int)getpid());
		write_file(path.buf, pid);
	}
	cgroup_layout_release(&l);
	strbuf_release(&mounts);
	strbuf_release(&ctl);
	strbuf_release(&dir);
	strbuf_release(&path);
}

/* Bind src on <root>/<src> read-only, for the double: see the top of this file. */
static void bind_ro(const char *root, const char *src, bool rec)
{
	struct strbuf dst = STRBUF_INIT;
	unsigned long flags = MS_BIND | (rec ? MS_REC : 0);

	if (access(src, F_OK))
		return;
	strbuf_addf(&dst, "%s%s", root, src);
	if (mkdir_p(dst.buf, 0755) || mount(src, dst.buf, NULL, flags, NULL) ||
	    mount(NULL, dst.buf, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | (rec ? MS_REC : 0), NULL))
		jail_error("Failed to bind %s into the jail: %s", src, strerror(errno));
	strbuf_release(&dst);
}

static void double_dir(const char *root, const struct args *a)
{
	const char *dir = getenv("FC_DOUBLE_DIR");
	struct strbuf path = STRBUF_INIT;
	int fd;

	if (!dir)
		return;
	strbuf_addf(&path, "%s/%s.jsonl", dir, a->id);
	fd = open(path.buf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || fchown(fd, a->uid, a->gid))
		jail_error("Failed to create %s: %s", path.buf, strerror(errno));
	close(fd);
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/double", root);
	if (mkdir(path.buf, 0755) && errno != EEXIST)
		jail_error("Failed to create %s: %s", path.buf, strerror(errno));
	if (mount(dir, path.buf, NULL, MS_BIND, NULL))
		jail_error("Failed to bind %s: %s", dir, strerror(errno));
	setenv("FC_DOUBLE_DIR", "/double", 1);
	strbuf_release(&path);
}

static void enter_jail(const char *root, const struct args *a)
{
	/* slave: unmounts on the host, a teardown's, reach the jail */
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) ||
	    mount(root, root, NULL, MS_BIND | MS_REC, NULL))
		jail_error("Failed to set up the mount namespace: %s", strerror(errno));
	bind_ro(root, "/usr", true);
	bind_ro(root, "/lib", true);
	bind_ro(root, "/lib64", true);
	bind_ro(root, "/proc", true);
	double_dir(root, a);
	if (chdir(root) || mkdir("old_root", 0700) || syscall(SYS_pivot_root, ".", "old_root") ||
	    umount2("old_root", MNT_DETACH) || rmdir("old_root") || chroot("."))
		jail_error("Failed to pivot into %s: %s", root, strerror(errno));
}

static void make_dev(const char *path, unsigned maj, unsigned min, const struct args *a)
{
	if (mknod(path, S_IFCHR | S_IRUSR | S_IWUSR, makedev(maj, min)) && errno != EEXIST)
		jail_error("Failed to create %s: %s", path, strerror(errno));
	if (chown(path, a->uid, a->gid))
		jail_error("Failed to chown %s: %s", path, strerror(errno));
}

static int64_t usecs(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static NORETURN void exec_firecracker(const struct args *a, const char *exec_name,
				      int64_t start_us, int64_t cpu_us)
{
	struct strvec argv = STRVEC_INIT;

	if (setgroups(0, NULL) || setgid(a->gid) || setuid(a->uid))
		jail_error("Failed to drop privileges: %s", strerror(errno));
	/* as the real one: each value an argument of its own */
	strvec_pushf(&argv, "/%s", exec_name);
	strvec_push(&argv, "--id");
	strvec_push(&argv, a->id);
	strvec_push(&argv, "--start-time-us");
	strvec_pushf(&argv, "%" PRId64, start_us);
	strvec_push(&argv, "--start-time-cpu-us");
	strvec_pushf(&argv, "%" PRId64, usecs(CLOCK_PROCESS_CPUTIME_ID));
	strvec_push(&argv, "--parent-cpu-time-us");
	strvec_pushf(&argv, "%" PRId64, cpu_us);
	for (const char *const *e = a->extra; e && *e; e++)
		strvec_push(&argv, *e);
	step_done("jailer-exec");
	execv(argv.v[0], (char *const *)argv.v);
	jail_error("Failed to exec %s: %s", argv.v[0], strerror(errno));
}

/* Keep the double's variables, as the real jailer keeps none. */
static void clean_environment(void)
{
	extern char **environ;
	struct strvec keep = STRVEC_INIT;

	for (char **e = environ; *e; e++)
		if (starts_with(*e, "FC_DOUBLE_"))
			strvec_push(&keep, *e);
	clearenv();
	for (size_t i = 0; i < keep.nr; i++) {
		char *name = xstrdup(keep.v[i]), *eq = strchr(name, '=');

		*eq = '\0';
		setenv(name, eq + 1, 1);
		free(name);
	}
	strvec_clear(&keep);
}

int main(int argc UNUSED, const char **argv)
{
	struct args a = { .cgroups = STRVEC_INIT, .limits = STRVEC_INIT };
	struct strvec dirs = STRVEC_INIT;
	struct strbuf root = STRBUF_INIT, copy = STRBUF_INIT;
	int64_t start_us = usecs(CLOCK_REALTIME), cpu_us;
	const char *exec_name;
	int netns = -1, devnull = -1;

	parse_args(argv, &a);
	check_args(&a);
	step_done("jailer-args");
	close_range(3, ~0U, 0);
	clean_environment();
	exec_name = base_name(a.exec_file);

	strbuf_addf(&root, "%s/%s/%s/root", a.base, exec_name, a.id);
	if (mkdir_p(root.buf, 0755))
		jail_error("Failed to create %s: %s", root.buf, strerror(errno));
	strbuf_addf(&copy, "%s/%s", root.buf, exec_name);
	copy_file(a.exec_file, copy.buf);
	step_done("jailer-chroot");
	set_limits(&a);
	make_cgroups(&a, a.parent ? a.parent : exec_name, &dirs);
	step_done("jailer-cgroup");

	if (a.netns && (netns = open(a.netns, O_RDONLY | O_CLOEXEC)) < 0)
		jail_error("Failed to open %s: %s", a.netns, strerror(errno));
	if (a.daemonize && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		jail_error("Failed to open /dev/null: %s", strerror(errno));
	enter_jail(root.buf, &a);
	if (mkdir("/dev", 0755) || mkdir("/dev/net", 0755))
		jail_error("Failed to create /dev: %s", strerror(errno));
	make_dev("/dev/net/tun", 10, 200, &a);
	make_dev("/dev/kvm", 10, 232, &a);
	if (chown("/", a.uid, a.gid))
		jail_error("Failed to chown the jail: %s", strerror(errno));
	step_done("jailer-jail");
	if (netns >= 0 && setns(netns, CLONE_NEWNET))
		jail_error("Failed to join the network namespace: %s", strerror(errno));
	step_done("jailer-netns");
	if (a.daemonize) {
		if (setsid() < 0)
			jail_error("Failed to daemonize: setsid: %s", strerror(errno));
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		close(devnull);
	}
	/* the jailer's own CPU time, as the real one reports it */
	cpu_us = usecs(CLOCK_PROCESS_CPUTIME_ID);
	if (a.new_pid_ns) {
		pid_t pid = syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, NULL, NULL, 0);
		char pidfile[PATH_MAX], text[32];
		int fd;

		if (pid < 0)
			jail_error("Failed to clone into a new pid namespace: %s", strerror(errno));
		if (!pid)
			exec_firecracker(&a, exec_name, start_us, cpu_us);
		xsnprintf(pidfile, sizeof(pidfile), "/%s.pid", exec_name);
		xsnprintf(text, sizeof(text), "%d", (int)pid);
		fd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write_in_full(fd, text, strlen(text)) < 0 || close(fd))
			jail_error("Failed to write %s: %s", pidfile, strerror(errno));
		strvec_clear(&a.cgroups);
		strvec_clear(&a.limits);
		strvec_clear(&dirs);
		strbuf_release(&root);
		strbuf_release(&copy);
		return 0;
	}
	exec_firecracker(&a, exec_name, start_us, cpu_us);
}
