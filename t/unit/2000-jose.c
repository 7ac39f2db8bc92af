#include "tap.h"
#include "base64.h"
#include "jose.h"

/*
 * base64url, and the JOSE vectors of ../shared/vectors/jose.json:
 * RFC 7515 A.1 (HS256) and A.3 (ES256), RFC 8037 A.4 (EdDSA, signed
 * anew), RFC 7638 thumbprints; then every algorithm's keys round trip.
 */

static void test_base64url(void)
{
	struct strbuf enc = STRBUF_INIT, dec = STRBUF_INIT;
	unsigned char data[64];
	static const char *const bad[] = {
		"QQ==", "QR", "QUJ", "a+b/", "Q", "QUJD\n", "QU JD", "QUJD=", "Q\x80",
	};
	bool all = true;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(data); n++) {
		strbuf_reset(&enc);
		strbuf_reset(&dec);
		base64url_encode(&enc, data, n);
		if (base64url_decode(&dec, enc.buf, enc.len) || dec.len != n || memcmp(dec.buf, data, n) ||
		    strchr(enc.buf, '=') || enc.len != (n * 4 + 2) / 3)
			all = false;
	}
	ok(all, "every length round-trips, unpadded");
	strbuf_reset(&enc);
	base64url_encode(&enc, "\xfb\xff\xfe", 3);
	is_str(enc.buf, "-__-", "the URL-safe alphabet");
	strbuf_reset(&dec);
	ok(!base64url_decode(&dec, "QQ", 2) && dec.len == 1 && dec.buf[0] == 'A', "QQ is A");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		strbuf_reset(&dec);
		ok(base64url_decode(&dec, bad[i], strlen(bad[i])) && !dec.len,
		   "refuses bad encoding %zu (padding, stray bits, other alphabets, blanks)", i);
	}
	strbuf_release(&enc);
	strbuf_release(&dec);
}

static json_t *vectors;

static json_t *vector(const char *name, const char *member)
{
	return json_object_get(json_object_get(vectors, name), member);
}

static const char *vector_str(const char *name, const char *member)
{
	return json_string_value(vector(name, member));
}

/* Verify a compact JWS with k; 0 or the fail() code. */
static int verify_jws(struct jose_key *k, const char *jws)
{
	struct jose_parts p;
	unsigned char sig[1024];
	ssize_t n;
	int rc = jose_split(jws, strlen(jws), &p);

	if (rc)
		return rc;
	n = base64url_decode_mem(sig, p.sig, p.sig_len);
	if (n < 0)
		return -EXIT_REJECTED;
	return jose_verify(k, jws, p.input_len, sig, n);
}

/* jws with one character of segment seg changed. */
static char *tamper(const char *jws, int seg)
{
	char *t = xstrdup(jws), *p = t;

	for (int i = 0; i < seg; i++)
		p = strchr(p, '.') + 1;
	p[2] = p[2] == 'A' ? 'B' : 'A';
	return t;
}

static void test_rfc7515_a1(void)
{
	const char *jws = vector_str("rfc7515_a1_hs256", "jws");
	struct jose_key *k;
	char *t;

	ok(!jose_key_from_jwk(vector("rfc7515_a1_hs256", "jwk"), &k), "A.1: the oct JWK loads");
	is_int(k->alg, JOSE_HS256, "as an HS256 key");
	is_int(verify_jws(k, jws), 0, "A.1: the HS256 signature verifies");
	t = tamper(jws, 1);
	is_int(verify_jws(k, t), -EXIT_REJECTED, "A.1: a changed payload does not");
	free(t);
	jose_key_free(k);
}

static void test_rfc7515_a3(void)
{
	const char *jws = vector_str("rfc7515_a3_es256", "jws");
	struct jose_key *k;
	char *t;

	ok(!jose_key_from_jwk(vector("rfc7515_a3_es256", "jwk"), &k), "A.3: the P-256 JWK loads");
	is_int(k->alg, JOSE_ES256, "as an ES256 key");
	ok(!k->has_private, "as a public key (d is not used)");
	is_int(verify_jws(k, jws), 0, "A.3: the ES256 R||S signature verifies");
	t = tamper(jws, 2);
	is_int(verify_jws(k, t), -EXIT_REJECTED, "A.3: a changed signature does not");
	free(t);
	t = tamper(jws, 0);
	is_int(verify_jws(k, t), -EXIT_REJECTED, "A.3: a changed header does not");
	free(t);
	jose_key_free(k);
}

static void test_rfc8037_a4(void)
{
	const char *payload = vector_str("rfc8037_a4_eddsa", "payload");
	struct strbuf out = STRBUF_INIT, header = STRBUF_INIT;
	struct jose_key *k;

	ok(!jose_key_from_jwk(vector("rfc8037_a4_eddsa", "jwk"), &k), "A.4: the Ed25519 JWK loads");
	ok(k->has_private && k->alg == JOSE_EDDSA, "with its private key");
	base64url_encode(&header, "{\"alg\":\"EdDSA\"}", 15);
	ok(!jose_sign(k, header.buf, header.len, payload, strlen(payload), &out), "A.4: signs");
	is_str(out.buf, vector_str("rfc8037_a4_eddsa", "jws"), "A.4: the JWS is reproduced exactly");
	is_int(verify_jws(k, out.buf), 0, "A.4: and verifies");
	strbuf_release(&out);
	strbuf_release(&header);
	jose_key_free(k);
}

