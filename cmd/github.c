#include "common.h"
#include "builtin.h"
#include "config.h"
#include "github.h"
#include "output.h"
#include "parse-options.h"
#include "timeutil.h"

/*
 * The GitHub API from the command line, through the client the control
 * plane and the reaper use: the same token cache, retries and breaker.
 */

static const char *const token_usage[] = {
	"nimbus github token [--installation ID] [--json]",
	NULL,
};

static const char *const runners_usage[] = {
	"nimbus github runners [--org ORG | --repo OWNER/NAME] [--json]",
	NULL,
};

static const char *const deregister_usage[] = {
	"nimbus github deregister (--id ID | --name NAME) [--org ORG | --repo OWNER/NAME] [--force] [--json]",
	NULL,
};

static const char *const jitconfig_usage[] = {
	"nimbus github jitconfig --name NAME [--org ORG | --repo OWNER/NAME] [--labels L1,L2] [--group ID] [--json]",
	NULL,
};

static const char *const breaker_usage[] = {
	"nimbus github breaker [--reset] [--json]",
	NULL,
};

#define OPT_SCOPE(org, repo) \
	OPT_STRING(0, "org", &(org), "ORG", "an organization's runners"), \
	OPT_STRING(0, "repo", &(repo), "OWNER/NAME", "a repository's runners")

static struct github *open_client(void)
{
	struct github *gh;
	int rc = github_open(&gh, NULL, NULL);

	if (rc)
		die_fail(rc);
	return gh;
}

/*
 * The scopes that --org and --repo name, or else the configured ones;
 * one only unless many is set.
 */
static void pick_scopes(const char *org, const char *repo, bool many, const char *const *usage,
			const struct option *options, struct strvec *out)
{
	if (org && repo)
		usage_msg(usage, options, "--org and --repo cannot be used together");
	if ((org && (strchr(org, '/') || !github_scope_valid(org))) ||
	    (repo && (!strchr(repo, '/') || !github_scope_valid(repo))))
		usage_msg(usage, options, "'%s' is not %s", org ? org : repo,
			  org ? "an organization" : "OWNER/NAME");
	if (org || repo) {
		strvec_push(out, org ? org : repo);
		return;
	}
	github_config_scopes(out);
	if (!out->nr || (out->nr > 1 && !many))
		usage_msg(usage, options, "which runners? github.orgs and github.repos name %zu; "
			  "give --org or --repo", out->nr);
}

static json_t *runner_json(const char *scope, const struct github_runner *r)
{
	json_t *labels = json_array();

	for (size_t i = 0; i < r->labels.nr; i++)
		json_array_append_new(labels, xjson_string(r->labels.v[i]));
	return json_pack("{s:s, s:I, s:s, s:s?, s:b, s:s?, s:o}", "scope", scope, "id",
			 (json_int_t)r->id, "name", r->name, "status", r->status, "busy", r->busy,
			 "os", r->os, "labels", labels);
}

static int github_token_cmd(int argc, const char **argv)
{
	int64_t installation = 0, expires_at;
	const struct option options[] = {
		OPT_INT(0, "installation", &installation, "ID",
			"the App's installation (default: github.installation_id, or the "
			"configured org's or repository's)", 1, INT64_MAX),
		OPT_JSON(),
		OPT_END(),
	};
	struct strbuf token = STRBUF_INIT;
	struct strvec scopes = STRVEC_INIT;
	struct github *gh;
	int rc;

	argc = parse_options(argc, argv, options, token_usage, 0);
	if (argc)
		usage_msg(token_usage, options, "too many arguments");
	/* no installation named: the one of the org or repository configured */
	if (!installation && !cfg_int("github.installation_id")) {
		github_config_scopes(&scopes);
		if (scopes.nr != 1)
			usage_msg(token_usage, options, "which installation? github.orgs and "
				  "github.repos name %zu; give --installation", scopes.nr);
	}
	gh = open_client();
	rc = scopes.nr ? github_installation(gh, scopes.v[0], &installation) : 0;
	if (!rc)
		rc = github_token(gh, installation, &token, &expires_at);
	github_close(gh);
	strvec_clear(&scopes);
	if (rc)
		die_fail(rc);
	out_result(json_pack("{s:s, s:o}", "token", token.buf, "expires_at", xjson_time(expires_at)));
	out_textf("%s\n", token.buf);
	strbuf_release_secret(&token);
	return 0;
}

