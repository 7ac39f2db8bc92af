#ifndef ROOTFS_CACHE_H
#define ROOTFS_CACHE_H

#include <sys/stat.h>
#include <time.h>

#include "rootfs.h"

/*
 * The hash cache: a component's kind, digest and size, keyed by its
 * file's (device, inode, size, mtime, ctime), one small file per
 * (device, inode) in <core.state_dir>/rootfs-cache/. It trusts that
 * every change to a file's content moves its ctime, which userspace
 * cannot set; nimbus-rootfs(1) lists when it is bypassed.
 */

/* Whether the file open at fd is on a filesystem whose ctime we trust. */
bool rootfs_cache_usable(int fd);

/* 1 with c filled when st has an entry of kind want (AUTO: any); else 0. */
int rootfs_cache_get(const struct stat *st, enum rootfs_kind want, struct rootfs_component *c);

/*
 * Record c for st, the file's state before it was hashed from time
 * started on. A file changed shortly before that is not recorded: a
 * later change in the same timestamp tick would not move its ctime.
 */
void rootfs_cache_put(const struct stat *st, const struct rootfs_component *c,
		      const struct timespec *started);

#endif
