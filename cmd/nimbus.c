#include "common.h"
#include "builtin.h"
#include "config.h"
#include "log.h"
#include "output.h"
#include "parse-options.h"


struct cmd_struct {
	const char *name;
	int (*fn)(int argc, const char **argv);
	const char *summary;
};

/* The one list of commands: help, the completions and the docs read it. */
static const struct cmd_struct commands[] = {
	{ "audit", cmd_audit, "check the security posture of this host, its services and VMs" },
	{ "boot", cmd_boot, "boot a VM for a job under the jailer" },
	{ "cache", cmd_cache, "serve and collect the build cache" },
	{ "config", cmd_config, "show the effective configuration" },
	{ "db", cmd_db, "migrate the store and show its schema version" },
	{ "fc", cmd_fc, "print Firecracker configuration files" },
	{ "github", cmd_github, "installation tokens, runners and the breaker of the GitHub API" },
	{ "help", cmd_help, "show the commands, or a command's usage" },
	{ "host", cmd_host, "show the host's CPUs, NUMA nodes, KVM and cgroups" },
	{ "job", cmd_job, "queue, claim and finish jobs" },
	{ "key", cmd_key, "rotate, list, publish and retire signing keys" },
	{ "lease", cmd_lease, "acquire, renew, release and hold job leases" },
	{ "logs", cmd_logs, "ingest and query job logs, and manage their tables" },
	{ "ratelimit", cmd_ratelimit, "take from and inspect shared rate-limit buckets" },
	{ "reap", cmd_reap, "tear down what crashed VMs left on this host" },
	{ "redact", cmd_redact, "mask secrets in a stream" },
	{ "registry", cmd_registry, "serve the OCI registry; quotas, robots and gc" },
	{ "rootfs", cmd_rootfs, "content-address a rootfs and its overlays" },
	{ "serve", cmd_serve, "run the HTTP services" },
	{ "snapshot", cmd_snapshot, "snapshot a running VM" },
	{ "token", cmd_token, "mint and verify scoped tokens" },
	{ "verify", cmd_verify, "check a rootfs against its address or manifest" },
	{ "vm", cmd_vm, "list and stop this host's VMs" },
	{ "webhook", cmd_webhook, "receive, sign and verify webhooks, once each" },
};

static const char *const nimbus_usage[] = {
	"nimbus [-c section.key=value]... [--config FILE] [--json] [-q] [-v] COMMAND [ARG]...",
	"nimbus --version",
	NULL,
};

static int quiet, verbose;

static int opt_config_override(const struct option *opt UNUSED, const char *arg)
{
	cfg_add_override(arg);
	return 0;
}

static int opt_config_file(const struct option *opt UNUSED, const char *arg)
{
	cfg_set_file(arg);
	return 0;
}

static int opt_version(const struct option *opt UNUSED, const char *arg UNUSED)
{
	printf("nimbus %s\n", NIMBUS_VERSION);
	exit(fflush(stdout) ? EXIT_FAIL : EXIT_OK);
}

static void print_commands(FILE *fp)
{
	fprintf(fp, "\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(fp, "    %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(fp, "\nSee 'nimbus help COMMAND' and nimbus-COMMAND(1).\n");
}

static int opt_help(const struct option *opt UNUSED, const char *arg UNUSED);

static const struct option global_options[] = {
	OPT_CALLBACK('h', "help", NULL, NULL, "show this help and the commands", opt_help),
	OPT_CALLBACK('c', NULL, NULL, "section.key=value", "override a configuration value",
		     opt_config_override),
	OPT_CALLBACK(0, "config", NULL, "FILE", "read this configuration file", opt_config_file),
	OPT_JSON(),
	OPT_COUNT('q', "quiet", &quiet, "log less (repeatable)"),
	OPT_COUNT('v', "verbose", &verbose, "log more (repeatable)"),
	OPT_CALLBACK(0, "version", NULL, NULL, "print the version", opt_version),
	OPT_END(),
};

static int opt_help(const struct option *opt UNUSED, const char *arg UNUSED)
{
	print_usage(stdout, nimbus_usage, global_options);
	print_commands(stdout);
	exit(fflush(stdout) ? EXIT_FAIL : EXIT_OK);
}

static const struct cmd_struct *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static NORETURN void unknown_command(const char *name)
{
	const char *names[ARRAY_SIZE(commands)];
	const char *hint;

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		names[i] = commands[i].name;
	hint = suggest_word(name, names, ARRAY_SIZE(commands));
	if (hint)
		error("'%s' is not a nimbus command; did you mean '%s'?", name, hint);
	else
		error("'%s' is not a nimbus command; see 'nimbus help'", name);
	exit(EXIT_USAGE);
}

static void set_command_progname(const char *name)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "nimbus %s", name);
	set_progname(sb.buf);
	strbuf_release(&sb);
}

static const char *const help_usage[] = {
	"nimbus help [--commands] [COMMAND]",
	NULL,
};

int cmd_help(int argc, const char **argv)
{
	int list = 0;
	const struct option options[] = {
		OPT_BOOL(0, "commands", &list, "list the commands, one per line"),
		OPT_END(),
	};
	const struct cmd_struct *cmd;

	argc = parse_options(argc, argv, options, help_usage, 0);
	if (list) {
		if (argc)
			usage_msg(help_usage, options, "--commands takes no COMMAND");
		for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
			printf("%s\n", commands[i].name);
		return 0;
	}
	if (argc > 1)
		usage_msg(help_usage, options, "too many arguments");
	if (!argc) {
		print_usage(stdout, nimbus_usage, global_options);
		print_commands(stdout);
		return 0;
	}
	cmd = find_command(argv[0]);
	if (!cmd)
		unknown_command(argv[0]);
	set_command_progname(cmd->name);
	return cmd->fn(2, (const char *[]){ cmd->name, "-h", NULL });
}

static void check_stdout(void)
{
	if (out_flush() < 0)
		die_errno("write error on stdout");
	if (fflush(stdout) || ferror(stdout))
		die_errno("write error on stdout");
	if (close(1) < 0 && errno != EBADF)
		die_errno("write error on stdout");
}

int main(int argc, const char **argv)
{
	const struct cmd_struct *cmd;
	int rc;

	/* Never run with the standard descriptors closed: a file opened later would take them. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			return EXIT_FAIL;
	argc = parse_options(argc, argv, global_options, nimbus_usage, PARSE_OPT_STOP_AT_NON_OPTION);
	log_set_level(LOG_INFO - quiet + verbose);
	if (!argc) {
		print_usage(stderr, nimbus_usage, global_options);
		print_commands(stderr);
		return EXIT_USAGE;
	}
	cmd = find_command(argv[0]);
	if (!cmd)
		unknown_command(argv[0]);
	set_command_progname(cmd->name);
	rc = cmd->fn(argc, argv);
	check_stdout();
	return rc;
}
