#include "common.h"
#include "base64.h"
#include "parse-num.h"
#include "secret-hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define SALT_LEN 16
#define HASH_LEN 32
#define PREFIX "pbkdf2-sha256$"

static void derive(const char *secret, size_t len, const unsigned char *salt, size_t salt_len,
		   int iterations, unsigned char out[HASH_LEN])
{
	if (!PKCS5_PBKDF2_HMAC(secret, len, salt, salt_len, iterations, EVP_sha256(), HASH_LEN, out))
		die("PBKDF2 failed");
}

void secret_hash(const char *secret, size_t len, struct strbuf *out)
{
	unsigned char salt[SALT_LEN], hash[HASH_LEN];

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		die("no randomness for a salt");
	derive(secret, len, salt, sizeof(salt), SECRET_HASH_ITERATIONS, hash);
	strbuf_addf(out, PREFIX "%d$", SECRET_HASH_ITERATIONS);
	base64url_encode(out, salt, sizeof(salt));
	strbuf_addch(out, '$');
	base64url_encode(out, hash, sizeof(hash));
}

bool secret_hash_check(const char *stored, const char *secret, size_t len)
{
	unsigned char salt[BASE64URL_DECODED_MAX(64)], want[BASE64URL_DECODED_MAX(64)], got[HASH_LEN];
	const char *p, *s1, *s2;
	char iter[16];
	int64_t n;
	ssize_t salt_len, want_len;
	bool ok;

	if (!skip_prefix(stored, PREFIX, &p) || !(s1 = strchr(p, '$')) || !(s2 = strchr(s1 + 1, '$')) ||
	    (size_t)(s1 - p) >= sizeof(iter) || s2 - s1 - 1 > 64 || strlen(s2 + 1) > 64)
		return false;
	memcpy(iter, p, s1 - p);
	iter[s1 - p] = '\0';
	/* a bound on the work a stored value may ask for */
	if (parse_i64(iter, 1, 10 * SECRET_HASH_ITERATIONS, &n))
		return false;
	salt_len = base64url_decode_mem(salt, s1 + 1, s2 - s1 - 1);
	want_len = base64url_decode_mem(want, s2 + 1, strlen(s2 + 1));
	if (salt_len <= 0 || want_len != HASH_LEN)
		return false;
	derive(secret, len, salt, salt_len, n, got);
	ok = !CRYPTO_memcmp(got, want, HASH_LEN);
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}
