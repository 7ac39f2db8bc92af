#include "common.h"
#include "base64.h"
#include "builtin.h"
#include "config.h"
#include "output.h"
#include "parse-options.h"
#include "redact.h"
#include "registry.h"
#include "secret-hash.h"
#include "token.h"

#include <openssl/rand.h>

#define DEFAULT_GRACE 3600
/* A robot secret shorter than this is refused: it would be guessed. */
#define ROBOT_SECRET_MIN 16
#define ROBOT_SECRET_MAX 1024

static const char *const serve_usage[] = {
	"nimbus registry serve [--listen HOST:PORT] [--log-format text|json]",
	NULL,
};

static const char *const gc_usage[] = {
	"nimbus registry gc [--dry-run] [--grace SECONDS] [--org ORG] [--json]",
	NULL,
};

#define QUOTA_SET "nimbus registry quota set ORG BYTES"
#define QUOTA_SHOW "nimbus registry quota show [ORG] [--json]"
#define ROBOT_SET "nimbus registry robot set ORG NAME [--allow ACTION]... [--secret-file FILE] [--json]"
#define ROBOT_LIST "nimbus registry robot list [ORG] [--json]"
#define ROBOT_DELETE "nimbus registry robot delete ORG NAME"

static const char *const quota_set_usage[] = { QUOTA_SET, NULL };
static const char *const quota_show_usage[] = { QUOTA_SHOW, NULL };
static const char *const quota_usage[] = { QUOTA_SET, QUOTA_SHOW, NULL };
static const char *const robot_set_usage[] = { ROBOT_SET, NULL };
static const char *const robot_list_usage[] = { ROBOT_LIST, NULL };
static const char *const robot_delete_usage[] = { ROBOT_DELETE, NULL };
static const char *const robot_usage[] = { ROBOT_SET, ROBOT_LIST, ROBOT_DELETE, NULL };

static int registry_serve(int argc, const char **argv)
{
	return serve_main(argc, argv, serve_usage, "registry");
}

static struct store *open_store(void)
{
	struct store *st;
	int rc = store_open(&st, STORE_MIGRATE);

	if (rc)
		die_fail(rc);
	return st;
}

/* The end of a command's work on the store: done, or rc to report. */
static void close_store(struct store *st, int rc)
{
	if (rc)
		store_die(st, rc);
	store_close(st);
}

static void check_org(const char *org, const char *const *usage, const struct option *opts)
{
	if (!org_id_valid(org, strlen(org)))
		usage_msg(usage, opts, "'%s' is not an org id ([a-z0-9][a-z0-9-]{0,38})", org);
}

/* [ORG] [--json]: the org, or NULL for every org. */
static const char *org_argument(int argc, const char **argv, const char *const *usage)
{
	const struct option options[] = { OPT_JSON(), OPT_END() };

	argc = parse_options(argc, argv, options, usage, 0);
	if (argc > 1)
		usage_msg(usage, options, "too many arguments");
	if (argc)
		check_org(argv[0], usage, options);
	return argc ? argv[0] : NULL;
}

static int registry_gc_cmd(int argc, const char **argv)
{
	struct registry_gc gc = { .grace = DEFAULT_GRACE };
	int dry_run = 0;
	const struct option options[] = {
		OPT_BOOL(0, "dry-run", &dry_run, "say what would go, remove nothing"),
		OPT_SECONDS(0, "grace", &gc.grace, "spare what was linked or read this recently "
			    "(default 3600)", 0, INT32_MAX),
		OPT_STRING(0, "org", &gc.org, "ORG", "only this org's blobs and uploads"),
		OPT_JSON(),
		OPT_END(),
	};
	struct store *st;

	argc = parse_options(argc, argv, options, gc_usage, 0);
	if (argc)
		usage_msg(gc_usage, options, "too many arguments");
	if (gc.org)
		check_org(gc.org, gc_usage, options);
	gc.dry_run = dry_run;
	st = open_store();
	close_store(st, registry_gc(st, &gc));
	out_result(json_pack("{s:b, s:I, s:I, s:I, s:I, s:I}", "dry_run", gc.dry_run,
			     "unlinked_blobs", (json_int_t)gc.links,
			     "unlinked_bytes", (json_int_t)gc.link_bytes,
			     "removed_files", (json_int_t)gc.blobs,
			     "freed_bytes", (json_int_t)gc.blob_bytes,
			     "expired_uploads", (json_int_t)gc.uploads));
	return 0;
}

