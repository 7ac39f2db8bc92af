#include "common.h"
#include "config.h"
#include "lease.h"
#include "output.h"
#include "timeutil.h"

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == ':' || c == '-';
}

static int name_check(const char *what, const char *s)
{
	size_t len = strlen(s);

	if (!len || len > NAME_MAX_LEN)
		return fail(EXIT_USAGE, "a %s has 1 to %d bytes, not %zu", what, NAME_MAX_LEN, len);
	for (size_t i = 0; i < len; i++)
		if (!name_char(s[i]))
			return fail(EXIT_USAGE, "bad %s '%s': only letters, digits, '.', '_', ':' and '-'",
				    what, s);
	return 0;
}

int job_id_check(const char *id)
{
	return name_check("job id", id);
}

int holder_check(const char *holder)
{
	return name_check("holder name", holder);
}

int lease_ttl_check(int64_t ttl)
{
	if (ttl < 1 || ttl > LEASE_TTL_MAX)
		return fail(EXIT_USAGE, "a lease TTL is 1 to %d seconds, not %" PRId64, LEASE_TTL_MAX, ttl);
	return 0;
}

int fence_check(int64_t fence)
{
	return fence > 0 ? 0 : fail(EXIT_USAGE, "a fence is a positive number, not %" PRId64, fence);
}

const char *lease_default_holder(void)
{
	static char host[256];
	const char *holder = cfg_str("core.holder");

	if (*holder)
		return holder;
	if (!*host && (gethostname(host, sizeof(host) - 1) < 0 || !*host))
		xsnprintf(host, sizeof(host), "localhost");
	return host;
}

/* Check a job id and a fence together, as every fenced call does. */
static int job_fence_check(const char *job, int64_t fence)
{
	int rc = job_id_check(job);

	return rc ? rc : fence_check(fence);
}

static const char *time_str(struct strbuf *sb, int64_t ms)
{
	strbuf_reset(sb);
	fmt_rfc3339_ms(sb, ms);
	return sb->buf;
}

int lease_stale(const struct lease *l, const char *job, int64_t fence, const char *what)
{
	struct strbuf sb = STRBUF_INIT, t = STRBUF_INIT;
	int rc;

	if (what)
		strbuf_addf(&sb, "%s refused: ", what);
	if (!l->job)
		strbuf_addf(&sb, "job %s has no lease", job);
	else if (l->fence != fence)
		strbuf_addf(&sb, "fence %" PRId64 " of job %s is stale (the current fence is %" PRId64 ")",
			    fence, job, l->fence);
	else if (l->released_ms >= 0)
		strbuf_addf(&sb, "the lease of job %s with fence %" PRId64 " was released at %s", job,
			    fence, time_str(&t, l->released_ms));
	else if (!lease_live(l))
		strbuf_addf(&sb, "the lease of job %s with fence %" PRId64 " expired at %s", job, fence,
			    time_str(&t, l->expires_ms));
	else
		strbuf_addf(&sb, "fence %" PRId64 " of job %s", fence, job);
	rc = fail(EXIT_REJECTED, "%s", sb.buf);
	strbuf_release(&sb);
	strbuf_release(&t);
	return rc;
}

/*
 * Read the job's lease after a refusal, to say why (it decides nothing):
 * 1 with the lease in *l, 0 when the job is queued but never leased,
 * or the EXIT_NOTFOUND failure of an unknown job.
 */
static int read_after_refusal(struct store *st, const char *job, struct lease *l)
{
	struct job j = JOB_INIT;
	int rc = store_lease_get(st, job, l);

	if (rc)
		return rc;
	rc = store_job_get(st, job, &j);
	job_clear(&j);
	if (!rc)
		return fail(EXIT_NOTFOUND, "unknown job %s", job);
	return rc < 0 ? rc : 0;
}

/* A lease write by fence changed nothing: why. */
static int refused(struct store *st, const char *job, int64_t fence, const char *what)
{
	struct lease l = LEASE_INIT;
	int rc = read_after_refusal(st, job, &l);

	if (rc >= 0)
		rc = lease_stale(&l, job, fence, what);
	lease_clear(&l);
	return rc;
}

int lease_acquire(struct store *st, const char *job, const char *holder, int64_t ttl,
		  struct lease *out)
{
	struct strbuf t = STRBUF_INIT;
	int rc = job_id_check(job);

	if (!rc)
		rc = holder_check(holder);
	if (!rc)
		rc = lease_ttl_check(ttl);
	if (!rc)
		rc = store_lease_acquire(st, job, holder, ttl, out);
	if (rc)
		return rc < 0 ? rc : 0;
	rc = store_lease_get(st, job, out);
	if (rc < 0)
		return rc;
	rc = fail(EXIT_BUSY, "job %s is held by %s until %s (%" PRId64 " s left)", job, out->holder,
		  time_str(&t, out->expires_ms), (out->expires_ms - out->now_ms + 999) / 1000);
	strbuf_release(&t);
	return rc;
}

int lease_renew(struct store *st, const char *job, int64_t fence, int64_t ttl, struct lease *out)
{
	int rc = job_fence_check(job, fence);

	if (!rc)
		rc = lease_ttl_check(ttl);
	if (!rc)
		rc = store_lease_renew(st, job, fence, ttl, out);
	if (rc)
		return rc < 0 ? rc : 0;
	return refused(st, job, fence, "renewal");
}

int lease_release(struct store *st, const char *job, int64_t fence)
{
	struct lease l = LEASE_INIT;
	int rc = job_fence_check(job, fence);

	if (!rc)
		rc = store_lease_release(st, job, fence);
	if (rc)
		return rc;
	rc = read_after_refusal(st, job, &l);
	lease_clear(&l);
	return rc < 0 ? rc : 0;
}

int lease_check(struct store *st, const char *job, int64_t fence)
{
	int rc = job_fence_check(job, fence);

	if (!rc)
		rc = store_lease_check(st, job, fence);
	if (rc)
		return rc < 0 ? rc : 0;
	return refused(st, job, fence, NULL);
}

int lease_get(struct store *st, const char *job, struct lease *out)
{
	int rc = job_id_check(job);

	if (!rc)
		rc = store_lease_get(st, job, out);
	if (rc)
		return rc < 0 ? rc : 0;
	return fail(EXIT_NOTFOUND, "job %s has no lease", job);
}

json_t *lease_json(const struct lease *l)
{
	int64_t left = lease_live(l) ? (l->expires_ms - l->now_ms) / 1000 : 0;
	const char *state = lease_live(l) ? "held" : l->released_ms >= 0 ? "released" : "expired";

	return json_pack("{s:s, s:s, s:I, s:s, s:o, s:o, s:o, s:I}", "job", l->job, "holder", l->holder,
			 "fence", (json_int_t)l->fence, "state", state,
			 "acquired_at", xjson_time_ms(l->acquired_ms),
			 "renewed_at", xjson_time_ms(l->renewed_ms),
			 "expires_at", xjson_time_ms(l->expires_ms), "seconds_left", (json_int_t)left);
}
