#include "tap.h"
#include "fc-config.h"
#include "swagger.h"

static json_t *spec;

/* Validate text against the definition name: "" when it fits, else the reason. */
static const char *check(const char *name, const char *text)
{
	static struct strbuf err = STRBUF_INIT;
	json_t *doc = json_loads(text, 0, NULL);

	strbuf_reset(&err);
	if (!doc)
		BUG("bad test JSON: %s", text);
	swagger_validate(spec, swagger_definition(spec, name), doc, &err);
	json_decref(doc);
	return err.buf;
}

static void test_validate(void)
{
	is_str(check("MachineConfiguration", "{\"vcpu_count\": 2, \"mem_size_mib\": 512}"), "", "fits");
	is_str(check("MachineConfiguration", "{\"vcpu_count\": 2}"), ".mem_size_mib is required",
	       "required");
	is_str(check("MachineConfiguration", "{\"vcpu_count\": 0, \"mem_size_mib\": 1}"),
	       ".vcpu_count is below its minimum, 1", "minimum");
	is_str(check("MachineConfiguration", "{\"vcpu_count\": 1.5, \"mem_size_mib\": 1}"),
	       ".vcpu_count is not an integer", "an integer is not a real");
	is_str(check("MachineConfiguration", "{\"vcpu_count\": 1, \"mem_size_mib\": 1, \"smt\": 1}"),
	       ".smt is not a boolean", "type");
	is_str(check("MachineConfiguration", "{\"vcpu_count\": 1, \"mem_size_mib\": 1, \"cpu_template\": \"X\"}"),
	       ".cpu_template is not one of its allowed values", "an enum behind a $ref");
	is_str(check("MachineConfiguration", "{\"vcpu_count\": 1, \"mem_size_mib\": 1, \"numa\": 0}"),
	       ".numa is not a known field", "unknown fields are refused, as Firecracker does");
	is_str(check("MachineConfiguration", "[]"), "the document is not an object", "not an object");
	is_str(check("MmdsContentsObject", "{\"anything\": {\"at\": [\"all\"]}}"), "",
	       "additionalProperties: true");
	is_str(check("FullVmConfiguration",
		     "{\"drives\": [{\"drive_id\": \"a\", \"is_root_device\": true,"
		     " \"rate_limiter\": {\"bandwidth\": {\"size\": \"1\", \"refill_time\": 1}}}]}"),
	       ".drives[0].rate_limiter.bandwidth.size is not an integer", "nested refs and arrays");
	is_str(check("FullVmConfiguration", "{\"drives\": {}}"), ".drives is not an array", "array");
	is_str(check("Logger", "{\"level\": \"Info\"}"), "", "an enum of strings");
}

static void test_find(void)
{
	struct swagger_op op;

	ok(!swagger_find(spec, "put", "/drives/rootfs", &op) && !strcmp(op.path, "/drives/{drive_id}"),
	   "a path parameter matches one segment");
	is_str(json_string_value(json_object_get(op.body, "$ref")), "#/definitions/Drive", "its body");
	ok(op.body_required, "its body is required");
	is_int(swagger_find(spec, "put", "/drives/", &op), -1, "an empty segment matches nothing");
	is_int(swagger_find(spec, "put", "/drives/a/b", &op), -1, "nor do two");
	is_int(swagger_find(spec, "delete", "/machine-config", &op), -2, "a path without that method");
	ok(!swagger_find(spec, "get", "/", &op) && !op.body, "GET / has no body");
	ok(!swagger_find(spec, "put", "/snapshot/load", &op) &&
	   strstr(json_string_value(json_object_get(op.op, "summary")), "Pre-boot only"),
	   "the summary says when an operation is allowed");
}

/* Whether the configuration fits FullVmConfiguration, as Firecracker's --config-file takes it. */
static void fits(const struct fc_config *c, const char *what)
{
	struct strbuf err = STRBUF_INIT;
	json_t *doc = fc_config_json(c);

	ok(!swagger_validate(spec, swagger_definition(spec, "FullVmConfiguration"), doc, &err),
	   "%s: %s", what, err.len ? err.buf : "fits the specification");
	json_decref(doc);
	strbuf_release(&err);
}

