/* The readers of GitHub's answers and headers (lib/github-parse.c). */
#include "tap.h"
#include "github-parse.h"

static int parse_token(const char *body, struct strbuf *token, int64_t *exp)
{
	strbuf_reset(token);
	return github_parse_token(body, strlen(body), token, exp);
}

static void tokens(void)
{
	struct strbuf t = STRBUF_INIT;
	int64_t exp = 0;

	is_int(parse_token("{\"token\":\"ghs_16C7e42F292c6912E7710c838347Ae178B4a\","
			   "\"expires_at\":\"2016-07-11T22:14:10Z\",\"permissions\":{}}", &t, &exp),
	       0, "a token");
	is_str(t.buf, "ghs_16C7e42F292c6912E7710c838347Ae178B4a", "its value");
	is_int(exp, 1468275250, "its expiry");
	is_int(parse_token("{\"token\":\"ghs_a\\r\\nX-Evil: 1\",\"expires_at\":\"2016-07-11T22:14:10Z\"}",
			   &t, &exp), -EXIT_UNAVAILABLE, "a token that would end a header");
	is_int(t.len, 0, "is not kept");
	is_int(parse_token("{\"token\":\"ghs_a b\",\"expires_at\":\"2016-07-11T22:14:10Z\"}", &t, &exp),
	       -EXIT_UNAVAILABLE, "a token with a blank");
	is_int(parse_token("{\"token\":\"\",\"expires_at\":\"2016-07-11T22:14:10Z\"}", &t, &exp),
	       -EXIT_UNAVAILABLE, "an empty token");
	is_int(parse_token("{\"token\":\"ghs_abc\",\"expires_at\":\"tomorrow\"}", &t, &exp),
	       -EXIT_UNAVAILABLE, "an expiry that is not RFC 3339");
	is_int(parse_token("{\"token\":\"ghs_abc\"}", &t, &exp), -EXIT_UNAVAILABLE, "no expiry");
	is_int(parse_token("{\"token\":\"a\",\"token\":\"b\",\"expires_at\":\"2016-07-11T22:14:10Z\"}",
			   &t, &exp), -EXIT_UNAVAILABLE, "a duplicate member");
	is_int(parse_token("[\"ghs_abc\"]", &t, &exp), -EXIT_UNAVAILABLE, "not an object");
	is_int(parse_token("{\"token\":\"ghs_abc\",", &t, &exp), -EXIT_UNAVAILABLE, "truncated");
	ok(strstr(fail_message(), "malformed installation token from GitHub"), "says what: %s",
	   fail_message());
	strbuf_release(&t);
}

static const char runners_page[] =
	"{\"total_count\":2,\"runners\":["
	"{\"id\":23,\"name\":\"MBP\",\"os\":\"macos\",\"status\":\"online\",\"busy\":true,"
	"\"labels\":[{\"id\":5,\"name\":\"self-hosted\",\"type\":\"read-only\"},"
	"{\"id\":7,\"name\":\"X64\",\"type\":\"read-only\"}]},"
	"{\"id\":24,\"name\":\"nimbus-0000abcd\",\"busy\":false}]}";

