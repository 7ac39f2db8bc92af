#include "common.h"
#include "builtin.h"
#include "config.h"
#include "fc-config.h"
#include "output.h"
#include "parse-options.h"

static const char *const fc_config_usage[] = {
	"nimbus fc config --kernel K --rootfs R [--overlay FILE]... [--vcpus N] [--mem MIB]"
	" [--tap NAME] [--mac MAC] [--boot-args S] [--huge-pages] [--io-engine Sync|Async]"
	" [--console]",
	NULL,
};

static int opt_io_engine(const struct option *opt, const char *arg)
{
	if (strcmp(arg, "Sync") && strcmp(arg, "Async"))
		return error("option '--io-engine': '%s' is not Sync or Async", arg);
	*(const char **)opt->value = arg;
	return 0;
}

static int config_cmd(int argc, const char **argv)
{
	struct fc_config c = { 0 };
	struct strvec overlays = STRVEC_INIT;
	int64_t vcpus = 0, mem = 0;
	int huge = 0, console = 0;
	const struct option options[] = {
		OPT_STRING(0, "kernel", &c.kernel, "K", "the guest kernel"),
		OPT_STRING(0, "rootfs", &c.rootfs, "R", "the root filesystem image (read-only)"),
		OPT_STRVEC(0, "overlay", &overlays, "FILE", "an overlay, another read-only drive (repeatable)"),
		OPT_INT(0, "vcpus", &vcpus, "N", "vCPUs (default: firecracker.vcpus)", 1, FC_MAX_VCPUS),
		OPT_INT(0, "mem", &mem, "MIB", "guest memory in MiB (default: firecracker.mem_mib)",
			32, 1048576),
		OPT_STRING(0, "tap", &c.tap, "NAME", "the tap of the network interface (default: none)"),
		OPT_STRING(0, "mac", &c.mac, "MAC", "the guest's MAC address"),
		OPT_STRING(0, "boot-args", &c.boot_args, "S", "kernel arguments to append"),
		OPT_BOOL(0, "huge-pages", &huge, "back guest memory with 2 MiB huge pages"),
		OPT_CALLBACK(0, "io-engine", &c.io_engine, "Sync|Async", "the drives' I/O engine",
			     opt_io_engine),
		OPT_BOOL(0, "console", &console, "keep the serial console"),
		OPT_END(),
	};
	json_t *doc;
	char *text;

	argc = parse_options(argc, argv, options, fc_config_usage, 0);
	if (argc)
		usage_msg(fc_config_usage, options, "too many arguments");
	if (!c.kernel || !c.rootfs)
		usage_msg(fc_config_usage, options, "--kernel and --rootfs are required");
	if (c.mac && !fc_mac_valid(c.mac))
		usage_msg(fc_config_usage, options, "--mac: '%s' is not xx:xx:xx:xx:xx:xx", c.mac);
	if (c.tap && (!*c.tap || strlen(c.tap) > 15))
		usage_msg(fc_config_usage, options, "--tap: '%s' is not a link name", c.tap);
	c.overlays = overlays.v;
	c.nr_overlays = overlays.nr;
	if (!c.io_engine)
		c.io_engine = cfg_str("firecracker.io_engine");
	if (!c.boot_args)
		c.boot_args = cfg_str("firecracker.boot_args");
	c.vcpus = vcpus ? vcpus : cfg_int("firecracker.vcpus");
	c.mem_mib = mem ? mem : cfg_int("firecracker.mem_mib");
	c.huge_pages = huge || cfg_bool("firecracker.huge_pages");
	c.console = console || cfg_bool("firecracker.console");
	c.log_path = "firecracker.log";
	c.metrics_path = "firecracker.metrics";
	doc = fc_config_json(&c);
	/* the document either way: it is what Firecracker reads */
	text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		die("out of memory");
	out_textf("%s\n", text);
	out_result(doc);
	free(text);
	strvec_clear(&overlays);
	return 0;
}

static const struct subcommand fc_subcommands[] = {
	{ "config", config_cmd, fc_config_usage,
	  "print a Firecracker configuration file with performance defaults" },
	{ NULL },
};

int cmd_fc(int argc, const char **argv)
{
	return run_subcommand(argc, argv, fc_subcommands);
}
