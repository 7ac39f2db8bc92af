/*
 * libFuzzer: the cgroup mounts of /proc/self/mounts (escapes and all),
 * and the directories and values boot derives from them. A layout that
 * fits has a mount for each controller; its directories end in the id.
 */
#include "common.h"
#include "cgroup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmemdup(data, size);
	struct cgroup_layout l = CGROUP_LAYOUT_INIT;
	struct strvec dirs = STRVEC_INIT;

	cgroup_layout_parse(&l, s);
	if (l.version) {
		for (const char *const *c = cgroup_controllers; *c; c++)
			if (!cgroup_mount_of(&l, l.version, *c))
				abort();
		cgroup_dirs(&l, "firecracker", "nimbus-0a1b2c3d", &dirs);
		if (!dirs.nr)
			abort();
		for (size_t i = 0; i < dirs.nr; i++)
			if (!ends_with(dirs.v[i], "/firecracker/nimbus-0a1b2c3d"))
				abort();
	}
	strvec_clear(&dirs);
	cgroup_layout_release(&l);
	free(s);
	return 0;
}
