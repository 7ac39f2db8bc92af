#ifndef REAP_H
#define REAP_H

#include "teardown.h"

/*
 * The reaper: whatever VMs left on this host, found by their names
 * (DESIGN §6: the nimbus prefix and a VM's 8 hex characters), grouped
 * per VM and torn down (teardown.h) unless the VM is live or young.
 *
 * What it looks at, in the reverse of the order boot makes it, so that
 * an object of a VM being booted is never seen without its record:
 *   processes   /proc/PID/cmdline with --id VM (jailer, Firecracker),
 *               or /proc/PID/root a jail's root/: a Firecracker taken
 *               over by its guest may rewrite its command line, but
 *               cannot leave its root
 *   cgroups     <mount>/<firecracker.parent_cgroup>/VM in every v1
 *               hierarchy and in v2
 *   jails       <firecracker.chroot_base>/<exec>/VM
 *   links       of the host's namespace, named VM or nimbus<hex><letter>
 *   namespaces  <firecracker.netns_dir>/VM, with the links in them
 *   records     <core.run_dir>/vms/VM.json
 *   runners     named VM in github.orgs and github.repos, for the VMs
 *               found here only: other hosts name theirs the same way
 *
 * A VM is live when its record names a job whose lease is current and
 * held by this host (core.holder) with the record's fence, and one of
 * its processes exists. It is young while its record, or without one
 * its youngest object, is less than grace_ms old: it may be booting.
 * Any other VM is stale and torn down. One without a record gets one
 * first (state "reaping"), removed with the rest, so that what its
 * teardown cannot remove is found again by the next run.
 *
 * The privileged work is the teardown's (netns.h, teardown.c); finding
 * reads /proc, /sys/fs/cgroup and directories, and lists links, and
 * takes CAP_SYS_PTRACE for the roots of the VMs' processes alone.
 */

enum {
	REAP_DRY_RUN = 1,	/* change nothing: the actions a run would take now */
	REAP_NO_GITHUB = 2,	/* leave runners alone */
};

struct reap_opts {
	int64_t grace_ms;
	unsigned flags;
};

/*
 * Reap, one reaper at a time: the actions taken are appended to out,
 * and so is what is left, as failed actions (vm NULL: the host could
 * not be read). Returns 0, or -code when it could not start.
 */
int reap(const struct reap_opts *o, struct teardown_actions *out);

#endif
