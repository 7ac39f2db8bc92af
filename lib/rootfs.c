#include "common.h"
#include "output.h"
#include "rootfs.h"
#include "rootfs-cache.h"
#include "rootfs-tar.h"

#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

static const char *const kind_names[] = {
	[ROOTFS_AUTO] = "auto",
	[ROOTFS_IMAGE] = "image",
	[ROOTFS_TAR] = "tar",
};

const char *rootfs_kind_name(enum rootfs_kind kind)
{
	return kind_names[kind];
}

int rootfs_kind_parse(const char *s, enum rootfs_kind *kind)
{
	if (!strcmp(s, "image"))
		*kind = ROOTFS_IMAGE;
	else if (!strcmp(s, "tar"))
		*kind = ROOTFS_TAR;
	else
		return -1;
	return 0;
}

void rootfs_manifest_release(struct rootfs_manifest *m)
{
	free(m->comp);
	m->comp = NULL;
	m->nr = m->alloc = 0;
}

static struct rootfs_component *manifest_add(struct rootfs_manifest *m)
{
	ALLOC_GROW(m->comp, m->nr + 1, m->alloc);
	memset(&m->comp[m->nr], 0, sizeof(m->comp[0]));
	return &m->comp[m->nr++];
}

/* Keys sorted, no blanks: the bytes `jq -cjS .` prints for the same manifest. */
void rootfs_manifest_canonical(const struct rootfs_manifest *m, struct strbuf *out)
{
	char hex[VERITY_HEX_SIZE];

	strbuf_addstr(out, "{\"components\":[");
	for (size_t i = 0; i < m->nr; i++) {
		digest_to_hex(hex, m->comp[i].digest);
		strbuf_addf(out, "%s{\"digest\":\"%s\",\"kind\":\"%s\",\"size\":%" PRIu64 "}",
			    i ? "," : "", hex, rootfs_kind_name(m->comp[i].kind), m->comp[i].size);
	}
	strbuf_addf(out, "],\"version\":%d}", ROOTFS_MANIFEST_VERSION);
}

void rootfs_manifest_address(const struct rootfs_manifest *m, char *address)
{
	struct strbuf sb = STRBUF_INIT;
	uint8_t h[VERITY_HASH];

	rootfs_manifest_canonical(m, &sb);
	sha256_buf(sb.buf, sb.len, h);
	digest_to_hex(address, h);
	strbuf_release(&sb);
}

json_t *rootfs_manifest_json(const struct rootfs_manifest *m)
{
	json_t *list = json_array();
	char hex[VERITY_HEX_SIZE];

	for (size_t i = 0; i < m->nr; i++) {
		digest_to_hex(hex, m->comp[i].digest);
		json_array_append_new(list, json_pack("{s:s, s:s, s:I}", "digest", hex,
						      "kind", rootfs_kind_name(m->comp[i].kind),
						      "size", (json_int_t)m->comp[i].size));
	}
	return json_pack("{s:o, s:i}", "components", list, "version", ROOTFS_MANIFEST_VERSION);
}

static int bad_manifest(const char *name, const char *why)
{
	return fail(EXIT_REJECTED, "%s is not a rootfs manifest: %s", name, why);
}

/* A string without NULs, or NULL. */
static const char *json_cstr(json_t *v)
{
	const char *s = json_string_value(v);

	return s && strlen(s) == json_string_length(v) ? s : NULL;
}

static int parse_component(json_t *obj, struct rootfs_component *c)
{
	const char *kind = json_cstr(json_object_get(obj, "kind"));
	const char *digest = json_cstr(json_object_get(obj, "digest"));
	json_t *size = json_object_get(obj, "size");

	if (!json_is_object(obj) || json_object_size(obj) != 3 || !kind || !digest ||
	    !json_is_integer(size) || json_integer_value(size) < 0)
		return -1;
	if (rootfs_kind_parse(kind, &c->kind) || digest_from_hex(digest, c->digest))
		return -1;
	c->size = json_integer_value(size);
	return 0;
}

