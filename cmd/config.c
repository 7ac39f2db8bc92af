#include "common.h"
#include "builtin.h"
#include "config.h"
#include "output.h"
#include "parse-options.h"

static const char *const config_get_usage[] = {
	"nimbus config get KEY",
	NULL,
};

static const char *const config_list_usage[] = {
	"nimbus config list [--json]",
	NULL,
};

static int config_get(int argc, const char **argv)
{
	const struct option options[] = { OPT_END() };
	struct strbuf sb = STRBUF_INIT;
	int rc;

	argc = parse_options(argc, argv, options, config_get_usage, 0);
	if (argc != 1)
		usage_msg(config_get_usage, options, argc ? "too many arguments" : "missing KEY");
	if (!cfg_find(argv[0]))
		die_code(EXIT_NOTFOUND, "unknown configuration key '%s'", argv[0]);
	rc = cfg_load();
	if (rc)
		die_fail(rc);
	cfg_display(&sb, argv[0]);
	out_result(xjson_string(sb.buf));
	strbuf_release(&sb);
	return 0;
}

static int config_list(int argc, const char **argv)
{
	const struct option options[] = { OPT_JSON(), OPT_END() };
	struct strbuf sb = STRBUF_INIT;
	json_t *list;
	int rc;

	argc = parse_options(argc, argv, options, config_list_usage, 0);
	if (argc)
		usage_msg(config_list_usage, options, "too many arguments");
	rc = cfg_load();
	if (rc)
		die_fail(rc);
	list = json_array();
	for (size_t i = 0; i < cfg_keys_nr; i++) {
		const char *name = cfg_keys[i].name;

		strbuf_reset(&sb);
		cfg_display(&sb, name);
		json_array_append_new(list, json_pack("{s:s, s:o, s:s}", "key", name,
						      "value", xjson_string(sb.buf),
						      "source", cfg_source_name(cfg_source(name))));
	}
	strbuf_release(&sb);
	out_result(list);
	return 0;
}

static const struct subcommand config_subcommands[] = {
	{ "get", config_get, config_get_usage, "print one effective value" },
	{ "list", config_list, config_list_usage, "print every key, its value and its source" },
	{ NULL },
};

int cmd_config(int argc, const char **argv)
{
	return run_subcommand(argc, argv, config_subcommands);
}
