#ifndef TOPOLOGY_H
#define TOPOLOGY_H

#include <jansson.h>

#include "cpulist.h"

/*
 * The host as boot sees it, read from sysfs (a root other than /sys for
 * tests): online and isolated CPUs, cores (SMT siblings) and NUMA
 * nodes. A kernel without NUMA is one node 0 with every CPU.
 */

struct topo_node {
	int id;
	struct cpuset cpus;
	uint64_t mem_total, mem_free;	/* bytes; 0 when unknown */
};

struct topology {
	struct cpuset online;
	struct cpuset isolated;
	struct cpuset *cores;		/* each core's online threads, by lowest CPU */
	size_t nr_cores, alloc_cores;
	struct topo_node *nodes;	/* by id */
	size_t nr_nodes, alloc_nodes;
	char *smt;			/* smt/control: on, off, forceoff, notsupported; or NULL */
	int smt_active;			/* 1, 0, or -1 when unknown */
	int ksm;			/* ksm/run: 0 off, 1 on, 2 unmerging; -1 unknown */
};
#define TOPOLOGY_INIT { .smt_active = -1, .ksm = -1 }

/* Read the topology under sysfs ("/sys"); -EXIT_FAIL when it has no CPUs. */
int topology_read(const char *sysfs, struct topology *t);
void topology_release(struct topology *t);

/* The node holding cpu, or NULL. */
const struct topo_node *topology_node_of(const struct topology *t, unsigned cpu);
const struct topo_node *topology_node(const struct topology *t, int id);
/* The nodes of every CPU of cpus. */
void topology_nodes_of(const struct topology *t, const struct cpuset *cpus, struct cpuset *nodes);

/*
 * Choose want CPUs out of pool that no VM uses (used) on node, or when
 * node is -1 on the node with the most such CPUs. Cores are never
 * shared between VMs: whole cores are taken, their threads in pool all
 * go to out (possibly more than want), and a core with a used thread is
 * not free. A VM stays on one node. 0 with *node_out set, -EXIT_BUSY
 * when no node has enough, -EXIT_NOTFOUND for an unknown node.
 */
int topology_allocate(const struct topology *t, const struct cpuset *pool,
		      const struct cpuset *used, unsigned want, int node,
		      struct cpuset *out, int *node_out);

/*
 * Whether dev is a KVM device this process can use: 0 with its API
 * version in *api, else -EXIT_UNAVAILABLE saying why.
 */
int kvm_check(const char *dev, int *api);

/* A set as a JSON string in list form. */
json_t *cpulist_json(const struct cpuset *s);

/* For `host topology`: CPUs, cores, nodes, SMT and KSM. */
json_t *topology_json(const struct topology *t);

#endif
