#include "common.h"
#include "fc-config.h"
#include "output.h"
#include "vm.h"

static json_t *drive(const char *id, const char *path, bool root, const char *io_engine)
{
	return json_pack("{s:s, s:s, s:b, s:b, s:s}", "drive_id", id, "path_on_host", path,
			 "is_root_device", root, "is_read_only", 1, "io_engine", io_engine);
}

json_t *fc_config_json(const struct fc_config *c)
{
	struct strbuf args = STRBUF_INIT;
	json_t *drives = json_array(), *doc, *machine;

	strbuf_addstr(&args, FC_BOOT_ARGS);
	/* without a UART the kernel cannot even probe one */
	strbuf_addstr(&args, c->console ? " console=ttyS0" : " 8250.nr_uarts=0");
	if (c->boot_args && *c->boot_args)
		strbuf_addf(&args, " %s", c->boot_args);
	json_array_append_new(drives, drive("rootfs", c->rootfs, true, c->io_engine));
	for (size_t i = 0; i < c->nr_overlays; i++) {
		char id[32];

		xsnprintf(id, sizeof(id), "overlay%zu", i + 1);
		json_array_append_new(drives, drive(id, c->overlays[i], false, c->io_engine));
	}
	machine = json_pack("{s:I, s:I, s:b, s:b, s:s}", "vcpu_count", (json_int_t)c->vcpus,
			    "mem_size_mib", (json_int_t)c->mem_mib, "smt", 0, "track_dirty_pages", 0,
			    "huge_pages", c->huge_pages ? "2M" : "None");
	doc = json_pack("{s:{s:s, s:o}, s:o, s:o, s:{s:s, s:s, s:b, s:b}, s:{s:s}}",
			"boot-source", "kernel_image_path", c->kernel, "boot_args", xjson_string(args.buf),
			"drives", drives, "machine-config", machine,
			"logger", "log_path", c->log_path, "level", "Warning", "show_level", 0,
			"show_log_origin", 0,
			"metrics", "metrics_path", c->metrics_path);
	if (!doc)
		die("out of memory building a Firecracker configuration");
	if (c->tap) {
		json_t *iface = json_pack("{s:s, s:s}", "iface_id", FC_IFACE_ID, "host_dev_name", c->tap);

		if (c->mac)
			json_object_set_new(iface, "guest_mac", xjson_string(c->mac));
		json_object_set_new(doc, "network-interfaces", json_pack("[o]", iface));
	}
	strbuf_release(&args);
	return doc;
}

bool fc_mac_valid(const char *mac)
{
	if (strlen(mac) != FC_MAC_SIZE - 1)
		return false;
	for (int i = 0; i < FC_MAC_SIZE - 1; i++) {
		bool colon = i % 3 == 2;

		if (colon ? mac[i] != ':' : !strchr("0123456789abcdefABCDEF", mac[i]))
			return false;
	}
	return true;
}

void fc_mac_of(char *out, const char *vm_id)
{
	const char *h = vm_id + strlen(VM_ID_PREFIX);

	xsnprintf(out, FC_MAC_SIZE, "06:00:%.2s:%.2s:%.2s:%.2s", h, h + 2, h + 4, h + 6);
}
