#ifndef BOOT_H
#define BOOT_H

#include <jansson.h>

#include "store.h"

/*
 * Booting a VM for a job, under the jailer (DESIGN §6):
 *
 *   fence     the job's fence is current (EXIT_REJECTED otherwise),
 *             before any change to the host; the rootfs is attested
 *             through it (rootfs-attest.h);
 *   allocate  a VM id, a uid/gid of firecracker.uid_range and CPUs,
 *             taken by creating the VM's record under the records' lock;
 *   network   its network namespace, in it the tap, and the links of
 *             firecracker.network;
 *   cgroups   its CPUs and their NUMA node's memory, a CPU quota, a
 *             memory and a pids limit, as the jailer's --cgroup values;
 *   chroot    its jail: kernel, rootfs, overlays (and snapshot) placed
 *             read-only, the configuration file;
 *   fence     again, just before the VM starts;
 *   jailer    the jailer, which starts Firecracker: cold from the
 *             configuration file, or with a snapshot loaded through the
 *             API socket;
 *   pin       each vCPU thread on a CPU of its own, the others on the set;
 *   record    the record completed, the VM id in the job's metadata
 *             (a fenced write).
 *
 * A failure undoes, in reverse, what was done (teardown.h) and is
 * returned: its step's code. Steps take their settings from the
 * firecracker.* keys.
 */

struct boot_opts {
	const char *job;
	int64_t fence;
	const char *kernel, *rootfs;		/* NULL: firecracker.kernel, .rootfs */
	const char *const *overlays;
	size_t nr_overlays;
	int64_t vcpus, mem_mib;			/* 0: firecracker.vcpus, .mem_mib */
	const char *cpus;			/* a CPU list to use as it is, or NULL */
	int64_t numa_node;			/* -1: the node with the most free CPUs */
	int64_t cpu_quota;			/* percent of one CPU; 0: firecracker.cpu_quota */
	const char *snapshot;			/* a directory of `snapshot create`, or NULL */
	bool dry_run;				/* plan only: change nothing */
};

/*
 * Root, and a usable KVM device (firecracker.kvm_device): -EXIT_PERM,
 * -EXIT_UNAVAILABLE. A boot that cannot finish should not start: call
 * this first, before anything else is opened.
 */
int boot_host_check(void);

/*
 * Boot: 0 with the VM's record in *out, or with dry_run the plan (jailer
 * argv, Firecracker configuration, cgroup values, CPUs, names).
 */
int vm_boot(struct store *st, const struct boot_opts *o, json_t **out);

/* firecracker.uid_range: "FIRST-LAST", neither of them root. */
int uid_range_parse(const char *s, int64_t *lo, int64_t *hi);

#endif
