#include "common.h"
#include "http-range.h"
#include "parse-num.h"

/* Digits only, as parse_u64 wants, but from a piece of a string. */
static bool number(const char *s, size_t n, uint64_t *out)
{
	char buf[24];

	if (!n || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return !parse_u64(buf, UINT64_MAX, out);
}

static const char *skip_ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

enum http_range http_range_parse(const char *header, uint64_t size, uint64_t *first, uint64_t *len)
{
	const char *spec, *dash, *end;
	uint64_t a, b;

	if (!header || strncasecmp(header, "bytes=", 6))
		return HTTP_RANGE_NONE;
	spec = skip_ows(header + 6);
	if (strchr(spec, ','))
		return HTTP_RANGE_NONE;
	dash = strchr(spec, '-');
	if (!dash)
		return HTTP_RANGE_NONE;
	end = dash + 1 + strcspn(dash + 1, " \t");
	if (*skip_ows(end))
		return HTTP_RANGE_NONE;
	if (dash == spec) {
		/* bytes=-N: the last N bytes */
		if (!number(dash + 1, end - dash - 1, &b))
			return HTTP_RANGE_NONE;
		if (!b || !size)
			return HTTP_RANGE_UNSATISFIABLE;
		*len = b < size ? b : size;
		*first = size - *len;
		return HTTP_RANGE_PARTIAL;
	}
	if (!number(spec, dash - spec, &a))
		return HTTP_RANGE_NONE;
	if (end == dash + 1) {
		b = UINT64_MAX;
	} else if (!number(dash + 1, end - dash - 1, &b) || b < a) {
		return HTTP_RANGE_NONE;
	}
	if (a >= size)
		return HTTP_RANGE_UNSATISFIABLE;
	if (b >= size)
		b = size - 1;
	*first = a;
	*len = b - a + 1;
	return HTTP_RANGE_PARTIAL;
}

void http_content_range(struct strbuf *sb, uint64_t first, uint64_t len, uint64_t size)
{
	if (!len)
		strbuf_addf(sb, "bytes */%" PRIu64, size);
	else
		strbuf_addf(sb, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, first + len - 1, size);
}