/* The table of runners in text: labels as one comma-separated column. */
static void runners_text(json_t *list)
{
	struct strbuf sb = STRBUF_INIT, labels = STRBUF_INIT;
	json_t *rows = json_deep_copy(list), *row, *l;
	size_t i, j;

	json_array_foreach(rows, i, row) {
		strbuf_reset(&labels);
		json_array_foreach(json_object_get(row, "labels"), j, l)
			strbuf_addf(&labels, "%s%s", j ? "," : "", json_string_value(l));
		json_object_set_new(row, "labels", xjson_string(labels.buf));
	}
	out_render_text(&sb, rows);
	out_textf("%s", sb.buf);
	json_decref(rows);
	strbuf_release(&sb);
	strbuf_release(&labels);
}

static int github_runners_cmd(int argc, const char **argv)
{
	const char *org = NULL, *repo = NULL;
	const struct option options[] = {
		OPT_SCOPE(org, repo),
		OPT_JSON(),
		OPT_END(),
	};
	struct strvec scopes = STRVEC_INIT;
	json_t *list = json_array();
	struct github *gh;
	int rc = 0;

	argc = parse_options(argc, argv, options, runners_usage, 0);
	if (argc)
		usage_msg(runners_usage, options, "too many arguments");
	pick_scopes(org, repo, true, runners_usage, options, &scopes);
	gh = open_client();
	for (size_t i = 0; i < scopes.nr && !rc; i++) {
		struct github_runners rs = GITHUB_RUNNERS_INIT;

		rc = github_runners_list(gh, scopes.v[i], NULL, &rs);
		for (size_t j = 0; !rc && j < rs.nr; j++)
			json_array_append_new(list, runner_json(scopes.v[i], &rs.v[j]));
		github_runners_release(&rs);
	}
	github_close(gh);
	strvec_clear(&scopes);
	if (rc)
		die_fail(rc);
	runners_text(list);
	out_result(list);
	return 0;
}

static int github_deregister_cmd(int argc, const char **argv)
{
	const char *org = NULL, *repo = NULL, *name = NULL;
	int64_t id = 0;
	int force = 0;
	const struct option options[] = {
		OPT_INT(0, "id", &id, "ID", "the runner's id", 1, INT64_MAX),
		OPT_STRING(0, "name", &name, "NAME", "the runner's name"),
		OPT_SCOPE(org, repo),
		OPT_BOOL(0, "force", &force, "deregister a runner GitHub says is busy"),
		OPT_JSON(),
		OPT_END(),
	};
	struct github_runner r = GITHUB_RUNNER_INIT;
	struct strvec scopes = STRVEC_INIT;
	struct github *gh;
	int rc;

	argc = parse_options(argc, argv, options, deregister_usage, 0);
	if (argc)
		usage_msg(deregister_usage, options, "too many arguments");
	if (!id == !name)
		usage_msg(deregister_usage, options, "give one of --id and --name");
	if (name && !*name)
		usage_msg(deregister_usage, options, "option '--name' wants a name");
	pick_scopes(org, repo, false, deregister_usage, options, &scopes);
	gh = open_client();
	rc = name ? github_runner_find(gh, scopes.v[0], name, &r) : 0;
	if (!rc)
		rc = github_runner_deregister(gh, scopes.v[0], name ? r.id : id, force ? GITHUB_FORCE : 0);
	else if (rc == -EXIT_NOTFOUND)
		rc = 0;		/* already gone */
	github_close(gh);
	if (rc < 0)
		die_fail(rc);
	out_result(json_pack("{s:s, s:o, s:o, s:b}", "scope", scopes.v[0],
			     "id", r.id || id ? json_integer(r.id ? r.id : id) : json_null(),
			     "name", name ? xjson_string(name) : json_null(), "deregistered", rc));
	out_textf("%s\n", rc ? "deregistered" : "not registered");
	github_runner_release(&r);
	strvec_clear(&scopes);
	return 0;
}

