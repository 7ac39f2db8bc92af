#ifndef JOSE_H
#define JOSE_H

#include <jansson.h>
#include <openssl/evp.h>

/*
 * JOSE primitives: JWS compact serialisation (RFC 7515) signed with
 * EdDSA/Ed25519 (RFC 8037), ES256 (raw R||S, RFC 7518 §3.4) or RS256,
 * JWK export and import (RFC 7517) and thumbprints (RFC 7638).
 *
 * HS256 is here only to check the RFC 7515 example: a key of the keyset
 * is never an HMAC key, so no token signed with it is ever accepted.
 *
 * Functions return 0 or -code after fail(): EXIT_REJECTED for a bad
 * signature or an unusable key, EXIT_FAIL for anything else.
 */

enum jose_alg {
	JOSE_ALG_NONE,		/* "none" and every name we do not know */
	JOSE_EDDSA,
	JOSE_ES256,
	JOSE_RS256,
	JOSE_HS256,
};

const char *jose_alg_name(enum jose_alg alg);
enum jose_alg jose_alg_parse(const char *name, size_t len);

/* An RFC 7638 SHA-256 thumbprint: 43 base64url characters. */
#define JOSE_KID_LEN 43

struct jose_pool;

struct jose_key {
	enum jose_alg alg;
	EVP_PKEY *pkey;			/* NULL for HS256 */
	unsigned char *secret;		/* HS256 only */
	size_t secret_len;
	bool has_private;
	char kid[JOSE_KID_LEN + 1];	/* the thumbprint of the public key */
	/* The encoded protected header of JWTs it signs: alg, kid, typ JWT. */
	char *jwt_header;
	struct jose_pool *pool;		/* verification contexts, reused */
};

void jose_key_free(struct jose_key *k);

/* A new private key: Ed25519, P-256 or RSA 2048. */
int jose_key_generate(enum jose_alg alg, struct jose_key **out);
/*
 * A private key from PEM (PKCS#8 or the traditional forms); its type
 * gives the algorithm, which must be want unless want is JOSE_ALG_NONE.
 * Encrypted keys, other curves and RSA keys under 2048 bits are refused.
 */
int jose_key_from_pem(const char *pem, size_t len, enum jose_alg want, struct jose_key **out);
/* The private key as PKCS#8 PEM (a secret: release with strbuf_release_secret). */
int jose_key_private_pem(const struct jose_key *k, struct strbuf *out);

/*
 * A key from a JWK: public EC P-256, OKP Ed25519 or RSA keys, an Ed25519
 * private key ("d") and an "oct" HMAC key. An "alg" member must agree.
 */
int jose_key_from_jwk(json_t *jwk, struct jose_key **out);
/* The public JWK, with kid, alg and use. */
json_t *jose_key_jwk(const struct jose_key *k);
/* The RFC 7638 thumbprint of a JWK (its required members only). */
int jose_thumbprint(json_t *jwk, char out[JOSE_KID_LEN + 1]);

/* Append header.payload.signature; header is the protected header, encoded. */
int jose_sign(const struct jose_key *k, const char *header, size_t hlen,
	      const void *payload, size_t plen, struct strbuf *out);

/* The three segments of a compact JWS, still encoded. */
struct jose_parts {
	const char *header, *payload, *sig;
	size_t header_len, payload_len, sig_len;
	size_t input_len;		/* header.payload: the signing input */
};
/* Exactly two dots, no empty header or signature; -EXIT_REJECTED. */
int jose_split(const char *jws, size_t len, struct jose_parts *parts);
/* Check sig over the signing input with k; -EXIT_REJECTED when bad. */
int jose_verify(struct jose_key *k, const char *input, size_t input_len,
		const unsigned char *sig, size_t sig_len);

#endif
