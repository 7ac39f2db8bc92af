#include "common.h"
#include "config.h"
#include "log.h"
#include "parse-num.h"
#include "rootfs-cache.h"

#include <linux/magic.h>
#include <sys/vfs.h>

/*
 * An entry is one line: the key as it was when the file was hashed, then
 * what was computed:
 *   nimbus-rootfs-cache 1 DEV INO SIZE MTIME_S MTIME_NS CTIME_S CTIME_NS KIND SIZE DIGEST
 * A lookup formats the key of the file as it is now and compares text.
 */
#define ENTRY_MAGIC "nimbus-rootfs-cache 1"
#define ENTRY_MAX 512
/* Covers the coarsest timestamps (FAT's 2 s) and the kernel's coarse clock. */
#define RACY_SECONDS 2

/* A server or a userspace daemon sets ctime there, not the kernel. */
static const uint32_t untrusted_fs[] = {
	NFS_SUPER_MAGIC, SMB_SUPER_MAGIC, CIFS_SUPER_MAGIC, SMB2_SUPER_MAGIC,
	FUSE_SUPER_MAGIC, V9FS_MAGIC, CEPH_SUPER_MAGIC, AFS_SUPER_MAGIC,
	AFS_FS_MAGIC, CODA_SUPER_MAGIC,
};

bool rootfs_cache_usable(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(untrusted_fs); i++)
		if ((uint32_t)sfs.f_type == untrusted_fs[i])
			return false;
	return true;
}

static void entry_path(struct strbuf *sb, const struct stat *st)
{
	strbuf_addf(sb, "%s/rootfs-cache/%jx-%jx", cfg_str("core.state_dir"),
		    (uintmax_t)st->st_dev, (uintmax_t)st->st_ino);
}

static void entry_key(struct strbuf *sb, const struct stat *st)
{
	strbuf_addf(sb, ENTRY_MAGIC " %ju %ju %jd %jd %ld %jd %ld ",
		    (uintmax_t)st->st_dev, (uintmax_t)st->st_ino, (intmax_t)st->st_size,
		    (intmax_t)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		    (intmax_t)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

/* Ours and writable only by us: anyone else could plant a digest. */
static bool trusted_entry(int fd, const char *path)
{
	struct stat st;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return false;
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		warning("ignoring %s: not owned by us or writable by others", path);
		return false;
	}
	return true;
}

static int parse_entry(const char *value, struct rootfs_component *c)
{
	struct strvec f = STRVEC_INIT;
	int rc = -1;

	strvec_split(&f, value, ' ');
	if (f.nr == 3 && !rootfs_kind_parse(f.v[0], &c->kind) &&
	    !parse_u64(f.v[1], INT64_MAX, &c->size) && !digest_from_hex(f.v[2], c->digest))
		rc = 0;
	strvec_clear(&f);
	return rc;
}

int rootfs_cache_get(const struct stat *st, enum rootfs_kind want, struct rootfs_component *c)
{
	struct strbuf path = STRBUF_INIT, buf = STRBUF_INIT, key = STRBUF_INIT;
	const char *value;
	int fd, hit = 0;

	entry_path(&path, st);
	fd = open(path.buf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			log_debug("cannot open %s: %s", path.buf, strerror(errno));
		goto out;
	}
	entry_key(&key, st);
	if (trusted_entry(fd, path.buf) && strbuf_read_fd(&buf, fd, ENTRY_MAX) >= 0 &&
	    buf.len && buf.buf[buf.len - 1] == '\n' && skip_prefix(buf.buf, key.buf, &value)) {
		strbuf_setlen(&buf, buf.len - 1);
		hit = !parse_entry(value, c) && (want == ROOTFS_AUTO || want == c->kind);
	}
	close(fd);
out:
	log_debug("hash cache %s for %s", hit ? "hit" : "miss", path.buf);
	strbuf_release(&path);
	strbuf_release(&buf);
	strbuf_release(&key);
	return hit;
}

/* mkdir -p, private: the directories hold what we trust. */
static int make_dirs(char *path)
{
	for (char *p = strchr(path + 1, '/');; p = strchr(p + 1, '/')) {
		if (p)
			*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST)
			return -1;
		if (!p)
			return 0;
		*p = '/';
	}
}

void rootfs_cache_put(const struct stat *st, const struct rootfs_component *c,
		      const struct timespec *started)
{
	struct strbuf path = STRBUF_INIT, tmp = STRBUF_INIT, line = STRBUF_INIT;
	char hex[VERITY_HEX_SIZE];
	char *dir;
	int fd, rc = -1, saved;

	if (st->st_ctim.tv_sec + RACY_SECONDS > started->tv_sec) {
		log_debug("not caching a file changed less than %d seconds ago", RACY_SECONDS);
		return;
	}
	entry_path(&path, st);
	dir = xstrndup(path.buf, strrchr(path.buf, '/') - path.buf);
	strbuf_addf(&tmp, "%s.tmpXXXXXX", path.buf);
	entry_key(&line, st);
	digest_to_hex(hex, c->digest);
	strbuf_addf(&line, "%s %" PRIu64 " %s\n", rootfs_kind_name(c->kind), c->size, hex);
	fd = make_dirs(dir) ? -1 : mkostemp(tmp.buf, O_CLOEXEC);
	if (fd >= 0) {
		rc = write_in_full(fd, line.buf, line.len) < 0 ? -1 : 0;
		if (close(fd))
			rc = -1;
		if (!rc)
			rc = rename(tmp.buf, path.buf);
		saved = errno;
		if (rc)
			unlink(tmp.buf);
		errno = saved;
	}
	if (rc)
		warning("cannot update the hash cache in %s: %s", dir, strerror(errno));
	free(dir);
	strbuf_release(&path);
	strbuf_release(&tmp);
	strbuf_release(&line);
}
