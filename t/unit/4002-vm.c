#include "tap.h"
#include "boot.h"
#include "cgroup.h"
#include "config.h"
#include "log.h"
#include "teardown.h"
#include "vm.h"

#include <sys/stat.h>

static char tmp[] = "/tmp/nimbus-unit-vm.XXXXXX";

static void join(struct strbuf *sb, const struct strvec *sv)
{
	strbuf_reset(sb);
	for (size_t i = 0; i < sv->nr; i++)
		strbuf_addf(sb, "%s%s", i ? " " : "", sv->v[i]);
}

static void test_layouts(void)
{
	static const char v1[] =
		"tmpfs /sys/fs/cgroup tmpfs rw 0 0\n"
		"cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0\n"
		"cgroup /sys/fs/cgroup/cpuset cgroup rw,cpuset 0 0\n"
		"cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n"
		"cgroup /sys/fs/cgroup/pi\\040ds cgroup rw,relatime,pids 0 0\n"
		"cgroup /sys/fs/cgroup/systemd cgroup rw,name=systemd 0 0\n"
		"cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n";
	struct cgroup_layout l = CGROUP_LAYOUT_INIT;
	struct strvec dirs = STRVEC_INIT;
	struct strbuf sb = STRBUF_INIT, text = STRBUF_INIT;

	cgroup_layout_parse(&l, v1);
	is_int(l.version, 1, "v1 when the unified hierarchy lacks the controllers");
	is_str(cgroup_mount_of(&l, 1, "cpu")->path, "/sys/fs/cgroup/cpu,cpuacct", "co-mounted controllers");
	is_str(cgroup_mount_of(&l, 1, "pids")->path, "/sys/fs/cgroup/pi ds", "escaped blanks");
	ok(!cgroup_mount_of(&l, 1, "name=systemd") && !cgroup_mount_of(&l, 1, "rw"), "options are not controllers");
	cgroup_dirs(&l, "firecracker", "nimbus-0a1b2c3d", &dirs);
	join(&sb, &dirs);
	is_str(sb.buf, "/sys/fs/cgroup/cpuset/firecracker/nimbus-0a1b2c3d "
	       "/sys/fs/cgroup/cpu,cpuacct/firecracker/nimbus-0a1b2c3d "
	       "/sys/fs/cgroup/memory/firecracker/nimbus-0a1b2c3d "
	       "/sys/fs/cgroup/pi ds/firecracker/nimbus-0a1b2c3d", "one directory per hierarchy");
	cgroup_layout_release(&l);
	strvec_clear(&dirs);

	/* a unified hierarchy with the controllers: a fake one, its cgroup.controllers a file */
	strbuf_reset(&sb);
	strbuf_addf(&sb, "%s/cgroup.controllers", tmp);
	{
		FILE *fp = fopen(sb.buf, "w");

		fputs("cpuset cpu io memory hugetlb pids rdma misc\n", fp);
		fclose(fp);
	}
	strbuf_addf(&text, "%scgroup2 %s cgroup2 rw,nsdelegate 0 0\n", v1, tmp);
	cgroup_layout_parse(&l, text.buf);
	is_int(l.version, 2, "v2 where the unified hierarchy has the controllers");
	cgroup_dirs(&l, "a/b", "nimbus-0a1b2c3d", &dirs);
	join(&sb, &dirs);
	strbuf_reset(&text);
	strbuf_addf(&text, "%s/a/b/nimbus-0a1b2c3d", tmp);
	is_str(sb.buf, text.buf, "one directory in v2");
	is_int(cgroup_layout_check(&l), 0, "it fits");
	cgroup_layout_release(&l);
	strvec_clear(&dirs);

	cgroup_layout_parse(&l, "cgroup /a cgroup rw,cpu 0 0\n");
	is_int(l.version, 0, "neither fits");
	is_int(cgroup_layout_check(&l), -EXIT_UNAVAILABLE, "and says so");
	cgroup_layout_release(&l);
	strbuf_release(&sb);
	strbuf_release(&text);
}

