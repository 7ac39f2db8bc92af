#include "common.h"
#include "builtin.h"
#include "config.h"
#include "output.h"
#include "parse-options.h"
#include "sandbox.h"
#include "vmctl.h"

#include <signal.h>

static const char *const vm_list_usage[] = {
	"nimbus vm list [--json]",
	NULL,
};

static const char *const vm_stop_usage[] = {
	"nimbus vm stop VM --fence N [--timeout SECONDS] [--json]",
	NULL,
};

static bool alive(const struct vm_record *r)
{
	return r->pid && !kill(r->pid, 0) && vm_process_of(r->pid, r->id, r->jail);
}

/* A line of the table; "alive" is filled in by the caller, in its place. */
static json_t *table_row(const struct vm_record *r)
{
	static const char *const columns[] = {
		"id", "state", "job", "pid", "cpus", "alive", "created", NULL,
	};
	json_t *row = json_object();

	for (const char *const *c = columns; *c; c++) {
		json_t *v = json_object_get(r->doc, *c);

		json_object_set(row, *c, v ? v : json_null());
	}
	return row;
}

static int list_cmd(int argc, const char **argv)
{
	const struct option options[] = { OPT_JSON(), OPT_END() };
	struct vm_record *v;
	size_t nr;
	json_t *list = json_array();
	int rc;

	argc = parse_options(argc, argv, options, vm_list_usage, 0);
	if (argc)
		usage_msg(vm_list_usage, options, "too many arguments");
	rc = vm_record_list(&v, &nr);
	if (rc)
		die_fail(rc);
	for (size_t i = 0; i < nr; i++) {
		json_t *row = out_is_json() ? json_incref(v[i].doc) : table_row(&v[i]);

		json_object_set_new(row, "alive", json_boolean(alive(&v[i])));
		json_array_append_new(list, row);
	}
	vm_record_list_free(v, nr);
	out_result(list);
	return 0;
}

/* One action a line, or with --json an array of them. */
void print_actions(const struct teardown_actions *acts)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *list = json_array();

	for (size_t i = 0; i < acts->nr; i++) {
		json_array_append_new(list, teardown_action_json(&acts->v[i]));
		if (!acts->v[i].rc) {
			teardown_action_text(&sb, &acts->v[i]);
			strbuf_addch(&sb, '\n');
		}
	}
	out_textf("%s", sb.buf);
	out_result(list);
	strbuf_release(&sb);
}

/* The failures, as errors; the first one's code. */
int report_actions(const struct teardown_actions *acts, int rc)
{
	for (size_t i = 0; i < acts->nr; i++) {
		struct strbuf sb = STRBUF_INIT;

		if (!acts->v[i].rc)
			continue;
		teardown_action_text(&sb, &acts->v[i]);
		error("%s", sb.buf);
		strbuf_release(&sb);
	}
	return fail_code(rc);
}

static int stop_cmd(int argc, const char **argv)
{
	int64_t fence = 0, timeout = -1;
	const struct option options[] = {
		OPT_INT(0, "fence", &fence, "N", "the fence of the VM's job", 1, INT64_MAX),
		OPT_SECONDS(0, "timeout", &timeout,
			    "wait this long for the guest to shut down (default: firecracker.stop_timeout)",
			    0, 3600),
		OPT_JSON(),
		OPT_END(),
	};
	struct teardown_actions acts = TEARDOWN_ACTIONS_INIT;
	struct vm_record r;
	struct store *st;
	int rc;

	argc = parse_options(argc, argv, options, vm_stop_usage, 0);
	if (argc != 1)
		usage_msg(vm_stop_usage, options, argc ? "too many arguments" : "missing VM");
	if (!fence)
		usage_msg(vm_stop_usage, options, "--fence is required");
	if (timeout < 0)
		timeout = cfg_int("firecracker.stop_timeout");
	if ((rc = sandbox_host(SANDBOX_VM_STOP)))
		die_fail(rc);
	st = store_open_or_die();
	rc = vm_held(st, argv[0], fence, &r);
	if (rc)
		store_die(st, rc);
	rc = vm_stop(st, &r, timeout, &acts);
	store_close(st);
	vm_record_release(&r);
	if (rc) {
		rc = report_actions(&acts, rc);
		teardown_actions_release(&acts);
		return rc;
	}
	print_actions(&acts);
	teardown_actions_release(&acts);
	return 0;
}

static const struct subcommand vm_subcommands[] = {
	{ "list", list_cmd, vm_list_usage, "list this host's VMs" },
	{ "stop", stop_cmd, vm_stop_usage, "shut a VM down and tear it down" },
	{ NULL },
};

int cmd_vm(int argc, const char **argv)
{
	return run_subcommand(argc, argv, vm_subcommands);
}
