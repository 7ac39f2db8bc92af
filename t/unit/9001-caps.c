#include "tap.h"
#include "sandbox.h"

#include <cap-ng.h>
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

/*
 * Before caps_limit(), raising and lowering leave the sets alone; what
 * is not held is not kept; lowering keeps errno for the caller's report.
 */
static void limits(void)
{
	static const int keep[] = { CAP_NET_ADMIN, CAP_SYS_PTRACE };
	uint64_t eff = set_of("CapEff");

	is_int(caps_lower(CAP_NET_ADMIN), 0, "lowering before a limit is nothing");
	is_int(set_of("CapEff"), eff, "and changes nothing");
	/* as a unit's CapabilityBoundingSet= would have: no CAP_SYS_PTRACE */
	ok(!prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0), "CAP_SYS_PTRACE out of the bounding set");
	capng_get_caps_process();
	capng_update(CAPNG_DROP, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SYS_PTRACE);
	ok(!capng_apply(CAPNG_SELECT_CAPS), "and not permitted");
	is_int(caps_limit(keep, ARRAY_SIZE(keep)), 0, "limited to two, of which one is held");
	is_int(set_of("CapPrm"), BIT(CAP_NET_ADMIN), "the one held is kept");
	is_int(set_of("CapBnd"), BIT(CAP_NET_ADMIN), "in the bounding set too");
	errno = ENOENT;
	caps_raise(CAP_NET_ADMIN);
	caps_lower(CAP_NET_ADMIN);
	is_int(errno, ENOENT, "errno kept");
}

/* boot's filter, counted for the audit: one more than before. */
static void boot_filter(void)
{
	int before = sandbox_seccomp_filters();

	ok(before >= 0, "the kernel counts the filters");
	is_int(sandbox_host(SANDBOX_BOOT), 0, "boot's privileges");
	is_int(sandbox_seccomp_filters(), before + 1, "one filter more");
	is_int(set_of("CapEff"), 0, "none effective");
	is_int(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1, "no_new_privs");
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
	in_child(limits, 8);
	in_child(boot_filter, 5);
	in_child(serve_drop, 3);
	return done_testing();
}
