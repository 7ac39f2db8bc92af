#ifndef JAIL_H
#define JAIL_H

/*
 * A VM's jail, as the jailer lays it out: <chroot_base>/<exec>/<id>,
 * <exec> being the name of the Firecracker binary, and in it root/, the
 * VM's "/". nimbus makes both before the jailer runs: the id directory
 * 0700 root, so that no one else on the host reaches what is inside,
 * and root/ with what Firecracker needs, placed read-only.
 */

/* What boot puts in root/, as Firecracker sees it there. */
#define JAIL_KERNEL "vmlinux"
#define JAIL_ROOTFS "rootfs"
#define JAIL_OVERLAY "overlay%zu"		/* from 1 */
#define JAIL_CONFIG "config.json"
#define JAIL_SOCKET "api.socket"
#define JAIL_LOG "firecracker.log"
#define JAIL_METRICS "firecracker.metrics"
#define JAIL_SECCOMP "seccomp-filter.bpf"
#define JAIL_SNAPSHOT_STATE "snapshot.vmstate"
#define JAIL_SNAPSHOT_MEMORY "snapshot.mem"

/* The jail of VM id. */
void jail_path(struct strbuf *out, const char *chroot_base, const char *binary, const char *id);

/* Make the jail and its root/: -EXIT_BUSY when the jail exists. */
int jail_create(const char *jail);

/*
 * Whether path may be placed in a jail: a regular file (-EXIT_NOTFOUND,
 * -EXIT_USAGE otherwise) that others may read, for the VM's own uid
 * reads it, and only its owner may write (-EXIT_PERM).
 */
int jail_file_check(const char *path);

/* Place src at <root>/name, read-only: a bind mount, which teardown detaches. */
int jail_place(const char *root, const char *name, const char *src);

/* A new file <root>/name of mode, owned by uid and gid, holding len bytes of data. */
int jail_write(const char *root, const char *name, const void *data, size_t len, mode_t mode,
	       uid_t uid, gid_t gid);

#endif