static void runners(void)
{
	struct github_runners rs = GITHUB_RUNNERS_INIT;
	struct github_runner r = GITHUB_RUNNER_INIT;
	static const char *const bad[] = {
		"{\"runners\":{}}",
		"{\"runners\":[{\"name\":\"x\",\"busy\":false}]}",
		"{\"runners\":[{\"id\":0,\"name\":\"x\",\"busy\":false}]}",
		"{\"runners\":[{\"id\":1,\"name\":7,\"busy\":false}]}",
		"{\"runners\":[{\"id\":1,\"name\":\"x\",\"busy\":\"no\"}]}",
		"{\"runners\":[{\"id\":1,\"name\":\"x\",\"busy\":false,\"labels\":{}}]}",
		"{\"runners\":[{\"id\":1,\"name\":\"x\",\"busy\":false,\"labels\":[{\"id\":1}]}]}",
		"{\"runners\":[1]}",
		"{\"total_count\":1}",
	};
	static const char one[] = "{\"id\":9,\"name\":\"n\",\"busy\":false}";
	static const char inst[] = "{\"id\":77,\"account\":{}}";
	static const char neg[] = "{\"id\":-1}";

	is_int(github_parse_runners(runners_page, strlen(runners_page), &rs), 0, "a page");
	is_int(rs.nr, 2, "of two runners");
	is_int(rs.v[0].id, 23, "id");
	is_str(rs.v[0].name, "MBP", "name");
	is_str(rs.v[0].os, "macos", "os");
	is_str(rs.v[0].status, "online", "status");
	ok(rs.v[0].busy && !rs.v[1].busy, "busy");
	is_int(rs.v[0].labels.nr, 2, "labels");
	is_str(rs.v[0].labels.v[1], "X64", "by name");
	ok(!rs.v[1].os && !rs.v[1].status && !rs.v[1].labels.nr, "what GitHub left out is NULL");
	is_int(github_parse_runners(runners_page, strlen(runners_page), &rs), 0, "another page");
	is_int(rs.nr, 4, "is appended");
	github_runners_release(&rs);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		is_int(github_parse_runners(bad[i], strlen(bad[i]), &rs), -EXIT_UNAVAILABLE,
		       "refused: %s", bad[i]);
		github_runners_release(&rs);
	}
	is_int(github_parse_runner(one, strlen(one), &r), 0, "one runner");
	is_int(r.id, 9, "its id");
	github_runner_release(&r);
	is_int(github_parse_installation(inst, strlen(inst), &r.id), 0, "an installation");
	is_int(r.id, 77, "its id");
	is_int(github_parse_installation(neg, strlen(neg), &r.id), -EXIT_UNAVAILABLE, "a negative id");
}

static void jitconfig(void)
{
	static const char good[] =
		"{\"runner\":{\"id\":5,\"name\":\"nimbus-1\",\"busy\":false,\"labels\":[]},"
		"\"encoded_jit_config\":\"eyJhIjoiYiJ9+/==\"}";
	static const char bad[] =
		"{\"runner\":{\"id\":5,\"name\":\"nimbus-1\",\"busy\":false},"
		"\"encoded_jit_config\":\"abc\\ndef\"}";
	static const char no_runner[] = "{\"encoded_jit_config\":\"abc\"}";
	struct github_runner r = GITHUB_RUNNER_INIT;
	struct strbuf enc = STRBUF_INIT;

	is_int(github_parse_jitconfig(good, strlen(good), &enc, &r), 0, "a JIT configuration");
	is_str(enc.buf, "eyJhIjoiYiJ9+/==", "encoded_jit_config");
	is_str(r.name, "nimbus-1", "and its runner");
	github_runner_release(&r);
	strbuf_reset(&enc);
	is_int(github_parse_jitconfig(bad, strlen(bad), &enc, &r), -EXIT_UNAVAILABLE,
	       "a configuration that is not base64");
	is_int(github_parse_jitconfig(no_runner, strlen(no_runner), &enc, &r), -EXIT_UNAVAILABLE,
	       "no runner");
	ok(!enc.len, "nothing kept");
	github_runner_release(&r);
	strbuf_release(&enc);
}

static void link_next(const char *link, const char *want)
{
	struct strbuf url = STRBUF_INIT;
	int rc = github_link_next(link, &url);

	if (want)
		is_str(rc == 1 ? url.buf : NULL, want, "next of %s", link);
	else
		ok(rc == 0 && !url.len, "no next in %s", link);
	strbuf_release(&url);
}

