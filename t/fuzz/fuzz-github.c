/*
 * GitHub's answers on arbitrary input: every reader accepts or refuses
 * with exit 6, never crashes, and what it accepts is fit for a header
 * (tokens) or for output (runners). The same bytes are also a Link
 * header and the retry-after and x-ratelimit-reset of an answer.
 */
#include "common.h"
#include "github-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int rc)
{
	if (rc && rc != -EXIT_UNAVAILABLE)
		abort();
}

/* s: the input up to its first NUL, as a header value; body: all of it. */
static void headers(const char *s, const char *body, size_t size)
{
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	struct http_client_header h[3] = {
		{ "retry-after", (char *)s },
		{ "x-ratelimit-remaining", "0" },
		{ "x-ratelimit-reset", (char *)s },
	};
	struct strbuf url = STRBUF_INIT;
	int64_t wait;

	if (github_link_next(s, &url) == 1 && memchr(url.buf, '>', url.len))
		abort();
	resp.status = 403;
	resp.headers = h;
	resp.headers_nr = ARRAY_SIZE(h);
	strbuf_add(&resp.body, body, size);
	if (!github_retryable(&resp, 1800000000000LL, &wait) || wait < 0 || wait > 86400000)
		abort();
	strbuf_release(&resp.body);
	strbuf_release(&url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct github_runners rs = GITHUB_RUNNERS_INIT;
	struct github_runner r = GITHUB_RUNNER_INIT;
	struct strbuf sb = STRBUF_INIT;
	char *s = xstrndup(body, size);
	int64_t n;

	check(github_parse_token(body, size, &sb, &n));
	if (strpbrk(sb.buf, " \r\n:"))
		abort();
	strbuf_reset(&sb);
	check(github_parse_installation(body, size, &n));
	check(github_parse_runners(body, size, &rs));
	check(github_parse_runner(body, size, &r));
	github_runner_release(&r);
	check(github_parse_jitconfig(body, size, &sb, &r));
	github_runner_release(&r);
	github_runners_release(&rs);
	strbuf_reset(&sb);
	github_error_message(body, size, &sb);
	if (strchr(sb.buf, '\n'))
		abort();
	headers(s, body, size);
	strbuf_release(&sb);
	free(s);
	return 0;
}
