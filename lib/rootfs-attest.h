#ifndef ROOTFS_ATTEST_H
#define ROOTFS_ATTEST_H

#include "rootfs.h"
#include "store.h"

/*
 * Which rootfs a job booted: its address and canonical manifest in the
 * job's metadata, written through the job's fence, so that only the
 * current owner can attest and anyone can re-derive the address
 * (sha256 of the manifest bytes).
 */
#define ROOTFS_META_ADDRESS "rootfs.address"
#define ROOTFS_META_MANIFEST "rootfs.manifest"

/*
 * Hash image and its overlays and record them for job. A stale fence is
 * refused before anything is read (EXIT_REJECTED) and again by the write.
 * address gets VERITY_HEX_SIZE bytes.
 */
int rootfs_attest(struct store *st, const char *job, int64_t fence, const char *image,
		  const char *const *overlays, size_t nr_overlays, const struct rootfs_opts *opts,
		  char *address);

/*
 * What was attested for job: 1 with the address (and the canonical
 * manifest when manifest is not NULL), 0 when nothing was; EXIT_NOTFOUND
 * for an unknown job.
 */
int rootfs_attested(struct store *st, const char *job, struct strbuf *address,
		    struct strbuf *manifest);

#endif
