#include "common.h"
#include "builtin.h"
#include "kv.h"
#include "output.h"
#include "parse-options.h"

/*
 * The kv's rate limits from the command line: the same buckets nimbus'
 * own limits use (webhook:ORG, token-mint:ORG), so an operator can look
 * at them and scripts can share them.
 */

static const char *const take_usage[] = {
	"nimbus ratelimit take KEY --rate N/s|N/m|N/h [--burst N] [--cost N] [--json]",
	NULL,
};

static const char *const show_usage[] = {
	"nimbus ratelimit show KEY --rate N/s|N/m|N/h [--burst N] [--json]",
	NULL,
};

#define OPT_LIMIT(a) \
	OPT_RATE(0, "rate", &(a).rate, "the sustained rate"), \
	OPT_INT(0, "burst", &(a).burst, "N", "how many may pass at once (default: the rate's N)", \
		1, 1000000000)

struct limit_args {
	struct rate rate;
	int64_t burst;
};

static json_t *limit_json(const char *key, const struct kv_limit *lim)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:I}", "key", key,
			 "remaining", (json_int_t)lim->remaining,
			 "retry_after", (json_int_t)((lim->retry_after_ms + 999) / 1000),
			 "retry_after_ms", (json_int_t)lim->retry_after_ms,
			 "reset_ms", (json_int_t)lim->reset_ms);
}

/* Check the arguments, then take cost (0: look) from the bucket key. */
static int run_limit(int argc, const char **argv, const char *const *usage,
		     const struct option *options, struct limit_args *a, int64_t cost,
		     struct kv_limit *lim)
{
	struct kv *kv;
	int rc;

	if (argc != 1)
		usage_msg(usage, options, argc ? "too many arguments" : "missing KEY");
	if (!a->rate.count)
		usage_msg(usage, options, "--rate is required");
	if (!a->burst)
		a->burst = a->rate.count > 1000000000 ? 1000000000 : (int64_t)a->rate.count;
	if (cost > a->burst)
		usage_msg(usage, options, "a cost of %" PRId64 " can never pass a burst of %" PRId64,
			  cost, a->burst);
	rc = kv_open(&kv, NULL);
	if (!rc)
		rc = kv_ratelimit(kv, argv[0], &a->rate, a->burst, cost, lim);
	kv_close(kv);
	if (rc < 0)
		die_fail(rc);
	return rc;
}

static int ratelimit_take(int argc, const char **argv)
{
	struct limit_args a = { { 0, 0 }, 0 };
	int64_t cost = 1;
	const struct option options[] = {
		OPT_LIMIT(a),
		OPT_INT(0, "cost", &cost, "N", "how much this request takes (default 1)", 1, 1000000000),
		OPT_JSON(),
		OPT_END(),
	};
	struct kv_limit lim;
	json_t *doc;
	int allowed;

	argc = parse_options(argc, argv, options, take_usage, 0);
	allowed = run_limit(argc, argv, take_usage, options, &a, cost, &lim);
	doc = limit_json(argv[0], &lim);
	json_object_set_new(doc, "allowed", json_boolean(allowed));
	out_result(doc);
	/* text: nothing when admitted, the seconds to wait when limited */
	out_textf("%s", "");
	if (!allowed)
		out_textf("%" PRId64 "\n", (lim.retry_after_ms + 999) / 1000);
	return allowed ? EXIT_OK : EXIT_BUSY;
}

static int ratelimit_show(int argc, const char **argv)
{
	struct limit_args a = { { 0, 0 }, 0 };
	const struct option options[] = {
		OPT_LIMIT(a),
		OPT_JSON(),
		OPT_END(),
	};
	struct kv_limit lim;

	argc = parse_options(argc, argv, options, show_usage, 0);
	run_limit(argc, argv, show_usage, options, &a, 0, &lim);
	out_result(limit_json(argv[0], &lim));
	return 0;
}

static const struct subcommand ratelimit_subcommands[] = {
	{ "take", ratelimit_take, take_usage, "take from a bucket: exit 0 admitted, 5 limited" },
	{ "show", ratelimit_show, show_usage, "what a bucket would admit now" },
	{ NULL },
};

int cmd_ratelimit(int argc, const char **argv)
{
	return run_subcommand(argc, argv, ratelimit_subcommands);
}
