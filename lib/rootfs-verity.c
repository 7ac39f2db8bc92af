#include "common.h"
#include "escape.h"
#include "rootfs-verity.h"

#include <linux/fsverity.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/ioctl.h>

/*
 * The work is cut at bottom-level tree blocks: each covers 128 data
 * blocks (512 KiB), and its hash depends on nothing else, so threads
 * claim reads of READ_UNITS of them, hash the data blocks, build and
 * hash the tree block, and only the levels above (1/16384 of the data)
 * are left to one thread at the end. Memory stays bounded by the reads
 * in flight and one hash per 512 KiB of data.
 */
#define UNIT_BYTES ((uint64_t)VERITY_FANOUT * VERITY_BLOCK)
#define READ_UNITS 4

static EVP_MD *md;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void fetch_md(void)
{
	md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static EVP_MD_CTX *sha256_ctx(void)
{
	EVP_MD_CTX *ctx;

	pthread_once(&md_once, fetch_md);
	ctx = EVP_MD_CTX_new();
	if (!md || !ctx)
		die("cannot set up SHA-256 in OpenSSL");
	return ctx;
}

static void sha256_with(EVP_MD_CTX *ctx, const void *data, size_t len, uint8_t *out)
{
	if (!EVP_DigestInit_ex2(ctx, md, NULL) || !EVP_DigestUpdate(ctx, data, len) ||
	    !EVP_DigestFinal_ex(ctx, out, NULL))
		die("SHA-256 failed in OpenSSL");
}

void sha256_buf(const void *data, size_t len, uint8_t *out)
{
	EVP_MD_CTX *ctx = sha256_ctx();

	sha256_with(ctx, data, len, out);
	EVP_MD_CTX_free(ctx);
}

void hash_to_hex(char *out, const uint8_t *hash)
{
	hex_encode(out, hash, VERITY_HASH);
}

void digest_to_hex(char *out, const uint8_t *digest)
{
	memcpy(out, "sha256:", 7);
	hash_to_hex(out + 7, digest);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int digest_from_hex(const char *s, uint8_t *digest)
{
	if (!skip_prefix(s, "sha256:", &s) || strlen(s) != 2 * VERITY_HASH)
		return -1;
	for (int i = 0; i < VERITY_HASH; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		digest[i] = hi << 4 | lo;
	}
	return 0;
}

int online_cpus(void)
{
	cpu_set_t set;
	long n;

	if (!sched_getaffinity(0, sizeof(set), &set) && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + !!(a % b);
}

void verity_geom_init(struct verity_geom *g, uint64_t data_blocks)
{
	uint64_t n = data_blocks, total = 0;

	memset(g, 0, sizeof(*g));
	g->data_blocks = data_blocks;
	while (n > 1) {
		n = div_up(n, VERITY_FANOUT);
		if (g->levels == VERITY_MAX_LEVELS)
			BUG("a tree over %" PRIu64 " blocks is too deep", data_blocks);
		g->level_blocks[g->levels++] = n;
	}
	for (int i = g->levels - 1; i >= 0; i--) {
		g->level_start[i] = total;
		total += g->level_blocks[i];
	}
	g->tree_blocks = total;
}

int verity_geom_from_tree(struct verity_geom *g, uint64_t tree_blocks)
{
	uint64_t lo = 1, hi = tree_blocks;

	/* The tree's length grows strictly with its bottom level. */
	while (lo <= hi && hi <= UINT64_MAX / VERITY_FANOUT) {
		uint64_t mid = lo + (hi - lo) / 2;

		verity_geom_init(g, mid * VERITY_FANOUT);
		if (g->tree_blocks == tree_blocks)
			return 0;
		if (g->tree_blocks < tree_blocks)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

/* struct fsverity_descriptor, as the kernel hashes it. */
#define DESC_SIZE 256

static void make_descriptor(uint8_t *d, uint64_t size, const uint8_t *root)
{
	memset(d, 0, DESC_SIZE);
	d[0] = 1;			/* version */
	d[1] = FS_VERITY_HASH_ALG_SHA256;
	d[2] = 12;			/* log2 of the block size */
	d[3] = 0;			/* salt size */
	put_le64(d + 8, size);
	memcpy(d + 16, root, VERITY_HASH);
}

void verity_file_digest(uint64_t size, const uint8_t *root, uint8_t *digest)
{
	uint8_t d[DESC_SIZE];

	make_descriptor(d, size, root);
	sha256_buf(d, sizeof(d), digest);
}

/*
 * The kernel's digest of a file with fs-verity enabled, when it was
 * enabled with our parameters: 1, or 0 to compute it ourselves.
 */
static int kernel_digest(int fd, uint64_t size, struct verity_result *res)
{
	union {
		struct fsverity_digest d;
		uint8_t buf[sizeof(struct fsverity_digest) + 64];
	} m = { .d.digest_size = 64 };
	uint8_t desc[DESC_SIZE], want[DESC_SIZE], check[VERITY_HASH];
	struct fsverity_read_metadata_arg arg = {
		.metadata_type = FS_VERITY_METADATA_TYPE_DESCRIPTOR,
		.length = sizeof(desc),
		.buf_ptr = (uintptr_t)desc,
	};

	if (ioctl(fd, FS_IOC_MEASURE_VERITY, &m) < 0 ||
	    m.d.digest_algorithm != FS_VERITY_HASH_ALG_SHA256 || m.d.digest_size != VERITY_HASH)
		return 0;
	/* Another block size or a salt gives another digest: check them. */
	if (ioctl(fd, FS_IOC_READ_VERITY_METADATA, &arg) != DESC_SIZE)
		return 0;
	make_descriptor(want, size, desc + 16);
	sha256_buf(desc, sizeof(desc), check);
	if (memcmp(desc, want, DESC_SIZE) || memcmp(check, m.d.digest, VERITY_HASH))
		return 0;
	memcpy(res->digest, check, VERITY_HASH);
	memcpy(res->root, desc + 16, VERITY_HASH);
	res->from_kernel = true;
	return 1;
}

struct job {
	int fd;
	const char *name;
	uint64_t size;
	const struct verity_geom *g;
	const struct verity_opts *opts;
	uint64_t units, reads;
	atomic_uint_fast64_t next;
	atomic_int rc;
	pthread_mutex_t lock;
	struct strbuf msg;
	uint8_t *unit_hash;
	uint8_t leaf0[VERITY_HASH];
	/* the last tree block's hash without a trailing partial block (dm-verity) */
	uint8_t dm_last[VERITY_HASH];
};

static void job_fail(struct job *j, int rc)
{
	pthread_mutex_lock(&j->lock);
	if (!atomic_load(&j->rc)) {
		strbuf_addstr(&j->msg, fail_message());
		atomic_store(&j->rc, rc);
	}
	pthread_mutex_unlock(&j->lock);
}

static int pread_full(struct job *j, uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(j->fd, buf + done, len - done, off + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail_errno(EXIT_FAIL, "cannot read %s", j->name);
		if (!n)
			return fail(EXIT_BUSY, "%s shrank while it was being hashed", j->name);
		done += n;
	}
	return 0;
}

static int pwrite_full(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, buf + done, len - done, off + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail_errno(EXIT_FAIL, "cannot write the Merkle tree");
		done += n;
	}
	return 0;
}

/* Hash the data blocks under bottom-level tree block u into tb. */
static int hash_unit(struct job *j, EVP_MD_CTX *ctx, const uint8_t *data, uint64_t u, uint8_t *tb)
{
	const struct verity_geom *g = j->g;
	uint64_t left = g->data_blocks - u * VERITY_FANOUT;
	unsigned nr = left < VERITY_FANOUT ? left : VERITY_FANOUT;
	int rc;

	for (unsigned i = 0; i < nr; i++)
		sha256_with(ctx, data + (size_t)i * VERITY_BLOCK, VERITY_BLOCK, tb + i * VERITY_HASH);
	memset(tb + nr * VERITY_HASH, 0, (VERITY_FANOUT - nr) * VERITY_HASH);
	if (!u)
		memcpy(j->leaf0, tb, VERITY_HASH);
	sha256_with(ctx, tb, VERITY_BLOCK, j->unit_hash + u * VERITY_HASH);
	if (j->opts->tree_fd >= 0 && g->levels) {
		rc = pwrite_full(j->opts->tree_fd, tb, VERITY_BLOCK,
				 (g->level_start[0] + u) * VERITY_BLOCK);
		if (rc)
			return rc;
	}
	if (j->opts->on_block) {
		rc = j->opts->on_block(j->opts->ctx, u, tb, nr);
		if (rc)
			return rc;
	}
	if (j->opts->dm_root && u == j->units - 1 && j->size % VERITY_BLOCK && nr > 1) {
		memset(tb + (nr - 1) * VERITY_HASH, 0, VERITY_HASH);
		sha256_with(ctx, tb, VERITY_BLOCK, j->dm_last);
	}
	return 0;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	uint8_t *buf = xmalloc(READ_UNITS * UNIT_BYTES);
	uint8_t *tb = xmalloc(VERITY_BLOCK);
	EVP_MD_CTX *ctx = sha256_ctx();
	uint64_t r;
	int rc = 0;

	while (!rc && (r = atomic_fetch_add(&j->next, 1)) < j->reads && !atomic_load(&j->rc)) {
		uint64_t off = r * READ_UNITS * UNIT_BYTES, len = j->size - off;

		if (len > READ_UNITS * UNIT_BYTES)
			len = READ_UNITS * UNIT_BYTES;
		rc = pread_full(j, buf, len, off);
		memset(buf + len, 0, -len & (VERITY_BLOCK - 1));
		for (uint64_t u = 0; !rc && u * UNIT_BYTES < len; u++)
			rc = hash_unit(j, ctx, buf + u * UNIT_BYTES, r * READ_UNITS + u, tb);
		if (j->opts->drop_cache)
			posix_fadvise(j->fd, off, len, POSIX_FADV_DONTNEED);
	}
	if (rc)
		job_fail(j, rc);
	EVP_MD_CTX_free(ctx);
	free(tb);
	free(buf);
	return NULL;
}

static int run_workers(struct job *j, int jobs)
{
	pthread_t *tid;
	int started = 0;

	if (jobs <= 0)
		jobs = online_cpus();
	if ((uint64_t)jobs > j->reads)
		jobs = j->reads ? j->reads : 1;
	tid = xcalloc(jobs, sizeof(*tid));
	/* The calling thread is a worker too; fewer threads only cost time. */
	while (started < jobs - 1 && !pthread_create(&tid[started], NULL, worker, j))
		started++;
	worker(j);
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	free(tid);
	if (atomic_load(&j->rc))
		return fail(-atomic_load(&j->rc), "%s", j->msg.buf);
	return 0;
}

/*
 * The root of the tree of shape g whose bottom-level blocks hash to
 * units; leaf0 is the hash of data block 0. Writes the upper levels.
 */
static int tree_top(const struct verity_geom *g, const uint8_t *units, const uint8_t *leaf0,
		    int tree_fd, uint8_t *root)
{
	EVP_MD_CTX *ctx;
	const uint8_t *cur = units;
	uint8_t *next = NULL, *prev = NULL, *tb;
	int rc = 0;

	if (g->levels == 0) {
		if (g->data_blocks)
			memcpy(root, leaf0, VERITY_HASH);
		else
			memset(root, 0, VERITY_HASH);
		return 0;
	}
	ctx = sha256_ctx();
	tb = xmalloc(VERITY_BLOCK);
	for (int lv = 1; lv < g->levels && !rc; lv++) {
		uint64_t below = g->level_blocks[lv - 1];

		next = xmalloc(g->level_blocks[lv] * VERITY_HASH);
		for (uint64_t k = 0; k < g->level_blocks[lv] && !rc; k++) {
			uint64_t take = below - k * VERITY_FANOUT;

			if (take > VERITY_FANOUT)
				take = VERITY_FANOUT;
			memcpy(tb, cur + k * VERITY_BLOCK, take * VERITY_HASH);
			memset(tb + take * VERITY_HASH, 0, (VERITY_FANOUT - take) * VERITY_HASH);
			if (tree_fd >= 0)
				rc = pwrite_full(tree_fd, tb, VERITY_BLOCK,
						 (g->level_start[lv] + k) * VERITY_BLOCK);
			sha256_with(ctx, tb, VERITY_BLOCK, next + k * VERITY_HASH);
		}
		free(prev);
		cur = prev = next;
	}
	memcpy(root, cur, VERITY_HASH);
	free(prev);
	free(tb);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* dm-verity leaves out a trailing partial block; otherwise its tree is ours. */
static void dm_verity_root(struct job *j, struct verity_result *res)
{
	struct verity_geom dm;
	uint8_t *units;

	res->dm_blocks = j->size / VERITY_BLOCK;
	if (res->dm_blocks == j->g->data_blocks) {
		memcpy(res->dm_root, res->root, VERITY_HASH);
		return;
	}
	if (!res->dm_blocks)
		return;
	verity_geom_init(&dm, res->dm_blocks);
	units = xmemdup(j->unit_hash, j->units * VERITY_HASH);
	if (dm.levels && dm.level_blocks[0] == j->units)
		memcpy(units + (j->units - 1) * VERITY_HASH, j->dm_last, VERITY_HASH);
	tree_top(&dm, units, j->leaf0, -1, res->dm_root);
	free(units);
}

int verity_hash_fd(int fd, const char *name, const struct stat *st,
		   const struct verity_opts *opts, struct verity_result *res)
{
	struct verity_geom g;
	struct job j = {
		.fd = fd, .name = name, .size = st->st_size, .g = &g, .opts = opts,
		.lock = PTHREAD_MUTEX_INITIALIZER, .msg = STRBUF_INIT,
	};
	int rc;

	memset(res, 0, sizeof(*res));
	if (opts->tree_fd < 0 && !opts->on_block && !opts->dm_root && kernel_digest(fd, j.size, res))
		return 0;
	verity_geom_init(&g, div_up(j.size, VERITY_BLOCK));
	j.units = div_up(g.data_blocks, VERITY_FANOUT);
	j.reads = div_up(j.units, READ_UNITS);
	j.unit_hash = xmalloc(j.units ? j.units * VERITY_HASH : 1);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rc = run_workers(&j, opts->jobs);
	if (!rc)
		rc = tree_top(&g, j.unit_hash, j.leaf0, opts->tree_fd, res->root);
	if (!rc) {
		verity_file_digest(j.size, res->root, res->digest);
		if (opts->dm_root)
			dm_verity_root(&j, res);
	}
	free(j.unit_hash);
	strbuf_release(&j.msg);
	pthread_mutex_destroy(&j.lock);
	return rc;
}

static int read_blocks(int fd, const char *name, uint8_t *buf, uint64_t first, uint64_t nr)
{
	ssize_t n = pread(fd, buf, nr * VERITY_BLOCK, first * VERITY_BLOCK);

	if (n < 0)
		return fail_errno(EXIT_FAIL, "cannot read %s", name);
	if ((uint64_t)n != nr * VERITY_BLOCK)
		return fail(EXIT_REJECTED, "%s is shorter than a Merkle tree of its shape", name);
	return 0;
}

int verity_tree_check(int fd, const char *name, const struct verity_geom *g, uint8_t *root)
{
	uint8_t *parent = xmalloc(VERITY_BLOCK), *kids = xmalloc(VERITY_FANOUT * VERITY_BLOCK);
	uint8_t h[VERITY_HASH];
	EVP_MD_CTX *ctx = sha256_ctx();
	int rc = 0;

	if (!g->levels)
		BUG("verity_tree_check() on a tree without levels");
	rc = read_blocks(fd, name, parent, g->level_start[g->levels - 1], 1);
	if (!rc)
		sha256_with(ctx, parent, VERITY_BLOCK, root);
	for (int lv = g->levels - 1; lv > 0 && !rc; lv--) {
		uint64_t below = g->level_blocks[lv - 1];

		for (uint64_t k = 0; k < g->level_blocks[lv] && !rc; k++) {
			uint64_t nr = below - k * VERITY_FANOUT;

			if (nr > VERITY_FANOUT)
				nr = VERITY_FANOUT;
			rc = read_blocks(fd, name, parent, g->level_start[lv] + k, 1);
			if (!rc)
				rc = read_blocks(fd, name, kids, g->level_start[lv - 1] + k * VERITY_FANOUT, nr);
			for (uint64_t i = 0; i < nr && !rc; i++) {
				sha256_with(ctx, kids + i * VERITY_BLOCK, VERITY_BLOCK, h);
				if (memcmp(h, parent + i * VERITY_HASH, VERITY_HASH))
					rc = fail(EXIT_REJECTED,
						  "%s is corrupt: tree block %" PRIu64 " does not match its hash",
						  name, g->level_start[lv - 1] + k * VERITY_FANOUT + i);
			}
		}
	}
	EVP_MD_CTX_free(ctx);
	free(kids);
	free(parent);
	return rc;
}