static bool runner_name_valid(const char *s)
{
	size_t n = strlen(s);

	return n && n <= 64 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789._-") == n;
}

static int github_jitconfig_cmd(int argc, const char **argv)
{
	const char *org = NULL, *repo = NULL, *name = NULL, *labels = NULL;
	int64_t group = 0;
	const struct option options[] = {
		OPT_STRING(0, "name", &name, "NAME", "the runner's name"),
		OPT_SCOPE(org, repo),
		OPT_STRING(0, "labels", &labels, "L1,L2", "its labels (default: github.runner_labels)"),
		OPT_INT(0, "group", &group, "ID", "its runner group (default: github.runner_group)",
			1, INT64_MAX),
		OPT_JSON(),
		OPT_END(),
	};
	struct github_jit_spec spec = { 0 };
	struct github_runner r = GITHUB_RUNNER_INIT;
	struct strvec scopes = STRVEC_INIT, ls = STRVEC_INIT;
	struct strbuf encoded = STRBUF_INIT;
	struct github *gh;
	int rc;

	argc = parse_options(argc, argv, options, jitconfig_usage, 0);
	if (argc)
		usage_msg(jitconfig_usage, options, "too many arguments");
	if (!name)
		usage_msg(jitconfig_usage, options, "--name is required");
	if (!runner_name_valid(name))
		usage_msg(jitconfig_usage, options, "a runner name has 1 to 64 letters, digits, "
			  "'.', '_' or '-', not '%s'", name);
	if (labels) {
		strvec_split(&ls, labels, ',');
		if (!ls.nr)
			usage_msg(jitconfig_usage, options, "--labels names no label");
		spec.labels = &ls;
	}
	pick_scopes(org, repo, false, jitconfig_usage, options, &scopes);
	spec.name = name;
	spec.group = group;
	gh = open_client();
	rc = github_jitconfig(gh, scopes.v[0], &spec, &encoded, &r);
	github_close(gh);
	if (rc)
		die_fail(rc);
	out_result(json_pack("{s:s, s:o}", "encoded_jit_config", encoded.buf,
			     "runner", runner_json(scopes.v[0], &r)));
	out_textf("%s\n", encoded.buf);
	strbuf_release_secret(&encoded);
	github_runner_release(&r);
	strvec_clear(&scopes);
	strvec_clear(&ls);
	return 0;
}

static int github_breaker_cmd(int argc, const char **argv)
{
	int reset = 0;
	const struct option options[] = {
		OPT_BOOL(0, "reset", &reset, "close the breaker and forget its failures"),
		OPT_JSON(),
		OPT_END(),
	};
	struct kv_breaker b;
	struct github *gh;
	int rc;

	argc = parse_options(argc, argv, options, breaker_usage, 0);
	if (argc)
		usage_msg(breaker_usage, options, "too many arguments");
	gh = open_client();
	rc = reset ? github_breaker_reset(gh) : 0;
	if (!rc)
		rc = github_breaker(gh, &b);
	if (!rc)
		out_result(json_pack("{s:s, s:s, s:I, s:b, s:I}", "host", github_api_host(gh),
				     "state", kv_breaker_state_name(b.state),
				     "failures", (json_int_t)b.failures, "probing", b.probing,
				     "retry_in", (json_int_t)((b.retry_ms + 999) / 1000)));
	github_close(gh);
	if (rc)
		die_fail(rc);
	return 0;
}

static const struct subcommand github_subcommands[] = {
	{ "token", github_token_cmd, token_usage, "print an installation token" },
	{ "runners", github_runners_cmd, runners_usage, "list self-hosted runners" },
	{ "deregister", github_deregister_cmd, deregister_usage, "remove a runner's registration" },
	{ "jitconfig", github_jitconfig_cmd, jitconfig_usage,
	  "print a just-in-time runner configuration" },
	{ "breaker", github_breaker_cmd, breaker_usage, "show or reset the API's circuit breaker" },
	{ NULL },
};

int cmd_github(int argc, const char **argv)
{
	return run_subcommand(argc, argv, github_subcommands);
}
