#include "tap.h"
#include "base64.h"
#include "redact.h"
#include "timeutil.h"
#include "token.h"

#include <pthread.h>

/*
 * Keyset states over time, the keyset file format, token claims and
 * every refusal at a fixed clock, and the verifier services hold:
 * reloading when keyset.json changes, under concurrent use.
 */

#define T0 1800000000

static struct strvec scopes_acme = STRVEC_INIT;

static struct jose_key *generate(enum jose_alg alg)
{
	struct jose_key *k;

	if (jose_key_generate(alg, &k))
		die_fail(-EXIT_FAIL);
	return k;
}

static char *mint(const struct jose_key *k, const char *aud, int64_t now, int64_t ttl)
{
	struct token_spec spec = { .iss = "nimbus", .aud = aud, .sub = "ci", .scopes = &scopes_acme,
				   .repo = "acme/widgets", .job = "42", .runner = "nimbus-0a1b2c3d",
				   .ttl = ttl };
	struct strbuf sb = STRBUF_INIT;

	if (token_mint(k, &spec, now, &sb))
		die_fail(-EXIT_FAIL);
	return strbuf_detach(&sb, NULL);
}

/* A JWS of the given header and payload (JSON texts), signed with k. */
static char *forge(const struct jose_key *k, const char *header, const char *payload)
{
	struct strbuf sb = STRBUF_INIT, h = STRBUF_INIT;

	base64url_encode(&h, header, strlen(header));
	if (jose_sign(k, h.buf, h.len, payload, strlen(payload), &sb))
		die_fail(-EXIT_FAIL);
	strbuf_release(&h);
	return strbuf_detach(&sb, NULL);
}

static int check(const struct keyset *ks, const char *jwt, const struct token_want *want, int64_t now)
{
	struct token_claims c = TOKEN_CLAIMS_INIT;
	int rc = token_check(ks, jwt, strlen(jwt), want, now, &c);

	token_claims_release(&c);
	return rc;
}

/* Expect a refusal whose message contains why. */
static void refused(const struct keyset *ks, const char *jwt, const struct token_want *want,
		    int64_t now, const char *why, const char *what)
{
	int rc = check(ks, jwt, want, now);

	ok(rc == -EXIT_REJECTED && strstr(fail_message(), why), "%s: refused (%s)", what,
	   rc ? fail_message() : "accepted");
}

/* Expect valid claims under the header fmt, signed with k, to be refused. */
static void PRINTF(6, 7) forged_refused(const struct keyset *ks, const struct jose_key *k,
					const struct token_want *want, const char *why,
					const char *what, const char *fmt, ...)
{
	struct strbuf hdr = STRBUF_INIT;
	va_list ap;
	char *t;

	va_start(ap, fmt);
	strbuf_vaddf(&hdr, fmt, ap);
	va_end(ap);
	t = forge(k, hdr.buf, "{\"iss\":\"nimbus\",\"aud\":\"cache\",\"exp\":1900000000}");
	refused(ks, t, want, T0, why, what);
	free(t);
	strbuf_release(&hdr);
}

