#include "common.h"
#include "config.h"
#include "escape.h"
#include "job.h"
#include "lease.h"
#include "log.h"
#include "output.h"

/* How many ids a claim takes from Redis before it asks the store. */
#define QUEUE_TRIES 8

static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == ':' || c == '-';
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int job_labels_parse(const char *s, struct strvec *out)
{
	struct strvec raw = STRVEC_INIT;
	struct strbuf sb = STRBUF_INIT;
	size_t kept = 0;
	int rc = 0;

	strvec_split(&raw, s, ',');
	for (size_t i = 0; i < raw.nr && !rc; i++) {
		strbuf_reset(&sb);
		strbuf_addstr(&sb, raw.v[i]);
		strbuf_trim(&sb);
		strbuf_tolower(&sb);
		if (!sb.len || sb.len > LABEL_MAX_LEN)
			rc = fail(EXIT_USAGE, "a label has 1 to %d bytes, not %zu", LABEL_MAX_LEN, sb.len);
		for (size_t j = 0; j < sb.len && !rc; j++)
			if (!label_char(sb.buf[j]))
				rc = fail(EXIT_USAGE, "bad label '%s': only letters, digits, '.', '_', "
					  "':' and '-'", raw.v[i]);
		if (!rc)
			strvec_push(out, sb.buf);
	}
	strvec_clear(&raw);
	strbuf_release(&sb);
	if (rc)
		return rc;
	/* sorted, then each label kept once, in one pass (the input may be large) */
	qsort(out->v, out->nr, sizeof(*out->v), cmp_str);
	for (size_t i = 0; i < out->nr; i++) {
		if (kept && !strcmp(out->v[kept - 1], out->v[i]))
			free((char *)out->v[i]);
		else
			out->v[kept++] = out->v[i];
	}
	if (out->nr) {
		out->nr = kept;
		out->v[kept] = NULL;
	}
	return 0;
}

int job_org_check(const char *org)
{
	size_t len = strlen(org), i;

	for (i = 0; i < len; i++)
		if (!((org[i] >= 'a' && org[i] <= 'z') || (org[i] >= '0' && org[i] <= '9') ||
		      (i && org[i] == '-')))
			break;
	if (!len || len > 39 || i < len)
		return fail(EXIT_USAGE, "bad org '%s': [a-z0-9][a-z0-9-]{0,38}", org);
	return 0;
}

int job_repo_check(const char *repo)
{
	const char *slash = strchr(repo, '/');
	size_t owner = slash ? (size_t)(slash - repo) : 0, i;

	for (i = 0; repo[i]; i++) {
		char c = repo[i];

		if (i == owner || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || (i > owner && (c == '.' || c == '_')))
			continue;
		break;
	}
	if (!slash || !owner || owner > 39 || repo[i] || !slash[1] || strlen(slash + 1) > 100)
		return fail(EXIT_USAGE, "bad repository '%s': OWNER/NAME", repo);
	return 0;
}

struct kv *job_queue_open(struct store *st)
{
	struct kv *kv;
	int rc;

	if (!*cfg_str("redis.url"))
		return NULL;
	rc = kv_open(&kv, st);
	if (rc) {
		warning("the job queue in Redis is unavailable, using the store only: %s",
			fail_message());
		return NULL;
	}
	return kv;
}

static int meta_check(const json_t *meta)
{
	const char *key;
	json_t *v;
	int rc = json_is_object(meta) ? 0 : fail(EXIT_USAGE, "job metadata is an object");

	json_object_foreach((json_t *)meta, key, v) {
		const char *s = json_string_value(v);
		size_t len = s ? json_string_length(v) : 0;

		if (!rc && job_id_check(key) < 0)
			rc = fail(EXIT_USAGE, "bad metadata key '%s': 1 to %d bytes of letters, digits, "
				  "'.', '_', ':' and '-'", key, NAME_MAX_LEN);
		if (!rc && (!s || len > META_VALUE_MAX || strlen(s) != len))
			rc = fail(EXIT_USAGE, "the value of metadata key '%s' is not a string of at "
				  "most %d bytes", key, META_VALUE_MAX);
		for (size_t i = 0; i < len && !rc;) {
			size_t n = utf8_seq_len((const unsigned char *)s + i, len - i);

			if (!n || (n == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)))
				rc = fail(EXIT_USAGE, "the value of metadata key '%s' has control "
					  "characters", key);
			i += n ? n : 1;
		}
	}
	return rc;
}