int rootfs_manifest_from_json(json_t *doc, const char *name, struct rootfs_manifest *m)
{
	json_t *man = json_object_get(doc, "manifest"), *addr = json_object_get(doc, "address");
	json_t *list, *v;
	char want[VERITY_HEX_SIZE];
	size_t i;

	if (!man)
		man = doc;
	if (!json_is_object(man))
		return bad_manifest(name, "not a JSON object");
	v = json_object_get(man, "version");
	list = json_object_get(man, "components");
	if (!json_is_integer(v) || !json_is_array(list) || json_object_size(man) != 2)
		return bad_manifest(name, "it must hold exactly \"components\" and \"version\"");
	if (json_integer_value(v) != ROOTFS_MANIFEST_VERSION)
		return bad_manifest(name, "its version is not 1");
	if (!json_array_size(list) || json_array_size(list) > ROOTFS_MAX_COMPONENTS)
		return bad_manifest(name, "it must list 1 to 1024 components");
	json_array_foreach(list, i, v) {
		if (parse_component(v, manifest_add(m))) {
			rootfs_manifest_release(m);
			return bad_manifest(name, "a component must be {\"digest\":\"sha256:<64 hex>\","
					    "\"kind\":\"image\"|\"tar\",\"size\":<bytes>}");
		}
	}
	if (addr && man != doc) {
		rootfs_manifest_address(m, want);
		if (!json_cstr(addr) || strcmp(json_cstr(addr), want)) {
			rootfs_manifest_release(m);
			return fail(EXIT_REJECTED, "%s: its address is not the address of its manifest", name);
		}
	}
	return 0;
}

int rootfs_manifest_parse(const char *text, size_t len, const char *name, struct rootfs_manifest *m)
{
	json_error_t err;
	json_t *doc;
	int rc;

	if (len > ROOTFS_MAX_MANIFEST)
		return bad_manifest(name, "larger than 1 MiB");
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!doc)
		return fail(EXIT_REJECTED, "%s is not a rootfs manifest: line %d: %s", name,
			    err.line, err.text);
	rc = rootfs_manifest_from_json(doc, name, m);
	json_decref(doc);
	return rc;
}

static int errno_code(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return EXIT_NOTFOUND;
	case EACCES:
	case EPERM:
		return EXIT_PERM;
	default:
		return EXIT_FAIL;
	}
}

static const char *file_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/* Regular files only: stat first, so that a FIFO or a device is never opened. */
static int open_file(const char *path, int *fdp, struct stat *st)
{
	int fd;

	if (stat(path, st))
		return fail_errno(errno_code(errno), "cannot open %s", path);
	if (!S_ISREG(st->st_mode))
		return fail(EXIT_USAGE, "%s is %s, not a regular file", path, file_type(st->st_mode));
	fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return fail_errno(errno_code(errno), "cannot open %s", path);
	if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
		close(fd);
		return fail(EXIT_BUSY, "%s changed while it was opened", path);
	}
	*fdp = fd;
	return 0;
}

static bool same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * Hash one component of kind type (AUTO detects it). vo says how an image
 * is hashed; vr gets its fs-verity results.
 */
static int hash_component(const char *path, enum rootfs_kind type, const struct rootfs_opts *o,
			  const struct verity_opts *vo, struct rootfs_component *c,
			  struct verity_result *vr)
{
	struct timespec started;
	struct stat st, after;
	bool cache;
	int fd, rc;

	rc = open_file(path, &fd, &st);
	if (rc)
		return rc;
	cache = o->cached && vo->tree_fd < 0 && !vo->on_block && !vo->dm_root &&
		rootfs_cache_usable(fd);
	if (cache && rootfs_cache_get(&st, type, c)) {
		close(fd);
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &started);
	rc = type == ROOTFS_IMAGE ? 0 :
		tar_digest_fd(fd, path, type == ROOTFS_TAR, o->drop_cache, c->digest, &c->size);
	c->kind = rc == 1 ? ROOTFS_TAR : ROOTFS_IMAGE;
	if (!rc) {
		rc = verity_hash_fd(fd, path, &st, vo, vr);
		memcpy(c->digest, vr->digest, VERITY_HASH);
		c->size = st.st_size;
	}
	if (rc >= 0 && fstat(fd, &after))
		rc = fail_errno(EXIT_FAIL, "cannot stat %s", path);
	if (rc >= 0 && !same_file_state(&st, &after))
		rc = fail(EXIT_BUSY, "%s changed while it was being hashed", path);
	if (rc >= 0 && cache && !(c->kind == ROOTFS_IMAGE && vr->from_kernel))
		rootfs_cache_put(&st, c, &started);
	close(fd);
	return rc < 0 ? rc : 0;
}

static int check_count(size_t nr_overlays)
{
	if (nr_overlays >= ROOTFS_MAX_COMPONENTS)
		return fail(EXIT_USAGE, "at most %d overlays", ROOTFS_MAX_COMPONENTS - 1);
	return 0;
}

static int image_only(const struct rootfs_component *base, const char *path)
{
	if (base->kind == ROOTFS_IMAGE)
		return 0;
	return fail(EXIT_USAGE, "--tree and --verity need an image, and %s is a tar archive", path);
}

