#include "common.h"
#include "netns.h"
#include "sandbox.h"

#include <libmnl/libmnl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

/* Enough for a dump's batch of links. */
#define NL_BUFSIZE 32768

/* A request: one link and a few attributes. */
union nl_msg {
	struct nlmsghdr align;
	char buf[1024];
};

static int errno_code(int err)
{
	switch (err) {
	case EEXIST:
	case EBUSY:
		return EXIT_BUSY;
	case EPERM:
	case EACCES:
		return EXIT_PERM;
	case ENODEV:
	case ENOENT:
		return EXIT_NOTFOUND;
	default:
		return EXIT_FAIL;
	}
}

/*
 * Send one request and read its acknowledgement: 0, or -1 with errno.
 * rtnetlink checks CAP_NET_ADMIN of the socket's opener and sender.
 */
static int nl_talk(struct nlmsghdr *nlh)
{
	struct mnl_socket *nl;
	char *buf = xmalloc(NL_BUFSIZE);
	unsigned portid;
	int rc = -1, err;

	caps_raise(CAP_NET_ADMIN);
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl && !mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID)) {
		portid = mnl_socket_get_portid(nl);
		nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
		nlh->nlmsg_seq = time(NULL);
		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0) {
			ssize_t n = mnl_socket_recvfrom(nl, buf, NL_BUFSIZE);

			if (n >= 0)
				rc = mnl_cb_run(buf, n, nlh->nlmsg_seq, portid, NULL, NULL) < 0 ? -1 : 0;
		}
	}
	caps_lower(CAP_NET_ADMIN);
	err = errno;
	if (nl)
		mnl_socket_close(nl);
	free(buf);
	errno = err;
	return rc;
}

static struct nlmsghdr *link_msg(char *buf, int type, unsigned flags, const char *name)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nlh;
}

static int link_fail(const char *what, const char *name)
{
	return fail_errno(errno_code(errno), "cannot %s %s", what, name);
}

int link_add_veth(const char *name, const char *peer, int peer_netns_fd)
{
	union nl_msg msg;
	struct nlmsghdr *nlh = link_msg(msg.buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, name);
	struct nlattr *info, *data, *p;
	struct ifinfomsg *pifm;

	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	p = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* the peer is described as a link message of its own */
	pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
	pifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, peer_netns_fd);
	mnl_attr_nest_end(nlh, p);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nl_talk(nlh) ? link_fail("create veth", name) : 0;
}

int link_add_bridge(const char *name)
{
	union nl_msg msg;
	struct nlmsghdr *nlh = link_msg(msg.buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, name);
	struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);

	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, info);
	return nl_talk(nlh) ? link_fail("create bridge", name) : 0;
}

int link_up(const char *name, const char *master)
{
	union nl_msg msg;
	struct nlmsghdr *nlh = link_msg(msg.buf, RTM_NEWLINK, 0, name);
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	ifm->ifi_change = IFF_UP;
	ifm->ifi_flags = IFF_UP;
	if (master) {
		unsigned idx = if_nametoindex(master);

		if (!idx)
			return fail_errno(errno_code(errno), "no link %s to attach %s to", master, name);
		mnl_attr_put_u32(nlh, IFLA_MASTER, idx);
	}
	return nl_talk(nlh) ? link_fail("set up", name) : 0;
}

int link_delete(const char *name)
{
	union nl_msg msg;
	struct nlmsghdr *nlh = link_msg(msg.buf, RTM_DELLINK, 0, name);

	if (!nl_talk(nlh))
		return 1;
	return errno == ENODEV ? 0 : link_fail("delete link", name);
}

int link_add_tap(const char *name, uid_t uid, gid_t gid)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return fail_errno(errno_code(errno), "cannot open /dev/net/tun");
	if (strlen(name) >= sizeof(ifr.ifr_name))
		BUG("tap name %s too long", name);
	memcpy(ifr.ifr_name, name, strlen(name));
	/* TUNSETIFF attaches to a persistent tap of that name: see that there is none */
	if (if_nametoindex(name)) {
		rc = fail(EXIT_BUSY, "cannot create tap %s: it exists", name);
	} else {
		caps_raise(CAP_NET_ADMIN);
		if (ioctl(fd, TUNSETIFF, &ifr) || ioctl(fd, TUNSETOWNER, (unsigned long)uid) ||
		    ioctl(fd, TUNSETGROUP, (unsigned long)gid) || ioctl(fd, TUNSETPERSIST, 1UL))
			rc = link_fail("create tap", name);
		caps_lower(CAP_NET_ADMIN);
	}
	close(fd);
	return rc;
}

static int add_name(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg)) {
		if (mnl_attr_get_type(a) == IFLA_IFNAME && !mnl_attr_validate(a, MNL_TYPE_NUL_STRING) &&
		    strcmp(mnl_attr_get_str(a), "lo"))
			strvec_push(data, mnl_attr_get_str(a));
	}
	return MNL_CB_OK;
}

/* Call cb with each link of this namespace. */
static int dump_links(mnl_cb_t cb, void *data)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	char *buf = xmalloc(NL_BUFSIZE);
	struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, NULL);
	unsigned portid;
	int rc = -1;

	nlh->nlmsg_seq = time(NULL);
	if (nl && !mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) &&
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0) {
		portid = mnl_socket_get_portid(nl);
		do {
			ssize_t n = mnl_socket_recvfrom(nl, buf, NL_BUFSIZE);

			rc = n < 0 ? -1 : mnl_cb_run(buf, n, nlh->nlmsg_seq, portid, cb, data);
		} while (rc > MNL_CB_STOP);
	}
	if (rc < 0)
		rc = fail_errno(errno_code(errno), "cannot list links");
	if (nl)
		mnl_socket_close(nl);
	free(buf);
	return rc < 0 ? rc : 0;
}