static int payload_check(const char *payload)
{
	json_error_t err;
	json_t *doc;

	if (strlen(payload) > PAYLOAD_MAX)
		return fail(EXIT_USAGE, "a job payload has at most %d bytes", PAYLOAD_MAX);
	doc = json_loads(payload, JSON_DECODE_ANY, &err);
	if (!doc)
		return fail(EXIT_USAGE, "the job payload is not JSON: %s (line %d)", err.text, err.line);
	json_decref(doc);
	return 0;
}

int job_add(struct store *st, struct kv *queue, struct job *job)
{
	int rc = job_id_check(job->id);

	if (!rc && job->org)
		rc = job_org_check(job->org);
	if (!rc && job->repo)
		rc = job_repo_check(job->repo);
	if (!rc && job->payload)
		rc = payload_check(job->payload);
	if (!rc)
		rc = store_job_add(st, job);
	if (rc <= 0 || !queue)
		return rc;
	if (kv_queue_push(queue, job->id, job->seq, &job->labels) < 0)
		warning("job %s is queued in the store only: %s", job->id, fail_message());
	return 1;
}

int job_get(struct store *st, const char *id, struct job *out)
{
	int rc = job_id_check(id);

	if (!rc)
		rc = store_job_get(st, id, out);
	if (rc)
		return rc < 0 ? rc : 0;
	return fail(EXIT_NOTFOUND, "unknown job %s", id);
}

int job_list(struct store *st, int state, struct job **out, size_t *nr)
{
	return store_job_list(st, state, out, nr);
}

/* Warn when Redis stops answering, not at every claim while it is down. */
static void queue_state(int rc)
{
	static bool down;

	if (rc < 0 && !down)
		warning("the job queue in Redis is unavailable, claiming from the store: %s",
			fail_message());
	else if (rc < 0)
		log_debug("the job queue in Redis is still unavailable: %s", fail_message());
	else if (down)
		log_info("the job queue in Redis is back");
	down = rc < 0;
}

/*
 * Claim through Redis: 1 claimed, 0 when Redis has nothing that fits
 * (or cannot be reached: a warning), or a store failure. An id whose
 * claim the store refused is forgotten (the job is held or finished: the
 * store knows); one whose claim failed stays taken, to be offered again.
 */
static int claim_queued(struct store *st, struct kv *queue, const char *holder, int64_t ttl,
			const struct strvec *labels, struct lease *out)
{
	for (int i = 0; i < QUEUE_TRIES; i++) {
		char *id;
		int rc = kv_queue_take(queue, labels, QUEUE_VISIBILITY, &id);

		if (rc <= 0) {
			queue_state(rc);
			return 0;
		}
		rc = store_job_claim(st, id, holder, ttl, labels, out);
		if (rc >= 0 && kv_queue_done(queue, id) < 0)
			warning("job %s stays in the Redis queue until it is offered again: %s", id,
				fail_message());
		free(id);
		if (rc)
			return rc;
	}
	return 0;
}

int job_claim(struct store *st, struct kv *queue, const char *holder, int64_t ttl,
	      const struct strvec *labels, struct job *out)
{
	struct lease lease = LEASE_INIT;
	int rc = holder_check(holder);

	if (!rc)
		rc = lease_ttl_check(ttl);
	if (!rc && queue)
		rc = claim_queued(st, queue, holder, ttl, labels, &lease);
	if (!rc)
		rc = store_job_claim(st, NULL, holder, ttl, labels, &lease);
	if (!rc)
		rc = fail(EXIT_BUSY, "no job to claim%s", labels ? " with these labels" : "");
	if (rc > 0)
		rc = job_get(st, lease.job, out);
	if (!rc) {
		/* the claim's own answer, not what was read after it */
		lease_clear(&out->lease);
		out->lease = lease;
		out->state = JOB_CLAIMED;
		return 0;
	}
	lease_clear(&lease);
	return rc;
}

