#ifndef SPAWN_H
#define SPAWN_H

#include <signal.h>

/*
 * Every child process nimbus starts goes through here, so that each one
 * gets:
 *   - a clean environment: PATH, LANG, LC_* and TZ from ours (HOME too
 *     with CHILD_HOME), plus the caller's env; or, with
 *     CHILD_INHERIT_ENV, ours less nimbus' own NIMBUS_* settings (they
 *     may carry passwords), plus the caller's env;
 *   - the descriptors 0, 1 and 2 only (the caller's in, out and err
 *     when set), every other one closed;
 *   - the default disposition of every signal (but the two that glibc
 *     keeps for itself), and the caller's mask;
 *   - no secret in its argv: an argument that holds a secret registered
 *     with redact_register() is refused, since /proc/PID/cmdline is
 *     world-readable.
 *
 *	struct child c = CHILD_INIT;
 *
 *	c.argv = (const char *[]){ "jailer", "--id", id, ..., NULL };
 *	strvec_pushf(&c.env, "NIMBUS_VM=%s", id);
 *	if ((rc = child_start(&c)))
 *		return rc;
 *	rc = child_wait(&c, &status);
 */

enum {
	CHILD_INHERIT_ENV = 1 << 0,
	CHILD_HOME = 1 << 1,
	/* a process group of its own */
	CHILD_NEW_PGRP = 1 << 2,
	/* SIGKILL when nimbus dies */
	CHILD_DIE_WITH_PARENT = 1 << 3,
};

struct child {
	const char **argv;		/* argv[0] without '/' is looked up in PATH */
	struct strvec env;		/* NAME=value, added to the environment */
	unsigned flags;
	const sigset_t *sigmask;	/* NULL: nothing blocked */
	int in, out, err;		/* become 0, 1 and 2; -1: ours */
	pid_t pid;
};
#define CHILD_INIT { .env = STRVEC_INIT, .in = -1, .out = -1, .err = -1 }

/*
 * Start the child: 0 with c->pid set, or a fail() code: -EXIT_NOTFOUND
 * when argv[0] is not found, -EXIT_PERM when it cannot be run,
 * -EXIT_REJECTED for a secret in argv. c->env is cleared either way.
 */
int child_start(struct child *c);
/* Wait for it: its wait status in *status; 0, or a fail() code. */
int child_wait(struct child *c, int *status);

/* The environment child_start() gives (NULL-terminated, in out). */
void child_env(const struct child *c, struct strvec *out);

#endif
