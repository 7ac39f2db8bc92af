#include "common.h"
#include "builtin.h"
#include "output.h"
#include "parse-options.h"
#include "reap.h"
#include "sandbox.h"

static const char *const reap_usage[] = {
	"nimbus reap [--dry-run] [--json] [--no-github] [--grace SECONDS]",
	NULL,
};

#define GRACE_DEFAULT 60

int cmd_reap(int argc, const char **argv)
{
	int64_t grace = GRACE_DEFAULT;
	int dry_run = 0, no_github = 0, rc;
	const struct option options[] = {
		OPT_BOOL(0, "dry-run", &dry_run, "print what would be torn down, change nothing"),
		OPT_JSON(),
		OPT_BOOL(0, "no-github", &no_github, "leave GitHub runners alone"),
		OPT_SECONDS(0, "grace", &grace, "leave VMs younger than this alone (default: 60)",
			    0, 86400),
		OPT_END(),
	};
	struct teardown_actions acts = TEARDOWN_ACTIONS_INIT;
	struct reap_opts o;
	bool left = false;

	argc = parse_options(argc, argv, options, reap_usage, 0);
	if (argc)
		usage_msg(reap_usage, options, "too many arguments");
	if (!dry_run && geteuid())
		die_code(EXIT_PERM, "reaping needs root (processes, namespaces, cgroups, jails)");
	if ((rc = sandbox_host(dry_run ? SANDBOX_REAP_PLAN : SANDBOX_REAP)))
		die_fail(rc);
	o = (struct reap_opts){
		.grace_ms = grace * 1000,
		.flags = (dry_run ? REAP_DRY_RUN : 0) | (no_github ? REAP_NO_GITHUB : 0),
	};
	rc = reap(&o, &acts);
	if (rc)
		die_fail(rc);
	for (size_t i = 0; i < acts.nr; i++)
		left |= acts.v[i].rc != 0;
	/* what was done is said even when something is left, which is said on stderr */
	print_actions(&acts);
	rc = left ? report_actions(&acts, -EXIT_FAIL) : 0;
	teardown_actions_release(&acts);
	return rc;
}