static void test_values(void)
{
	struct cgroup_limits lim = { .quota_pct = 250, .memory = 1 << 30, .pids = 64 };
	struct strvec v = STRVEC_INIT;
	struct strbuf sb = STRBUF_INIT, ctl = STRBUF_INIT;

	cpulist_parse("2-3", &lim.cpus);
	cpulist_parse("1", &lim.mems);
	cgroup_values(1, &lim, &v);
	join(&sb, &v);
	is_str(sb.buf, "cpuset.cpus=2-3 cpuset.mems=1 cpu.cfs_period_us=100000 cpu.cfs_quota_us=250000 "
	       "memory.limit_in_bytes=1073741824 pids.max=64", "v1 files, cpusets and the period first");
	strvec_clear(&v);
	lim.quota_pct = 0;
	cgroup_values(2, &lim, &v);
	join(&sb, &v);
	is_str(sb.buf, "cpuset.cpus=2-3 cpuset.mems=1 memory.max=1073741824 pids.max=64",
	       "v2 files, no quota");
	strvec_clear(&v);
	ok(!cgroup_file_controller("cpu.max", &ctl) && !strcmp(ctl.buf, "cpu"), "the controller of a file");
	strbuf_reset(&ctl);
	ok(!cgroup_file_controller("memory.memsw.limit_in_bytes", &ctl) && !strcmp(ctl.buf, "memory"),
	   "up to the first dot");
	ok(cgroup_file_controller("tasks", &ctl) && cgroup_file_controller(".x", &ctl) &&
	   cgroup_file_controller("cpu.", &ctl) && cgroup_file_controller("a/b.c", &ctl) &&
	   cgroup_file_controller("../cpu.max", &ctl), "files the jailer refuses");
	ok(cgroup_parent_valid("firecracker") && cgroup_parent_valid("a/b.c/d-e_f"), "valid parents");
	ok(!cgroup_parent_valid("") && !cgroup_parent_valid("/a") && !cgroup_parent_valid("a/") &&
	   !cgroup_parent_valid("a//b") && !cgroup_parent_valid("a/../b") && !cgroup_parent_valid(".") &&
	   !cgroup_parent_valid("a b"), "invalid parents");
	strbuf_release(&sb);
	strbuf_release(&ctl);
}

static void test_ids(void)
{
	char id[VM_ID_LEN + 1], other[VM_ID_LEN + 1], link[VM_ID_LEN + 1];
	int64_t lo, hi;

	vm_id_new(id);
	vm_id_new(other);
	ok(vm_id_valid(id) && strcmp(id, other), "new ids: %s, %s", id, other);
	ok(!vm_id_valid("nimbus-0A1B2C3D") && !vm_id_valid("nimbus-0a1b2c3") &&
	   !vm_id_valid("nimbus-0a1b2c3d0") && !vm_id_valid("other-0a1b2c3d") && !vm_id_valid(""),
	   "invalid ids");
	vm_link_name(link, "nimbus-0a1b2c3d", 'h');
	is_str(link, "nimbus0a1b2c3dh", "links: 15 characters, the prefix and the id's hex");
	ok(!uid_range_parse("3000000-3065535", &lo, &hi) && lo == 3000000 && hi == 3065535, "a uid range");
	ok(uid_range_parse("0-10", &lo, &hi) && uid_range_parse("10-5", &lo, &hi) &&
	   uid_range_parse("10", &lo, &hi) && uid_range_parse("1-4294967295", &lo, &hi),
	   "bad uid ranges: root, reversed, one number, past the last id");
}

/* A command line as /proc/PID/cmdline holds it: each argument and its NUL. */
#define CMDLINE(s) s, sizeof(s) - 1

