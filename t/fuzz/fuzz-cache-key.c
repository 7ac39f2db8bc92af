/*
 * Cache keys from request paths: whatever is accepted is 1-1024 bytes of
 * [A-Za-z0-9._-/] in non-empty segments, none "." or "..", and parses
 * again to itself (decoding happens once, and only once).
 */
#include "common.h"
#include "cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool segments_ok(const char *k)
{
	for (const char *s = k;; s++) {
		const char *e = strchrnul(s, '/');
		size_t n = e - s;

		if (!n || (n == 1 && *s == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		if (!*e)
			return true;
		s = e;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf key = STRBUF_INIT, again = STRBUF_INIT;
	char *raw = xmemdup(data, size);

	if (!cache_key_parse(raw, &key)) {
		if (!key.len || key.len > CACHE_KEY_MAX || strlen(key.buf) != key.len ||
		    strspn(key.buf, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/") != key.len ||
		    !segments_ok(key.buf))
			abort();
		if (cache_key_parse(key.buf, &again) || strcmp(again.buf, key.buf))
			abort();
	}
	free(raw);
	strbuf_release(&key);
	strbuf_release(&again);
	return 0;
}
