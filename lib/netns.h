#ifndef NETNS_H
#define NETNS_H

/*
 * Network namespaces and links, through the kernel's interfaces
 * (rtnetlink with libmnl, /dev/net/tun, mount and setns); nimbus never
 * runs ip(8). These are the privileged network operations of boot and
 * teardown: each raises CAP_NET_ADMIN (links), or CAP_SYS_ADMIN (the
 * namespaces), around its system calls alone (sandbox.h).
 *
 * Functions return 0 (or a documented count) or -code after fail():
 * EXIT_BUSY for a name that is taken, EXIT_PERM without the privilege,
 * EXIT_NOTFOUND for a missing link, EXIT_FAIL otherwise.
 */

/*
 * A named network namespace as ip-netns(8) makes one: a new namespace
 * bind-mounted on <dir>/<name>, dir being a shared mount so that the
 * mount reaches other mount namespaces.
 */
int netns_add(const char *dir, const char *name);
/* Unmount and remove the namespace at path: 1 removed, 0 there was none. */
int netns_delete(const char *path);

/*
 * Move this thread into the namespace at path until netns_leave(), which
 * gets *saved. Links made meanwhile are made in it.
 */
int netns_enter(const char *path, int *saved);
void netns_leave(int saved);

/* A persistent tap (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) owned by uid and gid. */
int link_add_tap(const char *name, uid_t uid, gid_t gid);
/* A veth pair whose peer is made in the namespace of peer_netns_fd. */
int link_add_veth(const char *name, const char *peer, int peer_netns_fd);
int link_add_bridge(const char *name);
/* Set a link up, with master as its master unless NULL. */
int link_up(const char *name, const char *master);
/* 1 deleted, 0 there was none. */
int link_delete(const char *name);
/*
 * Delete the links of names at once, existed[i] telling whether names->v[i]
 * was there: the kernel unregisters them in one batch, which waits for
 * one RCU grace period instead of one per link. They are put in a link
 * group that no link of the namespace is in, then the group is deleted;
 * on a failure, some may be left, in that group.
 */
int link_delete_all(const struct strvec *names, bool *existed);
/* The names of the links of this namespace, but lo. */
int link_list(struct strvec *names);

#endif
