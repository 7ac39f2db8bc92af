/*
 * webhook-gen SECRET_FILE N ACTION [ORGS]
 *
 * N distinct GitHub deliveries of workflow_job events (ACTION: queued,
 * in_progress or completed), signed with the file's first GitHub secret
 * and timed now, one per line as DELIVERY TAB SIGNATURE TAB BODY, for
 * the load client of t/perf/webhook.sh. Each has its own delivery id and
 * job id; the org cycles through org-0 .. org-(ORGS-1) (default 1). The
 * bodies have the fields of GitHub's, with shorter URLs: about 1.5 KiB.
 */
#include "common.h"
#include "parse-num.h"
#include "timeutil.h"
#include "webhook.h"

static void check_action(const char *action)
{
	if (strcmp(action, "queued") && strcmp(action, "in_progress") && strcmp(action, "completed"))
		die_code(EXIT_USAGE, "'%s' is not queued, in_progress or completed", action);
}

static void payload(struct strbuf *sb, const char *action, int64_t id, const char *org,
		    const char *now)
{
	strbuf_addf(sb, "{\"action\":\"%s\",\"workflow_job\":{\"id\":%" PRId64 ",\"run_id\":%" PRId64
		    ",\"workflow_name\":\"CI\",\"head_branch\":\"main\",\"run_url\":"
		    "\"https://api.github.com/repos/%s/widgets/actions/runs/%" PRId64 "\",\"run_attempt\":1,"
		    "\"node_id\":\"CR_kwDOABCDEF8AAAAB%" PRId64 "\",\"head_sha\":"
		    "\"3484a3fb816e0859fd2f9be3b68e3a3e0e8e3a0f\",\"url\":"
		    "\"https://api.github.com/repos/%s/widgets/actions/jobs/%" PRId64 "\",\"html_url\":"
		    "\"https://github.com/%s/widgets/actions/runs/%" PRId64 "/job/%" PRId64 "\","
		    "\"status\":\"%s\",\"conclusion\":%s,\"created_at\":\"%s\",\"started_at\":\"%s\","
		    "\"completed_at\":\"%s\",\"name\":\"build (linux, x64)\",\"steps\":[],"
		    "\"check_run_url\":\"https://api.github.com/repos/%s/widgets/check-runs/%" PRId64 "\","
		    "\"labels\":[\"self-hosted\",\"nimbus\",\"linux\",\"x64\"],\"runner_id\":null,"
		    "\"runner_name\":null,\"runner_group_id\":null,\"runner_group_name\":null},",
		    action, id, id / 4, org, id / 4, id, org, id, org, id / 4, id, action,
		    strcmp(action, "completed") ? "null" : "\"success\"", now, now, now, org, id);
	strbuf_addf(sb, "\"repository\":{\"id\":123456789,\"node_id\":\"R_kgDOHpMa8Q\",\"name\":\"widgets\","
		    "\"full_name\":\"%s/widgets\",\"private\":true,\"owner\":{\"login\":\"%s\",\"id\":424242,"
		    "\"type\":\"Organization\",\"site_admin\":false},\"html_url\":"
		    "\"https://github.com/%s/widgets\",\"fork\":false,\"created_at\":\"2021-03-01T10:00:00Z\","
		    "\"updated_at\":\"2026-01-01T10:00:00Z\",\"pushed_at\":\"2026-01-01T10:00:00Z\","
		    "\"default_branch\":\"main\",\"visibility\":\"private\"},\"organization\":{\"login\":"
		    "\"%s\",\"id\":424242,\"url\":\"https://api.github.com/orgs/%s\"},\"sender\":{\"login\":"
		    "\"octocat\",\"id\":1,\"type\":\"User\",\"site_admin\":false},\"installation\":{\"id\":7,"
		    "\"node_id\":\"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNw==\"}}",
		    org, org, org, org, org);
}

int main(int argc, const char **argv)
{
	struct webhook_secrets *s;
	struct strbuf body = STRBUF_INIT, now = STRBUF_INIT, id = STRBUF_INIT;
	struct strvec headers = STRVEC_INIT;
	uint64_t n, orgs = 1, base;
	int rc;

	set_progname("webhook-gen");
	if (argc < 4 || argc > 5 || parse_u64(argv[2], 100000000, &n) ||
	    (argc == 5 && (parse_u64(argv[4], 1000, &orgs) || !orgs)))
		die_code(EXIT_USAGE, "usage: webhook-gen SECRET_FILE N queued|in_progress|completed [ORGS]");
	check_action(argv[3]);
	rc = webhook_secrets_load(argv[1], &s);
	if (rc)
		return report_fail(rc);
	fmt_rfc3339(&now, now_ms() / 1000);
	/* job ids of this run: apart from those of another run */
	base = (uint64_t)now_ms() * 1000;
	for (uint64_t i = 0; i < n; i++) {
		char org[16];

		xsnprintf(org, sizeof(org), "org-%" PRIu64, i % orgs);
		strbuf_reset(&body);
		strbuf_reset(&id);
		strvec_clear(&headers);
		payload(&body, argv[3], (int64_t)(base + i), org, now.buf);
		webhook_new_id(WEBHOOK_GITHUB, &id);
		rc = webhook_sign(s, WEBHOOK_GITHUB, id.buf, 0, body.buf, body.len, &headers);
		if (rc)
			return report_fail(rc);
		printf("%s\t%s\t%s\n", id.buf, headers.v[1], body.buf);
	}
	webhook_secrets_free(s);
	strbuf_release(&body);
	strbuf_release(&now);
	strbuf_release(&id);
	strvec_clear(&headers);
	return fflush(stdout) || ferror(stdout) ? EXIT_FAIL : EXIT_OK;
}