static int quota_set(int argc, const char **argv)
{
	const struct option options[] = { OPT_END() };
	struct store *st;
	uint64_t bytes;

	argc = parse_options(argc, argv, options, quota_set_usage, 0);
	if (argc != 2)
		usage_msg(quota_set_usage, options, argc < 2 ? "want ORG and BYTES" : "too many arguments");
	check_org(argv[0], quota_set_usage, options);
	if (parse_size(argv[1], &bytes) || bytes > INT64_MAX)
		usage_msg(quota_set_usage, options, "BYTES '%s' %s (K, M and G suffixes are fine)",
			  argv[1], parse_num_reason(errno ? errno : ERANGE));
	st = open_store();
	close_store(st, store_reg_quota_set(st, argv[0], bytes));
	return 0;
}

static void add_usage(void *data, const struct reg_usage *u)
{
	json_array_append_new(data, json_pack("{s:s, s:I, s:I, s:I}", "org", u->org,
					      "used", (json_int_t)u->used,
					      "limit", (json_int_t)u->quota,
					      "blobs", (json_int_t)u->blobs));
}

static int quota_show(int argc, const char **argv)
{
	const char *org = org_argument(argc, argv, quota_show_usage);
	json_t *list = json_array();
	struct store *st = open_store();

	close_store(st, store_reg_usage(st, org, registry_default_quota(), add_usage, list));
	/* one org: an object; all of them: a table */
	out_result(org ? json_incref(json_array_get(list, 0)) : json_incref(list));
	json_decref(list);
	return 0;
}

static const struct subcommand quota_subcommands[] = {
	{ "set", quota_set, quota_set_usage, "set an org's storage quota" },
	{ "show", quota_show, quota_show_usage, "show usage and quota of orgs" },
	{ NULL },
};

static int registry_quota(int argc, const char **argv)
{
	return run_subcommand(argc, argv, quota_subcommands);
}

/* ACTION words, each once, in a fixed order: "pull push". */
static void robot_actions(const struct strvec *allow, struct strbuf *out, const char *const *usage,
			  const struct option *opts)
{
	static const char *const actions[] = { "pull", "push", "delete" };
	bool want[ARRAY_SIZE(actions)] = { !allow->nr };

	for (size_t i = 0; i < allow->nr; i++) {
		size_t a = 0;

		while (a < ARRAY_SIZE(actions) && strcmp(allow->v[i], actions[a]))
			a++;
		if (a == ARRAY_SIZE(actions))
			usage_msg(usage, opts, "--allow wants pull, push or delete, not '%s'", allow->v[i]);
		want[a] = true;
	}
	for (size_t a = 0; a < ARRAY_SIZE(actions); a++)
		if (want[a])
			strbuf_addf(out, "%s%s", out->len ? " " : "", actions[a]);
}

