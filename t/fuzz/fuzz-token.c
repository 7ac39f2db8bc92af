/*
 * The token parser on arbitrary input: token_check() accepts or refuses
 * with exit 3, never crashes; the input as a claims object parses as
 * jansson parses it, and the claims checker gets it too. The key is RFC 8037's Ed25519 key, so that the seed
 * tokens signed with it reach the claims.
 */
#include "common.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1800000000

static struct keyset ks = KEYSET_INIT;

static void setup(void)
{
	static const char jwk[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
		"\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
	json_t *j = json_loads(jwk, 0, NULL);
	struct jose_key *k;

	if (!j || jose_key_from_jwk(j, &k) || keyset_add(&ks, k, 0, 0))
		abort();
	jose_key_free(k);
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const scopes[] = { "pull:acme" };
	struct token_want want = { .iss = "nimbus", .aud = "cache", .scopes = scopes, .scopes_nr = 1 };
	struct token_claims c = TOKEN_CLAIMS_INIT;
	json_t *claims, *other;
	int rc;

	if (!ks.nr)
		setup();
	rc = token_check(&ks, (const char *)data, size, &want, NOW, &c);
	if (rc && rc != -EXIT_REJECTED)
		abort();
	if (!rc && !token_allows(&c, "pull", "acme"))
		abort();
	token_claims_release(&c);
	/* the fast path of the claims parser agrees with jansson */
	claims = token_parse_object((const char *)data, size);
	other = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!claims != !json_is_object(other) || (claims && !json_equal(claims, other)))
		abort();
	json_decref(other);
	if (claims) {
		rc = token_check_claims(claims, &want, NOW, &c);
		if (rc && rc != -EXIT_REJECTED)
			abort();
		token_claims_release(&c);
		json_decref(claims);
	}
	return 0;
}
