#ifndef JOB_H
#define JOB_H

#include "kv.h"
#include "lease.h"

/*
 * The job queue. The store is the authority: a job is claimable while
 * it is open and has no live lease, and a claim acquires the lease in
 * the same statement that picks the job. With Redis (redis.url), queued
 * ids also travel through Redis for cheap claims: an id taken from
 * Redis is claimed in the store like any other and is only forgotten
 * once the store has answered; when Redis has nothing that fits or
 * cannot be reached, the claim comes from the store.
 *
 * Failures as in lease.h; besides, EXIT_BUSY when nothing is claimable
 * and when finishing a job that is finished already.
 */

/* Labels: 1 to LABEL_MAX_LEN bytes of [a-z0-9._:-] (lower-cased when parsed). */
#define LABEL_MAX_LEN 64
/* At most this many bytes of metadata values, and of a payload. */
#define META_VALUE_MAX 4096
#define PAYLOAD_MAX (1 << 20)
/* How long an id taken from Redis stays hidden before it is offered again. */
#define QUEUE_VISIBILITY 30

/* "a,B, c" into lower case labels, sorted and unique. */
int job_labels_parse(const char *s, struct strvec *out);
/* An org id ([a-z0-9][a-z0-9-]{0,38}) and a repository, OWNER/NAME. */
int job_org_check(const char *org);
int job_repo_check(const char *repo);

/* The kv with the job queue, or NULL without Redis (a warning when it cannot be reached). */
struct kv *job_queue_open(struct store *st);

/*
 * Queue job (its id, org, repo, labels and payload): 1 when added, 0
 * when the id exists, which changes nothing. queue may be NULL.
 */
int job_add(struct store *st, struct kv *queue, struct job *job);
/* The job, with its lease; EXIT_NOTFOUND when unknown. */
int job_get(struct store *st, const char *id, struct job *out);
/* Every job in state (-1: any), oldest first. */
int job_list(struct store *st, int state, struct job **out, size_t *nr);
/*
 * Take the oldest claimable job whose labels are all in labels (NULL:
 * any job) and acquire its lease: 0 with the job and its new lease in
 * *out, EXIT_BUSY when there is none. queue may be NULL.
 */
int job_claim(struct store *st, struct kv *queue, const char *holder, int64_t ttl_seconds,
	      const struct strvec *labels, struct job *out);
/* Finish the job as status, with an optional reason, by the holder of fence. */
int job_finish(struct store *st, const char *id, int64_t fence, enum job_state status,
	       const char *reason);
/*
 * Finish the job unless it is finished, without a fence: for the webhook
 * receiver, which learns from GitHub that a job completed, whoever holds
 * it. 1 finished now, 0 finished already.
 */
int job_finish_unless_finished(struct store *st, const char *id, enum job_state status,
			       const char *reason);
/*
 * Merge meta, an object of strings (keys as job ids, values of at most
 * META_VALUE_MAX bytes), into the job's metadata, by the holder of fence.
 */
int job_set_meta(struct store *st, const char *id, int64_t fence, const json_t *meta);

/*
 * For output: job, state, org, repo, labels; then in full, the times,
 * reason, lease, meta and payload, else the live lease's holder, fence
 * and expiry, and when it was created.
 */
json_t *job_json(const struct job *job, bool full);

#endif
