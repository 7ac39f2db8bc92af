#include "common.h"
#include "jail.h"
#include "sandbox.h"

#include <linux/capability.h>

#include <sys/mount.h>
#include <sys/stat.h>

void jail_path(struct strbuf *out, const char *chroot_base, const char *binary, const char *id)
{
	const char *slash = strrchr(binary, '/');

	strbuf_addf(out, "%s/%s/%s", chroot_base, slash ? slash + 1 : binary, id);
}

static int errno_code(int err)
{
	return err == ENOENT ? EXIT_NOTFOUND : err == EACCES || err == EPERM ? EXIT_PERM :
	       err == EEXIST ? EXIT_BUSY : EXIT_FAIL;
}

int jail_create(const char *jail)
{
	struct strbuf path = STRBUF_INIT;
	const char *slash = strrchr(jail, '/');
	int rc = 0;

	strbuf_add(&path, jail, slash ? slash - jail : 0);
	if (path.len && mkdir_p(path.buf, 0755))
		rc = fail_errno(errno_code(errno), "cannot create %s", path.buf);
	else if (mkdir(jail, 0700))
		rc = fail_errno(errno_code(errno), "cannot create jail %s", jail);
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/root", jail);
	/* the jailer gives root/ to the VM's uid */
	if (!rc && mkdir(path.buf, 0755))
		rc = fail_errno(errno_code(errno), "cannot create %s", path.buf);
	strbuf_release(&path);
	return rc;
}

int jail_file_check(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return fail_errno(errno_code(errno), "cannot use %s", path);
	if (!S_ISREG(st.st_mode))
		return fail(EXIT_USAGE, "%s is not a regular file", path);
	if (!(st.st_mode & S_IROTH))
		return fail(EXIT_PERM, "%s has mode %04o: a VM runs under its own uid and must be able "
			    "to read it (chmod o+r)", path, (unsigned)(st.st_mode & 07777));
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return fail(EXIT_PERM, "%s has mode %04o: only its owner may write a file that VMs "
			    "share (chmod go-w)", path, (unsigned)(st.st_mode & 07777));
	return 0;
}

/*
 * A read-only bind mount over an empty file. Not a hard link: a link
 * changes the image's ctime, which the hash cache keys on, and to a
 * boot hashing it beside this one the image would look modified.
 */
int jail_place(const char *root, const char *name, const char *src)
{
	struct strbuf dst = STRBUF_INIT;
	int fd, rc = 0;

	strbuf_addf(&dst, "%s/%s", root, name);
	fd = open(dst.buf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd < 0)
		rc = fail_errno(errno_code(errno), "cannot create %s", dst.buf);
	else
		close(fd);
	/* a bind mount is as writable as its source: make it read-only in a second step */
	if (!rc) {
		caps_raise(CAP_SYS_ADMIN);
		if (mount(src, dst.buf, NULL, MS_BIND, NULL) ||
		    mount(NULL, dst.buf, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL))
			rc = fail_errno(errno_code(errno), "cannot bind-mount %s into the jail", src);
		caps_lower(CAP_SYS_ADMIN);
	}
	strbuf_release(&dst);
	return rc;
}

static int give(int fd, uid_t uid, gid_t gid)
{
	int rc;

	caps_raise(CAP_CHOWN);
	rc = fchown(fd, uid, gid);
	caps_lower(CAP_CHOWN);
	return rc;
}

int jail_write(const char *root, const char *name, const void *data, size_t len, mode_t mode,
	       uid_t uid, gid_t gid)
{
	struct strbuf path = STRBUF_INIT;
	int fd, rc = 0;

	strbuf_addf(&path, "%s/%s", root, name);
	fd = open(path.buf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	/* the mode while root owns it: a file given away is no longer ours to chmod */
	if (fd < 0 || fchmod(fd, mode) || give(fd, uid, gid) ||
	    (len && write_in_full(fd, data, len) < 0))
		rc = fail_errno(errno_code(errno), "cannot write %s", path.buf);
	if (fd >= 0 && close(fd) && !rc)
		rc = fail_errno(EXIT_FAIL, "cannot write %s", path.buf);
	strbuf_release(&path);
	return rc;
}
