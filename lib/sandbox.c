#include "common.h"
#include "sandbox.h"

#include "log.h"

#include <cap-ng.h>
#include <fts.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/fsverity.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
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
 * What every nimbus process does, found by running the tests under the
 * filters in log mode (build with CFLAGS=-DNIMBUS_SECCOMP_LOG, run them,
 * read the kernel's "audit: type=1326" records; the kernel's log drops
 * most of a burst, the audit netlink socket's multicast group, read
 * with CAP_AUDIT_READ, has them all): files, memory, sockets, threads,
 * signals and time, for SQLite, libpq, hiredis, libcurl with OpenSSL
 * (and the resolver that glibc may load then).
 */
static const char *const base_syscalls[] = {
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
 * The services: HTTP on libmicrohttpd with epoll worker threads, files
 * of the cache and the spool, the flusher threads, /proc for the
 * metrics, all in the list above; and the registry's signer, reaped at
 * stop.
 */
static const char *const serve_syscalls[] = {
	"wait4",
};

/*
 * The host commands' work on VMs (vmctl.h, teardown.h, reap.h): signal
 * their processes, unmount their namespaces, detach the mounts in their
 * jails, move and remove files of their uids, and raise and lower
 * capabilities around that.
 */
static const char *const host_syscalls[] = {
	"kill", "pidfd_open", "pidfd_send_signal", "umount2", "copy_file_range",
	"chown", "lchown", "fchownat", "chmod", "fchmodat", "capget", "capset",
	/* rtnetlink's socket; images read in one pass */
	"bind", "fadvise64",
};

/*
 * boot, and what inherits its filter, as every process started after it
 * does: the jailer, which builds the jail and execs Firecracker (the
 * operations of Firecracker's docs/jailer.md), and Firecracker until it
 * installs its own, narrower filters (threads, /dev/kvm, the tap, epoll,
 * timers, io_uring, its API socket) and after that (the calls its
 * resources/seccomp/ filters allow). Their namespaces: clone and
 * unshare, below.
 */
static const char *const boot_syscalls[] = {
	/* nimbus: the netns and the jail's mounts; the jailer, started and waited for; pinning */
	"mount", "setns", "execve", "execveat", "vfork", "wait4", "waitid", "close_range",
	"sched_setaffinity",
	/* the jailer */
	"pivot_root", "chroot", "chdir", "fchdir", "mknod", "mknodat", "setsid", "setpgid",
	"getppid", "setrlimit", "setuid", "setgid", "setgroups", "setresuid", "setresgid",
	"setreuid", "setregid",
	/* Firecracker */
	"listen", "tkill", "timerfd_create", "timerfd_settime", "timerfd_gettime",
	"io_uring_setup", "io_uring_enter", "io_uring_register", "memfd_create", "msync",
	"arch_prctl", "seccomp",
	/* the Firecracker double's idle vCPU threads */
	"pause",
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

/* Which filter: the services', the host commands', boot's. */
enum filter { SERVE, HOST, BOOT };

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

static int allow_all(scmp_filter_ctx ctx, const char *const *names, size_t nr)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < nr; i++)
		rc = add_rule(ctx, SCMP_ACT_ALLOW, names[i], 0, NULL);
	return rc;
}

/* Allow name when one argument compares as cmp says. */
static int allow_if(scmp_filter_ctx ctx, const char *name, struct scmp_arg_cmp cmp)
{
	return add_rule(ctx, SCMP_ACT_ALLOW, name, 1, &cmp);
}

/*
 * ioctl() requests, on their 32 bits as the kernel reads them: musl, which
 * Firecracker is built with, passes them sign-extended.
 */
static int allow_ioctls(scmp_filter_ctx ctx, const unsigned long *reqs, size_t nr)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < nr; i++)
		rc = allow_if(ctx, "ioctl", SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffff, reqs[i] & 0xffffffff));
	return rc;
}