/* A fenced write of the job changed nothing: why. */
static int job_refused(struct store *st, const char *id, int64_t fence, const char *what)
{
	struct job job = JOB_INIT;
	int rc = job_get(st, id, &job);

	if (!rc)
		rc = lease_stale(&job.lease, id, fence, what);
	job_clear(&job);
	return rc;
}

static int finish(struct store *st, const char *id, int64_t fence, enum job_state status,
		  const char *reason)
{
	int rc = job_id_check(id);

	if (!rc && status < JOB_SUCCEEDED)
		rc = fail(EXIT_USAGE, "a job finishes as succeeded, failed or cancelled");
	if (!rc && reason && strlen(reason) > META_VALUE_MAX)
		rc = fail(EXIT_USAGE, "a reason has at most %d bytes", META_VALUE_MAX);
	return rc ? rc : store_job_finish(st, id, fence, status, reason);
}

int job_finish(struct store *st, const char *id, int64_t fence, enum job_state status,
	       const char *reason)
{
	struct job job = JOB_INIT;
	const struct lease *l = &job.lease;
	int rc = fence_check(fence);

	if (!rc)
		rc = finish(st, id, fence, status, reason);
	if (rc)
		return rc < 0 ? rc : 0;
	/*
	 * Refused: the fence does not hold the job, or it is finished
	 * already; as it was asked (a retry), that is done.
	 */
	rc = job_get(st, id, &job);
	if (!rc && !(l->job && l->fence == fence && lease_live(l)))
		rc = lease_stale(l, id, fence, "finish");
	else if (!rc && job.state != status)
		rc = fail(EXIT_BUSY, "job %s has finished already: %s", id, job_state_names[job.state]);
	job_clear(&job);
	return rc;
}

int job_finish_unless_finished(struct store *st, const char *id, enum job_state status,
			       const char *reason)
{
	struct job job = JOB_INIT;
	int rc = finish(st, id, 0, status, reason);

	if (rc)
		return rc;
	/* finished already, or unknown */
	rc = job_get(st, id, &job);
	job_clear(&job);
	return rc;
}

int job_set_meta(struct store *st, const char *id, int64_t fence, const json_t *meta)
{
	int rc = job_id_check(id);

	if (!rc)
		rc = fence_check(fence);
	if (!rc)
		rc = meta_check(meta);
	if (!rc)
		rc = store_job_set_meta(st, id, fence, meta);
	if (rc)
		return rc < 0 ? rc : 0;
	return job_refused(st, id, fence, "metadata write");
}

json_t *job_json(const struct job *job, bool full)
{
	const struct lease *l = &job->lease;
	json_t *labels = json_array(), *o;

	for (size_t i = 0; i < job->labels.nr; i++)
		json_array_append_new(labels, xjson_string(job->labels.v[i]));
	o = json_pack("{s:s, s:s, s:o, s:o, s:o}", "job", job->id,
		      "state", job_state_names[job->state],
		      "org", job->org ? xjson_string(job->org) : json_null(),
		      "repo", job->repo ? xjson_string(job->repo) : json_null(), "labels", labels);
	if (!full) {
		bool live = lease_live(l);

		json_object_set_new(o, "holder", live ? xjson_string(l->holder) : json_null());
		json_object_set_new(o, "fence", live ? json_integer(l->fence) : json_null());
		json_object_set_new(o, "expires_at", xjson_time_ms(live ? l->expires_ms : -1));
		json_object_set_new(o, "created_at", xjson_time_ms(job->created_ms));
		return o;
	}
	json_object_set_new(o, "created_at", xjson_time_ms(job->created_ms));
	json_object_set_new(o, "finished_at", xjson_time_ms(job->finished_ms));
	json_object_set_new(o, "reason", job->reason ? xjson_string(job->reason) : json_null());
	json_object_set_new(o, "lease", l->job ? lease_json(l) : json_null());
	json_object_set_new(o, "meta", json_incref(job->meta));
	json_object_set_new(o, "payload", job->payload ?
			    json_loads(job->payload, JSON_DECODE_ANY, NULL) : json_null());
	return o;
}
