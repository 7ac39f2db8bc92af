#ifndef ROOTFS_H
#define ROOTFS_H

#include <jansson.h>

#include "rootfs-verity.h"

/*
 * Rootfs content addresses. A rootfs is a base image and overlays, in
 * order; each component is digested by kind (an image by its fs-verity
 * digest, a tar archive by the SHA-256 of its uncompressed stream) and
 * listed in a canonical JSON manifest whose SHA-256 is the address.
 * nimbus-rootfs(1) specifies the manifest byte for byte:
 *
 *   {"components":[{"digest":"sha256:HEX","kind":"image","size":N},...],"version":1}
 */

enum rootfs_kind {
	ROOTFS_AUTO,		/* a tar when it holds one, else an image */
	ROOTFS_IMAGE,
	ROOTFS_TAR,
};

const char *rootfs_kind_name(enum rootfs_kind kind);
/* "image" or "tar"; 0, or -1. */
int rootfs_kind_parse(const char *s, enum rootfs_kind *kind);

struct rootfs_component {
	enum rootfs_kind kind;
	uint64_t size;		/* bytes the digest covers: uncompressed for a tar */
	uint8_t digest[VERITY_HASH];
};

struct rootfs_manifest {
	struct rootfs_component *comp;
	size_t nr, alloc;
};
#define ROOTFS_MANIFEST_INIT { NULL, 0, 0 }
#define ROOTFS_MANIFEST_VERSION 1
#define ROOTFS_MAX_COMPONENTS 1024
#define ROOTFS_MAX_MANIFEST (1 << 20)

void rootfs_manifest_release(struct rootfs_manifest *m);
/* The canonical bytes, their address ("sha256:" hex), and the same as JSON. */
void rootfs_manifest_canonical(const struct rootfs_manifest *m, struct strbuf *out);
void rootfs_manifest_address(const struct rootfs_manifest *m, char *address);
json_t *rootfs_manifest_json(const struct rootfs_manifest *m);

/*
 * Read a manifest: the object itself in any JSON layout, or a document
 * with it as "manifest" (what `nimbus rootfs hash --json` prints), whose
 * "address", when present, must be the manifest's. Anything else fails
 * with EXIT_REJECTED naming what is wrong; name is for messages.
 */
int rootfs_manifest_parse(const char *text, size_t len, const char *name, struct rootfs_manifest *m);
int rootfs_manifest_from_json(json_t *doc, const char *name, struct rootfs_manifest *m);

struct rootfs_opts {
	enum rootfs_kind type;	/* of every component; ROOTFS_AUTO detects each */
	int jobs;		/* threads; 0: one per CPU */
	bool drop_cache;	/* drop the pages behind the reads */
	bool cached;		/* use the hash cache in core.state_dir */
	const char *tree;	/* write the base image's Merkle tree to this file */
	bool verity;		/* compute the base image's dm-verity root hash */
};

/*
 * Hash image and the overlays into m. base gets the base image's fs-verity
 * results (dm-verity root when opts->verity) and may be NULL. Errors:
 * EXIT_NOTFOUND for a missing file, EXIT_USAGE for one that is not a
 * regular file, EXIT_PERM when unreadable, EXIT_REJECTED for a corrupt
 * archive, EXIT_BUSY for a file that changed while it was read.
 */
int rootfs_hash(const char *image, const char *const *overlays, size_t nr_overlays,
		const struct rootfs_opts *opts, struct rootfs_manifest *m, struct verity_result *base);

/*
 * What `rootfs hash --json` and `verify --json` print: the address, the
 * files in order and the manifest.
 */
json_t *rootfs_result_json(const char *image, const char *const *overlays, size_t nr_overlays,
			   const struct rootfs_manifest *m);

/*
 * What `rootfs attest` and boot record: the manifest of image and the
 * overlays as a new JSON object, and its address (VERITY_HEX_SIZE bytes).
 */
int rootfs_address(const char *image, const char *const *overlays, size_t nr_overlays,
		   const struct rootfs_opts *opts, json_t **manifest, char *address);

struct rootfs_expect {
	const char *address;			/* what the address must be, or NULL */
	const struct rootfs_manifest *manifest;	/* what the manifest must be, or NULL */
	const char *tree;			/* the base image's reference tree, or NULL */
};

/* Differing blocks listed one range a line, at most this many lines. */
#define ROOTFS_MAX_BLOCK_LINES 100

/*
 * Check image and the overlays against exp. With a manifest, each
 * component is hashed as the kind it lists and an image whose size
 * differs is not read (unless there is a tree). With a tree, the base
 * image's data blocks that differ from it are named by offset. Returns
 * 0 on a match with the manifest in actual; -EXIT_REJECTED on a mismatch
 * with one line in diffs per difference; other -codes as rootfs_hash().
 */
int rootfs_verify(const char *image, const char *const *overlays, size_t nr_overlays,
		  const struct rootfs_opts *opts, const struct rootfs_expect *exp,
		  struct rootfs_manifest *actual, struct strvec *diffs);

#endif