static int allow_prctls(scmp_filter_ctx ctx, const int *options, size_t nr)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < nr; i++)
		rc = allow_if(ctx, "prctl", SCMP_A0(SCMP_CMP_EQ, options[i]));
	return rc;
}

/* The requests of every process, and a host command's if_nametoindex(). */
static const unsigned long ioctls[] = { FIONREAD, FIONBIO, TCGETS };
static const unsigned long host_ioctls[] = { SIOCGIFINDEX };

static const unsigned long boot_ioctls[] = {
	/* the tap, made by nimbus and opened by Firecracker (not the eBPF ones) */
	TUNSETIFF, TUNGETIFF, TUNSETOWNER, TUNSETGROUP, TUNSETPERSIST, TUNGETFEATURES,
	TUNSETOFFLOAD, TUNSETVNETHDRSZ,
	/* the fs-verity digest of a rootfs, for its attestation */
	FS_IOC_MEASURE_VERITY, FS_IOC_READ_VERITY_METADATA,
	/* Firecracker's terminal, descriptors and drives */
	TCSETS, TIOCGWINSZ, FIOCLEX, BLKGETSIZE64, BLKSSZGET,
};

/*
 * Thread names; for boot's inheritors, their own filters, whether they
 * may dump core, and what libcap-ng reads as a program starts.
 */
static const int prctls[] = { PR_SET_NAME, PR_GET_NAME };
static const int boot_prctls[] = {
	PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS, PR_SET_SECCOMP, PR_GET_SECCOMP,
	PR_SET_DUMPABLE, PR_GET_DUMPABLE, PR_CAPBSET_READ, PR_GET_SECUREBITS,
};

static int add_sockets(scmp_filter_ctx ctx)
{
	static const int families[] = { AF_UNIX, AF_INET, AF_INET6 };
	/* glibc's getaddrinfo() asks the kernel for the addresses of the host; links are made with it */
	struct scmp_arg_cmp netlink[] = { SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
					  SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE) };
	int rc = 0;

	for (size_t i = 0; !rc && i < ARRAY_SIZE(families); i++)
		rc = allow_if(ctx, "socket", SCMP_A0(SCMP_CMP_EQ, families[i]));
	if (!rc)
		rc = add_rule(ctx, SCMP_ACT_ALLOW, "socket", 2, netlink);
	if (!rc)
		rc = allow_if(ctx, "socketpair", SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	return rc;
}

/*
 * New processes: threads only, but for boot, whose jailer makes its
 * namespaces; no user namespace for anyone (a wide door into the
 * kernel, which the jailer does not use).
 */
static int add_clone(scmp_filter_ctx ctx, enum filter f)
{
	int rc;

	if (f == BOOT) {
		rc = allow_if(ctx, "clone", SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, 0));
		if (!rc)
			rc = allow_if(ctx, "unshare", SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, 0));
	} else {
		rc = allow_if(ctx, "clone", SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD | CLONE_NAMESPACES,
						    CLONE_THREAD));
	}
	/* its flags are out of reach of a filter: glibc falls back to clone() */
	if (!rc)
		rc = add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
	return rc;
}

