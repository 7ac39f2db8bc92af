#ifndef REDACT_H
#define REDACT_H

/*
 * The one redaction function. Every log line, error message and libcurl
 * debug trace passes through redact() before it is written.
 *
 * It masks values registered at run time (every secret nimbus loads or
 * mints) and these patterns: PEM private-key blocks, JWTs, GitHub tokens,
 * Authorization values (the scheme is kept), Bearer tokens, whsec_
 * secrets, URL passwords and password=/token= style parameters.
 */

#define REDACTED "<redacted>"

/* Register a secret; shorter than REDACT_MIN_LEN bytes is ignored. */
#define REDACT_MIN_LEN 4
void redact_register(const char *secret);
void redact_register_mem(const void *secret, size_t len);
/* A PEM text and each line of its body, so that no piece of it is logged. */
void redact_register_pem(const char *pem, size_t len);
/* Register the password of scheme://user:PASSWORD@host, if it has one. */
void redact_register_url(const char *url);
/* Whether s holds a registered secret. */
bool redact_has_secret(const char *s);
/* Forget and wipe every registered secret (tests). */
void redact_forget_all(void);

/* Mask secrets in sb, in place. */
void redact(struct strbuf *sb);

/*
 * Line-at-a-time use (the `nimbus redact` filter): a PEM block may span
 * lines, so the state is carried between calls.
 */
struct redact_state {
	bool in_pem;
};
#define REDACT_STATE_INIT { false }
void redact_line(struct redact_state *st, struct strbuf *line);

#endif
