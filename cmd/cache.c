#include "common.h"
#include "builtin.h"
#include "cache.h"
#include "output.h"
#include "parse-options.h"
#include "token.h"

static const char *const serve_usage[] = {
	"nimbus cache serve [--listen HOST:PORT] [--log-format text|json]",
	NULL,
};

static const char *const gc_usage[] = {
	"nimbus cache gc [--org ORG] [--json]",
	NULL,
};

static const char *const stats_usage[] = {
	"nimbus cache stats [--json]",
	NULL,
};

static int cache_serve(int argc, const char **argv)
{
	return serve_main(argc, argv, serve_usage, "cache");
}

static json_t *gc_json(const char *org, const struct cache_gc_result *r)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "org", org,
			 "entries", (json_int_t)r->entries, "bytes", (json_int_t)r->bytes,
			 "evicted", (json_int_t)r->evicted, "evicted_bytes", (json_int_t)r->evicted_bytes,
			 "orphans", (json_int_t)r->orphans, "orphan_bytes", (json_int_t)r->orphan_bytes,
			 "missing", (json_int_t)r->missing);
}

static int cache_gc_cmd(int argc, const char **argv)
{
	const char *org = NULL;
	const struct option options[] = {
		OPT_STRING(0, "org", &org, "ORG", "collect this org only"),
		OPT_JSON(),
		OPT_END(),
	};
	struct strvec orgs = STRVEC_INIT;
	struct cache *c;
	json_t *doc;
	int rc;

	argc = parse_options(argc, argv, options, gc_usage, 0);
	if (argc)
		usage_msg(gc_usage, options, "too many arguments");
	if (org && !org_id_valid(org, strlen(org)))
		usage_msg(gc_usage, options, "'%s' is not an org id", org);
	rc = cache_open(&c, 0);
	if (rc)
		die_fail(rc);
	if (org)
		strvec_push(&orgs, org);
	else
		rc = cache_orgs(c, &orgs);
	doc = json_array();
	for (size_t i = 0; !rc && i < orgs.nr; i++) {
		struct cache_gc_result res;

		rc = cache_gc(c, orgs.v[i], &res);
		if (!rc)
			json_array_append_new(doc, gc_json(orgs.v[i], &res));
	}
	cache_close(c);
	strvec_clear(&orgs);
	if (rc)
		die_fail(rc);
	out_result(doc);
	return 0;
}

static int cache_stats_cmd(int argc, const char **argv)
{
	const struct option options[] = {
		OPT_JSON(),
		OPT_END(),
	};
	struct store_cache_org *orgs;
	struct cache *c;
	json_t *doc;
	size_t nr;
	int rc;

	argc = parse_options(argc, argv, options, stats_usage, 0);
	if (argc)
		usage_msg(stats_usage, options, "too many arguments");
	rc = cache_open(&c, 0);
	if (rc)
		die_fail(rc);
	rc = cache_stats(c, &orgs, &nr);
	if (rc) {
		cache_close(c);
		die_fail(rc);
	}
	doc = json_array();
	for (size_t i = 0; i < nr; i++)
		json_array_append_new(doc, json_pack("{s:s, s:I, s:I, s:I}", "org", orgs[i].org,
						     "entries", (json_int_t)orgs[i].entries,
						     "bytes", (json_int_t)orgs[i].bytes,
						     "limit", (json_int_t)cache_limit(c)));
	store_cache_orgs_free(orgs, nr);
	cache_close(c);
	out_result(doc);
	return 0;
}

static const struct subcommand cache_subcommands[] = {
	{ "serve", cache_serve, serve_usage, "serve /cache/ORG/KEY alone" },
	{ "gc", cache_gc_cmd, gc_usage, "evict over the limit and clear what crashes left" },
	{ "stats", cache_stats_cmd, stats_usage, "entries and bytes per org" },
	{ NULL },
};

int cmd_cache(int argc, const char **argv)
{
	return run_subcommand(argc, argv, cache_subcommands);
}
