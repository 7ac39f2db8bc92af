#include "common.h"
#include "parse-num.h"

static int digits_u64(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	*end = p;
	if (*p < '0' || *p > '9') {
		errno = EINVAL;
		return -1;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = *p - '0';

		if (v > (UINT64_MAX - d) / 10) {
			/* keep scanning so that garbage is still reported as such */
			while (*p >= '0' && *p <= '9')
				p++;
			*end = p;
			errno = ERANGE;
			return -1;
		}
		v = v * 10 + d;
	}
	*end = p;
	*out = v;
	return 0;
}

int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	const char *end;
	uint64_t v;
	int rc = digits_u64(s, &end, &v);

	if (*end) {
		errno = EINVAL;
		return -1;
	}
	if (rc)
		return -1;
	if (v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	bool neg = *s == '-';
	uint64_t v;
	int64_t r;

	if (neg && min >= 0) {
		/* "-5" for a non-negative value: a number, out of range */
		if (parse_u64(s + 1, UINT64_MAX, &v))
			return -1;
		errno = ERANGE;
		return -1;
	}
	if (parse_u64(s + neg, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &v))
		return -1;
	r = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	if (r < min || r > max) {
		errno = ERANGE;
		return -1;
	}
	*out = r;
	return 0;
}

int parse_duration(const char *s, int64_t *secs)
{
	return parse_i64(s, 0, INT64_MAX / 1000, secs);
}

int parse_size(const char *s, uint64_t *bytes)
{
	const char *end;
	uint64_t v, mult = 1;
	int rc = digits_u64(s, &end, &v);

	switch (*end) {
	case '\0':
		break;
	case 'K': mult = 1ULL << 10; end++; break;
	case 'M': mult = 1ULL << 20; end++; break;
	case 'G': mult = 1ULL << 30; end++; break;
	default:
		errno = EINVAL;
		return -1;
	}
	if (*end) {
		errno = EINVAL;
		return -1;
	}
	if (rc)
		return -1;
	if (v > UINT64_MAX / mult) {
		errno = ERANGE;
		return -1;
	}
	*bytes = v * mult;
	return 0;
}

int parse_rate(const char *s, struct rate *r)
{
	const char *slash = strchr(s, '/');
	char *num;
	int rc;

	if (!slash || slash[1] == '\0' || slash[2] != '\0') {
		errno = EINVAL;
		return -1;
	}
	switch (slash[1]) {
	case 's': r->period = 1; break;
	case 'm': r->period = 60; break;
	case 'h': r->period = 3600; break;
	default:
		errno = EINVAL;
		return -1;
	}
	num = xstrndup(s, slash - s);
	rc = parse_u64(num, 1000000000, &r->count);
	free(num);
	if (!rc && !r->count) {
		errno = ERANGE;
		return -1;
	}
	return rc;
}

void format_rate(struct strbuf *sb, const struct rate *r)
{
	strbuf_addf(sb, "%" PRIu64 "/%c", r->count,
		    r->period == 1 ? 's' : r->period == 60 ? 'm' : 'h');
}

const char *parse_num_reason(int err)
{
	return err == ERANGE ? "is out of range" : "is not a number";
}
