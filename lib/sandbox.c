#include "common.h"
#include "sandbox.h"

#include "log.h"

#include <cap-ng.h>
#include <fts.h>
#include <grp.h>
#include <linux/netlink.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>

int sandbox_user_lookup(const char *name, struct sandbox_user *u)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int err = getpwnam_r(name, &pw, buf, sizeof(buf), &res);

	if (err)
		return fail(EXIT_FAIL, "cannot look up user %s: %s", name, strerror(err));
	if (!res)
		return fail(EXIT_NOTFOUND, "no user %s", name);
	u->name = xstrdup(name);
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	return 0;
}

void sandbox_user_release(struct sandbox_user *u)
{
	free(u->name);
	u->name = NULL;
}

/*
 * Hand what root keeps to itself (as nimbus makes its files: no access
 * for group or others) to u, the whole tree of a directory, as
 * systemd's StateDirectory= does; what belongs to anyone else, or is
 * open to others, is not nimbus' to give.
 */
static int give(const char *path, const struct stat *st, const struct sandbox_user *u)
{
	char *const paths[] = { (char *)path, NULL };
	FTS *fts;
	FTSENT *e;
	int rc = 0;

	if (st->st_uid == u->uid)
		return 0;
	if (st->st_uid || (st->st_mode & 077))
		return fail(EXIT_PERM, "%s belongs to uid %u (mode %04o), not to %s: chown -R %s: %s",
			    path, (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777), u->name,
			    u->name, path);
	fts = fts_open(paths, FTS_PHYSICAL | FTS_XDEV | FTS_NOCHDIR, NULL);
	if (!fts)
		return fail_errno(EXIT_FAIL, "cannot walk %s", path);
	while (!rc && (e = fts_read(fts))) {
		if (e->fts_info == FTS_DP || e->fts_info == FTS_SL || e->fts_info == FTS_SLNONE)
			continue;
		if (e->fts_info == FTS_DNR || e->fts_info == FTS_ERR || e->fts_info == FTS_NS) {
			errno = e->fts_errno;
			rc = fail_errno(EXIT_FAIL, "cannot walk %s", e->fts_path);
		} else if (!e->fts_statp->st_uid && lchown(e->fts_accpath, u->uid, u->gid)) {
			rc = fail_errno(EXIT_FAIL, "cannot give %s to %s", e->fts_path, u->name);
		}
	}
	fts_close(fts);
	if (!rc)
		log_kv(LOG_INFO, "handed over", "path", path, "user", u->name, NULL);
	return rc;
}

int sandbox_give_dir(const char *dir, const struct sandbox_user *u)
{
	char *p = xstrdup(dir);
	struct stat st;
	int rc = 0;

	/* each missing component, then the whole */
	for (char *s = p + 1;; s++) {
		bool last = !*s;

		if (!last && *s != '/')
			continue;
		*s = '\0';
		if (!mkdir(p, 0700)) {
			if (chown(p, u->uid, u->gid))
				rc = fail_errno(EXIT_FAIL, "cannot give %s to %s", p, u->name);
		} else if (errno != EEXIST) {
			rc = fail_errno(errno == EACCES ? EXIT_PERM : EXIT_FAIL, "cannot create %s", p);
		}
		if (rc || last)
			break;
		*s = '/';
	}
	if (!rc && lstat(dir, &st))
		rc = fail_errno(EXIT_FAIL, "cannot stat %s", dir);
	else if (!rc && !S_ISDIR(st.st_mode))
		rc = fail(EXIT_FAIL, "%s is not a directory", dir);
	else if (!rc)
		rc = give(dir, &st, u);
	free(p);
	return rc;
}

int sandbox_give_file(const char *path, const struct sandbox_user *u)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : fail_errno(EXIT_FAIL, "cannot stat %s", path);
	if (!S_ISREG(st.st_mode))
		return fail(EXIT_FAIL, "%s is not a regular file", path);
	return give(path, &st, u);
}

static int caps_fail(const char *what)
{
	return fail_errno(EXIT_PERM, "cannot %s", what);
}