static void test_states(void)
{
	struct jose_key *a = generate(JOSE_EDDSA), *b = generate(JOSE_ES256);
	struct keyset ks = KEYSET_INIT, back = KEYSET_INIT;
	struct strbuf text = STRBUF_INIT;
	json_t *jwks;

	ok(!keyset_add(&ks, a, T0, T0) && !keyset_add(&ks, b, T0 + 10, T0 + 310), "two keys added");
	ok(!ks.keys[0].key->has_private, "the keyset keeps public keys only");
	keyset_states(&ks, T0 + 10);
	ok(ks.keys[0].state == KEY_CURRENT && ks.keys[1].state == KEY_NEXT, "before activation: current, next");
	keyset_states(&ks, T0 + 310);
	ok(ks.keys[0].state == KEY_PREVIOUS && ks.keys[1].state == KEY_CURRENT,
	   "at activation: previous, current");
	is_int(ks.keys[0].superseded, T0 + 310, "the previous key stopped signing then");
	is_str(keyset_current(&ks)->key->kid, b->kid, "the new key signs");
	ks.keys[1].retired = T0 + 400;
	keyset_states(&ks, T0 + 400);
	ok(ks.keys[1].state == KEY_RETIRED && ks.keys[0].state == KEY_CURRENT,
	   "retiring the current key hands signing back to the previous one");
	jwks = keyset_jwks(&ks);
	is_int(json_array_size(json_object_get(jwks, "keys")), 1, "the JWKS leaves retired keys out");
	json_decref(jwks);
	keyset_format(&ks, &text);
	ok(!keyset_parse(&back, text.buf, text.len, "keyset.json"), "the file form parses back");
	ok(back.nr == 2 && !strcmp(back.keys[1].key->kid, b->kid) && back.keys[1].retired == T0 + 400 &&
	   back.keys[1].activated == T0 + 310 && back.keys[0].created == T0, "with every time");
	keyset_release(&back);
	strbuf_release(&text);
	keyset_release(&ks);
	jose_key_free(a);
	jose_key_free(b);
}

static void test_bad_keysets(void)
{
	static const char *const bad[] = {
		"", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[1]}",
		"{\"keys\":[{\"kid\":\"x\",\"alg\":\"EdDSA\",\"created\":\"2026-01-01T00:00:00Z\","
		"\"activated\":\"2026-01-01T00:00:00Z\",\"retired\":null,\"jwk\":{\"kty\":\"OKP\","
		"\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}}]}",
		"{\"keys\":[{\"kid\":\"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k\",\"alg\":\"ES256\","
		"\"created\":\"2026-01-01T00:00:00Z\",\"activated\":\"2026-01-01T00:00:00Z\",\"retired\":null,"
		"\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}}]}",
		"{\"keys\":[{\"kid\":\"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k\",\"alg\":\"EdDSA\","
		"\"created\":\"yesterday\",\"activated\":\"2026-01-01T00:00:00Z\",\"retired\":null,"
		"\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}}]}",
		"{\"keys\":[{\"kid\":\"KRQ-UAapCdVjVnhQzLxOJmwqYI_9c4Pdhb9sO9cCJC8\",\"alg\":\"HS256\","
		"\"created\":\"2026-01-01T00:00:00Z\",\"activated\":\"2026-01-01T00:00:00Z\",\"retired\":null,"
		"\"jwk\":{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}}]}",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct keyset ks = KEYSET_INIT;
		int rc = keyset_parse(&ks, bad[i], strlen(bad[i]), "k.json");

		ok(rc == -EXIT_FAIL && !ks.nr, "keyset %zu refused: %s", i, fail_message());
	}
}

/* RFC 7515 A.1's claims at a fixed clock, and its HS256 refused as a token. */
static void test_a1_claims(void)
{
	static const char *const jws =
		"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
		"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
		"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	struct token_want joe = { .iss = "joe" }, bob = { .iss = "bob" };
	struct token_claims c = TOKEN_CLAIMS_INIT;
	struct jose_parts p;
	struct strbuf payload = STRBUF_INIT;
	struct keyset ks = KEYSET_INIT;
	json_t *claims;

	ok(!jose_split(jws, strlen(jws), &p) &&
	   !base64url_decode(&payload, p.payload, p.payload_len), "A.1: payload decodes");
	claims = json_loadb(payload.buf, payload.len, 0, NULL);
	is_int(token_check_claims(claims, &joe, 1300819380 - 3600, &c), 0, "A.1: valid an hour before exp");
	token_claims_release(&c);
	is_int(token_check_claims(claims, &joe, 1300819380 + 59, &c), 0, "A.1: valid within the skew");
	token_claims_release(&c);
	is_int(token_check_claims(claims, &joe, 1300819380 + 60, &c), -EXIT_REJECTED, "A.1: expired after it");
	ok(strstr(fail_message(), "expired") != NULL, "A.1: says expired");
	token_claims_release(&c);
	is_int(token_check_claims(claims, &bob, 1300819380 - 3600, &c), -EXIT_REJECTED, "A.1: wrong issuer");
	token_claims_release(&c);
	refused(&ks, jws, &joe, 1300819380 - 3600, "HS256", "A.1 as a token");
	json_decref(claims);
	strbuf_release(&payload);
}