static void test_cmdlines(void)
{
	const char *id = "nimbus-0a1b2c3d";

	ok(vm_cmdline_is(CMDLINE("/firecracker\0--id\0nimbus-0a1b2c3d\0--start-time-us\0001\0"), id),
	   "Firecracker, as the jailer starts it");
	ok(vm_cmdline_is(CMDLINE("jailer\0--id=nimbus-0a1b2c3d\0--exec-file\0/f\0"), id), "--id=ID");
	ok(!vm_cmdline_is(CMDLINE("fc\0--id\0nimbus-0a1b2c3d0\0"), id) &&
	   !vm_cmdline_is(CMDLINE("fc\0nimbus-0a1b2c3d\0--id\0"), id) &&
	   !vm_cmdline_is(CMDLINE("fc\0--api-sock\0nimbus-0a1b2c3d\0"), id) &&
	   !vm_cmdline_is(CMDLINE("fc\0--id=nimbus-0a1b2c3d\0"), "nimbus-ffffffff"),
	   "other ids, the id elsewhere");
	/* a last argument without its NUL may have been cut short */
	ok(!vm_cmdline_is(CMDLINE("fc\0--id\0nimbus-0a1b2c3d"), id) && !vm_cmdline_is("", 0, id),
	   "a cut command line, an empty one");
}

/* A VM's process by its jail: this process, whose root is "/", in a jail whose root/ is "/". */
static void test_process(void)
{
	struct strbuf jail = STRBUF_INIT, root = STRBUF_INIT;
	const char *id = "nimbus-0a1b2c3d";

	strbuf_addf(&jail, "%s/jail", tmp);
	strbuf_addf(&root, "%s/root", jail.buf);
	if (mkdir_p(jail.buf, 0700) || symlink("/", root.buf))
		die_errno("cannot make %s", root.buf);
	ok(vm_process_of(getpid(), id, jail.buf), "rooted in the jail: the VM's");
	if (unlink(root.buf) || mkdir(root.buf, 0700))
		die_errno("cannot make %s", root.buf);
	ok(!vm_process_of(getpid(), id, jail.buf) && !vm_process_of(getpid(), id, NULL),
	   "rooted elsewhere, not named for it: not the VM's");
	strbuf_release(&jail);
	strbuf_release(&root);
}

static int from_text(const char *text, struct vm_record *r)
{
	return vm_record_from_json(r, json_loads(text, 0, NULL));
}

static void test_records(void)
{
	struct vm_record r, *list;
	struct strbuf sb = STRBUF_INIT;
	size_t nr;

	is_int(from_text("{\"id\": \"nimbus-0a1b2c3d\", \"pid\": 7, \"cpus\": \"1-2\", \"links\": [\"x\", 3],"
			 " \"cgroups\": [\"/c\"], \"job\": \"j\", \"fence\": 4}", &r), 0, "a record");
	ok(r.pid == 7 && cpuset_count(&r.cpus) == 2 && r.links.nr == 1 && r.cgroups.nr == 1 &&
	   r.fence == 4 && !strcmp(r.job, "j") && !r.jail && r.uid == -1, "its fields");
	is_int(vm_record_create(&r), 0, "created");
	is_int(vm_record_create(&r), -EXIT_BUSY, "an id is taken once");
	vm_record_release(&r);
	is_int(from_text("{\"pid\": 1}", &r), -EXIT_FAIL, "no id");
	is_int(from_text("{\"id\": \"nimbus-../../x\"}", &r), -EXIT_FAIL, "not an id");
	is_int(from_text("{\"id\": \"nimbus-0a1b2c3d\", \"pid\": -1}", &r), -EXIT_FAIL, "a negative pid");
	is_int(from_text("[1]", &r), -EXIT_FAIL, "not an object");
	is_int(vm_record_load("nimbus-0a1b2c3d", &r), 0, "read back");
	json_object_set_new(r.doc, "state", json_string("running"));
	is_int(vm_record_save(&r), 0, "saved over");
	vm_record_release(&r);
	vm_record_path(&sb, "nimbus-ffffffff");
	{
		FILE *fp = fopen(sb.buf, "w");

		fputs("{\"id\": \"nimbus-0a1b2c3d\"}", fp);
		fclose(fp);
	}
	is_int(vm_record_load("nimbus-ffffffff", &r), -EXIT_FAIL, "a record under another's name");
	/* the warning it gives is expected */
	log_set_level(LOG_ERROR);
	is_int(vm_record_list(&list, &nr), 0, "the records, the bad one skipped with a warning");
	log_set_level(LOG_INFO);
	ok(nr == 1 && !strcmp(list[0].state, "running"), "one");
	vm_record_list_free(list, nr);
	unlink(sb.buf);
	is_int(vm_record_load("nimbus-00000000", &r), -EXIT_NOTFOUND, "an unknown VM");
	is_int(vm_record_load("../x", &r), -EXIT_NOTFOUND, "not a VM id");
	strbuf_release(&sb);
}