static int become(const struct sandbox_user *u)
{
	if (initgroups(u->name, u->gid) || setresgid(u->gid, u->gid, u->gid) ||
	    setresuid(u->uid, u->uid, u->uid))
		return fail_errno(EXIT_PERM, "cannot become %s", u->name);
	/* what cannot be undone must not be undoable */
	if (!setuid(0) || !setgid(0))
		BUG("still able to become root after becoming %s", u->name);
	return 0;
}

/*
 * The bounding set can only be emptied with CAP_SETPCAP, and the user
 * changed with CAP_SETUID and CAP_SETGID: the bounding set first, then
 * the user (the kernel empties the permitted set on leaving uid 0),
 * then what is left. A process started without CAP_SETPCAP has nothing
 * in the other sets to lose anyway.
 */
int sandbox_drop(const struct sandbox_user *u)
{
	bool setpcap, held;
	int rc = 0;

	if (capng_get_caps_process())
		return caps_fail("read the capabilities");
	setpcap = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	/* with nothing to drop, no capset(): a unit's SystemCallFilter may forbid it */
	held = capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE;
	capng_clear(CAPNG_SELECT_ALL);
	if (setpcap && capng_apply(CAPNG_SELECT_BOUNDS))
		return caps_fail("empty the capability bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return caps_fail("clear the ambient capabilities");
	if (u && u->uid != geteuid())
		rc = become(u);
	if (!rc && held && capng_apply(CAPNG_SELECT_CAPS))
		rc = caps_fail("drop the capabilities");
	if (!rc && (capng_get_caps_process() || capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE))
		rc = fail(EXIT_PERM, "capabilities left after dropping them");
	if (!rc && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		rc = fail_errno(EXIT_FAIL, "cannot set no_new_privs");
	return rc;
}

/*
 * What the services do, found by running their tests under the filter
 * in log mode (build with CFLAGS=-DNIMBUS_SECCOMP_LOG, run them, read
 * the kernel's "audit: type=1326" lines): HTTP on libmicrohttpd with
 * epoll worker threads, SQLite, libpq, hiredis, libcurl with OpenSSL
 * (and the resolver that glibc may load then), files of the cache and
 * the spool, the flusher threads, /proc for the metrics.
 */
static const char *const serve_syscalls[] = {
	/* files */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"open", "openat", "close", "lseek", "fstat", "stat", "lstat", "newfstatat", "statx",
	"fstatfs", "statfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
	"getdents64", "getcwd", "fcntl", "flock", "fsync", "fdatasync", "ftruncate",
	"fallocate", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "unlink",
	"unlinkat", "link", "linkat", "fchmod", "fchown", "utimensat", "sendfile", "dup", "dup2",
	"dup3", "pipe", "pipe2", "umask",
	/* memory */
	"brk", "mmap", "munmap", "mprotect", "mremap", "madvise",
	/* network (socket, ioctl: below) */
	"connect", "accept", "accept4", "getsockname", "getpeername", "setsockopt",
	"getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
	"shutdown", "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1",
	"epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2",
	/* threads, signals, time (clone: below) */
	"futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address", "exit",
	"exit_group", "gettid", "getpid", "tgkill", "rt_sigaction", "rt_sigprocmask",
	"rt_sigreturn", "rt_sigtimedwait", "sigaltstack", "restart_syscall", "nanosleep",
	"clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time",
	"sched_yield", "sched_getaffinity", "getrandom",
	/* who and where we are */
	"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
	"uname", "sysinfo", "getrlimit", "prlimit64", "getrusage",
};

/*
 * The sanitizer build (make SANITIZE=1) checks for leaks at exit from a
 * tracer process that ptraces the threads.
 */
#if defined(__SANITIZE_ADDRESS__)
static const char *const sanitizer_syscalls[] = {
	"clone", "ptrace", "wait4", "getdents", "getppid", "prctl",
};
#endif

/* Namespaces are for the jailer, not for a service. */
#define CLONE_NAMESPACES (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | \
			  CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME)

static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned nr,
		    const struct scmp_arg_cmp *cmp)
{
	int sys = seccomp_syscall_resolve_name(name);

	if (sys == __NR_SCMP_ERROR)
		return 0;	/* not a system call of this architecture */
	return seccomp_rule_add_array(ctx, action, sys, nr, cmp);
}

