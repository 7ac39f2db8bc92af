#include "common.h"
#include "blobdir.h"
#include "oci.h"

#include <dirent.h>
#include <sys/file.h>

static int io_fail(const char *what, const struct blobdir *bd, const char *name)
{
	int code = errno == EACCES || errno == EPERM ? EXIT_PERM : EXIT_FAIL;

	return fail_errno(code, "cannot %s %s/%s", what, bd->path, name);
}

/* mkdir at dirfd, then open it; an existing directory is fine. */
static int open_dir(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return -1;
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

int blobdir_open(struct blobdir *bd, const char *path)
{
	int blobs = -1, code, rc;

	bd->path = xstrdup(path);
	bd->blobs_fd = bd->uploads_fd = -1;
	rc = mkdir_parents(path);
	if (rc) {
		blobdir_close(bd);
		return rc;
	}
	bd->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bd->fd >= 0)
		blobs = open_dir(bd->fd, "blobs");
	if (blobs >= 0) {
		bd->blobs_fd = open_dir(blobs, "sha256");
		close(blobs);
	}
	if (bd->blobs_fd >= 0)
		bd->uploads_fd = open_dir(bd->fd, "uploads");
	if (bd->uploads_fd >= 0)
		return 0;
	code = errno == EACCES || errno == EPERM ? EXIT_PERM : EXIT_FAIL;
	code = fail_errno(code, "cannot open the registry directory %s", path);
	blobdir_close(bd);
	return code;
}

void blobdir_close(struct blobdir *bd)
{
	if (bd->fd >= 0)
		close(bd->fd);
	if (bd->blobs_fd >= 0)
		close(bd->blobs_fd);
	if (bd->uploads_fd >= 0)
		close(bd->uploads_fd);
	free(bd->path);
	bd->path = NULL;
	bd->fd = bd->blobs_fd = bd->uploads_fd = -1;
}

/* XX/HEX of a digest, relative to blobs/sha256. */
static void blob_name(const char *digest, char out[2 + 1 + 64 + 1])
{
	const char *hex = digest + 7;

	xsnprintf(out, 2 + 1 + 64 + 1, "%.2s/%s", hex, hex);
}

int blobdir_read(const struct blobdir *bd, const char *digest)
{
	char name[68];
	int fd;

	blob_name(digest, name);
	fd = openat(bd->blobs_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return fail(EXIT_NOTFOUND, "blob %s has no file", digest);
	return io_fail("open", bd, name);
}

/* Take the lock of an upload file; the descriptor is closed on failure. */
static int lock_upload(const struct blobdir *bd, int fd, const char *id)
{
	if (!flock(fd, LOCK_EX | LOCK_NB))
		return fd;
	close(fd);
	if (errno == EWOULDBLOCK)
		return fail(EXIT_BUSY, "upload %s is busy with another request", id);
	return io_fail("lock", bd, id);
}

int blobdir_upload_create(const struct blobdir *bd, const char *id)
{
	int fd = openat(bd->uploads_fd, id, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC |
			O_NOFOLLOW, 0600);

	return fd < 0 ? io_fail("create", bd, id) : lock_upload(bd, fd, id);
}

int blobdir_upload_open(const struct blobdir *bd, const char *id)
{
	int fd = openat(bd->uploads_fd, id, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return errno == ENOENT ? fail(EXIT_NOTFOUND, "upload %s has no data", id) :
					 io_fail("open", bd, id);
	return lock_upload(bd, fd, id);
}

int blobdir_upload_remove(const struct blobdir *bd, const char *id)
{
	if (unlinkat(bd->uploads_fd, id, 0) < 0 && errno != ENOENT)
		return io_fail("remove", bd, id);
	return 0;
}

int blobdir_lock(const struct blobdir *bd, const char *digest)
{
	char shard[3];
	int fd;

	xsnprintf(shard, sizeof(shard), "%.2s", digest + 7);
	fd = open_dir(bd->blobs_fd, shard);
	if (fd < 0)
		return io_fail("open", bd, shard);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return io_fail("lock", bd, shard);
		}
	}
	return fd;
}

int blobdir_commit(const struct blobdir *bd, int shard, const char *id, int fd, const char *digest)
{
	if (fsync(fd) < 0)
		return io_fail("fsync", bd, id);
	if (renameat(bd->uploads_fd, id, shard, digest + 7) < 0)
		return io_fail("rename", bd, id);
	/* the rename survives a crash once the directory is on disk */
	if (fsync(shard) < 0)
		return io_fail("fsync the directory of", bd, digest);
	return 0;
}

int blobdir_remove(const struct blobdir *bd, int shard, const char *digest)
{
	if (unlinkat(shard, digest + 7, 0) < 0 && errno != ENOENT)
		return io_fail("remove", bd, digest);
	return 0;
}

/* Call fn for each regular file of dirfd whose name valid() accepts, with prefix before it. */
static int each_file(const struct blobdir *bd, int dirfd, const char *where,
		     bool (*valid)(const char *), const char *prefix, blobdir_fn *fn, void *data)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;
	int rc = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return io_fail("read", bd, where);
	}
	while (!rc && (errno = 0, e = readdir(d))) {
		struct stat st;
		char *name;

		if (!valid(e->d_name))
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		name = xstrfmt("%s%s", prefix, e->d_name);
		rc = fn(data, name, &st);
		free(name);
	}
	if (!rc && errno)
		rc = io_fail("read", bd, where);
	closedir(d);
	return rc;
}

static bool hex_name(const char *s, size_t len)
{
	return strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

static bool is_blob_name(const char *s)
{
	return hex_name(s, 64);
}

static bool is_upload_name(const char *s)
{
	return hex_name(s, OCI_UPLOAD_ID_LEN);
}

int blobdir_each_blob(const struct blobdir *bd, blobdir_fn *fn, void *data)
{
	static const char hex[] = "0123456789abcdef";
	int rc = 0;

	for (int i = 0; i < 256 && !rc; i++) {
		char shard[3] = { hex[i >> 4], hex[i & 15], '\0' };
		int fd = openat(bd->blobs_fd, shard, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0) {
			if (errno != ENOENT)
				rc = io_fail("open", bd, shard);
			continue;
		}
		rc = each_file(bd, fd, shard, is_blob_name, "sha256:", fn, data);
		close(fd);
	}
	return rc;
}

int blobdir_each_upload(const struct blobdir *bd, blobdir_fn *fn, void *data)
{
	return each_file(bd, bd->uploads_fd, "uploads", is_upload_name, "", fn, data);
}
