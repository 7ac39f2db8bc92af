/*
 * kv-tool: the kv operations for the tests, with nimbus' configuration
 * (NIMBUS_REDIS_URL, NIMBUS_STORE_URL, NIMBUS_CONFIG ...).
 *
 *   kv-tool claim KEY TTL         exit 0 claimed, 5 held
 *   kv-tool claim-all TTL KEY...  all or none: exit 0 claimed, 5 one was held
 *   kv-tool unclaim KEY...        give the claims up
 *   kv-tool incr KEY DELTA TTL    prints the value
 *   kv-tool driver                prints the driver kv_open() chose
 *   kv-tool breaker OP KEY [THRESHOLD OPEN_MS PROBE_MS]
 *                                 OP: ask (exit 0 may go, 5 refused),
 *                                 success, failure, peek, reset; prints
 *                                 "STATE FAILURES RETRY_MS [probing]"
 */
#include "common.h"
#include "kv.h"
#include "parse-num.h"

static NORETURN void usage(void)
{
	fprintf(stderr, "usage: kv-tool claim KEY TTL\n   or: kv-tool claim-all TTL KEY...\n"
		"   or: kv-tool unclaim KEY...\n   or: kv-tool incr KEY DELTA TTL\n"
		"   or: kv-tool driver\n"
		"   or: kv-tool breaker ask|success|failure|peek|reset KEY [THRESHOLD OPEN_MS PROBE_MS]\n");
	exit(EXIT_USAGE);
}

static int64_t number(const char *s, int64_t min, int64_t max)
{
	int64_t v;

	if (parse_i64(s, min, max, &v))
		die_code(EXIT_USAGE, "'%s' %s", s, parse_num_reason(errno));
	return v;
}

static int breaker(struct kv *kv, int argc, const char **argv)
{
	struct kv_breaker_conf conf = { 5, 60000, 30000 };
	const char *op = argv[2], *key = argv[3];
	struct kv_breaker b;
	int rc;

	if (argc == 7) {
		conf.threshold = number(argv[4], 1, INT32_MAX);
		conf.open_ms = number(argv[5], 1, INT32_MAX);
		conf.probe_ms = number(argv[6], 1, INT32_MAX);
	}
	if (!strcmp(op, "ask"))
		rc = kv_breaker_ask(kv, key, &conf, &b);
	else if (!strcmp(op, "success") || !strcmp(op, "failure"))
		rc = kv_breaker_record(kv, key, &conf, !strcmp(op, "success"), &b);
	else if (!strcmp(op, "reset") || !strcmp(op, "peek"))
		rc = strcmp(op, "reset") ? 0 : kv_breaker_reset(kv, key);
	else
		usage();
	if (!rc && (!strcmp(op, "reset") || !strcmp(op, "peek")))
		rc = kv_breaker_peek(kv, key, &b);
	if (rc < 0)
		return rc;
	printf("%s %" PRId64 " %" PRId64 "%s\n", kv_breaker_state_name(b.state), b.failures,
	       b.retry_ms, b.probing ? " probing" : "");
	return strcmp(op, "ask") || rc ? EXIT_OK : EXIT_BUSY;
}

int main(int argc, const char **argv)
{
	bool claim = argc == 4 && !strcmp(argv[1], "claim");
	bool incr = argc == 5 && !strcmp(argv[1], "incr");
	bool driver = argc == 2 && !strcmp(argv[1], "driver");
	bool brk = (argc == 4 || argc == 7) && !strcmp(argv[1], "breaker");
	bool claim_all = argc >= 4 && argc <= 3 + KV_CLAIM_MAX && !strcmp(argv[1], "claim-all");
	bool unclaim = argc >= 3 && argc <= 2 + KV_CLAIM_MAX && !strcmp(argv[1], "unclaim");
	int64_t delta = 0, ttl = 0, value;
	struct kv *kv;
	int rc;

	set_progname("kv-tool");
	if (!claim && !incr && !driver && !brk && !claim_all && !unclaim)
		usage();
	if (incr)
		delta = number(argv[3], INT64_MIN, INT64_MAX);
	if (claim || incr)
		ttl = number(argv[argc - 1], 1, KV_TTL_MAX);
	if (claim_all)
		ttl = number(argv[2], 1, KV_TTL_MAX);
	rc = kv_open(&kv, NULL);
	if (rc)
		return report_fail(rc);
	if (driver)
		printf("%s\n", kv_driver(kv));
	else if (brk)
		rc = breaker(kv, argc, argv);
	else if (claim)
		rc = kv_claim(kv, argv[2], ttl);
	else if (claim_all)
		rc = kv_claim_all(kv, argv + 3, argc - 3, ttl);
	else if (unclaim)
		rc = kv_unclaim(kv, argv + 2, argc - 2);
	else
		rc = kv_incr(kv, argv[2], delta, ttl, &value);
	kv_close(kv);
	if (rc < 0)
		return report_fail(rc);
	if (brk)
		return fflush(stdout) ? EXIT_FAIL : rc;
	if (claim || claim_all)
		return rc ? EXIT_OK : EXIT_BUSY;
	if (incr)
		printf("%" PRId64 "\n", value);
	return fflush(stdout) ? EXIT_FAIL : EXIT_OK;
}
