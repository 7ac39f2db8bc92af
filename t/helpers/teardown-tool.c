/*
 * teardown-tool [--dry-run] [--no-github] [--keep-job] VM
 *
 * The teardown library as a reaper calls it, for the tests: with VM's
 * record when there is one, else with what VM's name says its objects
 * are (its jail, network namespace, host link and cgroups, as the
 * firecracker.* settings place them). Prints the actions, one a line;
 * exits with the first failure's code.
 */
#include "common.h"
#include "cgroup.h"
#include "config.h"
#include "jail.h"
#include "parse-options.h"
#include "teardown.h"

static const char *const usage[] = {
	"teardown-tool [--dry-run] [--no-github] [--keep-job] VM",
	NULL,
};

int main(int argc, const char **argv)
{
	int dry = 0, no_github = 0, keep_job = 0, rc;
	const struct option options[] = {
		OPT_BOOL(0, "dry-run", &dry, "say what would be done"),
		OPT_BOOL(0, "no-github", &no_github, "leave runners alone"),
		OPT_BOOL(0, "keep-job", &keep_job, "leave the job alone"),
		OPT_END(),
	};
	struct teardown_actions acts = TEARDOWN_ACTIONS_INIT;
	struct strbuf jail = STRBUF_INIT, netns = STRBUF_INIT;
	struct strvec links = STRVEC_INIT, cgroups = STRVEC_INIT;
	struct cgroup_layout l = CGROUP_LAYOUT_INIT;
	struct vm_record r = VM_RECORD_INIT;
	struct teardown_vm vm;
	struct teardown *td;
	char link[VM_ID_LEN + 1];

	set_progname("teardown-tool");
	argc = parse_options(argc, argv, options, usage, 0);
	if (argc != 1 || !vm_id_valid(argv[0]))
		usage_with_options(usage, options);
	rc = vm_record_load(argv[0], &r);
	if (!rc) {
		teardown_vm_of_record(&vm, &r);
	} else if (rc == -EXIT_NOTFOUND) {
		/* a stray VM: only names */
		jail_path(&jail, cfg_str("firecracker.chroot_base"), cfg_str("firecracker.binary"), argv[0]);
		strbuf_addf(&netns, "%s/%s", cfg_str("firecracker.netns_dir"), argv[0]);
		vm_link_name(link, argv[0], 'h');
		strvec_push(&links, link);
		if ((rc = cgroup_layout_read(&l)))
			die_fail(rc);
		cgroup_dirs(&l, cfg_str("firecracker.parent_cgroup"), argv[0], &cgroups);
		vm = (struct teardown_vm){ .id = argv[0], .jail = jail.buf, .netns = netns.buf,
					   .links = &links, .cgroups = &cgroups };
	} else {
		die_fail(rc);
	}
	td = teardown_new(NULL, (dry ? TEARDOWN_DRY_RUN : 0) | (no_github ? TEARDOWN_NO_GITHUB : 0) |
			  (keep_job ? TEARDOWN_KEEP_JOB : 0));
	rc = teardown_vm(td, &vm, &acts);
	for (size_t i = 0; i < acts.nr; i++) {
		struct strbuf sb = STRBUF_INIT;

		teardown_action_text(&sb, &acts.v[i]);
		printf("%s\n", sb.buf);
		strbuf_release(&sb);
	}
	teardown_actions_release(&acts);
	teardown_free(td);
	vm_record_release(&r);
	cgroup_layout_release(&l);
	strbuf_release(&jail);
	strbuf_release(&netns);
	strvec_clear(&links);
	strvec_clear(&cgroups);
	return fail_code(rc);
}