int link_list(struct strvec *names)
{
	return dump_links(add_name, names);
}

struct group_use {
	uint32_t group;
	bool used;
};

static int check_group(const struct nlmsghdr *nlh, void *data)
{
	struct group_use *g = data;
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg)) {
		if (mnl_attr_get_type(a) == IFLA_GROUP && !mnl_attr_validate(a, MNL_TYPE_U32) &&
		    mnl_attr_get_u32(a) == g->group)
			g->used = true;
	}
	return MNL_CB_OK;
}

/* A random link group that no link is in: deleting it deletes only ours. */
static int free_group(uint32_t *group)
{
	struct group_use g;
	int rc;

	do {
		if (getrandom(&g.group, sizeof(g.group), 0) != sizeof(g.group))
			die_errno("getrandom");
		/* clear of the small numbers that people give groups */
		g.group |= UINT32_C(1) << 31;
		g.used = false;
		rc = dump_links(check_group, &g);
	} while (!rc && g.used);
	*group = g.group;
	return rc;
}

int link_delete_all(const struct strvec *names, bool *existed)
{
	union nl_msg msg;
	struct nlmsghdr *nlh;
	uint32_t group = 0;
	size_t n = 0;
	int rc = names->nr ? free_group(&group) : 0;

	for (size_t i = 0; !rc && i < names->nr; i++) {
		nlh = link_msg(msg.buf, RTM_NEWLINK, 0, names->v[i]);
		mnl_attr_put_u32(nlh, IFLA_GROUP, group);
		existed[i] = !nl_talk(nlh);
		if (!existed[i] && errno != ENODEV)
			rc = link_fail("set the group of", names->v[i]);
		n += existed[i];
	}
	if (!rc && n) {
		nlh = link_msg(msg.buf, RTM_DELLINK, 0, NULL);
		mnl_attr_put_u32(nlh, IFLA_GROUP, group);
		if (nl_talk(nlh))
			rc = fail_errno(errno_code(errno), "cannot delete the links of group %" PRIu32,
					group);
	}
	return rc;
}

/* As ip-netns(8): a shared mount, so that namespaces mounted later reach other mount namespaces. */
static int share_dir(const char *dir)
{
	int rc = 0;

	if (mkdir_p(dir, 0755))
		return fail_errno(errno_code(errno), "cannot create %s", dir);
	caps_raise(CAP_SYS_ADMIN);
	if (mount("", dir, "none", MS_SHARED | MS_REC, NULL) &&
	    (errno != EINVAL || mount(dir, dir, "none", MS_BIND | MS_REC, NULL) ||
	     mount("", dir, "none", MS_SHARED | MS_REC, NULL)))
		rc = fail_errno(errno_code(errno), "cannot make %s a shared mount", dir);
	caps_lower(CAP_SYS_ADMIN);
	return rc;
}

int netns_add(const char *dir, const char *name)
{
	struct strbuf path = STRBUF_INIT;
	int fd, saved = -1, rc = share_dir(dir);

	strbuf_addf(&path, "%s/%s", dir, name);
	fd = rc ? -1 : open(path.buf, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
	if (!rc && fd < 0)
		rc = fail_errno(errno_code(errno), "cannot create network namespace %s", path.buf);
	if (fd >= 0)
		close(fd);
	if (!rc && (saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		rc = fail_errno(EXIT_FAIL, "cannot open /proc/thread-self/ns/net");
	if (!rc) {
		caps_raise(CAP_SYS_ADMIN);
		if (unshare(CLONE_NEWNET))
			rc = fail_errno(errno_code(errno), "cannot create network namespace %s", path.buf);
		else if (mount("/proc/thread-self/ns/net", path.buf, "none", MS_BIND, NULL))
			rc = fail_errno(errno_code(errno), "cannot mount network namespace %s", path.buf);
		if (setns(saved, CLONE_NEWNET))
			die_errno("cannot return to the host's network namespace");
		caps_lower(CAP_SYS_ADMIN);
	}
	if (saved >= 0)
		close(saved);
	if (rc && fd >= 0)
		unlink(path.buf);
	strbuf_release(&path);
	return rc;
}

int netns_delete(const char *path)
{
	int rc;

	caps_raise(CAP_SYS_ADMIN);
	rc = umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);
	caps_lower(CAP_SYS_ADMIN);
	if (rc && errno != EINVAL && errno != ENOENT)
		return fail_errno(errno_code(errno), "cannot unmount network namespace %s", path);
	if (!unlink(path))
		return 1;
	if (errno == ENOENT)
		return 0;
	return fail_errno(errno_code(errno), "cannot remove network namespace %s", path);
}

/* Join the network namespace of fd. */
static int join(int fd)
{
	int rc;

	caps_raise(CAP_SYS_ADMIN);
	rc = setns(fd, CLONE_NEWNET);
	caps_lower(CAP_SYS_ADMIN);
	return rc;
}

int netns_enter(const char *path, int *saved)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*saved = -1;
	if (fd < 0)
		return fail_errno(errno_code(errno), "cannot open network namespace %s", path);
	*saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0 || join(fd)) {
		int rc = fail_errno(errno_code(errno), "cannot enter network namespace %s", path);

		if (*saved >= 0)
			close(*saved);
		*saved = -1;
		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

void netns_leave(int saved)
{
	/* the rest of the command must not run in the VM's namespace */
	if (join(saved))
		die_errno("cannot return to the host's network namespace");
	close(saved);
}