static int add_rules(scmp_filter_ctx ctx, enum filter f)
{
	int rc = allow_all(ctx, base_syscalls, ARRAY_SIZE(base_syscalls));

#if defined(__SANITIZE_ADDRESS__)
	if (!rc)
		rc = allow_all(ctx, sanitizer_syscalls, ARRAY_SIZE(sanitizer_syscalls));
#endif
	if (!rc && f == SERVE)
		rc = allow_all(ctx, serve_syscalls, ARRAY_SIZE(serve_syscalls));
	if (!rc && f != SERVE)
		rc = allow_all(ctx, host_syscalls, ARRAY_SIZE(host_syscalls));
	if (!rc && f == BOOT)
		rc = allow_all(ctx, boot_syscalls, ARRAY_SIZE(boot_syscalls));
	if (!rc)
		rc = add_clone(ctx, f);
	if (!rc)
		rc = add_sockets(ctx);
	if (!rc)
		rc = allow_ioctls(ctx, ioctls, ARRAY_SIZE(ioctls));
	if (!rc && f != SERVE)
		rc = allow_ioctls(ctx, host_ioctls, ARRAY_SIZE(host_ioctls));
	if (!rc && f == BOOT)
		rc = allow_ioctls(ctx, boot_ioctls, ARRAY_SIZE(boot_ioctls));
	/* KVM's, which only its own descriptors answer, as many as Firecracker uses */
	if (!rc && f == BOOT)
		rc = allow_if(ctx, "ioctl", SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00, KVMIO << 8));
	if (!rc)
		rc = allow_prctls(ctx, prctls, ARRAY_SIZE(prctls));
	if (!rc && f == BOOT)
		rc = allow_prctls(ctx, boot_prctls, ARRAY_SIZE(boot_prctls));
	if (!rc && f == BOOT)
		rc = add_rule(ctx, SCMP_ACT_ALLOW, "prctl", 2, (struct scmp_arg_cmp[]){
			      SCMP_A0(SCMP_CMP_EQ, PR_CAP_AMBIENT),
			      SCMP_A1(SCMP_CMP_EQ, PR_CAP_AMBIENT_IS_SET) });
	return rc;
}

#ifdef NIMBUS_SECCOMP_LOG
#define SECCOMP_DEFAULT SCMP_ACT_LOG
#else
#define SECCOMP_DEFAULT SCMP_ACT_KILL_PROCESS
#endif

static int install(enum filter f)
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
		rc = add_rules(ctx, f);
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc)
		return fail(EXIT_FAIL, "cannot install the seccomp filter: %s", strerror(-rc));
	return 0;
}

int sandbox_seccomp_serve(void)
{
	return install(SERVE);
}

/* caps_limit() was called: caps_raise() and caps_lower() work on the effective set. */
static bool caps_limited;

/*
 * The bounding set first, which only CAP_SETPCAP can narrow (without
 * it, a unit's CapabilityBoundingSet= has), then the sets of the thread,
 * which anyone can narrow: no capset() when there is nothing to drop, as
 * a unit's SystemCallFilter= may forbid it.
 */
int caps_limit(const int *caps, size_t nr)
{
	uint64_t keep = 0;
	bool setpcap, held;

	if (capng_get_caps_process())
		return caps_fail("read the capabilities");
	setpcap = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	held = capng_have_permitted_capabilities() != CAPNG_NONE;
	/* what is not held cannot be kept */
	for (size_t i = 0; i < nr; i++) {
		if (caps[i] < 0 || caps[i] > CAP_LAST_CAP)
			BUG("capability %d unknown", caps[i]);
		if (capng_have_capability(CAPNG_PERMITTED, caps[i]))
			keep |= UINT64_C(1) << caps[i];
	}
	capng_clear(CAPNG_SELECT_ALL);
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (keep & (UINT64_C(1) << cap))
			capng_update(CAPNG_ADD, CAPNG_PERMITTED | CAPNG_BOUNDING_SET, cap);
	if (setpcap && capng_apply(CAPNG_SELECT_BOUNDS))
		return caps_fail("limit the capability bounding set");
	if (held && capng_apply(CAPNG_SELECT_CAPS))
		return caps_fail("limit the capabilities");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return caps_fail("clear the ambient capabilities");
	caps_limited = true;
	return 0;
}

/* From the state caps_limit() applied: one capset() each, nothing read. */
static int set_effective(capng_act_t act, int cap)
{
	int err = errno, rc;

	if (!caps_limited)
		return 0;
	capng_update(act, CAPNG_EFFECTIVE, cap);
	if (!capng_apply(CAPNG_SELECT_CAPS)) {
		errno = err;
		return 0;
	}
	rc = fail_errno(EXIT_PERM, "cannot %s capability %s", act == CAPNG_ADD ? "raise" : "lower",
			capng_capability_to_name(cap));
	capng_update(act == CAPNG_ADD ? CAPNG_DROP : CAPNG_ADD, CAPNG_EFFECTIVE, cap);
	errno = err;
	return rc;
}

