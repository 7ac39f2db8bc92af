#ifndef GITHUB_H
#define GITHUB_H

#include "http-client.h"
#include "kv.h"

/*
 * The GitHub API client of the control plane, the reaper and the agent:
 * a GitHub App's installation tokens, self-hosted runners (list, get,
 * deregister) and just-in-time runner configurations, on github.api_url
 * (api.github.com, or GitHub Enterprise Server's /api/v3).
 *
 * Authentication: an App JWT (RS256 with the key of
 * github.private_key_file, which group and others must not be able to
 * read; iat 60 s in the past, exp 9 minutes ahead, iss github.app_id)
 * buys installation tokens, which are cached in the store and shared by
 * every process until GITHUB_TOKEN_MIN_LEFT seconds before they expire.
 * The key, the JWT and every token are registered for redaction; none is
 * ever logged or put in argv.
 *
 * Each request may be tried github.max_attempts times: connection
 * failures, timeouts, 5xx, 429 and 403 rate limits (retry-after, a
 * secondary rate limit, x-ratelimit-remaining 0) are retried after an
 * exponential backoff with full jitter (base 1 s, cap 60 s), never before
 * retry-after nor, when no requests are left, x-ratelimit-reset; a wait
 * longer than github.max_wait gives up at once. Mutating requests for one
 * installation are spaced at least 1 s apart across processes (a kv rate
 * limit, github-write:INSTALLATION).
 *
 * A circuit breaker per API host, in the kv (github:HOST), opens after
 * github.breaker_failures consecutive failures (no answer, or 5xx): while
 * it is open requests fail at once; after github.breaker_timeout one
 * probe goes, and its success closes it.
 *
 * Functions return 0 (or a documented count) or -code after fail():
 * EXIT_UNAVAILABLE when GitHub cannot be reached, keeps failing, rate
 * limits for too long, the breaker is open or an answer is malformed;
 * EXIT_REJECTED when GitHub refuses the credentials (401) or the request
 * (422); EXIT_PERM when the App lacks a permission (403); EXIT_NOTFOUND
 * (404); EXIT_BUSY for a conflict (409) or a busy runner; EXIT_CONFIG for
 * missing settings.
 *
 * A client serves one thread at a time.
 */

#define GITHUB_API_VERSION "2022-11-28"
#define GITHUB_TOKEN_MIN_LEFT 300

struct github_runner {
	int64_t id;
	char *name;
	char *os, *status;		/* NULL when GitHub did not say */
	bool busy;
	struct strvec labels;
};
#define GITHUB_RUNNER_INIT { .labels = STRVEC_INIT }
void github_runner_release(struct github_runner *r);

struct github_runners {
	struct github_runner *v;
	size_t nr, alloc;
};
#define GITHUB_RUNNERS_INIT { NULL, 0, 0 }
void github_runners_release(struct github_runners *rs);

/*
 * Runners are registered in a scope: ORG, an organization, or
 * OWNER/NAME, a repository.
 */
bool github_scope_valid(const char *scope);
/* The scopes of github.orgs, then of github.repos. */
void github_config_scopes(struct strvec *out);

/*
 * Check github.api_url: http or https, a host, no credentials, query or
 * fragment. host (may be NULL) gets HOST or HOST:PORT.
 */
int github_api_url_check(const char *url, struct strbuf *host, struct strbuf *err);

struct github;

/*
 * A client of the configuration. st and kv are borrowed; NULL opens
 * the configured ones (the store migrated), closed with the client.
 */
int github_open(struct github **out, struct store *st, struct kv *kv);
void github_close(struct github *gh);

/*
 * An installation token, from the cache or from GitHub, and its expiry
 * (seconds since the epoch). Release token with strbuf_release_secret().
 */
int github_token(struct github *gh, int64_t installation, struct strbuf *token,
		 int64_t *expires_at);
/*
 * The installation that serves scope: github.installation_id when set,
 * else the App's installation on the org or repository (asked once per
 * client).
 */
int github_installation(struct github *gh, const char *scope, int64_t *installation);

/* Every runner of scope (all pages), or those named name when not NULL. */
int github_runners_list(struct github *gh, const char *scope, const char *name,
			struct github_runners *out);
/* One runner: -EXIT_NOTFOUND when it is not registered. */
int github_runner_get(struct github *gh, const char *scope, int64_t id, struct github_runner *out);
int github_runner_find(struct github *gh, const char *scope, const char *name,
		       struct github_runner *out);

/*
 * Deregister a runner: look it up, refuse a busy one (-EXIT_BUSY, unless
 * GITHUB_FORCE), delete it, and look again to be sure it is gone.
 * Returns 1 when deregistered, 0 when it was not registered. GitHub
 * itself refuses to delete a runner that is running a job (-EXIT_BUSY).
 */
enum {
	GITHUB_FORCE = 1,
};
int github_runner_deregister(struct github *gh, const char *scope, int64_t id, unsigned flags);

struct github_jit_spec {
	const char *name;
	const struct strvec *labels;	/* NULL: github.runner_labels */
	int64_t group;			/* 0: github.runner_group */
	const char *work_folder;	/* NULL: "_work" */
};
/*
 * A just-in-time runner configuration for scope: encoded is the runner's
 * whole configuration, credentials included, registered for redaction
 * (release it with strbuf_release_secret()); runner (may be NULL) is the
 * runner GitHub registered.
 */
int github_jitconfig(struct github *gh, const char *scope, const struct github_jit_spec *spec,
		     struct strbuf *encoded, struct github_runner *runner);

/* The API host (HOST or HOST:PORT) and its breaker. */
const char *github_api_host(const struct github *gh);
int github_breaker(struct github *gh, struct kv_breaker *out);
int github_breaker_reset(struct github *gh);

#endif
