#include "common.h"
#include "builtin.h"
#include "cgroup.h"
#include "config.h"
#include "output.h"
#include "parse-options.h"
#include "parse-num.h"
#include "topology.h"

static const char *const host_topology_usage[] = {
	"nimbus host topology [--sysfs DIR] [--json]",
	NULL,
};

/* The swap enabled, from /proc/swaps: bytes, or -1 when it cannot be read. */
static int64_t swap_bytes(void)
{
	struct strbuf sb = STRBUF_INIT;
	struct strvec lines = STRVEC_INIT;
	int64_t total = 0;

	if (strbuf_read_file(&sb, "/proc/swaps", 1 << 20) < 0)
		return -1;
	strvec_split(&lines, sb.buf, '\n');
	/* after the header: Filename Type Size Used Priority, sizes in KiB */
	for (size_t i = 1; i < lines.nr; i++) {
		struct strvec f = STRVEC_INIT;
		int64_t kib;

		for (char *p = (char *)lines.v[i]; *p; p++)
			if (*p == '\t')
				*p = ' ';
		strvec_split(&f, lines.v[i], ' ');
		if (f.nr >= 3 && !parse_i64(f.v[2], 0, INT64_MAX / 1024, &kib))
			total += kib * 1024;
		strvec_clear(&f);
	}
	strvec_clear(&lines);
	strbuf_release(&sb);
	return total;
}

static json_t *kvm_json(void)
{
	const char *dev = cfg_str("firecracker.kvm_device");
	int api, rc = kvm_check(dev, &api);

	return json_pack("{s:s, s:b, s:o, s:o}", "device", dev, "usable", !rc,
			 "api_version", api < 0 ? json_null() : json_integer(api),
			 "error", rc ? xjson_string(fail_message()) : json_null());
}

static json_t *cgroup_json(const struct cgroup_layout *l)
{
	json_t *mounts = json_array();
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < l->nr; i++) {
		strbuf_reset(&sb);
		for (size_t c = 0; c < l->mounts[i].controllers.nr; c++)
			strbuf_addf(&sb, "%s%s", c ? "," : "", l->mounts[i].controllers.v[c]);
		json_array_append_new(mounts, json_pack("{s:s, s:i, s:s}", "path", l->mounts[i].path,
							"version", l->mounts[i].version,
							"controllers", sb.buf));
	}
	strbuf_release(&sb);
	return json_pack("{s:o, s:o}", "version", l->version ? json_integer(l->version) : json_null(),
			 "mounts", mounts);
}

static void text_line(struct strbuf *sb, const char *key, const char *fmt, ...) PRINTF(3, 4);
static void text_line(struct strbuf *sb, const char *key, const char *fmt, ...)
{
	va_list ap;

	strbuf_addf(sb, "%-11s", key);
	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
	strbuf_addch(sb, '\n');
}

static const char *str(json_t *doc, const char *key)
{
	const char *s = json_string_value(json_object_get(doc, key));

	return s && *s ? s : "-";
}

/* The text form: one fact a line, nodes and mounts one a line each. */
static void render(struct strbuf *sb, json_t *doc)
{
	json_t *kvm = json_object_get(doc, "kvm"), *cg = json_object_get(doc, "cgroup"), *v;
	json_int_t swap = json_integer_value(json_object_get(doc, "swap_bytes")), threads;
	struct strbuf cores = STRBUF_INIT;
	size_t i;

	text_line(sb, "cpus", "%s", str(doc, "cpus"));
	text_line(sb, "isolated", "%s", str(doc, "isolated"));
	json_array_foreach(json_object_get(doc, "cores"), i, v)
		strbuf_addf(&cores, "%s%s", i ? " " : "", json_string_value(v));
	text_line(sb, "cores", "%s", cores.buf);
	threads = json_integer_value(json_object_get(doc, "threads_per_core"));
	text_line(sb, "smt", "%s (%" JSON_INTEGER_FORMAT " thread%s per core)", str(doc, "smt"),
		  threads, threads == 1 ? "" : "s");
	json_array_foreach(json_object_get(doc, "nodes"), i, v) {
		char key[32];

		xsnprintf(key, sizeof(key), "node %" JSON_INTEGER_FORMAT,
			  json_integer_value(json_object_get(v, "node")));
		text_line(sb, key, "cpus %s, %" JSON_INTEGER_FORMAT " MiB, %" JSON_INTEGER_FORMAT
			  " MiB free", str(v, "cpus"),
			  json_integer_value(json_object_get(v, "memory_bytes")) >> 20,
			  json_integer_value(json_object_get(v, "free_bytes")) >> 20);
	}
	if (json_is_true(json_object_get(kvm, "usable")))
		text_line(sb, "kvm", "%s usable (API %" JSON_INTEGER_FORMAT ")", str(kvm, "device"),
			  json_integer_value(json_object_get(kvm, "api_version")));
	else
		text_line(sb, "kvm", "%s", str(kvm, "error"));
	if (json_is_integer(json_object_get(cg, "version")))
		text_line(sb, "cgroup", "v%" JSON_INTEGER_FORMAT " for VMs",
			  json_integer_value(json_object_get(cg, "version")));
	else
		text_line(sb, "cgroup", "none fits VMs");
	json_array_foreach(json_object_get(cg, "mounts"), i, v)
		text_line(sb, "", "v%" JSON_INTEGER_FORMAT " %s %s",
			  json_integer_value(json_object_get(v, "version")), str(v, "path"),
			  str(v, "controllers"));
	text_line(sb, "ksm", "%s", str(doc, "ksm"));
	if (swap < 0)
		text_line(sb, "swap", "-");
	else
		text_line(sb, "swap", swap ? "on (%" JSON_INTEGER_FORMAT " MiB)" : "off", swap >> 20);
	strbuf_release(&cores);
}

static int topology_cmd(int argc, const char **argv)
{
	const char *sysfs = NULL;
	const struct option options[] = {
		OPT_STRING(0, "sysfs", &sysfs, "DIR", "read this tree instead of /sys (tests)"),
		OPT_JSON(),
		OPT_END(),
	};
	struct topology t = TOPOLOGY_INIT;
	struct cgroup_layout cg = CGROUP_LAYOUT_INIT;
	struct strbuf text = STRBUF_INIT;
	json_t *doc;
	int rc;

	argc = parse_options(argc, argv, options, host_topology_usage, 0);
	if (argc)
		usage_msg(host_topology_usage, options, "too many arguments");
	rc = topology_read(sysfs ? sysfs : cfg_str("firecracker.sysfs"), &t);
	if (!rc)
		rc = cgroup_layout_read(&cg);
	if (rc)
		die_fail(rc);
	doc = topology_json(&t);
	json_object_set_new(doc, "kvm", kvm_json());
	json_object_set_new(doc, "cgroup", cgroup_json(&cg));
	json_object_set_new(doc, "swap_bytes", json_integer(swap_bytes()));
	render(&text, doc);
	out_textf("%s", text.buf);
	out_result(doc);
	strbuf_release(&text);
	topology_release(&t);
	cgroup_layout_release(&cg);
	return 0;
}

static const struct subcommand host_subcommands[] = {
	{ "topology", topology_cmd, host_topology_usage,
	  "CPUs, SMT, NUMA nodes, KVM, cgroups, KSM and swap, as boot sees them" },
	{ NULL },
};

int cmd_host(int argc, const char **argv)
{
	return run_subcommand(argc, argv, host_subcommands);
}
