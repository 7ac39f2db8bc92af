/*
 * lib/github as the reaper and the agent use it, against the GitHub
 * double that t/3215-github-lib.bats starts (NIMBUS_TEST_GITHUB=1, the
 * double's runners: nimbus-00000001, idle, and nimbus-00000002, busy,
 * in acme; one 500 waiting for the runner list). The metrics it keeps.
 */
#include "tap.h"
#include "github.h"
#include "metrics.h"
#include "redact.h"

static void runners(struct github *gh)
{
	struct github_runners rs = GITHUB_RUNNERS_INIT;
	struct github_runner idle = GITHUB_RUNNER_INIT, busy = GITHUB_RUNNER_INIT;
	struct github_runner again = GITHUB_RUNNER_INIT;

	is_int(github_runners_list(gh, "acme", NULL, &rs), 0, "list, after a 500");
	is_int(rs.nr, 2, "two runners");
	github_runners_release(&rs);
	is_int(github_runners_list(gh, "acme", "nimbus-00000002", &rs), 0, "list by name");
	is_int(rs.nr, 1, "one runner");
	github_runners_release(&rs);
	is_int(github_runner_find(gh, "acme", "nimbus-00000001", &idle), 0, "find the idle one");
	is_int(github_runner_find(gh, "acme", "nimbus-00000002", &busy), 0, "find the busy one");
	ok(!idle.busy && busy.busy, "which is busy");
	is_int(github_runner_find(gh, "acme", "nimbus-0000000", &again), -EXIT_NOTFOUND,
	       "a name is matched whole");
	is_int(github_runner_deregister(gh, "acme", busy.id, 0), -EXIT_BUSY, "busy: not deregistered");
	is_int(github_runner_deregister(gh, "acme", idle.id, 0), 1, "deregistered");
	is_int(github_runner_deregister(gh, "acme", idle.id, 0), 0, "already gone");
	is_int(github_runner_get(gh, "acme", idle.id, &again), -EXIT_NOTFOUND, "not registered");
	is_int(github_runner_get(gh, "acme", busy.id, &again), 0, "the busy one still is");
	is_str(again.name, "nimbus-00000002", "by id");
	github_runner_release(&again);
	github_runner_release(&idle);
	github_runner_release(&busy);
	is_int(github_runners_list(gh, "nope/x", NULL, &rs), -EXIT_NOTFOUND, "an unknown repository");
	is_int(github_runners_list(gh, "../x", NULL, &rs), -EXIT_USAGE, "not a scope");
}

static void jitconfig(struct github *gh)
{
	struct github_jit_spec spec = { .name = "nimbus-0000beef" };
	struct github_runner r = GITHUB_RUNNER_INIT;
	struct strbuf enc = STRBUF_INIT, line = STRBUF_INIT;

	is_int(github_jitconfig(gh, "acme", &spec, &enc, &r), 0, "a JIT configuration");
	ok(enc.len > 0, "encoded");
	is_int(r.labels.nr, 3, "with github.runner_labels");
	strbuf_addf(&line, "config %s", enc.buf);
	redact(&line);
	is_str(line.buf, "config " REDACTED, "registered for redaction");
	github_runner_release(&r);
	strbuf_release(&enc);
	strbuf_release(&line);
}

static void metrics(struct github *gh)
{
	struct strbuf sb = STRBUF_INIT, line = STRBUF_INIT;
	struct kv_breaker b;

	metrics_render(&sb);
	ok(has_line(sb.buf, "nimbus_github_requests_total{endpoint=\"runners\",status=\"500\"} 1"),
	   "requests by endpoint and status: the 500");
	ok(has_line(sb.buf, "nimbus_github_requests_total{endpoint=\"runners\",status=\"200\"} 5"),
	   "and the 200s");
	ok(has_line(sb.buf, "nimbus_github_requests_total{endpoint=\"runner_delete\",status=\"204\"} 1"),
	   "a deletion");
	ok(has_line(sb.buf, "nimbus_github_retries_total{endpoint=\"runners\"} 1"), "retries");
	strbuf_addf(&line, "nimbus_github_breaker_state{host=\"%s\"} 0", github_api_host(gh));
	ok(has_line(sb.buf, line.buf), "the breaker's state");
	ok(strstr(sb.buf, "\nnimbus_github_ratelimit_remaining{installation=\"77\"} 49"),
	   "the rate limit left");
	is_int(github_breaker(gh, &b), 0, "the breaker");
	is_int(b.state, KV_BREAKER_CLOSED, "is closed");
	strbuf_release(&sb);
	strbuf_release(&line);
}

int main(void)
{
	struct github *gh;
	int rc;

	if (!getenv("NIMBUS_TEST_GITHUB")) {
		printf("1..0 # SKIP needs the GitHub double: t/3215-github-lib.bats runs it\n");
		return 0;
	}
	rc = github_open(&gh, NULL, NULL);
	if (rc)
		die_fail(rc);
	runners(gh);
	jitconfig(gh);
	metrics(gh);
	github_close(gh);
	return done_testing();
}
