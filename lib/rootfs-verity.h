#ifndef ROOTFS_VERITY_H
#define ROOTFS_VERITY_H

#include <sys/stat.h>

/*
 * fs-verity file digests and Merkle trees with SHA-256, 4096-byte blocks
 * and no salt, hashed on several threads, and the dm-verity root hash of
 * the same data (empty salt).
 *
 * As in the kernel's fsverity.rst and veritysetup(8): a data block's hash
 * is the SHA-256 of the block, the last one zero-padded; hashes are packed
 * 128 to a 4096-byte tree block, zero-padded, level by level until one
 * block remains; the root hash is that block's hash (the only data
 * block's hash for a one-block file, zeros for an empty one). The tree is
 * stored root level first. The file digest is the SHA-256 of the 256-byte
 * fsverity_descriptor that holds the data size and the root hash.
 * dm-verity builds the same tree over the whole blocks only.
 */

#define VERITY_BLOCK 4096
#define VERITY_HASH 32
#define VERITY_FANOUT (VERITY_BLOCK / VERITY_HASH)
#define VERITY_MAX_LEVELS 8
#define VERITY_HEX_SIZE (7 + 2 * VERITY_HASH + 1)	/* "sha256:" hex NUL */

/* The shape of the tree over data_blocks blocks. Level 0 is the bottom. */
struct verity_geom {
	uint64_t data_blocks;
	int levels;
	uint64_t level_blocks[VERITY_MAX_LEVELS];
	uint64_t level_start[VERITY_MAX_LEVELS];	/* in blocks from the tree's start */
	uint64_t tree_blocks;
};

void verity_geom_init(struct verity_geom *g, uint64_t data_blocks);
/* The geometry whose tree is tree_blocks long; -1 when none is. */
int verity_geom_from_tree(struct verity_geom *g, uint64_t tree_blocks);

/*
 * Called on a worker thread for each bottom-level tree block as it is
 * made: index, the block, and how many data-block hashes it holds. It may
 * run concurrently for different blocks; 0, or -code to stop the run.
 */
typedef int verity_block_fn(void *ctx, uint64_t index, const uint8_t *block, unsigned nr);

struct verity_opts {
	int jobs;		/* threads; 0: one per CPU we may run on */
	bool drop_cache;	/* drop the pages behind the reads */
	bool dm_root;		/* also compute the dm-verity root hash */
	int tree_fd;		/* write the tree here (sized by the caller), or -1 */
	verity_block_fn *on_block;
	void *ctx;
};
#define VERITY_OPTS_INIT { .tree_fd = -1 }

struct verity_result {
	uint8_t digest[VERITY_HASH];
	uint8_t root[VERITY_HASH];
	uint8_t dm_root[VERITY_HASH];	/* when dm_blocks > 0 */
	uint64_t dm_blocks;		/* the whole blocks dm-verity covers */
	bool from_kernel;		/* FS_IOC_MEASURE_VERITY answered */
};

/*
 * Hash the regular file open at fd, st->st_size bytes of it (name for
 * messages). When the file has fs-verity enabled with these parameters
 * and neither a tree, a block callback nor a dm-verity root is wanted,
 * the kernel's digest is taken without reading. A file that shrinks
 * while it is read fails with EXIT_BUSY; to catch other changes, compare
 * fstat before and after.
 */
int verity_hash_fd(int fd, const char *name, const struct stat *st,
		   const struct verity_opts *opts, struct verity_result *res);

/* The fs-verity digest of size bytes whose tree has this root hash. */
void verity_file_digest(uint64_t size, const uint8_t *root, uint8_t *digest);

/*
 * Check that every block of the tree open at fd hashes to its entry in
 * the level above, and return the root hash. A tree that does not chain
 * fails with EXIT_REJECTED. g must have at least one level.
 */
int verity_tree_check(int fd, const char *name, const struct verity_geom *g, uint8_t *root);

void sha256_buf(const void *data, size_t len, uint8_t *out);
/* "sha256:" and lower-case hex; and back, strictly (0, or -1). */
void digest_to_hex(char *out, const uint8_t *digest);
int digest_from_hex(const char *s, uint8_t *digest);
void hash_to_hex(char *out, const uint8_t *hash);	/* 64 hex digits */

/* How many CPUs this process may run on. */
int online_cpus(void);

#endif
