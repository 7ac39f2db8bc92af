/*
 * The strict number, size, rate and time parsers: what they accept prints
 * back to the same text, and they never read past the string.
 */
#include "common.h"
#include "parse-num.h"
#include "timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmemdup(data, size);
	struct strbuf sb = STRBUF_INIT;
	int64_t i, t;
	uint64_t u;
	struct rate r;

	if (!parse_i64(s, INT64_MIN, INT64_MAX, &i)) {
		strbuf_addf(&sb, "%" PRId64, i);
		/* leading zeros are the only other spelling */
		if (strcmp(sb.buf, s) && (s[0] != '0' && strncmp(s, "-0", 2)))
			abort();
	}
	if (!parse_size(s, &u) && !strchr("KMG0123456789", s[strlen(s) - 1]))
		abort();
	if (!parse_rate(s, &r)) {
		strbuf_reset(&sb);
		format_rate(&sb, &r);
		if (r.count == 0 || (strcmp(sb.buf, s) && s[0] != '0'))
			abort();
	}
	if (!parse_rfc3339(s, &t)) {
		strbuf_reset(&sb);
		fmt_rfc3339(&sb, t);
	}
	strbuf_release(&sb);
	free(s);
	return 0;
}