/* A VM known by a record and a jail only, as a reaper may find one. */
static void test_teardown(void)
{
	struct teardown_actions acts = TEARDOWN_ACTIONS_INIT;
	struct strbuf jail = STRBUF_INIT, sb = STRBUF_INIT;
	struct teardown_vm vm = { .id = "nimbus-0a1b2c3d", .record = true };
	struct teardown *td = teardown_new(NULL, TEARDOWN_DRY_RUN | TEARDOWN_KEEP_JOB);

	strbuf_addf(&jail, "%s/jail/firecracker/nimbus-0a1b2c3d", tmp);
	strbuf_addf(&sb, "%s/root/dev/net", jail.buf);
	mkdir_p(sb.buf, 0700);
	strbuf_reset(&sb);
	strbuf_addf(&sb, "%s/root/firecracker.pid", jail.buf);
	{
		FILE *fp = fopen(sb.buf, "w");

		fputs("999999999\n", fp);
		fclose(fp);
	}
	vm.jail = jail.buf;
	is_int(teardown_vm(td, &vm, &acts), 0, "a dry run");
	is_int(acts.nr, 2, "two actions, the pid of the pid file being no process");
	strbuf_reset(&sb);
	teardown_action_text(&sb, &acts.v[0]);
	ok(!strcmp(sb.buf + strlen("removed chroot "), jail.buf), "%s", sb.buf);
	strbuf_reset(&sb);
	teardown_action_text(&sb, &acts.v[1]);
	is_str(sb.buf, "removed record nimbus-0a1b2c3d", "then the record");
	ok(!access(jail.buf, F_OK), "nothing removed");
	teardown_actions_release(&acts);
	teardown_free(td);

	td = teardown_new(NULL, TEARDOWN_KEEP_JOB);
	is_int(teardown_vm(td, &vm, &acts), 0, "the teardown");
	is_int(acts.nr, 2, "the same actions");
	ok(access(jail.buf, F_OK) && vm_record_load(vm.id, &(struct vm_record)VM_RECORD_INIT) == -EXIT_NOTFOUND,
	   "done");
	teardown_actions_release(&acts);
	is_int(teardown_vm(td, &vm, &acts), 0, "again: everything is gone already");
	is_int(acts.nr, 0, "and nothing is said");
	teardown_actions_release(&acts);
	teardown_free(td);
	strbuf_release(&jail);
	strbuf_release(&sb);
}

int main(void)
{
	struct strbuf sb = STRBUF_INIT;

	if (!mkdtemp(tmp))
		die_errno("mkdtemp");
	strbuf_addf(&sb, "core.run_dir=%s/run", tmp);
	cfg_add_override(sb.buf);
	strbuf_reset(&sb);
	strbuf_addf(&sb, "%s/run/vms", tmp);
	mkdir_p(sb.buf, 0700);
	test_layouts();
	test_values();
	test_ids();
	test_cmdlines();
	test_process();
	test_records();
	test_teardown();
	strbuf_reset(&sb);
	strbuf_addf(&sb, "rm -rf %s", tmp);
	if (system(sb.buf))
		warning("cannot remove %s", tmp);
	strbuf_release(&sb);
	return done_testing();
}