static void test_attacks(enum jose_alg alg)
{
	const char *name = jose_alg_name(alg);
	struct jose_key *k = generate(alg), *other = generate(alg), *hmac;
	struct keyset ks = KEYSET_INIT;
	struct token_want want = { .iss = "nimbus", .aud = "cache" };
	const char *push_a[] = { "push:acme" }, *pull_b[] = { "pull:bolt" }, *pull_a[] = { "pull:acme" };
	struct token_claims c = TOKEN_CLAIMS_INIT;
	struct strbuf sb = STRBUF_INIT, hdr = STRBUF_INIT;
	char *jwt, *t;
	json_t *jwk;

	keyset_add(&ks, k, T0, T0);
	keyset_add(&ks, other, T0, T0);
	jwt = mint(k, "cache", T0, 900);
	ok(!token_check(&ks, jwt, strlen(jwt), &want, T0, &c), "%s: a fresh token verifies", name);
	ok(c.repo && !strcmp(c.repo, "acme/widgets") && !strcmp(c.job, "42") &&
	   !strcmp(c.runner, "nimbus-0a1b2c3d") && !strcmp(c.kid, k->kid) && c.exp == T0 + 900,
	   "%s: its claims come through", name);
	ok(token_allows(&c, "pull", "acme") && !token_allows(&c, "push", "acme") &&
	   !token_allows(&c, "pull", "acm"), "%s: token_allows follows the scope", name);
	token_claims_release(&c);
	want.scopes = pull_a;
	want.scopes_nr = 1;
	is_int(check(&ks, jwt, &want, T0), 0, "%s: pull:acme is granted", name);
	want.scopes = push_a;
	refused(&ks, jwt, &want, T0, "scope missing: push:acme", "pull:acme presented for push:acme");
	want.scopes = pull_b;
	refused(&ks, jwt, &want, T0, "scope missing: pull:bolt", "pull:acme presented for pull:bolt");
	want.scopes_nr = 0;

	for (int seg = 0; seg < 3; seg++) {
		static const char *const segs[] = { "header", "payload", "signature" };

		t = xstrdup(jwt);
		/* flip a bit that stays inside the alphabet */
		for (char *p = t, n = 0; *p; p++) {
			if (*p == '.' && ++n > seg)
				break;
			if (n == seg && p[0] != '.' && p[1] && p[1] != '.' && p > t + 4) {
				p[0] = p[0] == 'A' ? 'B' : 'A';
				break;
			}
		}
		ok(check(&ks, t, &want, T0) == -EXIT_REJECTED, "%s: a tampered %s is refused (%s)", name,
		   segs[seg], fail_message());
		free(t);
	}

	/* alg none, with and without a signature */
	strbuf_addf(&hdr, "{\"alg\":\"none\",\"kid\":\"%s\"}", k->kid);
	base64url_encode(&sb, hdr.buf, hdr.len);
	strbuf_addstr(&sb, strchr(jwt, '.'));
	*strrchr(sb.buf, '.') = '\0';
	t = xstrfmt("%s.", sb.buf);
	refused(&ks, t, &want, T0, "malformed", "alg none, unsigned");
	free(t);
	t = xstrfmt("%s.AAAA", sb.buf);
	refused(&ks, t, &want, T0, "alg \"none\" is not accepted", "alg none");
	free(t);

	/* HS256 with the public key (its JWK and its raw parameter) as the secret */
	jwk = jose_key_jwk(k);
	for (int form = 0; form < 2; form++) {
		char *pub = form ? json_dumps(jwk, JSON_COMPACT) : xstrdup(json_string_value(
				json_object_get(jwk, alg == JOSE_RS256 ? "n" : "x")));
		json_t *oct;

		strbuf_reset(&sb);
		base64url_encode(&sb, pub, strlen(pub));
		oct = json_pack("{s:s, s:s}", "kty", "oct", "k", sb.buf);
		ok(!jose_key_from_jwk(oct, &hmac), "an HMAC key from the public key");
		forged_refused(&ks, hmac, &want, "HS256", "HS256 keyed with the public key",
			       "{\"alg\":\"HS256\",\"kid\":\"%s\"}", k->kid);
		jose_key_free(hmac);
		json_decref(oct);
		free(pub);
	}
	json_decref(jwk);

	forged_refused(&ks, k, &want, "does not match", "an algorithm that is not the key's",
		       "{\"alg\":\"%s\",\"kid\":\"%s\"}", alg == JOSE_EDDSA ? "RS256" : "EdDSA", k->kid);
	forged_refused(&ks, k, &want, "bad signature", "signed by one key, claiming another",
		       "{\"alg\":\"%s\",\"kid\":\"%s\"}", name, other->kid);
	forged_refused(&ks, k, &want, "unknown kid", "an unknown kid",
		       "{\"alg\":\"%s\",\"kid\":\"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k\"}", name);
	forged_refused(&ks, k, &want, "crit", "a crit header",
		       "{\"alg\":\"%s\",\"kid\":\"%s\",\"crit\":[\"b64\"],\"b64\":false}", name, k->kid);

	/* the time window, with the 60 s allowance */
	refused(&ks, jwt, &want, T0 + 900 + 60, "expired", "expired");
	is_int(check(&ks, jwt, &want, T0 + 900 + 59), 0, "%s: within the allowance after exp", name);
	refused(&ks, jwt, &want, T0 - 61, "not yet valid", "nbf in the future");
	is_int(check(&ks, jwt, &want, T0 - 60), 0, "%s: within the allowance before nbf", name);

	/* audience and issuer */
	want.aud = "registry";
	refused(&ks, jwt, &want, T0, "wrong audience", "wrong aud");
	want.aud = "cache";
	want.iss = "elsewhere";
	refused(&ks, jwt, &want, T0, "wrong issuer", "wrong iss");
	want.iss = "nimbus";

	/* garbage */
	refused(&ks, "", &want, T0, "malformed", "an empty token");
	refused(&ks, "a.b.c.d", &want, T0, "malformed", "four segments");
	refused(&ks, "eyJ.eyJ.", &want, T0, "malformed", "no signature");
	refused(&ks, "e30.e30.AAAA", &want, T0, "no alg", "an empty header");

	/* retired */
	ks.keys[0].retired = T0;
	refused(&ks, jwt, &want, T0, "retired", "a retired kid");

	free(jwt);
	strbuf_release(&sb);
	strbuf_release(&hdr);
	keyset_release(&ks);
	jose_key_free(k);
	jose_key_free(other);
}

