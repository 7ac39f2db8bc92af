/*
 * fake-vm --id ID --jail DIR --uid N --gid N [--netns PATH] [--cgroup DIR]...
 *         [--as-root] [--keep-caps] [--no-nnp] [--seccomp all|main|none]
 *
 * A process set up the way the jailer sets up Firecracker, for
 * `nimbus audit` to look at (root only): in a new pid namespace, in the
 * network namespace PATH (else a new one), in each cgroup DIR, chrooted
 * in DIR/root, as N:N without supplementary groups, with no capability,
 * no_new_privs and a seccomp filter on its two threads. Each flag
 * breaks one of these: --as-root stays uid 0, --keep-caps keeps the
 * capabilities, --no-nnp leaves no_new_privs unset, --seccomp main
 * filters the main thread only, none no thread.
 *
 * Prints the pid of the process (as the host sees it) once it is set up,
 * then waits until it is killed; SIGTERM to this process kills it.
 */
#include "common.h"
#include "parse-options.h"

#include <cap-ng.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static const char *const usage[] = {
	"fake-vm --id ID --jail DIR --uid N --gid N [--netns PATH] [--cgroup DIR]... [--as-root]"
	" [--keep-caps] [--no-nnp] [--seccomp all|main|none]",
	NULL,
};

static const char *id, *jail, *netns, *seccomp_on = "all";
static int64_t uid = -1, gid = -1;
static struct strvec cgroups = STRVEC_INIT;
static int as_root, keep_caps, no_nnp;

static void *idle(void *arg)
{
	for (;;)
		pause();
	return arg;
}

static void filter(bool all)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

	if (!ctx || seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) ||
	    (all && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ptrace), 0) || seccomp_load(ctx))
		die("cannot install a seccomp filter");
	seccomp_release(ctx);
}

static void join_cgroup(const char *dir)
{
	char *path = xstrfmt("%s/cgroup.procs", dir);
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "0\n", 2) != 2)
		die_errno("cannot join %s", dir);
	close(fd);
	free(path);
}

/* pid 1 of the new pid namespace: set up, say so on ready, wait. */
static NORETURN void vm(int ready)
{
	pthread_t t;
	char *root = xstrfmt("%s/root", jail);
	int fd;

	if (netns) {
		fd = open(netns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET))
			die_errno("cannot enter %s", netns);
		close(fd);
	} else if (unshare(CLONE_NEWNET)) {
		die_errno("unshare");
	}
	for (size_t i = 0; i < cgroups.nr; i++)
		join_cgroup(cgroups.v[i]);
	if (chroot(root) || chdir("/"))
		die_errno("cannot chroot to %s", root);
	if (!keep_caps) {
		capng_clear(CAPNG_SELECT_ALL);
		if (capng_apply(CAPNG_SELECT_BOUNDS))
			die("cannot empty the bounding set");
	}
	if (!as_root && (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid)))
		die_errno("cannot become %" PRId64 ":%" PRId64, uid, gid);
	if (as_root && !keep_caps && capng_apply(CAPNG_SELECT_CAPS))
		die("cannot drop the capabilities");
	if (!no_nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die_errno("no_new_privs");
	/* the thread first: a thread started later would inherit the filter */
	if ((errno = pthread_create(&t, NULL, idle, NULL)))
		die_errno("pthread_create");
	if (strcmp(seccomp_on, "none"))
		filter(!strcmp(seccomp_on, "all"));
	if (write(ready, "", 1) != 1)
		_exit(1);
	close(ready);
	idle(NULL);
	_exit(0);
}

static pid_t child;

static void forward(int sig)
{
	kill(child, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(int argc, const char **argv)
{
	const struct option options[] = {
		OPT_STRING(0, "id", &id, "ID", "the VM id"),
		OPT_STRING(0, "jail", &jail, "DIR", "chroot in DIR/root"),
		OPT_INT(0, "uid", &uid, "N", "the uid", 0, INT32_MAX),
		OPT_INT(0, "gid", &gid, "N", "the gid", 0, INT32_MAX),
		OPT_STRING(0, "netns", &netns, "PATH", "enter this network namespace"),
		OPT_STRVEC(0, "cgroup", &cgroups, "DIR", "join this cgroup (repeatable)"),
		OPT_BOOL(0, "as-root", &as_root, "stay root"),
		OPT_BOOL(0, "keep-caps", &keep_caps, "keep the capabilities"),
		OPT_BOOL(0, "no-nnp", &no_nnp, "leave no_new_privs unset"),
		OPT_STRING(0, "seccomp", &seccomp_on, "all|main|none", "which threads are filtered"),
		OPT_END(),
	};
	int fds[2], status;
	char c;

	set_progname("fake-vm");
	argc = parse_options(argc, argv, options, usage, 0);
	if (argc || !id || !jail || uid < 0 || gid < 0)
		usage_with_options(usage, options);
	if (pipe2(fds, O_CLOEXEC) || unshare(CLONE_NEWPID))
		die_errno("cannot make a pid namespace");
	child = fork();
	if (child < 0)
		die_errno("fork");
	if (!child) {
		close(fds[0]);
		vm(fds[1]);
	}
	close(fds[1]);
	signal(SIGTERM, forward);
	signal(SIGINT, forward);
	if (read(fds[0], &c, 1) != 1) {
		waitpid(child, NULL, 0);
		die("the VM did not come up");
	}
	printf("%d\n", (int)child);
	fflush(stdout);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}
