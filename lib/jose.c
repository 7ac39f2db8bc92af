#include "common.h"
#include "base64.h"
#include "escape.h"
#include "jose.h"
#include "output.h"

#include <pthread.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

static const char *const alg_names[] = {
	[JOSE_EDDSA] = "EdDSA",
	[JOSE_ES256] = "ES256",
	[JOSE_RS256] = "RS256",
	[JOSE_HS256] = "HS256",
};

const char *jose_alg_name(enum jose_alg alg)
{
	return alg > JOSE_ALG_NONE && alg < ARRAY_SIZE(alg_names) ? alg_names[alg] : "none";
}

enum jose_alg jose_alg_parse(const char *name, size_t len)
{
	for (size_t i = JOSE_ALG_NONE + 1; i < ARRAY_SIZE(alg_names); i++)
		if (strlen(alg_names[i]) == len && !memcmp(alg_names[i], name, len))
			return i;
	return JOSE_ALG_NONE;
}

/* fail() with OpenSSL's reason appended, its error queue emptied. */
static int ssl_fail(int code, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	if (reason)
		return fail(code, "%s: %s", what, reason);
	return fail(code, "%s", what);
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!sha256_md)
		BUG("no SHA256 in OpenSSL");
}

/* Fetched once: a fetch per token costs as much as the hashing. */
static const EVP_MD *sha256(void)
{
	pthread_once(&sha256_once, fetch_sha256);
	return sha256_md;
}

/*
 * Verification contexts are set up once per key and kept for reuse: an
 * EVP_PKEY_CTX costs a provider fetch and an allocation, a good part of
 * an RS256 verification. A context serves one thread at a time.
 */
struct verify_ctx {
	struct verify_ctx *next;
	EVP_MD_CTX *md;		/* EdDSA: the DigestVerify context; else SHA-256 */
	EVP_PKEY_CTX *pk;	/* ES256, RS256: verify of the digest */
};

struct jose_pool {
	pthread_mutex_t lock;
	struct verify_ctx *free;
};

static void verify_ctx_free(struct verify_ctx *c)
{
	EVP_MD_CTX_free(c->md);
	EVP_PKEY_CTX_free(c->pk);
	free(c);
}

static struct verify_ctx *verify_ctx_new(const struct jose_key *k)
{
	struct verify_ctx *c = xcalloc(1, sizeof(*c));

	c->md = EVP_MD_CTX_new();
	if (!c->md)
		goto fail;
	if (k->alg == JOSE_EDDSA) {
		if (EVP_DigestVerifyInit_ex(c->md, NULL, NULL, NULL, NULL, k->pkey, NULL) != 1)
			goto fail;
		return c;
	}
	c->pk = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
	if (!c->pk || EVP_PKEY_verify_init(c->pk) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(c->pk, sha256()) != 1)
		goto fail;
	if (k->alg == JOSE_RS256 && EVP_PKEY_CTX_set_rsa_padding(c->pk, RSA_PKCS1_PADDING) != 1)
		goto fail;
	return c;
fail:
	verify_ctx_free(c);
	return NULL;
}

static struct verify_ctx *pool_get(struct jose_key *k)
{
	struct verify_ctx *c;

	pthread_mutex_lock(&k->pool->lock);
	c = k->pool->free;
	if (c)
		k->pool->free = c->next;
	pthread_mutex_unlock(&k->pool->lock);
	return c ? c : verify_ctx_new(k);
}

static void pool_put(struct jose_key *k, struct verify_ctx *c)
{
	pthread_mutex_lock(&k->pool->lock);
	c->next = k->pool->free;
	k->pool->free = c;
	pthread_mutex_unlock(&k->pool->lock);
}

static struct jose_key *key_new(enum jose_alg alg, EVP_PKEY *pkey, bool has_private)
{
	struct jose_key *k = xcalloc(1, sizeof(*k));

	k->alg = alg;
	k->pkey = pkey;
	k->has_private = has_private;
	k->pool = xcalloc(1, sizeof(*k->pool));
	pthread_mutex_init(&k->pool->lock, NULL);
	return k;
}

void jose_key_free(struct jose_key *k)
{
	if (!k)
		return;
	while (k->pool->free) {
		struct verify_ctx *c = k->pool->free;

		k->pool->free = c->next;
		verify_ctx_free(c);
	}
	pthread_mutex_destroy(&k->pool->lock);
	free(k->pool);
	EVP_PKEY_free(k->pkey);
	free_secret(k->secret, k->secret_len);
	free(k->jwt_header);
	free(k);
}