static char keys_dir[] = "/tmp/nimbus-unit-XXXXXX";

static void save(struct keyset *ks)
{
	struct keydir kd;

	if (keydir_open(&kd, keys_dir, true) || keydir_lock(&kd) || keydir_save(&kd, ks, T0))
		die_fail(-EXIT_FAIL);
	keydir_close(&kd);
}

struct worker {
	struct token_verifier *v;
	const char *jwt;
	int failures;
};

static void *verify_loop(void *arg)
{
	struct worker *w = arg;
	struct token_want want = { .aud = "cache" };

	for (int i = 0; i < 300; i++) {
		struct token_claims c = TOKEN_CLAIMS_INIT;

		if (token_verify(w->v, w->jwt, strlen(w->jwt), &want, &c))
			w->failures++;
		token_claims_release(&c);
	}
	return NULL;
}

static void test_verifier(void)
{
	struct jose_key *a = generate(JOSE_EDDSA), *b = generate(JOSE_EDDSA);
	struct keyset ks = KEYSET_INIT;
	struct token_verifier *v;
	struct token_want want = { .aud = "cache" };
	struct token_claims c = TOKEN_CLAIMS_INIT;
	struct worker w[4];
	pthread_t th[4];
	int64_t now = time(NULL);
	char *ja = mint(a, "cache", now, 900), *jb = mint(b, "cache", now, 900);
	json_t *jwks;
	int64_t max_age;
	int failures = 0;

	if (!mkdtemp(keys_dir))
		die_errno("mkdtemp");
	v = token_verifier_new(keys_dir);
	keyset_add(&ks, a, now, now);
	save(&ks);
	is_int(token_verify(v, ja, strlen(ja), &want, &c), 0, "the verifier loads the keyset");
	token_claims_release(&c);
	ok(token_verify(v, jb, strlen(jb), &want, &c) == -EXIT_REJECTED &&
	   strstr(fail_message(), "unknown kid"), "a key not in the keyset is unknown");
	token_claims_release(&c);
	keyset_add(&ks, b, now, now + 300);
	save(&ks);
	sleep_ms(TOKEN_RELOAD_MS + 10);
	is_int(token_verify(v, jb, strlen(jb), &want, &c), 0, "a new key is seen once keyset.json changes");
	token_claims_release(&c);
	ok(!token_verifier_jwks(v, &jwks, &max_age) && json_array_size(json_object_get(jwks, "keys")) == 2 &&
	   max_age == 300, "the JWKS has both keys, max-age 300");
	json_decref(jwks);
	ks.keys[0].retired = now;
	save(&ks);
	sleep_ms(TOKEN_RELOAD_MS + 10);
	ok(token_verify(v, ja, strlen(ja), &want, &c) == -EXIT_REJECTED &&
	   strstr(fail_message(), "retired"), "a retired key is refused within TOKEN_RELOAD_MS");
	token_claims_release(&c);

	/* threads verify while the keyset keeps changing */
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ v, jb, 0 };
		pthread_create(&th[i], NULL, verify_loop, &w[i]);
	}
	for (int i = 0; i < 30; i++) {
		ks.keys[0].activated = now - i;
		save(&ks);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		failures += w[i].failures;
	}
	is_int(failures, 0, "concurrent verification across reloads never fails");
	token_verifier_free(v);
	keyset_release(&ks);
	jose_key_free(a);
	jose_key_free(b);
	free(ja);
	free(jb);
}

