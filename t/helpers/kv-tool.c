/*
 * kv-tool: the kv operations for the tests, with nimbus' configuration
 * (NIMBUS_REDIS_URL, NIMBUS_STORE_URL, NIMBUS_CONFIG ...).
 *
 *   kv-tool claim KEY TTL         exit 0 claimed, 5 held
 *   kv-tool incr KEY DELTA TTL    prints the value
 *   kv-tool driver                prints the driver kv_open() chose
 */
#include "common.h"
#include "kv.h"
#include "parse-num.h"

static NORETURN void usage(void)
{
	fprintf(stderr, "usage: kv-tool claim KEY TTL\n   or: kv-tool incr KEY DELTA TTL\n"
		"   or: kv-tool driver\n");
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
	bool claim = argc == 4 && !strcmp(argv[1], "claim");
	bool incr = argc == 5 && !strcmp(argv[1], "incr");
	bool driver = argc == 2 && !strcmp(argv[1], "driver");
	int64_t delta = 0, ttl = 0, value;
	struct kv *kv;
	int rc;

	set_progname("kv-tool");
	if (!claim && !incr && !driver)
		usage();
	if (incr)
		delta = number(argv[3], INT64_MIN, INT64_MAX);
	if (!driver)
		ttl = number(argv[argc - 1], 1, KV_TTL_MAX);
	rc = kv_open(&kv, NULL);
	if (rc)
		return report_fail(rc);
	if (driver)
		printf("%s\n", kv_driver(kv));
	else if (claim)
		rc = kv_claim(kv, argv[2], ttl);
	else
		rc = kv_incr(kv, argv[2], delta, ttl, &value);
	kv_close(kv);
	if (rc < 0)
		return report_fail(rc);
	if (claim)
		return rc ? EXIT_OK : EXIT_BUSY;
	if (incr)
		printf("%" PRId64 "\n", value);
	return fflush(stdout) ? EXIT_FAIL : EXIT_OK;
}
