#include "common.h"
#include "builtin.h"
#include "config.h"
#include "job.h"
#include "output.h"
#include "parse-options.h"
#include "timeutil.h"

static const char *const job_add_usage[] = {
	"nimbus job add JOB [--org ORG] [--repo OWNER/NAME] [--labels L1,L2] [--payload FILE|-] [--json]",
	NULL,
};

static const char *const job_claim_usage[] = {
	"nimbus job claim [--holder NAME] [--ttl SECONDS] [--labels L1,L2] [--wait SECONDS] [--json]",
	NULL,
};

static const char *const job_show_usage[] = {
	"nimbus job show JOB [--json]",
	NULL,
};

static const char *const job_list_usage[] = {
	"nimbus job list [--state STATE] [--json]",
	NULL,
};

static const char *const job_finish_usage[] = {
	"nimbus job finish JOB --fence N --status succeeded|failed|cancelled [--reason TEXT]",
	NULL,
};

static const char *const job_meta_usage[] = {
	"nimbus job meta JOB --fence N --set KEY=VALUE...",
	NULL,
};

static int64_t fence;

#define OPT_FENCE() OPT_INT(0, "fence", &fence, "N", "the fence of the job's lease", 1, INT64_MAX)

/* Parse the options and the one JOB argument; with want_fence, --fence is required. */
static const char *parse_job(int argc, const char **argv, const struct option *opts,
			     const char *const *usage, bool want_fence)
{
	argc = parse_options(argc, argv, opts, usage, 0);
	if (argc != 1)
		usage_msg(usage, opts, argc ? "too many arguments" : "missing JOB");
	if (want_fence && !fence)
		usage_msg(usage, opts, "missing --fence");
	if (job_id_check(argv[0]))
		usage_msg(usage, opts, "%s", fail_message());
	return argv[0];
}

static int job_add_cmd(int argc, const char **argv)
{
	const char *org = NULL, *repo = NULL, *labels = NULL, *payload = NULL;
	const struct option options[] = {
		OPT_STRING(0, "org", &org, "ORG", "the org the job belongs to"),
		OPT_STRING(0, "repo", &repo, "OWNER/NAME", "its repository"),
		OPT_STRING(0, "labels", &labels, "L1,L2", "the labels a runner must have"),
		OPT_STRING(0, "payload", &payload, "FILE|-", "JSON to keep with it (- reads stdin)"),
		OPT_JSON(),
		OPT_END(),
	};
	struct job job = JOB_INIT;
	struct strbuf sb = STRBUF_INIT;
	const char *id = parse_job(argc, argv, options, job_add_usage, false);
	struct store *st;
	struct kv *queue;
	int rc;

	if (labels && job_labels_parse(labels, &job.labels))
		usage_msg(job_add_usage, options, "%s", fail_message());
	if (payload) {
		bool in = !strcmp(payload, "-");

		if (in ? strbuf_read_fd(&sb, 0, PAYLOAD_MAX) < 0 :
		    strbuf_read_file(&sb, payload, PAYLOAD_MAX) < 0)
			die_code(errno == ENOENT ? EXIT_NOTFOUND : errno == E2BIG ? EXIT_USAGE : EXIT_FAIL,
				 "cannot read %s: %s", in ? "standard input" : payload,
				 errno == E2BIG ? "more than 1 MiB" : strerror(errno));
		job.payload = strbuf_detach(&sb, NULL);
	}
	job.id = xstrdup(id);
	job.org = org ? xstrdup(org) : NULL;
	job.repo = repo ? xstrdup(repo) : NULL;
	st = store_open_or_die();
	queue = job_queue_open(st);
	rc = job_add(st, queue, &job);
	kv_close(queue);
	if (rc < 0)
		store_die(st, rc);
	out_result(json_pack("{s:s, s:b}", "job", id, "added", rc));
	out_textf("%s", "");
	job_clear(&job);
	store_close(st);
	return 0;
}

static int job_claim_cmd(int argc, const char **argv)
{
	const char *holder = NULL, *labels = NULL;
	int64_t ttl = 0, wait = 0, until;
	const struct option options[] = {
		OPT_STRING(0, "holder", &holder, "NAME", "holder name (core.holder, the host name)"),
		OPT_SECONDS(0, "ttl", &ttl, "lease time to live (lease.ttl)", 1, LEASE_TTL_MAX),
		OPT_STRING(0, "labels", &labels, "L1,L2", "only jobs whose labels are all among these"),
		OPT_SECONDS(0, "wait", &wait, "wait this long for a job (0)", 0, 86400),
		OPT_JSON(),
		OPT_END(),
	};
	struct strvec want = STRVEC_INIT;
	struct job job = JOB_INIT;
	struct store *st;
	struct kv *queue;
	json_t *o;
	int rc;

	argc = parse_options(argc, argv, options, job_claim_usage, 0);
	if (argc)
		usage_msg(job_claim_usage, options, "too many arguments");
	if (labels && job_labels_parse(labels, &want))
		usage_msg(job_claim_usage, options, "%s", fail_message());
	if (!ttl)
		ttl = cfg_int("lease.ttl");
	if (!holder)
		holder = lease_default_holder();
	st = store_open_or_die();
	queue = job_queue_open(st);
	until = mono_ms() + wait * 1000;
	while ((rc = job_claim(st, queue, holder, ttl, labels ? &want : NULL, &job)) == -EXIT_BUSY &&
	       mono_ms() < until)
		sleep_ms(until - mono_ms() < 200 ? until - mono_ms() : 200);
	kv_close(queue);
	strvec_clear(&want);
	if (rc)
		store_die(st, rc);
	o = job_json(&job, false);
	json_object_set_new(o, "fence", json_integer(job.lease.fence));
	out_result(o);
	out_textf("%s %" PRId64 "\n", job.id, job.lease.fence);
	job_clear(&job);
	store_close(st);
	return 0;
}

