#ifndef PARSE_NUM_H
#define PARSE_NUM_H

/*
 * Strict parsers for numbers from the command line, the configuration and
 * the network: decimal digits only (a leading '-' where negatives are
 * allowed), no blanks, no trailing garbage, ranges checked.
 * They return 0, or -1 with errno EINVAL (malformed) or ERANGE.
 */

int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
int parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Whole seconds, 0 or more. */
int parse_duration(const char *s, int64_t *secs);

/* Bytes, with an optional K, M or G suffix (powers of 1024). */
int parse_size(const char *s, uint64_t *bytes);

/* N/s, N/m or N/h. */
struct rate {
	uint64_t count;
	int64_t period;		/* seconds: 1, 60 or 3600 */
};
int parse_rate(const char *s, struct rate *r);
void format_rate(struct strbuf *sb, const struct rate *r);

/* "is not a number" or "is out of range", for messages. */
const char *parse_num_reason(int err);

#endif
