#ifndef CGROUP_H
#define CGROUP_H

#include "cpulist.h"

/*
 * Where a VM's cgroups live and what goes in them. The jailer creates
 * and fills them (boot passes the values as its --cgroup FILE=VALUE
 * arguments); nimbus chooses the version, records the directories and
 * removes them in teardown.
 *
 * A VM is placed with the cpuset, cpu, memory and pids controllers:
 * cgroup v2 when the unified hierarchy offers all four, else v1 when
 * each has a hierarchy of its own (or shares one). The jailer makes
 * <mount>/<parent>/<id> in each hierarchy it writes to.
 */

extern const char *const cgroup_controllers[];	/* NULL-terminated */

struct cgroup_mount {
	char *path;
	int version;			/* 1 or 2 */
	struct strvec controllers;	/* v1: from the mount options; v2: cgroup.controllers */
};

struct cgroup_layout {
	struct cgroup_mount *mounts;
	size_t nr, alloc;
	int version;			/* what a VM gets: 1, 2, or 0 when neither fits */
};
#define CGROUP_LAYOUT_INIT { NULL, 0, 0, 0 }

/*
 * Read the cgroup mounts of /proc/self/mounts (or of text, in its
 * format), the controllers of a cgroup2 mount from its
 * cgroup.controllers, and choose the version.
 */
int cgroup_layout_read(struct cgroup_layout *l);
void cgroup_layout_parse(struct cgroup_layout *l, const char *text);
void cgroup_layout_release(struct cgroup_layout *l);

/* The mount holding controller in version's hierarchy, or NULL. */
const struct cgroup_mount *cgroup_mount_of(const struct cgroup_layout *l, int version,
					   const char *controller);

/* 0 when the chosen version can hold a VM, else -EXIT_UNAVAILABLE saying why. */
int cgroup_layout_check(const struct cgroup_layout *l);

/* A relative path of [A-Za-z0-9._-] components, no "." or "..". */
bool cgroup_parent_valid(const char *parent);

struct cgroup_limits {
	struct cpuset cpus;
	struct cpuset mems;
	unsigned quota_pct;		/* of one CPU; 0: no quota */
	uint64_t memory;		/* bytes */
	int64_t pids;
};

/*
 * The FILE=VALUE pairs of the limits for version, in the order they must
 * be written (cpuset.cpus and cpuset.mems before anything joins a v1
 * cpuset; the period before the quota).
 */
void cgroup_values(int version, const struct cgroup_limits *lim, struct strvec *out);

/*
 * The controller a FILE of FILE=VALUE belongs to ("cpuset.cpus": "cpuset"),
 * or -1 for a file the jailer refuses.
 */
int cgroup_file_controller(const char *file, struct strbuf *controller);

/* The directories the jailer makes for id, one per hierarchy, for the controllers above. */
void cgroup_dirs(const struct cgroup_layout *l, const char *parent, const char *id,
		 struct strvec *out);

/*
 * Remove a VM's cgroup directory once its last task has left, waiting
 * at most timeout_ms for that: 1 removed, 0 there was none.
 */
int cgroup_remove(const char *dir, int64_t timeout_ms);

#endif
