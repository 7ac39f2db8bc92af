/*
 * Webhook deliveries (lib/webhook.c): the secret file, the vectors of
 * ../shared/vectors/webhooks.json, event times, orgs and effects.
 */
#include "tap.h"
#include "webhook.h"

static json_t *vectors;

static struct webhook_secrets *secrets(const char *text)
{
	struct webhook_secrets *s = NULL;

	if (webhook_secrets_parse(text, strlen(text), "test", &s))
		printf("# %s\n", fail_message());
	return s;
}

static void test_secret_file(void)
{
	struct webhook_secrets *s = NULL;

	s = secrets("gh-one\r\n\nwhsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\ngh-two");
	ok(s, "GitHub and whsec_ secrets, CRLF and empty lines");
	webhook_secrets_free(s);
	s = NULL;
	is_int(webhook_secrets_parse("whsec_abc\n", 10, "f", &s), -EXIT_CONFIG, "whsec_ not base64");
	is_str(fail_message(), "f:1: a Standard Webhooks secret is whsec_ and base64", "names the line");
	is_int(webhook_secrets_parse("x\nwhsec_\n", 9, "f", &s), -EXIT_CONFIG, "an empty whsec_");
	is_int(webhook_secrets_parse("x\nwhsec_QQ=A\n", 12, "f", &s), -EXIT_CONFIG,
	       "padding in the middle");
	is_int(webhook_secrets_parse("\n\r\n", 3, "f", &s), -EXIT_CONFIG, "no secret at all");
	ok(!s, "nothing on failure");
}

/* A header lookup over "Name: value" lines. */
static const char *lookup(struct strvec *lines, const char *name)
{
	return webhook_header_in_lines(lines, name);
}

static void test_header_lines(void)
{
	struct strvec h = STRVEC_INIT;

	strvec_push(&h, "X-GitHub-Event:workflow_job");
	strvec_push(&h, "webhook-id: \t msg_1");
	strvec_push(&h, "webhook-idx: no");
	is_str(lookup(&h, "x-github-event"), "workflow_job", "names ignore case; no blank needed");
	is_str(lookup(&h, "WEBHOOK-ID"), "msg_1", "blanks after the colon are dropped");
	ok(!lookup(&h, "webhook"), "a prefix of a name is not the name");
	strvec_clear(&h);
}

static void test_github_vector(void)
{
	json_t *v = json_array_get(json_object_get(vectors, "github_hmac_sha256"), 0);
	const char *payload = json_string_value(json_object_get(v, "payload"));
	char *text = xstrfmt("%s\n", json_string_value(json_object_get(v, "secret")));
	struct webhook_secrets *s = secrets(text);
	struct strvec headers = STRVEC_INIT, lines = STRVEC_INIT;
	struct webhook wh = WEBHOOK_INIT;

	ok(!webhook_sign(s, WEBHOOK_GITHUB, "d", 0, payload, strlen(payload), &headers), "sign");
	is_str(headers.v[1], json_string_value(json_object_get(v, "x_hub_signature_256")),
	       "GitHub's signature");
	strvec_pushf(&lines, "X-Hub-Signature-256: %s", headers.v[1]);
	strvec_push(&lines, "X-GitHub-Event: ping");
	strvec_push(&lines, "X-GitHub-Delivery: d");
	strvec_push(&lines, "X-GitHub-Hook-ID: 1");
	is_int(webhook_check(&wh, s, webhook_header_in_lines, &lines, payload, strlen(payload), 600,
			     0), -EXIT_USAGE, "checked past the signature");
	is_int(wh.verdict, WEBHOOK_MALFORMED, "to a payload that is no JSON object");
	webhook_release(&wh);
	free((char *)lines.v[0]);
	lines.v[0] = xstrfmt("X-Hub-Signature-256: %s", "sha256=757107EA0EB2509FC211221CCE984B8A"
			     "37570B6D7586C22C46F4379C8B043E17");
	webhook_check(&wh, s, webhook_header_in_lines, &lines, payload, strlen(payload), 600, 0);
	is_int(wh.verdict, WEBHOOK_MALFORMED, "upper-case hex is the same signature");
	webhook_release(&wh);
	is_int(webhook_check(&wh, s, webhook_header_in_lines, &lines, "Hello, World?", 13, 600, 0),
	       -EXIT_REJECTED, "another body");
	is_int(wh.verdict, WEBHOOK_SIGNATURE, "a bad signature");
	webhook_release(&wh);
	webhook_secrets_free(s);
	strvec_clear(&headers);
	strvec_clear(&lines);
	free(text);
}

