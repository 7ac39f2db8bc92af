#include "common.h"
#include "audit.h"
#include "builtin.h"
#include "output.h"
#include "parse-options.h"
#include "store.h"
#include "vm.h"

static const char *const audit_usage[] = {
	"nimbus audit [--json] [--vm VM] [--root DIR]",
	NULL,
};

/* The store, for the attestations, when a VM has a job; NULL when it cannot be opened. */
static struct store *open_store(const struct vm_record *vms, size_t nr)
{
	struct store *st = NULL;
	int rc;

	for (size_t i = 0; i < nr; i++) {
		if (!vms[i].job)
			continue;
		rc = store_open(&st, 0);
		if (rc)
			warning("%s", fail_message());
		return rc ? NULL : st;
	}
	return NULL;
}

/* Every VM of this host, or only one; each is also compared with all of them. */
static void audit_vms(struct audit *a, const char *only)
{
	struct vm_record *vms, one = VM_RECORD_INIT, *todo;
	struct store *st;
	size_t nr, n;
	int rc;

	/* none when they cannot be read: the host is still checked */
	if (vm_record_list(&vms, &nr))
		warning("%s", fail_message());
	todo = vms;
	n = nr;
	if (only) {
		rc = vm_record_load(only, &one);
		if (rc == -EXIT_NOTFOUND)
			rc = fail(EXIT_NOTFOUND, "no VM %s on this host", only);
		if (rc)
			die_fail(rc);
		todo = &one;
		n = 1;
	}
	st = open_store(todo, n);
	for (size_t i = 0; i < n; i++)
		audit_vm(a, &todo[i], vms, nr, st);
	if (st)
		store_close(st);
	vm_record_list_free(vms, nr);
	vm_record_release(&one);
}

int cmd_audit(int argc, const char **argv)
{
	const char *vm = NULL, *root = NULL;
	const struct option options[] = {
		OPT_JSON(),
		OPT_STRING(0, "vm", &vm, "VM", "check this VM only"),
		OPT_STRING(0, "root", &root, "DIR", "read proc, sys and dev under DIR"),
		OPT_END(),
	};
	struct audit a;
	size_t total;

	argc = parse_options(argc, argv, options, audit_usage, 0);
	if (argc)
		usage_msg(audit_usage, options, "too many arguments");
	audit_init(&a, root);
	if (!vm) {
		audit_host(&a);
		audit_services(&a);
	}
	audit_vms(&a, vm);
	total = json_array_size(a.checks);
	out_result(json_incref(a.checks));
	if (a.failed)
		error("%zu of %zu checks failed", a.failed, total);
	audit_release(&a);
	return a.failed ? EXIT_REJECTED : EXIT_OK;
}