/* The tree goes to a temporary file renamed into place on success. */
static int tree_create(const char *path, struct strbuf *tmp, int *fd)
{
	int rc = 0;

	strbuf_addf(tmp, "%s.tmpXXXXXX", path);
	*fd = mkostemp(tmp->buf, O_CLOEXEC);
	if (*fd < 0)
		return fail_errno(errno_code(errno), "cannot create %s", tmp->buf);
	if (fchmod(*fd, 0644)) {
		rc = fail_errno(EXIT_FAIL, "cannot chmod %s", tmp->buf);
		unlink(tmp->buf);
		close(*fd);
		*fd = -1;
	}
	return rc;
}

static int tree_finish(int rc, const char *path, const char *tmp, int fd)
{
	if (close(fd) && !rc)
		rc = fail_errno(EXIT_FAIL, "cannot write %s", tmp);
	if (!rc && rename(tmp, path))
		rc = fail_errno(errno_code(errno), "cannot rename %s to %s", tmp, path);
	if (rc)
		unlink(tmp);
	return rc;
}

int rootfs_hash(const char *image, const char *const *overlays, size_t nr_overlays,
		const struct rootfs_opts *opts, struct rootfs_manifest *m, struct verity_result *base)
{
	struct verity_opts vo = VERITY_OPTS_INIT, plain = VERITY_OPTS_INIT;
	struct verity_result scratch;
	struct strbuf tmp = STRBUF_INIT;
	int rc = check_count(nr_overlays);

	vo.jobs = plain.jobs = opts->jobs;
	vo.drop_cache = plain.drop_cache = opts->drop_cache;
	vo.dm_root = opts->verity;
	if (!base)
		base = &scratch;
	if (!rc && opts->tree)
		rc = tree_create(opts->tree, &tmp, &vo.tree_fd);
	if (!rc)
		rc = hash_component(image, opts->type, opts, &vo, manifest_add(m), base);
	if (!rc && (opts->tree || opts->verity))
		rc = image_only(&m->comp[0], image);
	for (size_t i = 0; !rc && i < nr_overlays; i++)
		rc = hash_component(overlays[i], opts->type, opts, &plain, manifest_add(m), &scratch);
	if (opts->tree && vo.tree_fd >= 0)
		rc = tree_finish(rc, opts->tree, tmp.buf, vo.tree_fd);
	strbuf_release(&tmp);
	return rc;
}

json_t *rootfs_result_json(const char *image, const char *const *overlays, size_t nr_overlays,
			   const struct rootfs_manifest *m)
{
	json_t *files = json_array();
	char address[VERITY_HEX_SIZE];

	json_array_append_new(files, xjson_string(image));
	for (size_t i = 0; i < nr_overlays; i++)
		json_array_append_new(files, xjson_string(overlays[i]));
	rootfs_manifest_address(m, address);
	return json_pack("{s:s, s:o, s:o}", "address", address, "files", files,
			 "manifest", rootfs_manifest_json(m));
}

int rootfs_address(const char *image, const char *const *overlays, size_t nr_overlays,
		   const struct rootfs_opts *opts, json_t **manifest, char *address)
{
	struct rootfs_manifest m = ROOTFS_MANIFEST_INIT;
	int rc = rootfs_hash(image, overlays, nr_overlays, opts, &m, NULL);

	if (!rc) {
		*manifest = rootfs_manifest_json(&m);
		rootfs_manifest_address(&m, address);
	}
	rootfs_manifest_release(&m);
	return rc;
}

/*
 * verify --tree: the base image's data blocks whose hashes differ from
 * the reference tree's bottom level, collected by the hashing threads.
 */
struct block_diff {
	int fd;
	const char *name;
	struct verity_geom ref;
	pthread_mutex_t lock;
	uint64_t *blocks;
	size_t nr, alloc;
};

static bool is_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static int read_ref_block(struct block_diff *bd, uint64_t u, uint8_t *buf)
{
	ssize_t n = pread(bd->fd, buf, VERITY_BLOCK, (bd->ref.level_start[0] + u) * VERITY_BLOCK);

	if (n == VERITY_BLOCK)
		return 0;
	if (n < 0)
		return fail_errno(EXIT_FAIL, "cannot read %s", bd->name);
	return fail(EXIT_BUSY, "%s shrank while it was read", bd->name);
}