static void test_rfc7638(void)
{
	json_t *list = json_object_get(vectors, "rfc7638_thumbprints"), *v;
	char kid[JOSE_KID_LEN + 1];
	struct jose_key *k;
	size_t i;

	ok(json_array_size(list) >= 2, "thumbprint vectors present");
	json_array_foreach(list, i, v) {
		const char *want = json_string_value(json_object_get(v, "sha256_thumbprint"));

		ok(!jose_thumbprint(json_object_get(v, "jwk"), kid), "thumbprint %zu computes", i);
		is_str(kid, want, "thumbprint %zu matches RFC 7638", i);
		ok(!jose_key_from_jwk(json_object_get(v, "jwk"), &k), "JWK %zu loads", i);
		is_str(k->kid, want, "and its kid is the thumbprint");
		jose_key_free(k);
	}
}

static void test_roundtrip(enum jose_alg alg)
{
	const char *name = jose_alg_name(alg), *header = "eyJhbGciOiJ4In0";
	struct strbuf pem = STRBUF_INIT, jws = STRBUF_INIT;
	struct jose_key *k, *again, *pub;
	json_t *jwk;
	char *t;

	ok(!jose_key_generate(alg, &k), "%s: generates a key", name);
	ok(!jose_key_private_pem(k, &pem) && starts_with(pem.buf, "-----BEGIN PRIVATE KEY-----\n"),
	   "%s: PKCS#8 PEM", name);
	ok(!jose_key_from_pem(pem.buf, pem.len, alg, &again) && !strcmp(again->kid, k->kid),
	   "%s: the PEM loads back with the same kid", name);
	is_int(jose_key_from_pem(pem.buf, pem.len, alg == JOSE_EDDSA ? JOSE_RS256 : JOSE_EDDSA, &pub),
	       -EXIT_REJECTED, "%s: not as a key of another algorithm", name);
	jwk = jose_key_jwk(k);
	ok(jwk && !json_object_get(jwk, "d") && !json_object_get(jwk, "p"), "%s: the JWK is public", name);
	ok(!jose_key_from_jwk(jwk, &pub) && !strcmp(pub->kid, k->kid) && !pub->has_private,
	   "%s: the JWK loads as the public key", name);
	ok(!jose_sign(again, header, strlen(header), "hello", 5, &jws), "%s: signs", name);
	is_int(verify_jws(pub, jws.buf), 0, "%s: the public key verifies", name);
	is_int(verify_jws(pub, jws.buf), 0, "%s: again, with a reused context", name);
	t = tamper(jws.buf, 1);
	is_int(verify_jws(pub, t), -EXIT_REJECTED, "%s: a changed payload fails", name);
	free(t);
	t = tamper(jws.buf, 2);
	is_int(verify_jws(pub, t), -EXIT_REJECTED, "%s: a changed signature fails", name);
	free(t);
	json_decref(jwk);
	jose_key_free(k);
	jose_key_free(again);
	jose_key_free(pub);
	strbuf_release_secret(&pem);
	strbuf_release(&jws);
}

static void test_bad_keys(void)
{
	static const char *const jwks[] = {
		"{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
		"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR\"}",
		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
		"\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1\"}",
		"{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4\"}",
		"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"ES256\","
		"\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
		"{\"kty\":\"none\"}",
		"[]",
	};
	struct jose_key *k;
	struct strbuf pem = STRBUF_INIT;
	FILE *fp;

	for (size_t i = 0; i < ARRAY_SIZE(jwks); i++) {
		json_t *j = json_loads(jwks[i], 0, NULL);

		is_int(jose_key_from_jwk(j, &k), -EXIT_REJECTED, "refuses JWK %zu", i);
		json_decref(j);
	}
	is_int(jose_key_from_pem("junk", 4, JOSE_ALG_NONE, &k), -EXIT_REJECTED, "refuses junk as PEM");
	fp = popen("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 2>/dev/null", "r");
	if (fp && strbuf_read_fd(&pem, fileno(fp), 1 << 16) >= 0 && pem.len) {
		is_int(jose_key_from_pem(pem.buf, pem.len, JOSE_ALG_NONE, &k), -EXIT_REJECTED,
		       "refuses RSA 1024: %s", fail_message());
	}
	if (fp)
		pclose(fp);
	strbuf_release_secret(&pem);
}

int main(void)
{
	const char *src = getenv("NIMBUS_SRC");
	char *path = xstrfmt("%s/../shared/vectors/jose.json", src ? src : ".");
	json_error_t err;

	test_base64url();
	vectors = json_load_file(path, 0, &err);
	if (vectors) {
		test_rfc7515_a1();
		test_rfc7515_a3();
		test_rfc8037_a4();
		test_rfc7638();
	} else {
		ok(!getenv("CI"), "vectors at %s: %s", path, err.text);
		printf("# SKIP the RFC vectors: %s not found\n", path);
	}
	test_roundtrip(JOSE_EDDSA);
	test_roundtrip(JOSE_ES256);
	test_roundtrip(JOSE_RS256);
	test_bad_keys();
	json_decref(vectors);
	free(path);
	return done_testing();
}
