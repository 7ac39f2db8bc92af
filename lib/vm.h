#ifndef VM_H
#define VM_H

#include <jansson.h>

#include "cpulist.h"

/*
 * VM ids, the names of a VM's host objects, and VM records.
 *
 * A VM id is "nimbus-" and 8 lower-case hex characters (DESIGN §6); it
 * names the jailer's --id, the network namespace, the tap, the cgroup
 * leaves, the jail and the record. Other links are "nimbus", the same 8
 * characters and one letter: 15 characters, Linux's limit.
 *
 * The records, <core.run_dir>/vms/<id>.json, are the state of this
 * host's VMs: allocation (ids, uids, CPUs) reads them under the lock
 * of the directory, and teardown finds in them what to remove.
 */

#define VM_ID_PREFIX "nimbus-"
#define VM_ID_LEN 15
#define VM_HEX_LEN 8

bool vm_id_valid(const char *id);
/* A new random id, out of VM_ID_LEN + 1 bytes. */
void vm_id_new(char *out);
/* "nimbus" + the id's hex + suffix ('h': the host end of a veth pair ...). */
void vm_link_name(char *out, const char *id, char suffix);
/*
 * The VM a host object's name belongs to, for the reaper: a VM id (a
 * namespace, tap, cgroup, jail), or a link name of vm_link_name() with
 * a lower-case letter for suffix. id gets VM_ID_LEN + 1 bytes.
 */
bool vm_id_of_name(const char *name, char *id);

/* A snapshot directory (`snapshot create --out`, `boot --snapshot`). */
#define SNAPSHOT_META "snapshot.json"		/* vcpus, mem_mib, where it came from */
#define SNAPSHOT_STATE "vmstate"
#define SNAPSHOT_MEMORY "memory"

/* <core.run_dir>/vms, and a record's path in it. */
void vm_records_dir(struct strbuf *out);
void vm_record_path(struct strbuf *out, const char *id);

/*
 * A record is a JSON object; these fields are read from it (NULL, -1 or
 * empty when absent). The id is always valid.
 */
struct vm_record {
	json_t *doc;
	const char *id;
	const char *state;		/* "booting", "running" */
	const char *job;
	int64_t fence;
	pid_t pid;			/* Firecracker's, on the host; 0 before it runs */
	int64_t uid, gid;
	struct cpuset cpus;
	const char *netns;		/* its path */
	struct strvec links;		/* host-side links */
	struct strvec cgroups;		/* directories */
	const char *jail;		/* <chroot_base>/<exec>/<id>, holding root/ */
	const char *socket;		/* the API socket, on the host */
	const char *runner_scope;	/* its GitHub runner, when it has one */
	int64_t runner_id;
};
#define VM_RECORD_INIT { .links = STRVEC_INIT, .cgroups = STRVEC_INIT }

/* Read the fields of doc (the reference is stolen); -EXIT_FAIL when malformed. */
int vm_record_from_json(struct vm_record *r, json_t *doc);
/* Read a record: -EXIT_NOTFOUND when there is none. */
int vm_record_load(const char *id, struct vm_record *r);
/* Write r->doc atomically (a temporary file renamed over it). */
int vm_record_save(const struct vm_record *r);
/*
 * Create the record of a new VM, failing with -EXIT_BUSY when one
 * exists: the id is taken from then on.
 */
int vm_record_create(const struct vm_record *r);
/* 1 removed, 0 there was none. */
int vm_record_remove(const char *id);
void vm_record_release(struct vm_record *r);

/* Every record, by id; malformed ones are skipped with a warning. */
int vm_record_list(struct vm_record **out, size_t *nr);
void vm_record_list_free(struct vm_record *v, size_t nr);

/*
 * The lock that makes choosing and recording a new VM's id, uid and
 * CPUs one step for concurrent boots: a descriptor to pass to
 * vm_unlock(), or -code.
 */
int vm_lock(void);
void vm_unlock(int fd);

/*
 * The lock that lets one reaper at a time tear down VMs, so that two
 * never take a VM's namespace from under each other.
 */
int vm_reap_lock(void);

/*
 * The VM of a command line (len bytes of /proc/PID/cmdline, which its
 * process may have written anything into): the VM id of its "--id ID"
 * or "--id=ID" before any "--", when every such option names the same.
 */
bool vm_cmdline_id(const char *cmdline, size_t len, char *id);
/* Whether a command line is VM id's Firecracker or jailer: its VM is id. */
bool vm_cmdline_is(const char *cmdline, size_t len, const char *id);
/* The same, of the process pid. */
bool vm_process_is(pid_t pid, const char *id);
/* The VM of the process pid's command line, in id (VM_ID_LEN + 1 bytes). */
bool vm_process_id(pid_t pid, char *id);
/*
 * Whether proc_root, a /proc/PID/root (under any prefix), is <jail>/root.
 * By the directory, not by the name the link reads as: the jailer pivots
 * into the jail in a mount namespace of its own, from where it is "/".
 */
bool vm_root_is(const char *proc_root, const char *jail);
/*
 * Whether pid is VM id's Firecracker: its root is <jail>/root (a jailed
 * process cannot change that, while it can rewrite its command line,
 * and it is there before it execs Firecracker; seen with CAP_SYS_PTRACE),
 * or its command line names id. jail may be NULL.
 */
bool vm_process_of(pid_t pid, const char *id, const char *jail);

#endif