/* A slot holds a block's hash, or zeros past the last block. */
static void add_diffs(struct block_diff *bd, uint64_t u, const uint8_t *cur, unsigned nr,
		      const uint8_t *ref)
{
	uint64_t found[VERITY_FANOUT];
	unsigned n = 0;

	for (unsigned s = 0; s < VERITY_FANOUT; s++) {
		bool here = s < nr, there = ref && !is_zero(ref + s * VERITY_HASH, VERITY_HASH);

		if (here != there ||
		    (here && memcmp(cur + s * VERITY_HASH, ref + s * VERITY_HASH, VERITY_HASH)))
			found[n++] = u * VERITY_FANOUT + s;
	}
	if (!n)
		return;
	pthread_mutex_lock(&bd->lock);
	ALLOC_GROW(bd->blocks, bd->nr + n, bd->alloc);
	memcpy(bd->blocks + bd->nr, found, n * sizeof(found[0]));
	bd->nr += n;
	pthread_mutex_unlock(&bd->lock);
}

static int compare_block(void *ctx, uint64_t u, const uint8_t *block, unsigned nr)
{
	struct block_diff *bd = ctx;
	uint8_t ref[VERITY_BLOCK];
	int rc;

	if (u >= bd->ref.level_blocks[0]) {
		add_diffs(bd, u, block, nr, NULL);
		return 0;
	}
	rc = read_ref_block(bd, u, ref);
	if (!rc && memcmp(ref, block, VERITY_BLOCK))
		add_diffs(bd, u, block, nr, ref);
	return rc;
}

/* The reference tree's blocks past the end of the image as it is now. */
static int removed_blocks(struct block_diff *bd, uint64_t size)
{
	uint64_t blocks = size / VERITY_BLOCK + !!(size % VERITY_BLOCK);
	uint8_t ref[VERITY_BLOCK];
	int rc = 0;

	for (uint64_t u = blocks / VERITY_FANOUT + !!(blocks % VERITY_FANOUT);
	     !rc && u < bd->ref.level_blocks[0]; u++) {
		rc = read_ref_block(bd, u, ref);
		if (!rc)
			add_diffs(bd, u, NULL, 0, ref);
	}
	return rc;
}

/*
 * Open the reference tree and check it: it must chain up to one root,
 * and with a manifest, that root and the manifest's size must give the
 * base image's digest. A tree of no levels (images of one block or
 * less) leaves nothing to compare.
 */