static bool robot_name_valid(const char *s)
{
	size_t n = strlen(s);

	return n && n <= 64 && s[0] != '-' && s[0] != '_' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

/* The secret from --secret-file (or standard input for "-"), or a new one. */
static bool robot_secret(const char *file, struct strbuf *secret)
{
	unsigned char raw[32];

	if (!file) {
		if (RAND_bytes(raw, sizeof(raw)) != 1)
			die("no randomness for a secret");
		base64url_encode(secret, raw, sizeof(raw));
		OPENSSL_cleanse(raw, sizeof(raw));
		return true;
	}
	if (!strcmp(file, "-") ? strbuf_read_fd(secret, 0, ROBOT_SECRET_MAX + 1) < 0 :
				 strbuf_read_file(secret, file, ROBOT_SECRET_MAX + 1) < 0)
		die_errno("cannot read the secret from %s", strcmp(file, "-") ? file : "standard input");
	strbuf_trim(secret);
	if (secret->len < ROBOT_SECRET_MIN || secret->len > ROBOT_SECRET_MAX)
		die_code(EXIT_USAGE, "a robot secret has %d to %d characters", ROBOT_SECRET_MIN,
			 ROBOT_SECRET_MAX);
	return false;
}

static json_t *actions_json(const char *actions)
{
	struct strvec words = STRVEC_INIT;
	json_t *list = json_array();

	strvec_split(&words, actions, ' ');
	for (size_t i = 0; i < words.nr; i++)
		json_array_append_new(list, json_string(words.v[i]));
	strvec_clear(&words);
	return list;
}

static int robot_set(int argc, const char **argv)
{
	struct strvec allow = STRVEC_INIT;
	const char *file = NULL;
	const struct option options[] = {
		OPT_STRVEC(0, "allow", &allow, "ACTION", "grant pull, push or delete (default: pull)"),
		OPT_STRING(0, "secret-file", &file, "FILE", "the secret, from FILE or - for standard input "
			   "(default: make one and print it)"),
		OPT_JSON(),
		OPT_END(),
	};
	struct strbuf actions = STRBUF_INIT, secret = STRBUF_INIT, hash = STRBUF_INIT;
	struct store *st;
	json_t *doc;
	bool made;

	argc = parse_options(argc, argv, options, robot_set_usage, 0);
	if (argc != 2)
		usage_msg(robot_set_usage, options, argc < 2 ? "want ORG and NAME" : "too many arguments");
	check_org(argv[0], robot_set_usage, options);
	if (!robot_name_valid(argv[1]))
		usage_msg(robot_set_usage, options, "'%s' is not a robot name ([a-z0-9][a-z0-9_-]{0,63})",
			  argv[1]);
	robot_actions(&allow, &actions, robot_set_usage, options);
	made = robot_secret(file, &secret);
	redact_register_mem(secret.buf, secret.len);
	secret_hash(secret.buf, secret.len, &hash);
	st = open_store();
	close_store(st, store_reg_robot_set(st, argv[0], argv[1], hash.buf, actions.buf));
	doc = json_pack("{s:s, s:s, s:s++, s:o}", "org", argv[0], "name", argv[1],
			"username", argv[0], "+", argv[1], "actions", actions_json(actions.buf));
	if (made)
		json_object_set_new(doc, "secret", json_string(secret.buf));
	out_result(doc);
	/* text: the secret alone when it is new, so that s=$(nimbus ...) keeps it */
	out_textf("%s%s", made ? secret.buf : "", made ? "\n" : "");
	strbuf_release_secret(&secret);
	strbuf_release(&hash);
	strbuf_release(&actions);
	strvec_clear(&allow);
	return 0;
}

static void add_robot(void *data, const char *org, const char *name, const char *actions,
		      int64_t created_ms)
{
	json_array_append_new(data, json_pack("{s:s, s:s, s:s++, s:o, s:o}", "org", org, "name", name,
					      "username", org, "+", name, "actions", actions_json(actions),
					      "created", xjson_time(created_ms / 1000)));
}

static int robot_list(int argc, const char **argv)
{
	const char *org = org_argument(argc, argv, robot_list_usage);
	json_t *list = json_array();
	struct store *st = open_store();

	close_store(st, store_reg_robots(st, org, add_robot, list));
	out_result(list);
	return 0;
}

static int robot_delete(int argc, const char **argv)
{
	const struct option options[] = { OPT_END() };
	struct store *st;

	argc = parse_options(argc, argv, options, robot_delete_usage, 0);
	if (argc != 2)
		usage_msg(robot_delete_usage, options, argc < 2 ? "want ORG and NAME" : "too many arguments");
	check_org(argv[0], robot_delete_usage, options);
	st = open_store();
	close_store(st, store_reg_robot_delete(st, argv[0], argv[1]));
	return 0;
}

static const struct subcommand robot_subcommands[] = {
	{ "set", robot_set, robot_set_usage, "create a robot account or change its secret" },
	{ "list", robot_list, robot_list_usage, "list robot accounts" },
	{ "delete", robot_delete, robot_delete_usage, "delete a robot account" },
	{ NULL },
};

static int registry_robot(int argc, const char **argv)
{
	return run_subcommand(argc, argv, robot_subcommands);
}

static const struct subcommand registry_subcommands[] = {
	{ "serve", registry_serve, serve_usage, "run the registry alone" },
	{ "gc", registry_gc_cmd, gc_usage, "unlink unreferenced blobs, remove unlinked files" },
	{ "quota", registry_quota, quota_usage, "set and show org storage quotas" },
	{ "robot", registry_robot, robot_usage, "robot accounts for the token flow" },
	{ NULL },
};

int cmd_registry(int argc, const char **argv)
{
	return run_subcommand(argc, argv, registry_subcommands);
}