int main(void)
{
	struct strbuf cmd = STRBUF_INIT;

	char conf[] = "/tmp/nimbus-unit-conf-XXXXXX";
	int fd = mkstemp(conf);

	/* an empty configuration file: every key has its default */
	if (fd < 0)
		die_errno("mkstemp");
	close(fd);
	setenv("NIMBUS_CONFIG", conf, 1);
	strvec_push(&scopes_acme, "pull:acme");
	ok(org_id_valid("acme", 4) && org_id_valid("a-1", 3) && !org_id_valid("-a", 2) &&
	   !org_id_valid("Acme", 4) && !org_id_valid("", 0) &&
	   org_id_valid("a23456789012345678901234567890123456789", 39) &&
	   !org_id_valid("a234567890123456789012345678901234567890", 40), "org ids");
	ok(scope_valid("pull:acme") && scope_valid("delete:a") && !scope_valid("pull:") &&
	   !scope_valid("admin:acme") && !scope_valid("pull:Acme") && !scope_valid("pullacme"), "scopes");
	test_states();
	test_bad_keysets();
	test_a1_claims();
	test_attacks(JOSE_EDDSA);
	test_attacks(JOSE_ES256);
	test_attacks(JOSE_RS256);
	test_verifier();
	strbuf_addf(&cmd, "rm -rf '%s'", keys_dir);
	if (system(cmd.buf))
		warning("cannot remove %s", keys_dir);
	unlink(conf);
	strbuf_release(&cmd);
	redact_forget_all();
	return done_testing();
}
