#include "tap.h"
#include "parse-num.h"
#include "timeutil.h"

static void test_i64(void)
{
	int64_t v = 0;

	ok(!parse_i64("0", 0, 10, &v) && v == 0, "0");
	ok(!parse_i64("10", 0, 10, &v) && v == 10, "upper bound included");
	ok(parse_i64("11", 0, 10, &v) && errno == ERANGE, "above the range");
	ok(parse_i64("-1", 0, 10, &v) && errno == ERANGE, "negative where not allowed is out of range");
	ok(!parse_i64("-5", -10, 10, &v) && v == -5, "negative where allowed");
	ok(!parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v) && v == INT64_MIN, "INT64_MIN");
	ok(!parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v) && v == INT64_MAX, "INT64_MAX");
	ok(parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v) && errno == ERANGE, "overflow");
	ok(parse_i64("99999999999999999999999", 0, INT64_MAX, &v) && errno == ERANGE, "huge");
	ok(parse_i64("99999999999999999999999x", 0, INT64_MAX, &v) && errno == EINVAL,
	   "huge with garbage is garbage");
	ok(parse_i64("", 0, 10, &v) && errno == EINVAL, "empty");
	ok(parse_i64("abc", 0, 10, &v) && errno == EINVAL, "letters");
	ok(parse_u64("x1", 10, (uint64_t *)&v) && errno == EINVAL, "a letter first");
	ok(parse_i64(" 1", 0, 10, &v) && errno == EINVAL, "leading blank");
	ok(parse_i64("1 ", 0, 10, &v) && errno == EINVAL, "trailing blank");
	ok(parse_i64("+1", 0, 10, &v) && errno == EINVAL, "plus sign");
	ok(parse_i64("1x", 0, 10, &v) && errno == EINVAL, "trailing garbage");
	ok(parse_i64("0x10", 0, 100, &v) && errno == EINVAL, "hex");
	ok(parse_i64("1e3", 0, 10000, &v) && errno == EINVAL, "exponent");
	ok(parse_i64("-", -10, 10, &v) && errno == EINVAL, "a lone minus");
	ok(parse_i64("--1", -10, 10, &v) && errno == EINVAL, "two minus signs");
}

static void test_duration(void)
{
	int64_t s;

	ok(!parse_duration("300", &s) && s == 300, "seconds");
	ok(parse_duration("5m", &s) && errno == EINVAL, "suffixes are not durations");
	ok(parse_duration("-1", &s), "negative");
	ok(parse_duration("1.5", &s) && errno == EINVAL, "fractions");
}

static void test_size(void)
{
	uint64_t b;

	ok(!parse_size("0", &b) && b == 0, "0");
	ok(!parse_size("512", &b) && b == 512, "bytes");
	ok(!parse_size("4K", &b) && b == 4096, "K");
	ok(!parse_size("3M", &b) && b == 3ULL << 20, "M");
	ok(!parse_size("2G", &b) && b == 2ULL << 30, "G");
	ok(parse_size("1k", &b) && errno == EINVAL, "lower-case suffix");
	ok(parse_size("1KB", &b) && errno == EINVAL, "two-letter suffix");
	ok(parse_size("1T", &b) && errno == EINVAL, "unknown suffix");
	ok(parse_size("K", &b) && errno == EINVAL, "suffix alone");
	ok(parse_size("-1K", &b) && errno == EINVAL, "negative");
	ok(parse_size("17179869184G", &b) && errno == ERANGE, "overflow");
}

static void test_rate(void)
{
	struct rate r;
	struct strbuf sb = STRBUF_INIT;

	ok(!parse_rate("10/s", &r) && r.count == 10 && r.period == 1, "N/s");
	ok(!parse_rate("50/m", &r) && r.count == 50 && r.period == 60, "N/m");
	ok(!parse_rate("7/h", &r) && r.count == 7 && r.period == 3600, "N/h");
	format_rate(&sb, &r);
	is_str(sb.buf, "7/h", "format_rate round-trips");
	ok(parse_rate("0/s", &r) && errno == ERANGE, "zero");
	ok(parse_rate("10", &r) && errno == EINVAL, "no period");
	ok(parse_rate("10/d", &r) && errno == EINVAL, "unknown period");
	ok(parse_rate("10/ss", &r) && errno == EINVAL, "long period");
	ok(parse_rate("/s", &r) && errno == EINVAL, "no count");
	ok(parse_rate("1.5/s", &r) && errno == EINVAL, "fraction");
	ok(parse_rate("10/", &r) && errno == EINVAL, "empty period");
	strbuf_release(&sb);
}

static void test_rfc3339(void)
{
	struct strbuf sb = STRBUF_INIT;
	int64_t t;

	ok(!parse_rfc3339("1970-01-01T00:00:00Z", &t) && t == 0, "epoch");
	ok(!parse_rfc3339("2026-11-28T22:06:12Z", &t) && t == 1795903572, "a date");
	ok(!parse_rfc3339("2026-11-28T23:06:12+01:00", &t) && t == 1795903572, "an offset");
	ok(!parse_rfc3339("2026-11-28T22:06:12.123456Z", &t) && t == 1795903572, "a fraction");
	ok(!parse_rfc3339("2024-02-29T00:00:00Z", &t), "a leap day");
	ok(parse_rfc3339("2023-02-29T00:00:00Z", &t), "not a leap year");
	ok(parse_rfc3339("2026-13-01T00:00:00Z", &t), "month 13");
	ok(parse_rfc3339("2026-11-28T22:06:12", &t), "no zone");
	ok(parse_rfc3339("2026-11-28T22:06:12Zx", &t), "trailing garbage");
	ok(parse_rfc3339("2026-11-28", &t), "date only");
	fmt_rfc3339(&sb, 1795903572);
	is_str(sb.buf, "2026-11-28T22:06:12Z", "format");
	strbuf_reset(&sb);
	fmt_rfc3339_ms(&sb, 1795903572042);
	is_str(sb.buf, "2026-11-28T22:06:12.042Z", "format with milliseconds");
	strbuf_release(&sb);
}

int main(void)
{
	test_i64();
	test_duration();
	test_size();
	test_rate();
	test_rfc3339();
	return done_testing();
}
