#include "common.h"
#include "builtin.h"
#include "output.h"
#include "parse-options.h"
#include "store.h"

static const char *const db_migrate_usage[] = {
	"nimbus db migrate [--json]",
	NULL,
};

static const char *const db_status_usage[] = {
	"nimbus db status [--json]",
	NULL,
};

/* Both subcommands take no arguments and need the store. */
static struct store *open_store(int argc, const char **argv, const char *const *usage)
{
	const struct option options[] = { OPT_JSON(), OPT_END() };
	struct store *st;
	int rc;

	argc = parse_options(argc, argv, options, usage, 0);
	if (argc)
		usage_msg(usage, options, "too many arguments");
	rc = store_open(&st, 0);
	if (rc)
		die_fail(rc);
	return st;
}

static int db_migrate(int argc, const char **argv)
{
	struct store_migrate_result res = STORE_MIGRATE_RESULT_INIT;
	struct strbuf text = STRBUF_INIT;
	struct store *st = open_store(argc, argv, db_migrate_usage);
	json_t *applied;
	int rc;

	rc = store_migrate(st, &res);
	if (rc)
		store_die(st, rc);
	applied = json_array();
	for (size_t i = 0; i < res.applied_nr; i++) {
		int v = res.applied[i];
		const char *name = store_migration_name(st, v);

		json_array_append_new(applied, json_pack("{s:i, s:s}", "version", v, "name", name));
		strbuf_addf(&text, "applied %04d-%s\n", v, name);
	}
	if (res.applied_nr)
		strbuf_addf(&text, "schema version %d\n", res.to);
	else
		strbuf_addf(&text, "schema version %d is up to date\n", res.to);
	out_result(json_pack("{s:i, s:i, s:o}", "from", res.from, "to", res.to, "applied", applied));
	out_textf("%s", text.buf);
	strbuf_release(&text);
	store_migrate_result_release(&res);
	store_close(st);
	return 0;
}

static int db_status(int argc, const char **argv)
{
	struct store *st = open_store(argc, argv, db_status_usage);
	int rc, version, latest;

	rc = store_version(st, &version);
	if (rc)
		store_die(st, rc);
	latest = store_latest_version(st);
	if (version < latest)
		warning("schema version %d is behind this nimbus (%d): run 'nimbus db migrate'",
			version, latest);
	else if (version > latest)
		warning("schema version %d is newer than this nimbus knows (%d)", version, latest);
	out_result(json_pack("{s:i, s:i, s:s, s:o}", "version", version, "latest", latest,
			     "driver", store_driver(st), "url", xjson_string(store_url(st))));
	out_textf("%d\n", version);
	store_close(st);
	return 0;
}

static const struct subcommand db_subcommands[] = {
	{ "migrate", db_migrate, db_migrate_usage, "apply the missing schema migrations" },
	{ "status", db_status, db_status_usage, "print the schema version" },
	{ NULL },
};

int cmd_db(int argc, const char **argv)
{
	return run_subcommand(argc, argv, db_subcommands);
}