/* Allow name when one argument compares as cmp says. */
static int allow_if(scmp_filter_ctx ctx, const char *name, struct scmp_arg_cmp cmp)
{
	return add_rule(ctx, SCMP_ACT_ALLOW, name, 1, &cmp);
}

static int add_rules(scmp_filter_ctx ctx)
{
	static const int families[] = { AF_UNIX, AF_INET, AF_INET6 };
	static const unsigned long ioctls[] = { FIONREAD, FIONBIO, TCGETS };
	static const int prctls[] = { PR_SET_NAME, PR_GET_NAME };
	/* glibc's getaddrinfo() asks the kernel for the addresses of the host */
	struct scmp_arg_cmp netlink[] = { SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
					  SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE) };
	int rc = 0;

	for (size_t i = 0; !rc && i < ARRAY_SIZE(serve_syscalls); i++)
		rc = add_rule(ctx, SCMP_ACT_ALLOW, serve_syscalls[i], 0, NULL);
#if defined(__SANITIZE_ADDRESS__)
	for (size_t i = 0; !rc && i < ARRAY_SIZE(sanitizer_syscalls); i++)
		rc = add_rule(ctx, SCMP_ACT_ALLOW, sanitizer_syscalls[i], 0, NULL);
#endif
	/* threads only: no process, no namespace */
	if (!rc)
		rc = allow_if(ctx, "clone", SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD | CLONE_NAMESPACES,
						    CLONE_THREAD));
	/* its flags are out of reach of a filter: glibc falls back to clone() */
	if (!rc)
		rc = add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
	for (size_t i = 0; !rc && i < ARRAY_SIZE(families); i++)
		rc = allow_if(ctx, "socket", SCMP_A0(SCMP_CMP_EQ, families[i]));
	if (!rc)
		rc = add_rule(ctx, SCMP_ACT_ALLOW, "socket", 2, netlink);
	if (!rc)
		rc = allow_if(ctx, "socketpair", SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	for (size_t i = 0; !rc && i < ARRAY_SIZE(ioctls); i++)
		rc = allow_if(ctx, "ioctl", SCMP_A1(SCMP_CMP_EQ, ioctls[i]));
	/* thread names */
	for (size_t i = 0; !rc && i < ARRAY_SIZE(prctls); i++)
		rc = allow_if(ctx, "prctl", SCMP_A0(SCMP_CMP_EQ, prctls[i]));
	return rc;
}

#ifdef NIMBUS_SECCOMP_LOG
#define SECCOMP_DEFAULT SCMP_ACT_LOG
#else
#define SECCOMP_DEFAULT SCMP_ACT_KILL_PROCESS
#endif

int sandbox_seccomp_serve(void)
{
	scmp_filter_ctx ctx = seccomp_init(SECCOMP_DEFAULT);
	int rc;

	if (!ctx)
		return fail(EXIT_FAIL, "cannot set up a seccomp filter");
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	/* a binary tree: a few comparisons per call instead of one per rule */
	if (!rc)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (!rc)
		rc = add_rules(ctx);
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc)
		return fail(EXIT_FAIL, "cannot install the seccomp filter: %s", strerror(-rc));
	return 0;
}

int caps_limit(const int *caps, size_t nr)
{
	capng_clear(CAPNG_SELECT_ALL);
	for (size_t i = 0; i < nr; i++)
		if (capng_update(CAPNG_ADD, CAPNG_PERMITTED | CAPNG_BOUNDING_SET, caps[i]))
			return fail(EXIT_FAIL, "capability %d unknown", caps[i]);
	if (capng_apply(CAPNG_SELECT_BOTH))
		return caps_fail("limit the capabilities");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return caps_fail("clear the ambient capabilities");
	return 0;
}

static int set_effective(capng_act_t act, int cap)
{
	if (capng_get_caps_process() || capng_update(act, CAPNG_EFFECTIVE, cap) ||
	    capng_apply(CAPNG_SELECT_CAPS))
		return fail_errno(EXIT_PERM, "cannot %s capability %s",
				  act == CAPNG_ADD ? "raise" : "lower", capng_capability_to_name(cap));
	return 0;
}

int caps_raise(int cap)
{
	return set_effective(CAPNG_ADD, cap);
}

int caps_lower(int cap)
{
	return set_effective(CAPNG_DROP, cap);
}
