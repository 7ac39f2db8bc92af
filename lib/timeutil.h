#ifndef TIMEUTIL_H
#define TIMEUTIL_H

/* Wall-clock milliseconds since the epoch. */
int64_t now_ms(void);
/* Monotonic milliseconds, for timeouts and durations. */
int64_t mono_ms(void);
/* Monotonic seconds as a double, for latency figures. */
double mono_seconds(void);

/* RFC 3339 UTC: 2026-11-28T22:06:12Z and ...12.345Z */
void fmt_rfc3339(struct strbuf *sb, int64_t secs);
void fmt_rfc3339_ms(struct strbuf *sb, int64_t ms);
/*
 * Parse RFC 3339 (a 'Z' or a numeric offset; fractions are accepted and
 * dropped) into seconds since the epoch. Returns 0, or -1 when malformed.
 */
int parse_rfc3339(const char *s, int64_t *secs);

/* Sleep for ms milliseconds, resuming after signals. */
void sleep_ms(int64_t ms);

#endif