/* The public members of the JWK of pkey, in RFC 7638 order. */
static int add_bn(json_t *jwk, const char *member, const EVP_PKEY *pkey, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	struct strbuf sb = STRBUF_INIT;
	int n;

	if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
		return ssl_fail(EXIT_FAIL, "cannot read the public key");
	n = pad ? BN_bn2binpad(bn, buf, pad) : (BN_num_bytes(bn) <= (int)sizeof(buf) ? BN_bn2bin(bn, buf) : -1);
	BN_free(bn);
	if (n < 0)
		return fail(EXIT_FAIL, "public key parameter %s too large", member);
	base64url_encode(&sb, buf, n);
	json_object_set_new(jwk, member, xjson_string(sb.buf));
	strbuf_release(&sb);
	return 0;
}

static json_t *public_jwk(const struct jose_key *k)
{
	json_t *jwk = json_object();
	unsigned char raw[32];
	size_t len = sizeof(raw);
	struct strbuf sb = STRBUF_INIT;
	int rc = 0;

	switch (k->alg) {
	case JOSE_EDDSA:
		if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &len) != 1 || len != 32) {
			rc = ssl_fail(EXIT_FAIL, "cannot read the Ed25519 public key");
			break;
		}
		base64url_encode(&sb, raw, len);
		json_object_set_new(jwk, "crv", xjson_string("Ed25519"));
		json_object_set_new(jwk, "kty", xjson_string("OKP"));
		json_object_set_new(jwk, "x", xjson_string(sb.buf));
		break;
	case JOSE_ES256:
		json_object_set_new(jwk, "crv", xjson_string("P-256"));
		json_object_set_new(jwk, "kty", xjson_string("EC"));
		rc = add_bn(jwk, "x", k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32);
		if (!rc)
			rc = add_bn(jwk, "y", k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
		break;
	case JOSE_RS256:
		rc = add_bn(jwk, "e", k->pkey, OSSL_PKEY_PARAM_RSA_E, 0);
		json_object_set_new(jwk, "kty", xjson_string("RSA"));
		if (!rc)
			rc = add_bn(jwk, "n", k->pkey, OSSL_PKEY_PARAM_RSA_N, 0);
		break;
	default:
		BUG("no public JWK for %s", jose_alg_name(k->alg));
	}
	strbuf_release(&sb);
	if (rc) {
		json_decref(jwk);
		return NULL;
	}
	return jwk;
}

static const char *const *required_members(const char *kty)
{
	static const char *const ec[] = { "crv", "kty", "x", "y", NULL };
	static const char *const okp[] = { "crv", "kty", "x", NULL };
	static const char *const rsa[] = { "e", "kty", "n", NULL };
	static const char *const oct[] = { "k", "kty", NULL };

	if (!strcmp(kty, "EC"))
		return ec;
	if (!strcmp(kty, "OKP"))
		return okp;
	if (!strcmp(kty, "RSA"))
		return rsa;
	if (!strcmp(kty, "oct"))
		return oct;
	return NULL;
}

static const char *member_str(json_t *jwk, const char *name)
{
	return json_string_value(json_object_get(jwk, name));
}

int jose_thumbprint(json_t *jwk, char out[JOSE_KID_LEN + 1])
{
	const char *kty = member_str(jwk, "kty");
	const char *const *req = kty ? required_members(kty) : NULL;
	struct strbuf sb = STRBUF_INIT, b64 = STRBUF_INIT;
	unsigned char md[32];

	if (!req)
		return fail(EXIT_REJECTED, "JWK has no supported kty");
	strbuf_addch(&sb, '{');
	for (size_t i = 0; req[i]; i++) {
		json_t *v = json_object_get(jwk, req[i]);

		if (!json_is_string(v)) {
			strbuf_release(&sb);
			return fail(EXIT_REJECTED, "JWK lacks the member \"%s\"", req[i]);
		}
		strbuf_addf(&sb, "%s\"%s\":", i ? "," : "", req[i]);
		strbuf_add_json_string(&sb, json_string_value(v), json_string_length(v));
	}
	strbuf_addch(&sb, '}');
	if (EVP_Digest(sb.buf, sb.len, md, NULL, sha256(), NULL) != 1) {
		strbuf_release_secret(&sb);
		return ssl_fail(EXIT_FAIL, "SHA-256 failed");
	}
	/* an "oct" JWK's thumbprint input holds the secret */
	strbuf_release_secret(&sb);
	base64url_encode(&b64, md, sizeof(md));
	memcpy(out, b64.buf, JOSE_KID_LEN + 1);
	strbuf_release(&b64);
	return 0;
}

