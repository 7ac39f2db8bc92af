#ifndef TOKEN_H
#define TOKEN_H

#include "keyset.h"
#include "kv.h"

/*
 * nimbus tokens (DESIGN §4): JWS compact JWTs signed with the current key
 * of the keyset, "kid" in the header, and the claims iss, aud, sub, iat,
 * nbf, exp, jti, scope ("pull:acme push:acme") and, for runner tokens,
 * repo, job and runner.
 *
 * Verification takes any key of the keyset that is not retired, with the
 * key's own algorithm only (never "none", never HMAC), then checks the
 * time window with TOKEN_SKEW seconds of allowance, the issuer, the
 * audience and the scopes. A refusal is -EXIT_REJECTED with the reason
 * in fail_message(); a keyset that cannot be read is another code.
 */

#define TOKEN_SKEW 60
#define TOKEN_MAX_LEN 8192

/* An org id: [a-z0-9][a-z0-9-]{0,38}. */
bool org_id_valid(const char *s, size_t len);
/* ACTION:ORG, ACTION one of pull, push, delete. */
bool scope_valid(const char *s);
/* OWNER/NAME as GitHub allows them: the repo claim. */
bool repo_valid(const char *s);
/* Printable ASCII without blanks, 1 to max bytes: the sub, job and runner claims. */
#define TOKEN_WORD_MAX 128
bool token_word_valid(const char *s, size_t max);

struct token_spec {
	const char *iss, *aud, *sub, *repo, *job, *runner;	/* NULL: left out */
	const struct strvec *scopes;
	int64_t ttl;
};

/*
 * Append a token for spec, signed with k, issued at now. The caller
 * registers it for redaction when it keeps it around: a service that
 * mints for clients relies on the JWT pattern instead of keeping every
 * token it ever minted.
 */
int token_mint(const struct jose_key *k, const struct token_spec *spec, int64_t now,
	       struct strbuf *out);

/*
 * The per-org mint rate limit: token.mint_rate with bursts of
 * token.mint_burst, shared by every host through the kv. -EXIT_BUSY when
 * org has minted too much.
 */
int token_mint_ratelimit(struct kv *kv, const char *org);
/* The same for each org of scopes (ACTION:ORG), once. */
int token_mint_ratelimit_scopes(struct kv *kv, const struct strvec *scopes);

struct token_want {
	const char *iss;		/* required issuer, or NULL */
	const char *aud;		/* required audience, or NULL */
	const char *const *scopes;	/* each must be granted */
	size_t scopes_nr;
};

struct token_claims {
	json_t *json;			/* the whole claims object */
	const char *sub, *repo, *job, *runner, *jti;	/* in json; NULL when absent */
	char kid[JOSE_KID_LEN + 1];	/* the key that signed it */
	int64_t exp;
	struct strvec scopes;
};
#define TOKEN_CLAIMS_INIT { .scopes = STRVEC_INIT }
void token_claims_release(struct token_claims *c);
/* Whether the claims grant action on org. */
bool token_allows(const struct token_claims *c, const char *action, const char *org);

/* A JSON object (a token's header or claims), duplicate names refused; or NULL. */
json_t *token_parse_object(const char *s, size_t len);
/* Check the claims alone: time window at now, issuer, audience, scopes. */
int token_check_claims(json_t *claims, const struct token_want *want, int64_t now,
		       struct token_claims *out);
/* Check a whole token against ks: any key that is not retired may have signed it. */
int token_check(const struct keyset *ks, const char *jwt, size_t len,
		const struct token_want *want, int64_t now, struct token_claims *out);

/*
 * What services call on every request: the keyset of keys_dir is cached
 * and reloaded when keyset.json changes, which a stat at most every
 * TOKEN_RELOAD_MS finds out; the tokens whose signature a loaded keyset
 * verified are remembered with it (the claims are checked every time).
 * Thread-safe.
 */
#define TOKEN_RELOAD_MS 100
struct token_verifier;
struct token_verifier *token_verifier_new(const char *keys_dir);
void token_verifier_free(struct token_verifier *v);
int token_verify(struct token_verifier *v, const char *jwt, size_t len,
		 const struct token_want *want, struct token_claims *out);
/*
 * The JWKS document for /.well-known/jwks.json and its Cache-Control
 * max-age: keys.activate_after, so that verifiers see a new key before
 * it signs.
 */
int token_verifier_jwks(struct token_verifier *v, json_t **doc, int64_t *max_age);

#endif
