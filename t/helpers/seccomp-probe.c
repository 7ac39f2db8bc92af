/*
 * seccomp-probe ACTION...
 *
 * Install the services' seccomp filter (sandbox_seccomp_serve(), as
 * `nimbus serve` does once initialised), then do each ACTION in turn,
 * printing its name first and "ok" or the error after it:
 *
 *	getpid    allowed
 *	thread    start and join a thread (clone with CLONE_THREAD)
 *	clone3    answered ENOSYS, so that glibc falls back to clone
 *	execve    run /bin/true: forbidden
 *	fork      a new process: forbidden
 *	unshare   a new network namespace: forbidden
 *	packet    an AF_PACKET socket: forbidden
 *
 * A forbidden one kills the process with SIGSYS: nothing is printed
 * after its name.
 */
#include "common.h"
#include "sandbox.h"

#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static void *nothing(void *arg)
{
	return arg;
}

static int run(const char *action)
{
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
	if (!strcmp(action, "packet"))
		return socket(AF_PACKET, SOCK_RAW, 0) < 0 ? -1 : 0;
	die("unknown action %s", action);
}

int main(int argc, const char **argv)
{
	int rc;

	set_progname("seccomp-probe");
	if (argc < 2)
		die("usage: seccomp-probe ACTION...");
	rc = sandbox_seccomp_serve();
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
