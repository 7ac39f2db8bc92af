#include "tap.h"
#include "sandbox.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>

/* A capability set of this process, from /proc/self/status. */
static uint64_t set_of(const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	char *p;
	uint64_t v = ~0ULL;

	if (!strbuf_read_file(&sb, "/proc/self/status", 1 << 16) && (p = strstr(sb.buf, name)))
		v = strtoull(p + strlen(name) + 2, NULL, 16);
	strbuf_release(&sb);
	return v;
}

#define BIT(cap) (1ULL << (cap))

/*
 * What a host command does: keep two capabilities, raise one around its
 * work. In a child, since it cannot be undone.
 */
static void host_command(void)
{
	static const int keep[] = { CAP_NET_ADMIN, CAP_SYS_ADMIN };
	uint64_t both = BIT(CAP_NET_ADMIN) | BIT(CAP_SYS_ADMIN);

	is_int(caps_limit(keep, ARRAY_SIZE(keep)), 0, "limited to two");
	is_int(set_of("CapBnd"), both, "the bounding set holds them alone");
	is_int(set_of("CapPrm"), both, "the permitted set too");
	is_int(set_of("CapEff"), 0, "none effective");
	is_int(set_of("CapInh") | set_of("CapAmb"), 0, "none inheritable or ambient");
	is_int(caps_raise(CAP_NET_ADMIN), 0, "raised");
	is_int(set_of("CapEff"), BIT(CAP_NET_ADMIN), "effective while working");
	is_int(caps_lower(CAP_NET_ADMIN), 0, "lowered");
	is_int(set_of("CapEff"), 0, "none effective again");
	is_int(caps_raise(CAP_SYS_PTRACE), -EXIT_PERM, "one not kept cannot be raised");
	is_int(set_of("CapEff"), 0, "and nothing else was");
}

static void serve_drop(void)
{
	is_int(sandbox_drop(NULL), 0, "a service staying root drops everything");
	is_int(set_of("CapBnd") | set_of("CapPrm") | set_of("CapEff") | set_of("CapAmb"), 0, "no set left");
	is_int(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1, "no_new_privs");
}

/* Run fn, which makes n checks, in a child that prints them. */
static void in_child(void (*fn)(void), int n)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (!pid) {
		fn();
		fflush(stdout);
		_exit(tap_failed ? 1 : 0);
	}
	waitpid(pid, &status, 0);
	tap_n += n;
	ok(WIFEXITED(status) && !WEXITSTATUS(status), "the child's checks passed");
}

int main(void)
{
	if (geteuid()) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	in_child(host_command, 11);
	in_child(serve_drop, 3);
	return done_testing();
}
