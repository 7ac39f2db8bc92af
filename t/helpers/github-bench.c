/*
 * github-bench N: N gets of one runner (acme's runner 1) through
 * lib/github, as the reaper makes them (the breaker asked and told, the
 * token from the cache), then N of the same request straight through
 * lib/http-client with the same headers, in this one process, against
 * nimbus' configuration (the GitHub double of t/perf/github.sh):
 *	CLIENT_PER_S PLAIN_PER_S
 */
#include "common.h"
#include "github.h"
#include "parse-num.h"
#include "timeutil.h"

static double plain(struct github *gh, int64_t n)
{
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	struct strbuf token = STRBUF_INIT, auth = STRBUF_INIT, url = STRBUF_INIT;
	const char *headers[] = { "Accept: application/vnd.github+json",
				  "X-GitHub-Api-Version: " GITHUB_API_VERSION, NULL, NULL };
	struct http_client_request req = { .url = NULL, .headers = headers };
	struct http_client *c = http_client_new();
	int64_t exp;
	double t;

	if (github_token(gh, 0, &token, &exp))
		die_fail(-EXIT_FAIL);
	strbuf_addf(&auth, "Authorization: Bearer %s", token.buf);
	headers[2] = auth.buf;
	strbuf_addf(&url, "%s/orgs/acme/actions/runners/1", getenv("NIMBUS_GITHUB_API_URL"));
	req.url = url.buf;
	t = mono_seconds();
	for (int64_t i = 0; i < n; i++) {
		if (http_client_do(c, &req, &resp) || resp.status != 200)
			die("plain GET failed");
		http_client_response_release(&resp);
	}
	t = mono_seconds() - t;
	http_client_free(c);
	strbuf_release_secret(&token);
	strbuf_release_secret(&auth);
	strbuf_release(&url);
	return n / t;
}

int main(int argc, const char **argv)
{
	struct github_runner r = GITHUB_RUNNER_INIT;
	struct github *gh;
	int64_t n = 2000;
	double t, client;
	int rc;

	set_progname("github-bench");
	if (argc > 2 || (argc == 2 && parse_i64(argv[1], 1, INT32_MAX, &n)))
		die_code(EXIT_USAGE, "usage: github-bench [N]");
	rc = github_open(&gh, NULL, NULL);
	if (rc)
		die_fail(rc);
	/* the token and the connection first, as a long-running process has them */
	rc = github_runner_get(gh, "acme", 1, &r);
	github_runner_release(&r);
	t = mono_seconds();
	for (int64_t i = 0; !rc && i < n; i++) {
		rc = github_runner_get(gh, "acme", 1, &r);
		github_runner_release(&r);
	}
	if (rc)
		die_fail(rc);
	client = n / (mono_seconds() - t);
	printf("%.0f %.0f\n", client, plain(gh, n));
	github_close(gh);
	return 0;
}
