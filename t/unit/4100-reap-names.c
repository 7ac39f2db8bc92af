/*
 * How the reaper tells a VM's objects from others': by their names and
 * by the --id of command lines, which any process may write.
 */
#include "tap.h"
#include "vm.h"

static void test_names(void)
{
	static const struct {
		const char *name, *id;
	} cases[] = {
		{ "nimbus-1a2b3c4d", "nimbus-1a2b3c4d" },	/* netns, tap, cgroup, jail */
		{ "nimbus1a2b3c4dh", "nimbus-1a2b3c4d" },	/* a veth's host end */
		{ "nimbus1a2b3c4db", "nimbus-1a2b3c4d" },
		{ "nimbus1a2b3c4dz", "nimbus-1a2b3c4d" },
		{ "nimbus-1A2b3c4d", NULL },			/* ids are lower case */
		{ "nimbus1a2b3c4dH", NULL },
		{ "nimbus1a2b3c4d-", NULL },
		{ "nimbus1a2b3c4d", NULL },
		{ "nimbus-1a2b3c4", NULL },
		{ "nimbus-1a2b3c4de", NULL },
		{ "nimbus1a2b3c4dhh", NULL },
		{ "nimbus-1a2b-c4d", NULL },
		{ "nimbusx1a2b3c4d", NULL },
		{ "Nimbus-1a2b3c4d", NULL },
		{ "other", NULL },
		{ "tap0", NULL },
		{ "", NULL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char id[VM_ID_LEN + 1] = "unchanged";
		bool found = vm_id_of_name(cases[i].name, id);

		ok(found == !!cases[i].id, "'%s' %s a VM's", cases[i].name, cases[i].id ? "is" : "is not");
		if (found && cases[i].id)
			is_str(id, cases[i].id, "'%s' belongs to %s", cases[i].name, cases[i].id);
	}
}

/* The arguments of args, NUL-separated as in /proc/PID/cmdline. */
static bool cmdline_id(const char *const *args, char *id)
{
	struct strbuf sb = STRBUF_INIT;
	char *buf;
	bool found;

	for (const char *const *a = args; *a; a++)
		strbuf_add(&sb, *a, strlen(*a) + 1);
	/* a copy of exactly that length, so that reading past it is caught */
	buf = xmalloc(sb.len);
	memcpy(buf, sb.buf, sb.len);
	found = vm_cmdline_id(buf, sb.len, id);
	free(buf);
	strbuf_release(&sb);
	return found;
}

static void test_cmdlines(void)
{
#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })
	const struct {
		const char *const *args;
		const char *id;
		const char *what;
	} cases[] = {
		{ ARGS("/usr/bin/jailer", "--id", "nimbus-1a2b3c4d", "--exec-file", "/usr/bin/firecracker",
		       "--", "--api-sock", "/api.socket"), "nimbus-1a2b3c4d", "the jailer" },
		{ ARGS("/firecracker", "--id", "nimbus-1a2b3c4d", "--start-time-us", "1", "--api-sock",
		       "/api.socket"), "nimbus-1a2b3c4d", "Firecracker, as the jailer runs it" },
		{ ARGS("/firecracker", "--id=nimbus-1a2b3c4d"), "nimbus-1a2b3c4d", "--id=ID" },
		{ ARGS("firecracker", "--id", "other-vm"), NULL, "another VM's" },
		{ ARGS("firecracker", "--id=other-vm", "--id", "nimbus-1a2b3c4d"), NULL,
		  "an --id that is not a VM's makes the process not ours" },
		{ ARGS("jailer", "--id", "nimbus-1a2b3c4d", "--id", "nimbus-00000000"), NULL,
		  "two VMs: neither's" },
		{ ARGS("jailer", "--id", "nimbus-1a2b3c4d", "--id=nimbus-1a2b3c4d"), "nimbus-1a2b3c4d",
		  "the same VM twice" },
		{ ARGS("sh", "-c", "x", "--", "--id", "nimbus-1a2b3c4d"), NULL, "after --: another program's" },
		{ ARGS("sh", "--id"), NULL, "--id without a value" },
		{ ARGS("sh", "--id="), NULL, "--id= without a value" },
		{ ARGS("sh", "--id", "--", "nimbus-1a2b3c4d"), NULL, "-- as the value" },
		{ ARGS("--id", "nimbus-1a2b3c4d"), NULL, "the program's name is no option" },
		{ ARGS("nimbus", "vm", "stop", "nimbus-1a2b3c4d"), NULL, "naming a VM is not running it" },
		{ ARGS("sh", "--identity", "nimbus-1a2b3c4d"), NULL, "another option" },
		{ ARGS("sh", "--id", "nimbus-1a2b3c4dh"), NULL, "a link's name is no VM id" },
		{ ARGS(""), NULL, "an empty command line" },
	};
#undef ARGS
	char id[VM_ID_LEN + 1];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		bool found = cmdline_id(cases[i].args, id);

		ok(found == !!cases[i].id, "%s", cases[i].what);
		if (found && cases[i].id)
			is_str(id, cases[i].id, "%s: the VM", cases[i].what);
	}
/* exactly the bytes of a literal, without the NUL C adds */
#define BYTES(s) s, sizeof(s) - 1
	ok(!vm_cmdline_id("", 0, id), "nothing at all");
	/* a last argument without its NUL may have been cut short */
	ok(!vm_cmdline_id(BYTES("x\0--id\0nimbus-1a2b3c4d"), id), "an id without its NUL");
	ok(vm_cmdline_id(BYTES("x\0--id\0nimbus-1a2b3c4d\0--api"), id),
	   "the id's NUL is there, a later argument is cut");
	ok(!vm_cmdline_id(BYTES("x\0--id\0nimbus-1a2b3c4\0"), id), "an id cut short");
	ok(vm_cmdline_is(BYTES("x\0--id\0nimbus-1a2b3c4d\0"), "nimbus-1a2b3c4d") &&
	   !vm_cmdline_is(BYTES("x\0--id\0nimbus-1a2b3c4d\0"), "nimbus-00000000"),
	   "vm_cmdline_is(): whether it is that VM");
#undef BYTES
}

int main(void)
{
	test_names();
	test_cmdlines();
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
