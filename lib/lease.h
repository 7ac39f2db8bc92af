#ifndef LEASE_H
#define LEASE_H

#include "store.h"

/*
 * Leases with fence tokens: one holder owns a job at a time, and proves
 * it with the fence of its lease, which every later operation on the
 * job or its VM presents (job_set_meta, job_finish; later boot, vm stop,
 * reap, rootfs attest). A job need not be queued to be leased.
 *
 * These check their arguments and turn the store's refusals into
 * failures (fail()) that say why:
 *   EXIT_USAGE     a bad job id, holder, TTL or fence
 *   EXIT_BUSY      another holder's lease is unexpired
 *   EXIT_REJECTED  the fence is not the job's current unexpired fence
 *   EXIT_NOTFOUND  the job is unknown: never leased, never queued
 * and otherwise the store's failures (EXIT_UNAVAILABLE ...).
 */

/* Job ids and holder names: 1 to NAME_MAX_LEN bytes of [A-Za-z0-9._:-]. */
#define NAME_MAX_LEN 128
int job_id_check(const char *id);
int holder_check(const char *holder);
/* TTLs are 1 to LEASE_TTL_MAX seconds (a year). */
#define LEASE_TTL_MAX 31536000
int lease_ttl_check(int64_t ttl_seconds);
/* Fences are positive. */
int fence_check(int64_t fence);

/* This host's holder name: core.holder, else the host name. */
const char *lease_default_holder(void);

/*
 * Acquire the job's lease: 0 with a new fence in *out. Acquiring again,
 * also by the same holder, yields a larger fence and invalidates the
 * one before. On EXIT_BUSY, *out is the other holder's lease.
 */
int lease_acquire(struct store *st, const char *job, const char *holder, int64_t ttl_seconds,
		  struct lease *out);
/* Extend the lease of fence to ttl_seconds from now: 0 with the new expiry in *out. */
int lease_renew(struct store *st, const char *job, int64_t fence, int64_t ttl_seconds,
		struct lease *out);
/*
 * Release the lease of fence, touching no other. Afterwards fence does
 * not hold the job: 1 when this call released it, 0 when it did not
 * hold it before either.
 */
int lease_release(struct store *st, const char *job, int64_t fence);
/*
 * 0 when fence is the job's current unexpired fence. This answers for
 * one moment: a write that depends on the lease must be fenced itself.
 */
int lease_check(struct store *st, const char *job, int64_t fence);
/* The job's lease, live or not; EXIT_NOTFOUND when it never had one. */
int lease_get(struct store *st, const char *job, struct lease *out);

/*
 * The EXIT_REJECTED failure of a write by fence that changed nothing,
 * told from the job's lease as read afterwards (l->job NULL: it has
 * none). what names the write ("renewal"), or is NULL.
 */
int lease_stale(const struct lease *l, const char *job, int64_t fence, const char *what);

/* For output: job, holder, fence, state (held, expired, released), times, seconds_left. */
json_t *lease_json(const struct lease *l);

#endif