static int job_show_cmd(int argc, const char **argv)
{
	const struct option options[] = { OPT_JSON(), OPT_END() };
	const char *id = parse_job(argc, argv, options, job_show_usage, false);
	struct store *st = store_open_or_die();
	struct job job = JOB_INIT;
	int rc = job_get(st, id, &job);

	if (rc)
		store_die(st, rc);
	out_result(job_json(&job, true));
	job_clear(&job);
	store_close(st);
	return 0;
}

static int job_list_cmd(int argc, const char **argv)
{
	const char *state_name = NULL;
	const struct option options[] = {
		OPT_STRING(0, "state", &state_name, "STATE",
			   "queued, claimed, succeeded, failed or cancelled"),
		OPT_JSON(),
		OPT_END(),
	};
	struct store *st;
	struct job *jobs;
	size_t nr;
	json_t *list;
	int rc, state = -1;

	argc = parse_options(argc, argv, options, job_list_usage, 0);
	if (argc)
		usage_msg(job_list_usage, options, "too many arguments");
	if (state_name && (state = job_state_parse(state_name)) < 0)
		usage_msg(job_list_usage, options, "unknown state '%s'", state_name);
	st = store_open_or_die();
	rc = job_list(st, state, &jobs, &nr);
	if (rc)
		store_die(st, rc);
	list = json_array();
	for (size_t i = 0; i < nr; i++)
		json_array_append_new(list, job_json(&jobs[i], false));
	job_list_free(jobs, nr);
	out_result(list);
	store_close(st);
	return 0;
}

static int job_finish_cmd(int argc, const char **argv)
{
	const char *status_name = NULL, *reason = NULL;
	const struct option options[] = {
		OPT_FENCE(),
		OPT_STRING(0, "status", &status_name, "succeeded|failed|cancelled", "how it ended"),
		OPT_STRING(0, "reason", &reason, "TEXT", "why, in a few words"),
		OPT_END(),
	};
	const char *id = parse_job(argc, argv, options, job_finish_usage, true);
	int status = status_name ? job_state_parse(status_name) : -1;
	struct store *st;
	int rc;

	if (!status_name)
		usage_msg(job_finish_usage, options, "missing --status");
	if (status < JOB_SUCCEEDED)
		usage_msg(job_finish_usage, options, "--status is succeeded, failed or cancelled");
	st = store_open_or_die();
	rc = job_finish(st, id, fence, status, reason);
	if (rc)
		store_die(st, rc);
	store_close(st);
	return 0;
}

static int job_meta_cmd(int argc, const char **argv)
{
	struct strvec sets = STRVEC_INIT;
	const struct option options[] = {
		OPT_FENCE(),
		OPT_STRVEC(0, "set", &sets, "KEY=VALUE", "set KEY to VALUE (repeatable)"),
		OPT_END(),
	};
	const char *id = parse_job(argc, argv, options, job_meta_usage, true);
	json_t *meta = json_object();
	struct store *st;
	int rc;

	if (!sets.nr)
		usage_msg(job_meta_usage, options, "missing --set");
	for (size_t i = 0; i < sets.nr; i++) {
		const char *eq = strchr(sets.v[i], '=');
		char *key;

		if (!eq)
			usage_msg(job_meta_usage, options, "--set '%s' is not KEY=VALUE", sets.v[i]);
		key = xstrndup(sets.v[i], eq - sets.v[i]);
		json_object_set_new(meta, key, xjson_string(eq + 1));
		free(key);
	}
	strvec_clear(&sets);
	st = store_open_or_die();
	rc = job_set_meta(st, id, fence, meta);
	json_decref(meta);
	if (rc)
		store_die(st, rc);
	store_close(st);
	return 0;
}

static const struct subcommand job_subcommands[] = {
	{ "add", job_add_cmd, job_add_usage, "queue a job" },
	{ "claim", job_claim_cmd, job_claim_usage, "take the oldest claimable job and its lease" },
	{ "finish", job_finish_cmd, job_finish_usage, "finish a job, by the holder of its lease" },
	{ "list", job_list_cmd, job_list_usage, "list jobs" },
	{ "meta", job_meta_cmd, job_meta_usage, "set a job's metadata, by the holder of its lease" },
	{ "show", job_show_cmd, job_show_usage, "show a job, its lease and its metadata" },
	{ NULL },
};

int cmd_job(int argc, const char **argv)
{
	return run_subcommand(argc, argv, job_subcommands);
}