static int open_tree(const char *path, const struct rootfs_manifest *want, struct block_diff *bd)
{
	uint8_t root[VERITY_HASH], digest[VERITY_HASH];
	uint64_t blocks;
	struct stat st;
	int rc = open_file(path, &bd->fd, &st);

	if (rc)
		return rc;
	bd->name = path;
	blocks = st.st_size / VERITY_BLOCK;
	if (st.st_size % VERITY_BLOCK)
		return fail(EXIT_REJECTED, "%s is not a Merkle tree: its size is not a multiple of 4096", path);
	if (want) {
		if (want->comp[0].kind != ROOTFS_IMAGE)
			return fail(EXIT_USAGE, "--tree needs an image, and the manifest's base is a tar archive");
		verity_geom_init(&bd->ref, want->comp[0].size / VERITY_BLOCK +
				 !!(want->comp[0].size % VERITY_BLOCK));
		if (bd->ref.tree_blocks != blocks)
			return fail(EXIT_REJECTED, "%s is not the Merkle tree of the manifest's base image:"
				    " %" PRIu64 " blocks, expected %" PRIu64, path, blocks, bd->ref.tree_blocks);
	} else if (blocks && verity_geom_from_tree(&bd->ref, blocks)) {
		return fail(EXIT_REJECTED, "%s is not a Merkle tree: no tree is %" PRIu64 " blocks long",
			    path, blocks);
	}
	if (!bd->ref.levels)
		return 0;
	rc = verity_tree_check(bd->fd, path, &bd->ref, root);
	if (rc || !want)
		return rc;
	verity_file_digest(want->comp[0].size, root, digest);
	if (memcmp(digest, want->comp[0].digest, VERITY_HASH))
		return fail(EXIT_REJECTED, "%s is not the Merkle tree of the manifest's base image", path);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void block_lines(struct block_diff *bd, const char *image, struct strvec *diffs)
{
	size_t lines = 0, i = 0;

	if (!bd->nr)
		return;
	qsort(bd->blocks, bd->nr, sizeof(bd->blocks[0]), cmp_u64);
	while (i < bd->nr && lines < ROOTFS_MAX_BLOCK_LINES) {
		uint64_t first = bd->blocks[i];

		while (i + 1 < bd->nr && bd->blocks[i + 1] == bd->blocks[i] + 1)
			i++;
		if (bd->blocks[i] == first)
			strvec_pushf(diffs, "%s: block %" PRIu64 " differs (offset %" PRIu64 ")",
				     image, first, first * VERITY_BLOCK);
		else
			strvec_pushf(diffs, "%s: blocks %" PRIu64 "-%" PRIu64 " differ (offsets %"
				     PRIu64 "-%" PRIu64 ")", image, first, bd->blocks[i],
				     first * VERITY_BLOCK, bd->blocks[i] * VERITY_BLOCK);
		lines++;
		i++;
	}
	if (i < bd->nr)
		strvec_pushf(diffs, "%s: and %zu more differing blocks", image, bd->nr - i);
}

static void compare_component(const struct rootfs_component *got, const struct rootfs_component *want,
			      size_t i, const char *path, struct strvec *diffs)
{
	char a[VERITY_HEX_SIZE], b[VERITY_HEX_SIZE];

	if (got->kind != want->kind) {
		strvec_pushf(diffs, "component %zu (%s): %s, expected %s", i + 1, path,
			     rootfs_kind_name(got->kind), rootfs_kind_name(want->kind));
	} else if (got->size != want->size) {
		strvec_pushf(diffs, "component %zu (%s): %" PRIu64 " bytes, expected %" PRIu64,
			     i + 1, path, got->size, want->size);
	} else if (memcmp(got->digest, want->digest, VERITY_HASH)) {
		digest_to_hex(a, got->digest);
		digest_to_hex(b, want->digest);
		strvec_pushf(diffs, "component %zu (%s): %s, expected %s", i + 1, path, a, b);
	}
}

/* With a manifest, an image whose size differs need not be read. */
static bool differs_by_size(const char *path, const struct rootfs_component *want,
			    struct rootfs_component *c)
{
	struct stat st;

	if (want->kind != ROOTFS_IMAGE || stat(path, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size == want->size)
		return false;
	c->kind = ROOTFS_IMAGE;
	c->size = st.st_size;
	return true;
}

int rootfs_verify(const char *image, const char *const *overlays, size_t nr_overlays,
		  const struct rootfs_opts *opts, const struct rootfs_expect *exp,
		  struct rootfs_manifest *actual, struct strvec *diffs)
{
	const struct rootfs_manifest *want = exp->manifest;
	struct verity_opts vo = VERITY_OPTS_INIT, plain = VERITY_OPTS_INIT;
	struct block_diff bd = { .fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };
	struct verity_result vr;
	char got[VERITY_HEX_SIZE];
	int rc = check_count(nr_overlays);

	if (!rc && want && want->nr != nr_overlays + 1) {
		strvec_pushf(diffs, "the manifest lists %zu components, and %zu file%s given",
			     want->nr, nr_overlays + 1, nr_overlays ? "s are" : " is");
		return fail(EXIT_REJECTED, "%s does not match", image);
	}
	vo.jobs = plain.jobs = opts->jobs;
	vo.drop_cache = plain.drop_cache = opts->drop_cache;
	if (!rc && exp->tree)
		rc = open_tree(exp->tree, want, &bd);
	if (!rc && bd.ref.levels) {
		vo.on_block = compare_block;
		vo.ctx = &bd;
	}
	for (size_t i = 0; !rc && i <= nr_overlays; i++) {
		const char *path = i ? overlays[i - 1] : image;
		struct rootfs_component *c = manifest_add(actual);

		if (!want || (!i && vo.on_block) || !differs_by_size(path, &want->comp[i], c))
			rc = hash_component(path, want ? want->comp[i].kind : opts->type, opts,
					    i ? &plain : &vo, c, &vr);
		if (!rc && !i && vo.on_block)
			rc = image_only(c, path);
		if (!rc && want)
			compare_component(c, &want->comp[i], i, path, diffs);
	}
	if (!rc && vo.on_block)
		rc = removed_blocks(&bd, actual->comp[0].size);
	if (!rc && exp->address) {
		rootfs_manifest_address(actual, got);
		if (strcmp(got, exp->address))
			strvec_pushf(diffs, "address %s, expected %s", got, exp->address);
	}
	if (!rc && diffs->nr) {
		block_lines(&bd, image, diffs);
		rc = fail(EXIT_REJECTED, "%s%s does not match", image,
			  nr_overlays ? " with its overlays" : "");
	}
	if (bd.fd >= 0)
		close(bd.fd);
	free(bd.blocks);
	pthread_mutex_destroy(&bd.lock);
	return rc;
}