int caps_raise(int cap)
{
	return set_effective(CAPNG_ADD, cap);
}

int caps_lower(int cap)
{
	return set_effective(CAPNG_DROP, cap);
}

/*
 * The capabilities of the host commands, each raised only around the
 * operations that need it; their pages say the same (CAPABILITIES).
 * boot's bounding set is what the jailer it starts gets, and hands on
 * to Firecracker.
 */
static const int boot_caps[] = {
	CAP_CHOWN,		/* files of the jail for the VM's uid; the jailer: the jail, its devices */
	CAP_DAC_OVERRIDE,	/* Firecracker's API socket; the jailer: its pid file in the VM's root */
	CAP_KILL,		/* a rollback: the VM's processes, which run as its uid */
	CAP_MKNOD,		/* the jailer: /dev/kvm and /dev/net/tun in the jail */
	CAP_NET_ADMIN,		/* the tap, the veth pair and the bridge */
	CAP_SETGID,		/* the jailer: the VM's gid, no other group */
	CAP_SETUID,		/* the jailer: the VM's uid */
	CAP_SYS_ADMIN,		/* the netns, the jail's mounts; the jailer: its namespaces */
	CAP_SYS_CHROOT,		/* the jailer */
	CAP_SYS_NICE,		/* pinning the VM's threads, which are not ours */
	CAP_SYS_PTRACE,		/* a rollback: the jail the VM's process is rooted in */
};

static const int stop_caps[] = {
	CAP_DAC_OVERRIDE,	/* Firecracker's API socket; removing the jail, the VM's uid's */
	CAP_KILL,		/* the VM's processes */
	CAP_NET_ADMIN,		/* deleting its links */
	CAP_SYS_ADMIN,		/* unmounting its netns and the mounts of its jail */
	CAP_SYS_PTRACE,		/* the jail its process is rooted in, /proc/PID/root */
};

static const int snapshot_caps[] = {
	CAP_CHOWN,		/* the snapshot's files, taken from the VM's uid */
	CAP_DAC_OVERRIDE, CAP_KILL, CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_SYS_PTRACE,
};

/* A dry run sees what a reaper does, and changes nothing. */
static const int reap_plan_caps[] = {
	CAP_SYS_PTRACE,		/* the jail a VM's process is rooted in */
};

static const struct {
	const int *caps;
	size_t nr;
	enum filter filter;
} host_commands[] = {
	[SANDBOX_BOOT] = { boot_caps, ARRAY_SIZE(boot_caps), BOOT },
	[SANDBOX_BOOT_PLAN] = { NULL, 0, HOST },
	[SANDBOX_VM_STOP] = { stop_caps, ARRAY_SIZE(stop_caps), HOST },
	[SANDBOX_SNAPSHOT] = { snapshot_caps, ARRAY_SIZE(snapshot_caps), HOST },
	/* the teardown of vm stop, for every VM found stale */
	[SANDBOX_REAP] = { stop_caps, ARRAY_SIZE(stop_caps), HOST },
	[SANDBOX_REAP_PLAN] = { reap_plan_caps, ARRAY_SIZE(reap_plan_caps), HOST },
};

int sandbox_host(enum sandbox_host cmd)
{
	int rc = caps_limit(host_commands[cmd].caps, host_commands[cmd].nr);

	return rc ? rc : install(host_commands[cmd].filter);
}

int sandbox_seccomp_filters(void)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p;
	char *end;
	long n = -1;

	if (strbuf_read_file(&sb, "/proc/thread-self/status", 1 << 16) >= 0 &&
	    (p = strstr(sb.buf, "\nSeccomp_filters:"))) {
		n = strtol(p + strlen("\nSeccomp_filters:"), &end, 10);
		if (*end != '\n' || n < 0 || n > INT_MAX)
			n = -1;
	}
	strbuf_release(&sb);
	return n;
}
