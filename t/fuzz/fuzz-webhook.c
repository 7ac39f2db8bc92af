/*
 * Webhook deliveries on arbitrary input: "Name: value" header lines, an
 * empty line, then the body. The delivery is checked as it came (the
 * header parsers: signatures, ids, timestamps), then once more signed
 * with the harness' own secret, so that the payload's parsers run too:
 * event times, the org, the replay keys and the job a delivery asks for.
 * Whatever is accepted must be fit for a kv key, a log line and a job.
 */
#include "common.h"
#include "token.h"
#include "webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Far from any window: a fuzzed time inside it is a find, not a wall. */
#define NOW 1767225600
#define WINDOW (1LL << 36)

static struct webhook_secrets *secrets;
static struct strvec labels = STRVEC_INIT;

static void setup(void)
{
	static const char text[] = "fuzz-secret\nwhsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n";

	if (webhook_secrets_parse(text, strlen(text), "fuzz", &secrets) ||
	    job_labels_parse("nimbus", &labels))
		abort();
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static void check(const struct strvec *lines, const char *body, size_t len)
{
	struct webhook wh = WEBHOOK_INIT;
	struct webhook_effect e = WEBHOOK_EFFECT_INIT;
	int rc = webhook_check(&wh, secrets, webhook_header_in_lines, (void *)lines, body, len,
			       WINDOW, NOW);

	if (!rc != !wh.verdict)
		abort();
	if (rc) {
		webhook_release(&wh);
		return;
	}
	if (!webhook_id_valid(wh.id) || (wh.event && !webhook_id_valid(wh.event)) ||
	    (*wh.org && !org_id_valid(wh.org, strlen(wh.org))) || !wh.keys_nr || wh.keys_nr > 2)
		abort();
	for (size_t i = 0; i < wh.keys_nr; i++)
		if (!printable(wh.keys[i]) || strlen(wh.keys[i]) > 512)
			abort();
	rc = webhook_effect(&wh, &labels, body, len, &e);
	if (rc && (fail_code(rc) != EXIT_USAGE || wh.verdict != WEBHOOK_MALFORMED))
		abort();
	if (!rc && e.action != WEBHOOK_IGNORE && job_id_check(e.job.id))
		abort();
	if (!rc && e.action == WEBHOOK_QUEUE &&
	    (job_org_check(e.job.org) || job_repo_check(e.job.repo) || !e.job.labels.nr))
		abort();
	webhook_effect_release(&e);
	webhook_release(&wh);
}

/* The lines without the scheme's signature headers, then freshly signed ones. */
static void signed_again(const struct strvec *lines, enum webhook_scheme scheme,
			 const char *body, size_t len)
{
	struct strvec again = STRVEC_INIT, headers = STRVEC_INIT;
	const char *id = webhook_header_in_lines((void *)lines,
						 scheme == WEBHOOK_GITHUB ? "X-GitHub-Delivery" : "webhook-id");

	if (webhook_sign(secrets, scheme, id && webhook_id_valid(id) ? id : "fuzz", NOW, body, len,
			 &headers))
		abort();
	for (size_t i = 0; i < lines->nr; i++)
		if (!starts_with(lines->v[i], "X-Hub-Signature-256:") &&
		    !starts_with(lines->v[i], "webhook-"))
			strvec_push(&again, lines->v[i]);
	for (size_t i = 0; i + 1 < headers.nr; i += 2)
		strvec_pushf(&again, "%s: %s", headers.v[i], headers.v[i + 1]);
	if (scheme == WEBHOOK_GITHUB && !webhook_header_in_lines(&again, "X-GitHub-Hook-ID"))
		strvec_push(&again, "X-GitHub-Hook-ID: 1");
	check(&again, body, len);
	strvec_clear(&again);
	strvec_clear(&headers);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *end = in + size, *body = end, *p = in;
	struct strvec lines = STRVEC_INIT;

	if (!secrets)
		setup();
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t n = (nl ? nl : end) - p;

		if (!n) {
			body = p + 1;
			break;
		}
		strvec_pushf(&lines, "%.*s", (int)n, p);
		p = nl ? nl + 1 : end;
	}
	if (body > end)
		body = end;
	check(&lines, body, end - body);
	signed_again(&lines, WEBHOOK_GITHUB, body, end - body);
	signed_again(&lines, WEBHOOK_STANDARD, body, end - body);
	strvec_clear(&lines);
	return 0;
}