static void test_standard_vector(void)
{
	json_t *v = json_array_get(json_object_get(vectors, "standard_webhooks_v1"), 0);
	const char *payload = json_string_value(json_object_get(v, "payload"));
	const char *id = json_string_value(json_object_get(v, "webhook_id"));
	const char *sig = json_string_value(json_object_get(v, "webhook_signature"));
	int64_t ts = json_integer_value(json_object_get(v, "webhook_timestamp"));
	char *text = xstrfmt("gh-other\n%s\n", json_string_value(json_object_get(v, "secret")));
	struct webhook_secrets *s = secrets(text);
	struct strvec headers = STRVEC_INIT, lines = STRVEC_INIT;
	struct webhook wh = WEBHOOK_INIT;
	json_t *bad;
	size_t i;

	ok(!webhook_sign(s, WEBHOOK_STANDARD, id, ts, payload, strlen(payload), &headers), "sign");
	is_str(headers.v[5], sig, "the libraries' signature");
	strvec_pushf(&lines, "webhook-id: %s", id);
	strvec_pushf(&lines, "webhook-timestamp: %" PRId64, ts);
	strvec_pushf(&lines, "webhook-signature: v1a,xyz v1,%s %s", "AAAA", sig);
	is_int(webhook_check(&wh, s, webhook_header_in_lines, &lines, payload, strlen(payload), 300,
			     ts + 300), 0, "accepted at the edge of the window, among other entries");
	is_int(wh.scheme, WEBHOOK_STANDARD, "as Standard Webhooks");
	ok(!wh.event, "without an event");
	is_int(wh.keys_nr, 1, "one replay key");
	is_str(wh.keys[0], "webhook:standard:msg_p5jXN8AQM9LWM0D4loKWxJek", "its id");
	webhook_release(&wh);
	is_int(webhook_check(&wh, s, webhook_header_in_lines, &lines, payload, strlen(payload), 300,
			     ts - 301), -EXIT_REJECTED, "refused before the window");
	is_int(wh.verdict, WEBHOOK_WINDOW, "as outside it");
	webhook_release(&wh);
	json_array_foreach(json_object_get(v, "must_reject"), i, bad) {
		free((char *)lines.v[2]);
		lines.v[2] = xstrfmt("webhook-signature: %s", json_string_value(bad));
		webhook_check(&wh, s, webhook_header_in_lines, &lines, payload, strlen(payload), 300, ts);
		is_int(wh.verdict, WEBHOOK_SIGNATURE, "must reject %s", json_string_value(bad));
		webhook_release(&wh);
	}
	webhook_secrets_free(s);
	strvec_clear(&headers);
	strvec_clear(&lines);
	free(text);
}

static int event_time(const char *event, const char *json, int64_t *t)
{
	json_t *doc = json_loads(json, 0, NULL);
	int rc;

	*t = -1;
	rc = webhook_event_time(event, doc, t);
	json_decref(doc);
	return rc;
}

static void test_event_time(void)
{
	int64_t t;

	is_int(event_time("workflow_job", "{\"action\":\"queued\",\"workflow_job\":{"
			  "\"created_at\":\"2026-01-01T00:00:00Z\",\"started_at\":\"2027-01-01T00:00:00Z\"}}",
			  &t), 1, "queued");
	is_int(t, 1767225600, "created_at");
	is_int(event_time("workflow_job", "{\"action\":\"in_progress\",\"workflow_job\":{"
			  "\"created_at\":\"2026-01-01T00:00:00Z\",\"started_at\":\"2026-01-01T01:00:00+01:00\"}}",
			  &t), 1, "in_progress");
	is_int(t, 1767225600, "started_at, with its offset");
	is_int(event_time("workflow_job", "{\"action\":\"completed\",\"workflow_job\":{"
			  "\"completed_at\":null,\"updated_at\":\"2026-01-01T00:00:00Z\"}}", &t),
	       -EXIT_USAGE, "completed without completed_at");
	is_int(event_time("workflow_job", "{\"action\":\"waiting\",\"workflow_job\":{"
			  "\"created_at\":\"2026-01-01T00:00:00Z\",\"x\":[{\"updated_at\":1767225700}]}}",
			  &t), 1, "another action: the newest time");
	is_int(t, 1767225700, "seconds since the epoch, in an array");
	is_int(event_time("push", "{\"repository\":{\"pushed_at\":1767225600,\"created_at\":"
			  "\"2001-01-01T00:00:00Z\"},\"head_commit\":{\"timestamp\":\"2026-01-02T00:00:00Z\"}}",
			  &t), 1, "push");
	is_int(t, 1767312000, "the newest");
	is_int(event_time("ping", "{\"zen\":\"x\",\"created_at\":\"soon\",\"updated_at\":-5,"
			  "\"closed_at\":99999999999999}", &t), 0, "no valid time: none");
	is_int(event_time(NULL, "{\"a\":{\"b\":{\"c\":{\"timestamp\":\"2026-01-01T00:00:00.5Z\"}}}}",
			  &t), 1, "deep, no event");
	is_int(t, 1767225600, "fractions dropped");
}

