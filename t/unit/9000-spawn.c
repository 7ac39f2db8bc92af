#include "tap.h"
#include "redact.h"
#include "spawn.h"

#include <signal.h>
#include <sys/wait.h>

static const char *joined(const struct strvec *sv)
{
	static struct strbuf sb = STRBUF_INIT;

	strbuf_reset(&sb);
	for (size_t i = 0; i < sv->nr; i++)
		strbuf_addf(&sb, "%s\n", sv->v[i]);
	return sb.buf;
}

static void test_env(void)
{
	struct child c = CHILD_INIT;
	struct strvec env = STRVEC_INIT;

	clearenv();
	setenv("PATH", "/usr/bin:/bin", 1);
	setenv("LANG", "C.UTF-8", 1);
	setenv("LC_TIME", "C", 1);
	setenv("TZ", "UTC", 1);
	setenv("HOME", "/root", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "x", 1);
	setenv("NIMBUS_STORE_URL", "postgres://u:pw@h/db", 1);

	strvec_push(&c.env, "EXTRA=1");
	strvec_push(&c.env, "TZ=Europe/Paris");
	child_env(&c, &env);
	is_str(joined(&env), "PATH=/usr/bin:/bin\nLANG=C.UTF-8\nLC_TIME=C\nEXTRA=1\nTZ=Europe/Paris\n",
	       "the allowlist, then the caller's, which wins");
	strvec_clear(&env);

	c.flags = CHILD_HOME;
	child_env(&c, &env);
	ok(has_line(joined(&env), "HOME=/root"), "HOME when asked for");
	strvec_clear(&env);

	c.flags = CHILD_INHERIT_ENV;
	child_env(&c, &env);
	is_str(joined(&env), "PATH=/usr/bin:/bin\nLANG=C.UTF-8\nLC_TIME=C\nHOME=/root\n"
	       "AWS_SECRET_ACCESS_KEY=x\nEXTRA=1\nTZ=Europe/Paris\n",
	       "inherited: ours less NIMBUS_*");
	strvec_clear(&env);
	strvec_clear(&c.env);
}

/* The SigIgn mask of /proc/PID/status text, less glibc's signals. */
static uint64_t ignored(const char *status)
{
	const char *p = strstr(status, "SigIgn:\t");

	return p ? strtoull(p + 8, NULL, 16) & ~(3ULL << 31) : ~0ULL;
}

/* Run argv with its stdout in *out; its wait status. */
static int run(struct child *c, struct strbuf *out)
{
	int fds[2], status = -1, rc;

	if (pipe2(fds, O_CLOEXEC))
		return -1;
	c->out = fds[1];
	rc = child_start(c);
	close(fds[1]);
	if (!rc) {
		strbuf_read_fd(out, fds[0], 1 << 20);
		child_wait(c, &status);
	}
	close(fds[0]);
	return rc ? rc : status;
}

static void test_run(void)
{
	struct child c = CHILD_INIT;
	struct strbuf out = STRBUF_INIT;
	sigset_t mask;
	int leak = fcntl(0, F_DUPFD, 50), status;

	/* an inherited descriptor, a blocked and an ignored signal */
	ok(leak >= 50, "a descriptor without close-on-exec");
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);

	c.argv = (const char *[]){ "sh", "-c", "cd /proc/self/fd && echo *", NULL };
	status = run(&c, &out);
	ok(WIFEXITED(status) && !WEXITSTATUS(status), "the child ran, from PATH");
	/* the shell's glob lists its own descriptors, and its directory's */
	ok(!strcmp(out.buf, "0 1 2\n") || !strcmp(out.buf, "0 1 2 3\n"), "only 0, 1 and 2");

	strbuf_reset(&out);
	c = (struct child)CHILD_INIT;
	c.argv = (const char *[]){ "grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status", NULL };
	c.sigmask = &mask;
	run(&c, &out);
	/* but glibc's own two (32, 33), which its sigaction() does not touch */
	ok(ignored(out.buf) == 0, "no signal ignored");
	ok(has_line(out.buf, "SigBlk:\t0000000000000200"), "the mask asked for");
	close(leak);
	signal(SIGPIPE, SIG_DFL);
	strbuf_release(&out);
}

static void test_failures(void)
{
	struct child c = CHILD_INIT;
	int rc;

	c.argv = (const char *[]){ "/nonexistent/command", NULL };
	rc = child_start(&c);
	is_int(rc, -EXIT_NOTFOUND, "a missing command");
	is_str(fail_message(), "cannot run /nonexistent/command: No such file or directory",
	       "says so");
	is_int(c.pid, 0, "no process left");

	c.argv = (const char *[]){ "/proc/self/status", NULL };
	is_int(child_start(&c), -EXIT_PERM, "a file that cannot be run");

	redact_register("hunter2-the-secret");
	c.argv = (const char *[]){ "true", "--password=hunter2-the-secret", NULL };
	strvec_push(&c.env, "X=1");
	rc = child_start(&c);
	is_int(rc, -EXIT_REJECTED, "a registered secret in argv is refused");
	is_str(fail_message(), "refusing to run true: argument 1 holds a secret", "says where");
	is_int(c.env.nr, 0, "the env is cleared anyway");
	redact_forget_all();
}

int main(void)
{
	test_env();
	test_run();
	test_failures();
	return done_testing();
}
