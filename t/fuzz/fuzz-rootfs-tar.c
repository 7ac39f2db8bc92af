/*
 * Tar recognition and digests on arbitrary files: a tar, not a tar, or a
 * refusal (EXIT_REJECTED), never a crash; for an uncompressed tar the
 * digest is the SHA-256 of the file itself.
 */
#include "common.h"
#include "rootfs-tar.h"
#include "rootfs-verity.h"

#include <sys/mman.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	uint8_t digest[VERITY_HASH], whole[VERITY_HASH];
	uint64_t len;
	int rc;

	if (fd < 0 && (fd = memfd_create("fuzz-rootfs-tar", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size || lseek(fd, 0, SEEK_SET))
		abort();
	rc = tar_digest_fd(fd, "fuzz", false, false, digest, &len);
	if (rc < 0 && rc != -EXIT_REJECTED)
		abort();
	if (rc == 1 && size >= 263 && !memcmp(data + 257, "ustar", 5)) {
		/* a tar header, not compressed data: the stream is the file */
		sha256_buf(data, size, whole);
		if (len != size || memcmp(digest, whole, VERITY_HASH))
			abort();
	}
	if (lseek(fd, 0, SEEK_SET))
		abort();
	rc = tar_digest_fd(fd, "fuzz", true, false, digest, &len);
	if (rc != 1 && rc != -EXIT_REJECTED)
		abort();
	return 0;
}
