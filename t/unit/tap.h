#ifndef TAP_H
#define TAP_H

/* A minimal TAP producer for the C unit tests, run under prove. */
#include "common.h"

static int tap_n UNUSED, tap_failed UNUSED;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) tap_is_int((int64_t)(got), (int64_t)(want), __FILE__, __LINE__, __VA_ARGS__)

static UNUSED void PRINTF(4, 5) tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", pass ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		printf("#   failed at %s:%d\n", file, line);
		tap_failed++;
	}
}

static UNUSED void PRINTF(5, 6) tap_is_str(const char *got, const char *want, const char *file, int line,
				    const char *fmt, ...)
{
	int pass = (!got && !want) || (got && want && !strcmp(got, want));
	va_list ap;

	printf("%s %d - ", pass ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		printf("#   failed at %s:%d\n#     got: '%s'\n#    want: '%s'\n", file, line,
		       got ? got : "(null)", want ? want : "(null)");
		tap_failed++;
	}
}

static UNUSED void PRINTF(5, 6) tap_is_int(int64_t got, int64_t want, const char *file, int line,
				    const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", got == want ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (got != want) {
		printf("#   failed at %s:%d\n#     got: %" PRId64 "\n#    want: %" PRId64 "\n", file, line,
		       got, want);
		tap_failed++;
	}
}

/* Whether text has line as one of its lines, whole. */
static UNUSED bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static UNUSED int done_testing(void)
{
	printf("1..%d\n", tap_n);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

#endif