static void set_jwt_header(struct jose_key *k)
{
	struct strbuf json = STRBUF_INIT, b64 = STRBUF_INIT;

	strbuf_addf(&json, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
		    jose_alg_name(k->alg), k->kid);
	base64url_encode(&b64, json.buf, json.len);
	k->jwt_header = strbuf_detach(&b64, NULL);
	strbuf_release(&json);
}

static int set_kid(struct jose_key *k)
{
	json_t *jwk = public_jwk(k);
	int rc;

	if (!jwk)
		return -EXIT_FAIL;
	rc = jose_thumbprint(jwk, k->kid);
	json_decref(jwk);
	if (!rc)
		set_jwt_header(k);
	return rc;
}

json_t *jose_key_jwk(const struct jose_key *k)
{
	json_t *jwk = public_jwk(k);

	if (!jwk)
		return NULL;
	json_object_set_new(jwk, "kid", xjson_string(k->kid));
	json_object_set_new(jwk, "alg", xjson_string(jose_alg_name(k->alg)));
	json_object_set_new(jwk, "use", xjson_string("sig"));
	return jwk;
}

/* The algorithm of a key we accept, or JOSE_ALG_NONE with the reason. */
static enum jose_alg key_alg(EVP_PKEY *pkey)
{
	char group[32];

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_ED25519:
		return JOSE_EDDSA;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
						   sizeof(group), NULL) != 1 ||
		    strcmp(group, "prime256v1")) {
			fail(EXIT_REJECTED, "EC keys must be on P-256 (ES256)");
			return JOSE_ALG_NONE;
		}
		return JOSE_ES256;
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(pkey) < 2048) {
			fail(EXIT_REJECTED, "RSA keys must have 2048 bits or more");
			return JOSE_ALG_NONE;
		}
		return JOSE_RS256;
	}
	fail(EXIT_REJECTED, "unsupported key type; use Ed25519, P-256 or RSA");
	return JOSE_ALG_NONE;
}

/* Take pkey (freed on failure) as a key of algorithm want, or its own. */
static int adopt(EVP_PKEY *pkey, bool has_private, enum jose_alg want, struct jose_key **out)
{
	enum jose_alg alg = key_alg(pkey);
	struct jose_key *k;
	int rc;

	if (alg == JOSE_ALG_NONE) {
		EVP_PKEY_free(pkey);
		return -EXIT_REJECTED;
	}
	if (want != JOSE_ALG_NONE && want != alg) {
		EVP_PKEY_free(pkey);
		return fail(EXIT_REJECTED, "the key is for %s, not %s", jose_alg_name(alg),
			    jose_alg_name(want));
	}
	k = key_new(alg, pkey, has_private);
	rc = set_kid(k);
	if (rc) {
		jose_key_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

int jose_key_generate(enum jose_alg alg, struct jose_key **out)
{
	EVP_PKEY *pkey;

	switch (alg) {
	case JOSE_EDDSA:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	case JOSE_ES256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case JOSE_RS256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	default:
		BUG("cannot generate a key for %s", jose_alg_name(alg));
	}
	if (!pkey)
		return ssl_fail(EXIT_FAIL, "key generation failed");
	return adopt(pkey, true, alg, out);
}

/* Never prompt for a passphrase: an encrypted key simply fails to load. */
static int no_passphrase(char *buf UNUSED, int size UNUSED, int rw UNUSED, void *u)
{
	*(bool *)u = true;
	return -1;
}

int jose_key_from_pem(const char *pem, size_t len, enum jose_alg want, struct jose_key **out)
{
	BIO *bio;
	EVP_PKEY *pkey;
	bool encrypted = false;

	if (len > INT_MAX)
		return fail(EXIT_REJECTED, "not a PEM private key");
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return ssl_fail(EXIT_FAIL, "out of memory");
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &encrypted);
	BIO_free(bio);
	if (!pkey) {
		ERR_clear_error();
		if (encrypted)
			return fail(EXIT_REJECTED, "encrypted private keys are not supported");
		return fail(EXIT_REJECTED, "not a PEM private key");
	}
	return adopt(pkey, true, want, out);
}

int jose_key_private_pem(const struct jose_key *k, struct strbuf *out)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data;
	long n;

	if (!bio)
		return ssl_fail(EXIT_FAIL, "out of memory");
	if (!k->has_private ||
	    PEM_write_bio_PKCS8PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		BIO_free(bio);
		return ssl_fail(EXIT_FAIL, "cannot encode the private key");
	}
	n = BIO_get_mem_data(bio, &data);
	strbuf_add(out, data, n);
	BIO_free(bio);
	return 0;
}

