/*
 * kv-tool: the kv operations for the tests, with nimbus' configuration
 * (NIMBUS_REDIS_URL, NIMBUS_STORE_URL, NIMBUS_CONFIG ...).
 *
 *   kv-tool claim KEY TTL         exit 0 claimed, 5 held
 *   kv-tool incr KEY DELTA TTL    prints the value
 */
#include "common.h"
#include "kv.h"
#include "parse-num.h"

static NORETURN void usage(void)
{
	fprintf(stderr, "usage: kv-tool claim KEY TTL\n   or: kv-tool incr KEY DELTA TTL\n");
	exit(EXIT_USAGE);
}

static int64_t number(const char *s, int64_t min, int64_t max)
{
	int64_t v;

	if (parse_i64(s, min, max, &v))
		die_code(EXIT_USAGE, "'%s' %s", s, parse_num_reason(errno));
	return v;
}

int main(int argc, const char **argv)
{
	struct kv *kv;
	int64_t value;
	int rc;

	set_progname("kv-tool");
	if (argc == 4 && !strcmp(argv[1], "claim")) {
		int64_t ttl = number(argv[3], 1, KV_TTL_MAX);

		rc = kv_open(&kv, NULL);
		if (!rc)
			rc = kv_claim(kv, argv[2], ttl);
		if (!rc)
			rc = -EXIT_BUSY;
	} else if (argc == 5 && !strcmp(argv[1], "incr")) {
		int64_t delta = number(argv[3], INT64_MIN, INT64_MAX);
		int64_t ttl = number(argv[4], 1, KV_TTL_MAX);

		rc = kv_open(&kv, NULL);
		if (!rc)
			rc = kv_incr(kv, argv[2], delta, ttl, &value);
		if (!rc)
			printf("%" PRId64 "\n", value);
	} else {
		usage();
	}
	if (rc == -EXIT_BUSY)
		return EXIT_BUSY;
	if (rc < 0)
		return report_fail(rc);
	kv_close(kv);
	return fflush(stdout) ? EXIT_FAIL : EXIT_OK;
}
