#ifndef BASE64_H
#define BASE64_H

/*
 * base64url without padding (RFC 4648 §5), as JOSE uses it (RFC 7515 §2).
 * Decoding is strict: only the URL-safe alphabet, no padding, no blanks,
 * and the unused low bits of the last character must be zero, so that
 * every byte string has exactly one encoding.
 */

/* The decoded size of len characters, at most. */
#define BASE64URL_DECODED_MAX(len) ((len) / 4 * 3 + 2)

void base64url_encode(struct strbuf *sb, const void *data, size_t len);
/* Decode into out (BASE64URL_DECODED_MAX(len) bytes); the length, or -1. */
ssize_t base64url_decode_mem(unsigned char *out, const char *s, size_t len);
/* Append the decoded bytes to sb; 0, or -1 (sb unchanged) when malformed. */
int base64url_decode(struct strbuf *sb, const char *s, size_t len);

#endif