static void links(void)
{
	link_next("<https://api.github.com/organizations/1/actions/runners?page=2>; rel=\"next\", "
		  "<https://api.github.com/organizations/1/actions/runners?page=5>; rel=\"last\"",
		  "https://api.github.com/organizations/1/actions/runners?page=2");
	link_next("<https://x/?page=1>; rel=\"prev\", <https://x/?page=3>; rel=\"next\"",
		  "https://x/?page=3");
	link_next("<https://x/?a=1,2>;rel=next", "https://x/?a=1,2");
	link_next("<https://x/2> ; title=\"a, <b>\" ; REL=\"last next\"", "https://x/2");
	link_next("<https://x/1>; rel=\"prev\", <https://x/9>; rel=\"last\"", NULL);
	link_next("<https://x/1>; rel=\"nextpage\"", NULL);
	link_next("https://x/1; rel=\"next\"", NULL);
	link_next("<https://x/1; rel=\"next\"", NULL);
	link_next("", NULL);
	link_next(",,, ", NULL);
}

static void retry(long status, const char *const *headers, const char *body, bool want,
		  int64_t want_wait, const char *what)
{
	struct http_client_response r = HTTP_CLIENT_RESPONSE_INIT;
	struct http_client_header h[4];
	int64_t wait = -1;

	r.status = status;
	for (r.headers_nr = 0; headers && headers[2 * r.headers_nr]; r.headers_nr++) {
		h[r.headers_nr].name = (char *)headers[2 * r.headers_nr];
		h[r.headers_nr].value = (char *)headers[2 * r.headers_nr + 1];
	}
	r.headers = h;
	strbuf_addstr(&r.body, body ? body : "");
	is_int(github_retryable(&r, 1000000000000LL, &wait), want, "%s: retried or not", what);
	is_int(wait, want_wait, "%s: the wait", what);
	strbuf_release(&r.body);
}

static void retries(void)
{
	static const char *const after[] = { "Retry-After", "2", NULL };
	static const char *const date[] = { "retry-after", "Sun, 09 Sep 2001 01:46:50 GMT", NULL };
	static const char *const spent[] = { "x-ratelimit-remaining", "0",
					     "x-ratelimit-reset", "1000000042", NULL };
	static const char *const left[] = { "x-ratelimit-remaining", "1",
					    "x-ratelimit-reset", "1000000042", NULL };
	static const char *const far[] = { "x-ratelimit-remaining", "0",
					   "x-ratelimit-reset", "9000000000", NULL };
	static const char *const junk[] = { "retry-after", "soon", NULL };

	retry(500, NULL, NULL, true, 0, "500");
	retry(503, after, NULL, true, 2000, "503 with retry-after");
	retry(429, after, NULL, true, 2000, "429 with retry-after");
	retry(429, date, NULL, true, 10000, "429 with an HTTP date");
	retry(429, junk, NULL, true, 0, "429 with nonsense");
	retry(403, NULL, "{\"message\":\"Resource not accessible by integration\"}", false, 0,
	      "a plain 403");
	retry(403, after, NULL, true, 2000, "403 with retry-after");
	retry(403, NULL, "{\"message\":\"You have exceeded a SECONDARY rate limit.\"}", true, 0,
	      "403, secondary rate limit");
	retry(403, spent, NULL, true, 42000, "403, none left: until the reset");
	retry(403, left, NULL, false, 0, "403 with some left");
	retry(403, far, NULL, true, 86400000, "a reset far away is capped");
	retry(401, after, NULL, false, 0, "401");
	retry(404, NULL, NULL, false, 0, "404");
	retry(422, NULL, NULL, false, 0, "422");
	retry(200, spent, NULL, false, 0, "200 with none left");
}

static void messages(void)
{
	static const char msg[] = "{\"message\":\"Bad\\ncredentials\\u001b[31m\"}";
	struct strbuf sb = STRBUF_INIT;

	github_error_message(msg, strlen(msg), &sb);
	is_str(sb.buf, "Bad\\ncredentials\\x1b[31m", "a message, printable");
	strbuf_reset(&sb);
	github_error_message("<html>", 6, &sb);
	is_str(sb.buf, "", "no message in HTML");
	strbuf_release(&sb);
}

int main(void)
{
	tokens();
	runners();
	jitconfig();
	links();
	retries();
	messages();
	return done_testing();
}
