#ifndef GITHUB_PARSE_H
#define GITHUB_PARSE_H

#include "github.h"

/*
 * Readers of GitHub's answers, apart from the client so that they can be
 * fuzzed. An answer is outside input: every one is checked for shape and
 * for what may end up in a header or on a terminal. Each returns 0, or
 * -EXIT_UNAVAILABLE after fail() saying what is wrong (GitHub answering
 * nonsense is GitHub not working).
 */

/* POST /app/installations/ID/access_tokens: {"token": ..., "expires_at": ...} */
int github_parse_token(const char *body, size_t len, struct strbuf *token, int64_t *expires_at);
/* GET .../installation: {"id": ...} */
int github_parse_installation(const char *body, size_t len, int64_t *id);
/* A page of GET .../actions/runners, appended to out. */
int github_parse_runners(const char *body, size_t len, struct github_runners *out);
/* GET .../actions/runners/ID */
int github_parse_runner(const char *body, size_t len, struct github_runner *out);
/* POST .../actions/runners/generate-jitconfig */
int github_parse_jitconfig(const char *body, size_t len, struct strbuf *encoded,
			   struct github_runner *runner);

/*
 * The target of rel="next" in a Link header (RFC 8288): 1 and the URL,
 * 0 when there is none.
 */
int github_link_next(const char *link, struct strbuf *url);

/*
 * Whether an answer may be retried: 5xx, 429, and 403 that carries
 * retry-after, says it is a secondary rate limit or has no requests left.
 * *wait_ms is the least wait from now_ms its headers ask for: retry-after
 * (seconds or an HTTP date), or x-ratelimit-reset when
 * x-ratelimit-remaining is 0; 0 when they ask for none.
 */
bool github_retryable(const struct http_client_response *resp, int64_t now_ms, int64_t *wait_ms);

/* The "message" of an error answer, printable, or nothing. */
void github_error_message(const char *body, size_t len, struct strbuf *out);

#endif