/*
 * Check a Standard Webhooks delivery of payload at 1000 with the secret
 * of s; its headers, which wh points into, live until the next call.
 */
static int check_payload(struct webhook_secrets *s, const char *event, const char *payload,
			 struct webhook *wh)
{
	static struct strvec lines = STRVEC_INIT;
	struct strvec headers = STRVEC_INIT;
	int rc;

	strvec_clear(&lines);
	if (!payload)
		return 0;
	webhook_sign(s, WEBHOOK_STANDARD, "m", 1000, payload, strlen(payload), &headers);
	for (size_t i = 0; i + 1 < headers.nr; i += 2)
		strvec_pushf(&lines, "%s: %s", headers.v[i], headers.v[i + 1]);
	if (event)
		strvec_pushf(&lines, "X-GitHub-Event: %s", event);
	rc = webhook_check(wh, s, webhook_header_in_lines, &lines, payload, strlen(payload), 60, 1000);
	strvec_clear(&headers);
	return rc;
}

static void test_org(struct webhook_secrets *s)
{
	struct webhook wh = WEBHOOK_INIT;

	is_int(check_payload(s, NULL, "{\"organization\":{\"login\":\"Acme-Corp\"},"
			     "\"repository\":{\"owner\":{\"login\":\"other\"}}}", &wh), 0, "an org");
	is_str(wh.org, "acme-corp", "the organization's login, in lower case");
	webhook_release(&wh);
	check_payload(s, NULL, "{\"repository\":{\"owner\":{\"login\":\"Octocat\"}}}", &wh);
	is_str(wh.org, "octocat", "else the repository owner's");
	webhook_release(&wh);
	check_payload(s, NULL, "{\"zen\":\"x\"}", &wh);
	is_str(wh.org, "", "else none");
	webhook_release(&wh);
	is_int(check_payload(s, NULL, "{\"organization\":{\"login\":\"a_b\"}}", &wh), -EXIT_USAGE,
	       "not an org id");
	is_str(wh.org, "", "and not kept");
	webhook_release(&wh);
	is_int(check_payload(s, NULL, "{\"organization\":{\"login\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
			     &wh), -EXIT_USAGE, "40 characters");
	webhook_release(&wh);
	is_int(check_payload(s, "bad event", "{}", &wh), -EXIT_USAGE, "a bad event name");
	webhook_release(&wh);
	is_int(check_payload(s, NULL, "{\"a\":1,\"a\":2}", &wh), -EXIT_USAGE, "a duplicate member");
	webhook_release(&wh);
}

#define JOB(action, labels, extra) \
	"{\"action\":\"" action "\",\"workflow_job\":{\"id\":5,\"run_id\":6,\"labels\":" labels "," \
	extra "\"created_at\":\"1970-01-01T00:16:40Z\",\"completed_at\":\"1970-01-01T00:16:40Z\"}," \
	"\"repository\":{\"full_name\":\"Acme/w\",\"owner\":{\"login\":\"Acme\"}}}"

/* The effect of a delivery, which lives until the next call (e->reason is in it). */
static int effect_of(struct webhook_secrets *s, const char *event, const char *payload,
		     const char *want, struct webhook_effect *e)
{
	static struct webhook wh = WEBHOOK_INIT;
	struct strvec labels = STRVEC_INIT;
	int rc;

	webhook_release(&wh);
	webhook_effect_release(e);
	rc = check_payload(s, event, payload, &wh);
	if (!payload)
		return 0;
	job_labels_parse(want, &labels);
	if (!rc)
		rc = webhook_effect(&wh, &labels, payload, strlen(payload), e);
	strvec_clear(&labels);
	return rc;
}

