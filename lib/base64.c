#include "common.h"
#include "base64.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * Each character's value plus 64; 0 for characters outside the alphabet,
 * so that value(c) is 64 for them and 0-63 for the others.
 */
static const unsigned char table[256] = {
	['A'] = 64, ['B'] = 65, ['C'] = 66, ['D'] = 67, ['E'] = 68, ['F'] = 69,
	['G'] = 70, ['H'] = 71, ['I'] = 72, ['J'] = 73, ['K'] = 74, ['L'] = 75,
	['M'] = 76, ['N'] = 77, ['O'] = 78, ['P'] = 79, ['Q'] = 80, ['R'] = 81,
	['S'] = 82, ['T'] = 83, ['U'] = 84, ['V'] = 85, ['W'] = 86, ['X'] = 87,
	['Y'] = 88, ['Z'] = 89, ['a'] = 90, ['b'] = 91, ['c'] = 92, ['d'] = 93,
	['e'] = 94, ['f'] = 95, ['g'] = 96, ['h'] = 97, ['i'] = 98, ['j'] = 99,
	['k'] = 100, ['l'] = 101, ['m'] = 102, ['n'] = 103, ['o'] = 104, ['p'] = 105,
	['q'] = 106, ['r'] = 107, ['s'] = 108, ['t'] = 109, ['u'] = 110, ['v'] = 111,
	['w'] = 112, ['x'] = 113, ['y'] = 114, ['z'] = 115, ['0'] = 116, ['1'] = 117,
	['2'] = 118, ['3'] = 119, ['4'] = 120, ['5'] = 121, ['6'] = 122, ['7'] = 123,
	['8'] = 124, ['9'] = 125, ['-'] = 126, ['_'] = 127,
};

static inline unsigned value(unsigned char c)
{
	return table[c] ^ 64;
}

void base64url_encode(struct strbuf *sb, const void *data, size_t len)
{
	const unsigned char *p = data;
	char *o;
	size_t i = 0;

	strbuf_grow(sb, (len + 2) / 3 * 4);
	o = sb->buf + sb->len;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
		*o++ = alphabet[v & 63];
	}
	if (len - i == 1) {
		*o++ = alphabet[p[i] >> 2];
		*o++ = alphabet[(p[i] & 3) << 4];
	} else if (len - i == 2) {
		*o++ = alphabet[p[i] >> 2];
		*o++ = alphabet[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = alphabet[(p[i + 1] & 15) << 2];
	}
	strbuf_setlen(sb, o - sb->buf);
}

/*
 * The unused bits are folded into a check rather than tested per byte,
 * since tokens are decoded on every request.
 */
ssize_t base64url_decode_mem(unsigned char *out, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char *o = out;
	unsigned bad = 0;
	size_t i = 0;

	if (len % 4 == 1)
		return -1;
	for (; i + 4 <= len; i += 4) {
		unsigned a = value(s[i]), b = value(s[i + 1]), c = value(s[i + 2]), d = value(s[i + 3]);

		bad |= a | b | c | d;
		*o++ = a << 2 | b >> 4;
		*o++ = b << 4 | c >> 2;
		*o++ = c << 6 | d;
	}
	if (len - i == 2) {
		unsigned a = value(s[i]), b = value(s[i + 1]);

		bad |= a | b | (b & 15 ? 64 : 0);
		*o++ = a << 2 | b >> 4;
	} else if (len - i == 3) {
		unsigned a = value(s[i]), b = value(s[i + 1]), c = value(s[i + 2]);

		bad |= a | b | c | (c & 3 ? 64 : 0);
		*o++ = a << 2 | b >> 4;
		*o++ = b << 4 | c >> 2;
	}
	if (bad & 64)
		return -1;
	return o - out;
}

int base64url_decode(struct strbuf *sb, const char *s, size_t len)
{
	ssize_t n;

	strbuf_grow(sb, BASE64URL_DECODED_MAX(len));
	n = base64url_decode_mem((unsigned char *)sb->buf + sb->len, s, len);
	if (n < 0) {
		sb->buf[sb->len] = '\0';
		return -1;
	}
	strbuf_setlen(sb, sb->len + n);
	return 0;
}
