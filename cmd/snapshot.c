#include "common.h"
#include "builtin.h"
#include "output.h"
#include "parse-options.h"
#include "sandbox.h"
#include "vmctl.h"

static const char *const snapshot_create_usage[] = {
	"nimbus snapshot create VM --out DIR --fence N [--resume] [--json]",
	NULL,
};

static int create_cmd(int argc, const char **argv)
{
	const char *out = NULL;
	int64_t fence = 0;
	int resume = 0, rc;
	const struct option options[] = {
		OPT_STRING(0, "out", &out, "DIR", "write the snapshot here (created, or empty)"),
		OPT_INT(0, "fence", &fence, "N", "the fence of the VM's job", 1, INT64_MAX),
		OPT_BOOL(0, "resume", &resume, "resume the VM afterwards instead of stopping it"),
		OPT_JSON(),
		OPT_END(),
	};
	struct teardown_actions acts = TEARDOWN_ACTIONS_INIT;
	struct vm_record r;
	struct store *st;
	json_t *meta;

	argc = parse_options(argc, argv, options, snapshot_create_usage, 0);
	if (argc != 1)
		usage_msg(snapshot_create_usage, options, argc ? "too many arguments" : "missing VM");
	if (!out || !fence)
		usage_msg(snapshot_create_usage, options, "--out and --fence are required");
	if ((rc = sandbox_host(SANDBOX_SNAPSHOT)))
		die_fail(rc);
	st = store_open_or_die();
	rc = vm_held(st, argv[0], fence, &r);
	if (rc)
		store_die(st, rc);
	rc = vm_snapshot(st, &r, out, resume, &meta, &acts);
	store_close(st);
	vm_record_release(&r);
	if (rc) {
		/* the snapshot is there even if the VM's teardown failed */
		rc = acts.nr ? report_actions(&acts, rc) : report_fail(rc);
		json_decref(meta);
		teardown_actions_release(&acts);
		return rc;
	}
	json_object_set_new(meta, "dir", xjson_string(out));
	out_textf("%s\n", out);
	out_result(meta);
	teardown_actions_release(&acts);
	return 0;
}

static const struct subcommand snapshot_subcommands[] = {
	{ "create", create_cmd, snapshot_create_usage,
	  "pause a VM, snapshot it, then resume or stop it" },
	{ NULL },
};

int cmd_snapshot(int argc, const char **argv)
{
	return run_subcommand(argc, argv, snapshot_subcommands);
}
