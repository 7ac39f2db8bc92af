#include "common.h"
#include "cpulist.h"

unsigned cpuset_count(const struct cpuset *s)
{
	unsigned n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(s->bits); i++)
		n += __builtin_popcountll(s->bits[i]);
	return n;
}

bool cpuset_empty(const struct cpuset *s)
{
	return cpuset_next(s, 0) < 0;
}

int cpuset_next(const struct cpuset *s, int from)
{
	for (unsigned i = from < 0 ? 0 : from; i < CPUSET_MAX; i = (i / 64 + 1) * 64) {
		uint64_t w = s->bits[i / 64] >> (i % 64);

		if (w)
			return i + __builtin_ctzll(w);
	}
	return -1;
}

void cpuset_or(struct cpuset *dst, const struct cpuset *src)
{
	for (size_t i = 0; i < ARRAY_SIZE(dst->bits); i++)
		dst->bits[i] |= src->bits[i];
}

void cpuset_and(struct cpuset *dst, const struct cpuset *src)
{
	for (size_t i = 0; i < ARRAY_SIZE(dst->bits); i++)
		dst->bits[i] &= src->bits[i];
}

void cpuset_andnot(struct cpuset *dst, const struct cpuset *src)
{
	for (size_t i = 0; i < ARRAY_SIZE(dst->bits); i++)
		dst->bits[i] &= ~src->bits[i];
}

bool cpuset_subset(const struct cpuset *a, const struct cpuset *of)
{
	for (size_t i = 0; i < ARRAY_SIZE(a->bits); i++)
		if (a->bits[i] & ~of->bits[i])
			return false;
	return true;
}

bool cpuset_intersects(const struct cpuset *a, const struct cpuset *b)
{
	for (size_t i = 0; i < ARRAY_SIZE(a->bits); i++)
		if (a->bits[i] & b->bits[i])
			return true;
	return false;
}

/* A number below CPUSET_MAX at *p, which moves past it. */
static int number(const char **p, unsigned *out)
{
	unsigned v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9') {
		errno = EINVAL;
		return -1;
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v >= CPUSET_MAX) {
			errno = ERANGE;
			return -1;
		}
	}
	*p = s;
	*out = v;
	return 0;
}

int cpulist_parse(const char *s, struct cpuset *out)
{
	const char *p = s;

	cpuset_zero(out);
	if (!strcmp(s, "\n"))
		return 0;
	while (*p && strcmp(p, "\n")) {
		unsigned lo, hi;

		if (number(&p, &lo))
			return -1;
		hi = lo;
		if (*p == '-') {
			p++;
			if (number(&p, &hi))
				return -1;
			if (hi < lo) {
				errno = EINVAL;
				return -1;
			}
		}
		for (unsigned c = lo; c <= hi; c++)
			cpuset_add(out, c);
		if (*p == ',' && p[1] && p[1] != '\n')
			p++;
		else if (*p && strcmp(p, "\n")) {
			errno = EINVAL;
			return -1;
		}
	}
	return 0;
}

void cpulist_format(struct strbuf *sb, const struct cpuset *s)
{
	const char *sep = "";
	int lo = cpuset_next(s, 0);

	while (lo >= 0) {
		int hi = lo;

		while (cpuset_has(s, hi + 1))
			hi++;
		if (hi == lo)
			strbuf_addf(sb, "%s%d", sep, lo);
		else
			strbuf_addf(sb, "%s%d-%d", sep, lo, hi);
		sep = ",";
		lo = cpuset_next(s, hi + 1);
	}
}
