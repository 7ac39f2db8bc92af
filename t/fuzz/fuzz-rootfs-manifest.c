/*
 * The manifest reader of `nimbus verify --manifest` on arbitrary input:
 * it accepts, or refuses with EXIT_REJECTED and nothing kept; what it
 * accepts reads back from its canonical bytes to the same address.
 */
#include "common.h"
#include "rootfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rootfs_manifest m = ROOTFS_MANIFEST_INIT, again = ROOTFS_MANIFEST_INIT;
	struct strbuf canon = STRBUF_INIT;
	char a[VERITY_HEX_SIZE], b[VERITY_HEX_SIZE];
	int rc = rootfs_manifest_parse((const char *)data, size, "fuzz", &m);

	if (rc) {
		if (rc != -EXIT_REJECTED || m.nr)
			abort();
		return 0;
	}
	rootfs_manifest_canonical(&m, &canon);
	if (rootfs_manifest_parse(canon.buf, canon.len, "canonical", &again))
		abort();
	rootfs_manifest_address(&m, a);
	rootfs_manifest_address(&again, b);
	if (strcmp(a, b) || m.nr != again.nr)
		abort();
	rootfs_manifest_release(&m);
	rootfs_manifest_release(&again);
	strbuf_release(&canon);
	return 0;
}
