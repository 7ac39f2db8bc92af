#ifndef FC_CONFIG_H
#define FC_CONFIG_H

#include <jansson.h>

/*
 * Firecracker's --config-file document, with performance defaults: no
 * SMT, no dirty-page tracking, no balloon device, a quiet kernel without
 * a serial console (unless asked), the root filesystem and the overlays
 * read-only, logs and metrics to files. It fits the FullVmConfiguration
 * of Firecracker's API specification.
 */

#define FC_MAX_VCPUS 32
#define FC_IFACE_ID "eth0"

/* The kernel command line before the console and the caller's arguments. */
#define FC_BOOT_ARGS "reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.nopnp " \
		     "i8042.dumbkbd quiet loglevel=1"

struct fc_config {
	const char *kernel, *rootfs;
	const char *const *overlays;
	size_t nr_overlays;
	int64_t vcpus, mem_mib;
	const char *tap;		/* NULL: no network interface */
	const char *mac;		/* NULL: Firecracker chooses */
	const char *boot_args;		/* appended, or NULL */
	bool huge_pages;
	bool console;
	const char *io_engine;		/* "Sync" or "Async" */
	const char *log_path, *metrics_path;
};

json_t *fc_config_json(const struct fc_config *c);

/* xx:xx:xx:xx:xx:xx, lower or upper case. */
bool fc_mac_valid(const char *mac);
/* A locally administered unicast MAC made of a VM id's hex: 06:00:1a:2b:3c:4d. */
void fc_mac_of(char *out, const char *vm_id);
#define FC_MAC_SIZE 18

#endif
