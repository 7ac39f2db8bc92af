#ifndef CPULIST_H
#define CPULIST_H

/*
 * Sets of CPUs (or NUMA nodes) and their list form, as the kernel
 * writes it in sysfs and cpuset files: "0-3,8,10-11". A set holds the
 * numbers 0 to CPUSET_MAX - 1.
 */
#define CPUSET_MAX 4096

struct cpuset {
	uint64_t bits[CPUSET_MAX / 64];
};

static inline void cpuset_zero(struct cpuset *s)
{
	memset(s, 0, sizeof(*s));
}

static inline void cpuset_add(struct cpuset *s, unsigned cpu)
{
	s->bits[cpu / 64] |= UINT64_C(1) << (cpu % 64);
}

static inline void cpuset_del(struct cpuset *s, unsigned cpu)
{
	s->bits[cpu / 64] &= ~(UINT64_C(1) << (cpu % 64));
}

static inline bool cpuset_has(const struct cpuset *s, unsigned cpu)
{
	return cpu < CPUSET_MAX && (s->bits[cpu / 64] >> (cpu % 64)) & 1;
}

unsigned cpuset_count(const struct cpuset *s);
bool cpuset_empty(const struct cpuset *s);
/* The smallest member at or after from, or -1. */
int cpuset_next(const struct cpuset *s, int from);
#define cpuset_for_each(cpu, s) \
	for (int cpu = cpuset_next((s), 0); cpu >= 0; cpu = cpuset_next((s), cpu + 1))

void cpuset_or(struct cpuset *dst, const struct cpuset *src);
void cpuset_and(struct cpuset *dst, const struct cpuset *src);
void cpuset_andnot(struct cpuset *dst, const struct cpuset *src);
bool cpuset_subset(const struct cpuset *a, const struct cpuset *of);
bool cpuset_intersects(const struct cpuset *a, const struct cpuset *b);

/*
 * Parse a list: ranges and numbers separated by commas, no blanks, an
 * empty string (or one newline, as sysfs ends its files) is the empty
 * set. Returns 0, or -1 with errno EINVAL (malformed) or ERANGE.
 */
int cpulist_parse(const char *s, struct cpuset *out);
/* The shortest list form: "0-3,8"; "" for the empty set. */
void cpulist_format(struct strbuf *sb, const struct cpuset *s);

#endif