static void test_config(void)
{
	static const char *const overlays[] = { "/o1", "/o2", "/o3" };
	struct fc_config c = {
		.kernel = "/k", .rootfs = "/r", .vcpus = 2, .mem_mib = 512, .io_engine = "Sync",
		.log_path = "fc.log", .metrics_path = "fc.metrics",
	};
	json_t *doc = fc_config_json(&c), *m = json_object_get(doc, "machine-config");
	const char *args = json_string_value(json_object_get(json_object_get(doc, "boot-source"), "boot_args"));
	char mac[FC_MAC_SIZE];

	ok(json_is_false(json_object_get(m, "smt")) && json_is_false(json_object_get(m, "track_dirty_pages")),
	   "no SMT, no dirty-page tracking");
	ok(!json_object_get(doc, "balloon") && !json_object_get(doc, "network-interfaces"),
	   "no balloon, no network without a tap");
	ok(strstr(args, "8250.nr_uarts=0") && strstr(args, " quiet") && !strstr(args, "console="),
	   "no serial console, a quiet kernel: %s", args);
	ok(json_is_true(json_object_get(json_array_get(json_object_get(doc, "drives"), 0), "is_read_only")),
	   "the rootfs is read-only");
	json_decref(doc);
	fits(&c, "the defaults");
	for (size_t n = 1; n <= ARRAY_SIZE(overlays); n++) {
		c.overlays = overlays;
		c.nr_overlays = n;
		fits(&c, "overlays");
	}
	c.console = c.huge_pages = true;
	c.io_engine = "Async";
	c.tap = "nimbus-0a1b2c3d";
	fc_mac_of(mac, "nimbus-0a1b2c3d");
	c.mac = mac;
	c.boot_args = "init=/sbin/nimbus-init";
	fits(&c, "every option");
	doc = fc_config_json(&c);
	args = json_string_value(json_object_get(json_object_get(doc, "boot-source"), "boot_args"));
	ok(strstr(args, "console=ttyS0") && !strstr(args, "nr_uarts") && ends_with(args, " init=/sbin/nimbus-init"),
	   "a console, and the caller's arguments last: %s", args);
	is_str(json_string_value(json_object_get(json_object_get(doc, "machine-config"), "huge_pages")), "2M",
	       "huge pages");
	is_int(json_array_size(json_object_get(doc, "drives")), 4, "the rootfs and three overlays");
	is_str(json_string_value(json_object_get(json_array_get(json_object_get(doc, "drives"), 3), "drive_id")),
	       "overlay3", "overlays are drives overlay1...");
	json_decref(doc);
	is_str(mac, "06:00:0a:1b:2c:3d", "a VM's MAC: locally administered, its id's hex");
	ok(fc_mac_valid(mac) && fc_mac_valid("AA:bb:00:11:22:33"), "valid MACs");
	ok(!fc_mac_valid("06:00:0a:1b:2c") && !fc_mac_valid("06-00-0a-1b-2c-3d") &&
	   !fc_mac_valid("06:00:0a:1b:2c:3g") && !fc_mac_valid("06:00:0a:1b:2c:3d:"), "invalid MACs");
}

int main(void)
{
	const char *src = getenv("NIMBUS_SRC");
	char *path = xstrfmt("%s/../shared/specs/firecracker-api-v1.16.1.json", src ? src : ".");
	json_error_t err;

	spec = json_load_file(path, 0, &err);
	if (!spec) {
		ok(!getenv("CI"), "specification at %s: %s", path, err.text);
		printf("# SKIP the Firecracker API specification: %s not found\n", path);
	} else {
		test_validate();
		test_find();
		test_config();
	}
	json_decref(spec);
	free(path);
	return done_testing();
}
