#ifndef VMCTL_H
#define VMCTL_H

#include "store.h"
#include "teardown.h"
#include "vm.h"

/*
 * Operations on a running VM by the holder of its job's lease: stop it,
 * snapshot it. Each one presents a fence, which must be the job's
 * current one (EXIT_REJECTED otherwise), before it touches the VM.
 */

/* The record of VM id, whose job fence holds: -EXIT_NOTFOUND, -EXIT_REJECTED. */
int vm_held(struct store *st, const char *id, int64_t fence, struct vm_record *r);

/*
 * Stop the VM of r: Ctrl-Alt-Del through its API, at most timeout
 * seconds for it to go, then the teardown (which kills it if it is still
 * there), leaving its job alone. 0, or the teardown's first failure.
 */
int vm_stop(struct store *st, const struct vm_record *r, int64_t timeout,
	    struct teardown_actions *out);

/*
 * Pause the VM of r, take a full snapshot into dir (created, or empty):
 * SNAPSHOT_STATE, SNAPSHOT_MEMORY and SNAPSHOT_META, whose description
 * is returned in *meta. Then resume it, or with !resume stop it (acts
 * gets the teardown's actions).
 */
int vm_snapshot(struct store *st, const struct vm_record *r, const char *dir, bool resume,
		json_t **meta, struct teardown_actions *acts);

#endif
