#ifndef ROOTFS_TAR_H
#define ROOTFS_TAR_H

/*
 * Tar archives as rootfs components. A tar stream, plain or compressed
 * with gzip, zstd or xz (recognised by content, through libarchive), is
 * digested as the SHA-256 of its uncompressed bytes, trailing padding
 * included: the OCI DiffID, what `zcat FILE | sha256sum` prints.
 */

/*
 * Digest the file open at fd, from its start. Returns 1 with the digest
 * and the length of the uncompressed stream when the file holds a tar
 * archive (an empty one counts when it is compressed or must_be_tar);
 * 0 when it is not compressed and holds no tar (an image) and
 * must_be_tar is false. Corrupt compressed data, compressed data that is
 * not a tar and a damaged or truncated archive fail with EXIT_REJECTED,
 * naming the offset in the uncompressed stream.
 */
int tar_digest_fd(int fd, const char *name, bool must_be_tar, bool drop_cache,
		  uint8_t *digest, uint64_t *size);

#endif
