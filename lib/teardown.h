#ifndef TEARDOWN_H
#define TEARDOWN_H

#include <jansson.h>

#include "store.h"
#include "vm.h"

/*
 * Tearing down a VM, for `vm stop`, boot's rollback and the reaper, in
 * this order:
 *
 *   1. kill its Firecracker: SIGTERM to the pid of the record (or of the
 *      jail's pid file) and to the other processes found, each if it is
 *      this VM's, SIGKILL after TEARDOWN_KILL_MS; the jailer's pid
 *      namespace takes its children along;
 *   2. delete its host links, and its network namespace, which takes the
 *      links in it along;
 *   3. remove its cgroup directories, once their tasks have left;
 *   4. remove its jail (mounts under it are detached first);
 *   5. deregister its GitHub runner, when it has one (or with
 *      TEARDOWN_FIND_RUNNER, one named as the VM in a configured scope),
 *      github.app_id is set and not TEARDOWN_NO_GITHUB (github.h: not
 *      while busy);
 *   6. remove its record, unless a step above failed, so that the next
 *      run finds it again;
 *   7. unless TEARDOWN_KEEP_JOB, finish its job as failed with reason
 *      "infrastructure" through its fence, if that fence still holds
 *      the open job.
 *
 * Every step treats "already gone" as done and says nothing about it.
 * A failed kill stops the VM's teardown (the rest is still in use);
 * other failures are reported and the next steps run. A reaper calls
 * teardown_vm() for each VM with whatever it found, a record or only
 * names, and prints the actions.
 */

#define TEARDOWN_KILL_MS 5000
#define TEARDOWN_CGROUP_MS 2000

/* What is known of a VM; every field but id may be empty. */
struct teardown_vm {
	const char *id;
	pid_t pid;			/* 0: the jail's pid file says */
	const pid_t *pids;		/* more of its processes, by their command line */
	size_t nr_pids;
	const char *jail;		/* <chroot_base>/<exec>/<id> */
	const char *netns;		/* the namespace's path */
	const struct strvec *links;	/* host-side links */
	const struct strvec *cgroups;	/* directories */
	const char *runner_scope;	/* ORG or OWNER/NAME */
	int64_t runner_id;
	bool record;			/* remove <core.run_dir>/vms/<id>.json */
	const char *job;
	int64_t fence;
};

/* The teardown of the VM of a record (borrowing from it). */
void teardown_vm_of_record(struct teardown_vm *vm, const struct vm_record *r);

enum {
	TEARDOWN_NO_GITHUB = 1,
	TEARDOWN_KEEP_JOB = 2,
	/* Change nothing: report what a teardown would do now. */
	TEARDOWN_DRY_RUN = 4,
	/* A VM that names no runner: look for one named as the VM. */
	TEARDOWN_FIND_RUNNER = 8,
};

/* One step's action: done (rc 0), or failed (rc < 0, error says why). */
struct teardown_action {
	char *vm;			/* NULL: the host's, not a VM's */
	const char *verb;		/* "killed", "deleted" ... ("kill", "delete" ... when failed) */
	char *object;			/* "nimbus-1a2b3c4d pid 812", "netns nimbus-1a2b3c4d" ... */
	int rc;
	char *error;
};

struct teardown_actions {
	struct teardown_action *v;
	size_t nr, alloc;
};
#define TEARDOWN_ACTIONS_INIT { NULL, 0, 0 }
void teardown_actions_release(struct teardown_actions *a);

/* Add an action done by the caller, as teardown_vm() adds its own. */
void teardown_action_add(struct teardown_actions *out, const char *vm, const char *verb,
			 const char *fmt, ...) PRINTF(4, 5);
/* Add one the caller could not do: rc < 0 after fail(), whose message says why. */
void teardown_action_fail(struct teardown_actions *out, const char *vm, const char *verb, int rc,
			  const char *fmt, ...) PRINTF(5, 6);

/* "killed nimbus-1a2b3c4d pid 812", or "cannot delete netns nimbus-...: reason". */
void teardown_action_text(struct strbuf *sb, const struct teardown_action *a);
/* {"vm", "action", "object", "ok", "error"} */
json_t *teardown_action_json(const struct teardown_action *a);

struct teardown;

/* st (may be NULL: opened when a job is to be finished) is borrowed. */
struct teardown *teardown_new(struct store *st, unsigned flags);
void teardown_free(struct teardown *td);

/*
 * Tear vm down, appending the actions to out: 0 when every step is done,
 * else the -code of the first failure.
 */
int teardown_vm(struct teardown *td, const struct teardown_vm *vm, struct teardown_actions *out);
/*
 * The same for nr VMs together: each step is taken for all of them
 * before the next, so that their processes get their grace at once and
 * the kernel deletes their links in one batch (an RCU grace period for
 * all instead of one each). The actions are appended VM by VM.
 */
int teardown_vms(struct teardown *td, const struct teardown_vm *vms, size_t nr,
		 struct teardown_actions *out);

#endif
