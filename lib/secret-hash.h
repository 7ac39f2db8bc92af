#ifndef SECRET_HASH_H
#define SECRET_HASH_H

/*
 * Hashes of secrets that are checked but never shown again (the
 * registry's robot accounts): PBKDF2-HMAC-SHA256 over a random salt,
 * stored as "pbkdf2-sha256$ITERATIONS$SALT$HASH" (base64url), so that a
 * copy of the store does not give the secrets away, even short ones.
 */

#define SECRET_HASH_ITERATIONS 100000

void secret_hash(const char *secret, size_t len, struct strbuf *out);
/* Whether secret is the one stored hashed (a malformed stored value matches nothing). */
bool secret_hash_check(const char *stored, const char *secret, size_t len);

#endif
