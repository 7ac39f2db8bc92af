/*
 * seccomp-probe [--host boot|vm-stop|snapshot] ACTION...
 *
 * Install the services' seccomp filter (sandbox_seccomp_serve(), as
 * `nimbus serve` does once initialised), or with --host a host
 * command's capabilities and filter (sandbox_host(), as that command
 * does once set up), then do each ACTION in turn, printing its name
 * first and "ok" or the error after it:
 *
 *	getpid    allowed
 *	thread    start and join a thread (clone with CLONE_THREAD)
 *	clone3    answered ENOSYS, so that glibc falls back to clone
 *	execve    run /bin/true (boot's filter lets it, replacing the probe)
 *	fork      a new process (boot's filter lets it)
 *	unshare   a new network namespace (boot's filter lets it; without
 *	          CAP_SYS_ADMIN effective, the kernel refuses it)
 *	userns    a new user namespace
 *	packet    an AF_PACKET socket
 *	ptrace, bpf, keyctl, perf, kexec, module
 *	          PTRACE_TRACEME, a BPF map, the session keyring's id,
 *	          perf_event_open, kexec_load, finit_module
 *
 * A forbidden one kills the process with SIGSYS: nothing is printed
 * after its name.
 */
#include "common.h"
#include "sandbox.h"

#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static void *nothing(void *arg)
{
	return arg;
}

static int run(const char *action)
{
	static const struct { const char *name; long nr, a0; } calls[] = {
		{ "bpf", SYS_bpf, BPF_MAP_CREATE },
		{ "keyctl", SYS_keyctl, KEYCTL_GET_KEYRING_ID },
		{ "perf", SYS_perf_event_open, 0 },
		{ "kexec", SYS_kexec_load, 0 },
		{ "module", SYS_finit_module, -1 },
	};
	pthread_t t;
	pid_t pid;

	if (!strcmp(action, "getpid"))
		return getpid() > 0 ? 0 : -1;
	if (!strcmp(action, "thread"))
		return (errno = pthread_create(&t, NULL, nothing, NULL)) ? -1 : pthread_join(t, NULL);
	if (!strcmp(action, "clone3"))
		return syscall(SYS_clone3, NULL, 0);
	if (!strcmp(action, "execve"))
		return execl("/bin/true", "true", (char *)NULL);
	if (!strcmp(action, "fork")) {
		pid = fork();
		if (!pid)
			_exit(0);
		return pid < 0 ? -1 : waitpid(pid, NULL, 0) < 0 ? -1 : 0;
	}
	if (!strcmp(action, "unshare"))
		return unshare(CLONE_NEWNET);
	if (!strcmp(action, "userns"))
		return unshare(CLONE_NEWUSER);
	if (!strcmp(action, "packet"))
		return socket(AF_PACKET, SOCK_RAW, 0) < 0 ? -1 : 0;
	if (!strcmp(action, "ptrace"))
		return ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	/* arguments the kernel refuses, should the call get through */
	for (size_t i = 0; i < ARRAY_SIZE(calls); i++)
		if (!strcmp(action, calls[i].name))
			return syscall(calls[i].nr, calls[i].a0, 0, 0, 0, 0);
	die("unknown action %s", action);
}

static int install(const char *host)
{
	static const struct { const char *name; enum sandbox_host cmd; } hosts[] = {
		{ "boot", SANDBOX_BOOT }, { "vm-stop", SANDBOX_VM_STOP },
		{ "snapshot", SANDBOX_SNAPSHOT },
	};

	if (!host)
		return sandbox_seccomp_serve();
	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++)
		if (!strcmp(host, hosts[i].name))
			return sandbox_host(hosts[i].cmd);
	die("unknown host command %s", host);
}

int main(int argc, const char **argv)
{
	const char *host = NULL;
	int rc;

	set_progname("seccomp-probe");
	if (argc > 2 && !strcmp(argv[1], "--host")) {
		host = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc < 2)
		die("usage: seccomp-probe [--host boot|vm-stop|snapshot] ACTION...");
	rc = install(host);
	if (rc)
		die_fail(rc);
	for (int i = 1; i < argc; i++) {
		printf("%s ", argv[i]);
		fflush(stdout);
		printf("%s\n", run(argv[i]) < 0 ? strerror(errno) : "ok");
		fflush(stdout);
	}
	return 0;
}