static void test_effects(struct webhook_secrets *s)
{
	struct webhook_effect e = WEBHOOK_EFFECT_INIT;

	is_int(effect_of(s, "workflow_job", JOB("queued", "[\"Self-Hosted\",\"NIMBUS\"]", ""),
			 "nimbus", &e), 0, "queued");
	is_int(e.action, WEBHOOK_QUEUE, "adds a job");
	is_str(e.job.id, "gh-5", "gh-ID");
	is_str(e.job.org, "acme", "its org");
	is_str(e.job.repo, "Acme/w", "its repository");
	is_int(e.job.labels.nr, 2, "its labels");
	is_str(e.job.labels.v[0], "nimbus", "in lower case, sorted");
	is_int(e.run_id, 6, "the run id");
	ok(e.job.payload && strstr(e.job.payload, "\"run_id\":6"), "the payload");
	effect_of(s, "workflow_job", JOB("queued", "[\"nimbus\"]", ""), "nimbus,kvm", &e);
	is_int(e.action, WEBHOOK_IGNORE, "not every label of webhook.labels: ignored");
	effect_of(s, "workflow_job", JOB("queued", "\"nimbus\"", ""), "nimbus", &e);
	is_int(e.action, WEBHOOK_IGNORE, "labels that are no array: ignored");
	effect_of(s, "workflow_run", JOB("queued", "[\"nimbus\"]", ""), "nimbus", &e);
	is_int(e.action, WEBHOOK_IGNORE, "another event: ignored");
	effect_of(s, "workflow_job", JOB("in_progress", "[\"nimbus\"]",
					 "\"started_at\":\"1970-01-01T00:16:40Z\","), "nimbus", &e);
	is_int(e.action, WEBHOOK_IGNORE, "in progress: ignored");
	is_int(effect_of(s, "workflow_job", JOB("queued", "[\"nimbus\",\"a,b\"]", ""), "nimbus", &e),
	       -EXIT_USAGE, "a label with a comma");
	is_int(effect_of(s, "workflow_job", JOB("queued", "[\"nimbus\",7]", ""), "nimbus", &e),
	       -EXIT_USAGE, "a label that is no string");
	is_int(effect_of(s, "workflow_job",
			 "{\"action\":\"queued\",\"workflow_job\":{\"id\":0,\"labels\":[\"nimbus\"],"
			 "\"created_at\":\"1970-01-01T00:16:40Z\"}}", "nimbus", &e),
	       -EXIT_USAGE, "an id of 0");
	is_int(effect_of(s, "workflow_job",
			 "{\"action\":\"queued\",\"workflow_job\":{\"id\":1,\"labels\":[\"nimbus\"],"
			 "\"created_at\":\"1970-01-01T00:16:40Z\"}}", "nimbus", &e),
	       -EXIT_USAGE, "no org");
	is_int(effect_of(s, "workflow_job", JOB("completed", "[\"nimbus\"]", "\"conclusion\":\"success\","),
			 "nimbus", &e), 0, "completed");
	is_int(e.action, WEBHOOK_FINISH, "finishes the job");
	is_int(e.status, JOB_SUCCEEDED, "success: succeeded");
	effect_of(s, "workflow_job", JOB("completed", "[\"nimbus\"]", "\"conclusion\":\"cancelled\","),
		  "nimbus", &e);
	is_int(e.status, JOB_CANCELLED, "cancelled");
	effect_of(s, "workflow_job", JOB("completed", "[\"nimbus\"]", "\"conclusion\":\"timed_out\","),
		  "nimbus", &e);
	is_int(e.status, JOB_FAILED, "timed_out: failed");
	is_str(e.reason, "timed_out", "with the conclusion as the reason");
	effect_of(s, "workflow_job", JOB("completed", "[\"nimbus\"]", ""), "nimbus", &e);
	is_int(e.status, JOB_FAILED, "no conclusion: failed");
	is_str(e.reason, NULL, "and no reason");
	effect_of(s, NULL, NULL, NULL, &e);
}

static void test_ids(void)
{
	struct strbuf sb = STRBUF_INIT;

	webhook_new_id(WEBHOOK_GITHUB, &sb);
	is_int(sb.len, 36, "a UUID");
	ok(sb.buf[14] == '4' && webhook_id_valid(sb.buf), "of version 4, a valid id: %s", sb.buf);
	strbuf_reset(&sb);
	webhook_new_id(WEBHOOK_STANDARD, &sb);
	ok(sb.len == 26 && starts_with(sb.buf, "msg_") && webhook_id_valid(sb.buf), "msg_...: %s",
	   sb.buf);
	ok(!webhook_id_valid(""), "an empty id");
	ok(!webhook_id_valid("a/b"), "a slash");
	strbuf_release(&sb);
}

int main(void)
{
	const char *src = getenv("NIMBUS_SRC");
	char *path = xstrfmt("%s/../shared/vectors/webhooks.json", src ? src : ".");
	struct webhook_secrets *s = secrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
	json_error_t err;

	test_secret_file();
	test_header_lines();
	vectors = json_load_file(path, 0, &err);
	if (vectors) {
		test_github_vector();
		test_standard_vector();
	} else {
		ok(!getenv("CI"), "vectors at %s: %s", path, err.text);
		printf("# SKIP the webhook vectors: %s not found\n", path);
	}
	test_event_time();
	test_org(s);
	test_effects(s);
	test_ids();
	webhook_secrets_free(s);
	json_decref(vectors);
	free(path);
	return done_testing();
}
