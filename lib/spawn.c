#include "common.h"
#include "redact.h"
#include "spawn.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char **environ;

/* What a child may need of ours to run at all. */
static bool allowed(const char *entry, unsigned flags)
{
	static const char *const names[] = { "PATH=", "LANG=", "TZ=" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (starts_with(entry, names[i]))
			return true;
	if (starts_with(entry, "LC_"))
		return true;
	return (flags & CHILD_HOME) && starts_with(entry, "HOME=");
}

/* Whether env sets the variable of entry (NAME=...). */
static bool sets(const struct strvec *env, const char *entry)
{
	size_t n = strcspn(entry, "=");

	for (size_t i = 0; i < env->nr; i++)
		if (!strncmp(env->v[i], entry, n) && env->v[i][n] == '=')
			return true;
	return false;
}

void child_env(const struct child *c, struct strvec *out)
{
	for (char **e = environ; *e; e++) {
		if (c->flags & CHILD_INHERIT_ENV ? starts_with(*e, "NIMBUS_") : !allowed(*e, c->flags))
			continue;
		if (!sets(&c->env, *e))
			strvec_push(out, *e);
	}
	for (size_t i = 0; i < c->env.nr; i++)
		strvec_push(out, c->env.v[i]);
}

/* Make fd the child's target descriptor; async-signal-safe. */
static int move_fd(int fd, int target)
{
	if (fd < 0)
		return 0;
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	/* above 2 first, so that one move cannot clobber another's source */
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return fd < 0 ? -1 : dup2(fd, target) < 0 ? -1 : 0;
}

/* Close every descriptor above 2 but keep; close_range() is Linux 5.9. */
static void close_others(int keep)
{
	struct rlimit rl;

	if (!close_range(3, keep - 1, 0) && !close_range(keep + 1, ~0U, 0))
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		rl.rlim_cur = 1 << 20;
	for (rlim_t fd = 3; fd < rl.rlim_cur; fd++)
		if (fd != (rlim_t)keep)
			close(fd);
}

/* Between fork and exec: only async-signal-safe calls. */
static NORETURN void run_child(const struct child *c, const char *const *env, pid_t parent,
			       int report)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int err;

	if ((c->flags & CHILD_NEW_PGRP) && setpgid(0, 0))
		goto fail;
	/* nobody is left to look after it once we are gone */
	if ((c->flags & CHILD_DIE_WITH_PARENT) &&
	    (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent))
		goto fail;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, c->sigmask ? c->sigmask : &none, NULL);
	if (move_fd(c->in, 0) || move_fd(c->out, 1) || move_fd(c->err, 2))
		goto fail;
	/* the report pipe (above 2, close-on-exec) tells the parent why exec failed */
	close_others(report);
	execvpe(c->argv[0], (char *const *)c->argv, (char *const *)env);
fail:
	err = errno;
	while (write(report, &err, sizeof(err)) < 0 && errno == EINTR)
		;
	_exit(127);
}

static int refuse_secrets(const struct child *c)
{
	for (size_t i = 0; c->argv[i]; i++)
		if (redact_has_secret(c->argv[i]))
			return fail(EXIT_REJECTED, "refusing to run %s: argument %zu holds a secret",
				    c->argv[0], i);
	return 0;
}

int child_start(struct child *c)
{
	struct strvec env = STRVEC_INIT;
	pid_t parent = getpid();
	int pipefd[2], err = 0, rc;
	ssize_t n;

	rc = refuse_secrets(c);
	if (rc) {
		strvec_clear_secret(&c->env);
		return rc;
	}
	child_env(c, &env);
	strvec_clear_secret(&c->env);
	if (pipe2(pipefd, O_CLOEXEC)) {
		strvec_clear_secret(&env);
		return fail_errno(EXIT_FAIL, "pipe");
	}
	fflush(NULL);
	c->pid = fork();
	if (!c->pid) {
		close(pipefd[0]);
		run_child(c, env.v, parent, pipefd[1]);
	}
	close(pipefd[1]);
	strvec_clear_secret(&env);
	if (c->pid < 0) {
		close(pipefd[0]);
		return fail_errno(EXIT_FAIL, "cannot start %s: fork", c->argv[0]);
	}
	/* Both sides set the group, so that it exists before either uses it. */
	if ((c->flags & CHILD_NEW_PGRP) && setpgid(c->pid, c->pid) && errno != EACCES &&
	    errno != ESRCH)
		rc = fail_errno(EXIT_FAIL, "setpgid");
	/* nothing to read: the exec went through */
	do
		n = read(pipefd[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n > 0) {
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
		errno = err;
		return fail_errno(err == ENOENT ? EXIT_NOTFOUND : EXIT_PERM, "cannot run %s",
				  c->argv[0]);
	}
	return rc;
}

int child_wait(struct child *c, int *status)
{
	while (waitpid(c->pid, status, 0) < 0) {
		if (errno != EINTR)
			return fail_errno(EXIT_FAIL, "waitpid %d", (int)c->pid);
	}
	c->pid = 0;
	return 0;
}
