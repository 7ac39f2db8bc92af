#include "common.h"
#include "boot.h"
#include "builtin.h"
#include "output.h"
#include "parse-options.h"
#include "sandbox.h"

static const char *const boot_usage[] = {
	"nimbus boot --job JOB --fence N [--kernel K] [--rootfs R] [--overlay F]... [--vcpus N]"
	" [--mem MIB] [--cpus LIST | --numa-node N] [--cpu-quota PERCENT] [--snapshot DIR]"
	" [--dry-run] [--json]",
	NULL,
};

/* The plan as text: one item a line, the jailer's command line, then the configuration. */
static void render_plan(json_t *plan)
{
	json_t *doc = json_deep_copy(plan), *config = json_object_get(plan, "config"), *v;
	struct strbuf sb = STRBUF_INIT, argv = STRBUF_INIT;
	char *text;
	size_t i;

	json_array_foreach(json_object_get(plan, "jailer"), i, v)
		strbuf_addf(&argv, "%s%s", i ? " " : "", json_string_value(v));
	json_object_set_new(doc, "jailer", xjson_string(argv.buf));
	json_object_del(doc, "config");
	out_render_text(&sb, doc);
	text = json_dumps(config, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		die("out of memory");
	out_textf("%sconfig\n%s\n", sb.buf, text);
	free(text);
	json_decref(doc);
	strbuf_release(&sb);
	strbuf_release(&argv);
}

int cmd_boot(int argc, const char **argv)
{
	struct boot_opts o = { .numa_node = -1 };
	struct strvec overlays = STRVEC_INIT;
	int dry_run = 0, rc;
	const struct option options[] = {
		OPT_STRING(0, "job", &o.job, "JOB", "the job the VM runs"),
		OPT_INT(0, "fence", &o.fence, "N", "the fence of the job's lease", 1, INT64_MAX),
		OPT_STRING(0, "kernel", &o.kernel, "K", "guest kernel (default: firecracker.kernel)"),
		OPT_STRING(0, "rootfs", &o.rootfs, "R", "root filesystem (default: firecracker.rootfs)"),
		OPT_STRVEC(0, "overlay", &overlays, "F", "an overlay, a read-only drive (repeatable)"),
		OPT_INT(0, "vcpus", &o.vcpus, "N", "vCPUs (default: firecracker.vcpus)", 1, 32),
		OPT_INT(0, "mem", &o.mem_mib, "MIB", "guest memory (default: firecracker.mem_mib)",
			32, 1048576),
		OPT_STRING(0, "cpus", &o.cpus, "LIST", "run on these CPUs, even if other VMs do"),
		OPT_INT(0, "numa-node", &o.numa_node, "N", "take CPUs of the pool on this node", 0, 4095),
		OPT_INT(0, "cpu-quota", &o.cpu_quota, "PERCENT",
			"CPU time in percent of one CPU (default: 100 per CPU)", 1, 100000),
		OPT_STRING(0, "snapshot", &o.snapshot, "DIR", "restore this snapshot instead of booting"),
		OPT_BOOL(0, "dry-run", &dry_run, "print the plan, change nothing"),
		OPT_JSON(),
		OPT_END(),
	};
	struct store *st;
	json_t *doc;

	argc = parse_options(argc, argv, options, boot_usage, 0);
	if (argc)
		usage_msg(boot_usage, options, "too many arguments");
	if (!o.job || !o.fence)
		usage_msg(boot_usage, options, "--job and --fence are required");
	if (o.cpus && o.numa_node >= 0)
		usage_msg(boot_usage, options, "--cpus and --numa-node exclude each other");
	if (o.snapshot && (o.vcpus || o.mem_mib))
		usage_msg(boot_usage, options, "a snapshot has its vCPUs and memory");
	o.overlays = overlays.v;
	o.nr_overlays = overlays.nr;
	o.dry_run = dry_run;
	if (!dry_run && (rc = boot_host_check()))
		die_fail(rc);
	if ((rc = sandbox_host(dry_run ? SANDBOX_BOOT_PLAN : SANDBOX_BOOT)))
		die_fail(rc);
	st = store_open_or_die();
	rc = vm_boot(st, &o, &doc);
	if (rc)
		store_die(st, rc);
	store_close(st);
	if (dry_run)
		render_plan(doc);
	else
		out_textf("%s\n", json_string_value(json_object_get(doc, "id")));
	out_result(doc);
	strvec_clear(&overlays);
	return 0;
}