/* A base64url member of a JWK, decoded to exactly want bytes (0: any). */
static int jwk_bytes(json_t *jwk, const char *name, size_t want, struct strbuf *out)
{
	json_t *v = json_object_get(jwk, name);

	if (!json_is_string(v))
		return fail(EXIT_REJECTED, "JWK lacks the member \"%s\"", name);
	if (base64url_decode(out, json_string_value(v), json_string_length(v)) ||
	    (want && out->len != want) || !out->len)
		return fail(EXIT_REJECTED, "JWK member \"%s\" is malformed", name);
	return 0;
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

/* A P-256 point must be on the curve: fromdata alone does not check. */
static bool valid_public(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	bool ok = ctx && EVP_PKEY_public_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static EVP_PKEY *ec_from_jwk(json_t *jwk)
{
	struct strbuf pt = STRBUF_INIT, x = STRBUF_INIT, y = STRBUF_INIT;
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pkey = NULL;
	const char *crv = member_str(jwk, "crv");

	if (!crv || strcmp(crv, "P-256")) {
		fail(EXIT_REJECTED, "EC JWK must be on P-256");
		return NULL;
	}
	if (jwk_bytes(jwk, "x", 32, &x) || jwk_bytes(jwk, "y", 32, &y))
		goto out;
	/* the uncompressed point: 04 || X || Y */
	strbuf_addch(&pt, 4);
	strbuf_addbuf(&pt, &x);
	strbuf_addbuf(&pt, &y);
	bld = OSSL_PARAM_BLD_new();
	if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt.buf, pt.len))
		pkey = from_params("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	if (pkey && !valid_public(pkey)) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	if (!pkey)
		ssl_fail(EXIT_REJECTED, "invalid EC public key");
out:
	strbuf_release(&pt);
	strbuf_release(&x);
	strbuf_release(&y);
	return pkey;
}

static EVP_PKEY *rsa_from_jwk(json_t *jwk)
{
	struct strbuf n = STRBUF_INIT, e = STRBUF_INIT;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;

	if (jwk_bytes(jwk, "n", 0, &n) || jwk_bytes(jwk, "e", 0, &e))
		goto out;
	if (n.len > 2048 || e.len > 8 || !(n.buf[0] & 0xff) || !(e.buf[0] & 0xff)) {
		fail(EXIT_REJECTED, "RSA JWK has a malformed modulus or exponent");
		goto out;
	}
	bn = BN_bin2bn((unsigned char *)n.buf, n.len, NULL);
	be = BN_bin2bn((unsigned char *)e.buf, e.len, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		pkey = from_params("RSA", bld);
	if (!pkey)
		ssl_fail(EXIT_REJECTED, "invalid RSA public key");
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	strbuf_release(&n);
	strbuf_release(&e);
	return pkey;
}

static EVP_PKEY *okp_from_jwk(json_t *jwk, bool *has_private)
{
	struct strbuf x = STRBUF_INIT, d = STRBUF_INIT;
	const char *crv = member_str(jwk, "crv");
	EVP_PKEY *pkey = NULL;

	if (!crv || strcmp(crv, "Ed25519")) {
		fail(EXIT_REJECTED, "OKP JWK must be Ed25519");
		return NULL;
	}
	if (jwk_bytes(jwk, "x", 32, &x))
		goto out;
	if (json_object_get(jwk, "d")) {
		unsigned char pub[32];
		size_t len = sizeof(pub);

		if (jwk_bytes(jwk, "d", 32, &d))
			goto out;
		pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
						    (unsigned char *)d.buf, d.len);
		/* "x" must be the public key of "d" */
		if (pkey && (EVP_PKEY_get_raw_public_key(pkey, pub, &len) != 1 ||
			     CRYPTO_memcmp(pub, x.buf, 32))) {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
		*has_private = true;
	} else {
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
						   (unsigned char *)x.buf, x.len);
	}
	if (!pkey)
		ssl_fail(EXIT_REJECTED, "invalid Ed25519 key");
out:
	strbuf_release(&x);
	strbuf_release_secret(&d);
	return pkey;
}

static int oct_from_jwk(json_t *jwk, struct jose_key **out)
{
	struct strbuf k = STRBUF_INIT;
	struct jose_key *key;
	int rc = jwk_bytes(jwk, "k", 0, &k);

	if (rc) {
		strbuf_release_secret(&k);
		return rc;
	}
	key = key_new(JOSE_HS256, NULL, true);
	key->secret_len = k.len;
	key->secret = (unsigned char *)strbuf_detach(&k, NULL);
	rc = jose_thumbprint(jwk, key->kid);
	if (!rc)
		set_jwt_header(key);
	if (rc) {
		jose_key_free(key);
		return rc;
	}
	*out = key;
	return 0;
}

int jose_key_from_jwk(json_t *jwk, struct jose_key **out)
{
	const char *kty = member_str(jwk, "kty"), *alg = member_str(jwk, "alg");
	bool has_private = false;
	struct jose_key *k = NULL;
	EVP_PKEY *pkey;
	int rc;

	if (!json_is_object(jwk) || !kty)
		return fail(EXIT_REJECTED, "JWK has no kty");
	if (!strcmp(kty, "oct"))
		rc = oct_from_jwk(jwk, &k);
	else {
		if (!strcmp(kty, "EC"))
			pkey = ec_from_jwk(jwk);
		else if (!strcmp(kty, "OKP"))
			pkey = okp_from_jwk(jwk, &has_private);
		else if (!strcmp(kty, "RSA"))
			pkey = rsa_from_jwk(jwk);
		else
			return fail(EXIT_REJECTED, "unsupported JWK kty \"%s\"", kty);
		if (!pkey)
			return -EXIT_REJECTED;
		rc = adopt(pkey, has_private, JOSE_ALG_NONE, &k);
	}
	if (rc)
		return rc;
	if (alg && jose_alg_parse(alg, strlen(alg)) != k->alg) {
		rc = fail(EXIT_REJECTED, "JWK alg \"%s\" does not fit its %s key", alg, kty);
		jose_key_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

/* ECDSA signatures: OpenSSL speaks DER, JOSE raw R||S of 32 bytes each. */
static int der_to_raw(const unsigned char *der, size_t len, unsigned char raw[64])
{
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &der, len);
	const BIGNUM *r, *s;
	int ok;

	if (!sig)
		return ssl_fail(EXIT_FAIL, "bad ECDSA signature from OpenSSL");
	ECDSA_SIG_get0(sig, &r, &s);
	ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
	ECDSA_SIG_free(sig);
	return ok ? 0 : fail(EXIT_FAIL, "bad ECDSA signature from OpenSSL");
}

/* The DER form of R||S into der (72 bytes at most); its length, or -1. */
static int raw_to_der(const unsigned char *raw, unsigned char der[80])
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
	unsigned char *p = der;
	int n = -1;

	if (sig && r && s && ECDSA_SIG_set0(sig, r, s)) {
		r = s = NULL;
		if (i2d_ECDSA_SIG(sig, NULL) <= 80)
			n = i2d_ECDSA_SIG(sig, &p);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return n;
}

static int sign_raw(const struct jose_key *k, const char *input, size_t len,
		    unsigned char *sig, size_t *sig_len)
{
	EVP_MD_CTX *ctx;
	unsigned char der[80];
	size_t der_len = sizeof(der);
	int ok;

	if (k->alg == JOSE_HS256) {
		unsigned int n;

		if (!HMAC(EVP_sha256(), k->secret, k->secret_len, (const unsigned char *)input, len, sig, &n))
			return ssl_fail(EXIT_FAIL, "HMAC failed");
		*sig_len = n;
		return 0;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return ssl_fail(EXIT_FAIL, "out of memory");
	ok = EVP_DigestSignInit_ex(ctx, NULL, k->alg == JOSE_EDDSA ? NULL : "SHA256", NULL, NULL,
				   k->pkey, NULL) == 1;
	if (k->alg == JOSE_ES256) {
		ok = ok && EVP_DigestSign(ctx, der, &der_len, (const unsigned char *)input, len) == 1;
		EVP_MD_CTX_free(ctx);
		if (!ok)
			return ssl_fail(EXIT_FAIL, "signing failed");
		*sig_len = 64;
		return der_to_raw(der, der_len, sig);
	}
	ok = ok && EVP_DigestSign(ctx, sig, sig_len, (const unsigned char *)input, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : ssl_fail(EXIT_FAIL, "signing failed");
}

int jose_sign(const struct jose_key *k, const char *header, size_t hlen,
	      const void *payload, size_t plen, struct strbuf *out)
{
	unsigned char sig[1024];
	size_t sig_len = sizeof(sig), start = out->len;
	int rc;

	if (!k->has_private)
		BUG("signing with a public key");
	if (k->pkey && EVP_PKEY_get_size(k->pkey) > (int)sizeof(sig))
		return fail(EXIT_FAIL, "key too large to sign with");
	strbuf_add(out, header, hlen);
	strbuf_addch(out, '.');
	base64url_encode(out, payload, plen);
	rc = sign_raw(k, out->buf + start, out->len - start, sig, &sig_len);
	if (rc) {
		strbuf_setlen(out, start);
		return rc;
	}
	strbuf_addch(out, '.');
	base64url_encode(out, sig, sig_len);
	return 0;
}

int jose_split(const char *jws, size_t len, struct jose_parts *p)
{
	const char *d1 = memchr(jws, '.', len), *d2;

	if (!d1)
		return fail(EXIT_REJECTED, "malformed token: not a compact JWS");
	d2 = memchr(d1 + 1, '.', len - (d1 + 1 - jws));
	if (!d2 || memchr(d2 + 1, '.', len - (d2 + 1 - jws)))
		return fail(EXIT_REJECTED, "malformed token: not a compact JWS");
	p->header = jws;
	p->header_len = d1 - jws;
	p->payload = d1 + 1;
	p->payload_len = d2 - (d1 + 1);
	p->sig = d2 + 1;
	p->sig_len = len - (d2 + 1 - jws);
	p->input_len = d2 - jws;
	if (!p->header_len || !p->sig_len)
		return fail(EXIT_REJECTED, "malformed token: empty header or signature");
	return 0;
}

static int verify_hmac(const struct jose_key *k, const char *input, size_t len,
		       const unsigned char *sig, size_t sig_len)
{
	unsigned char mac[32];
	size_t mac_len = sizeof(mac);
	int rc = sign_raw(k, input, len, mac, &mac_len);

	if (rc)
		return rc;
	if (sig_len != mac_len || CRYPTO_memcmp(mac, sig, mac_len))
		return fail(EXIT_REJECTED, "bad signature");
	return 0;
}

int jose_verify(struct jose_key *k, const char *input, size_t len,
		const unsigned char *sig, size_t sig_len)
{
	struct verify_ctx *c;
	unsigned char md[32], der[80];
	int ok, der_len;

	if (k->alg == JOSE_HS256)
		return verify_hmac(k, input, len, sig, sig_len);
	if ((k->alg == JOSE_RS256 && sig_len != (size_t)EVP_PKEY_get_size(k->pkey)) ||
	    (k->alg != JOSE_RS256 && sig_len != 64))
		return fail(EXIT_REJECTED, "bad signature: wrong length");
	c = pool_get(k);
	if (!c)
		return ssl_fail(EXIT_FAIL, "cannot set up verification");
	if (k->alg == JOSE_EDDSA) {
		ok = EVP_DigestVerify(c->md, sig, sig_len, (const unsigned char *)input, len);
	} else {
		ok = EVP_DigestInit_ex2(c->md, sha256(), NULL) == 1 &&
		     EVP_DigestUpdate(c->md, input, len) == 1 &&
		     EVP_DigestFinal_ex(c->md, md, NULL) == 1;
		if (ok && k->alg == JOSE_ES256) {
			der_len = raw_to_der(sig, der);
			/* 1 only: an error is -1, which must not pass */
			ok = der_len > 0 ? EVP_PKEY_verify(c->pk, der, der_len, md, sizeof(md)) : 0;
		} else if (ok) {
			ok = EVP_PKEY_verify(c->pk, sig, sig_len, md, sizeof(md));
		}
	}
	pool_put(k, c);
	if (ok != 1) {
		ERR_clear_error();
		return fail(EXIT_REJECTED, "bad signature");
	}
	return 0;
}
