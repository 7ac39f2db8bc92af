/*
 * The lease and job library: argument checks, and the calls no command
 * makes, on a new SQLite file or the store of NIMBUS_TEST_STORE_URL
 * (t/1010-job.bats runs this on PostgreSQL too).
 */
#include "test-store.h"
#include "job.h"
#include "timeutil.h"

static void labels(void)
{
	static const struct {
		const char *in, *out;	/* out NULL: refused */
	} cases[] = {
		{ "linux", "linux" },
		{ "X64, linux ,x64", "linux x64" },
		{ "b,,a,", "a b" },
		{ "", "" },
		{ "self-hosted,ubuntu-22.04,gpu:a100", "gpu:a100 self-hosted ubuntu-22.04" },
		{ "a b", NULL },
		{ "gpu,x/y", NULL },
		{ "caf\xc3\xa9", NULL },
		{ "0123456789012345678901234567890123456789012345678901234567890123",
		  "0123456789012345678901234567890123456789012345678901234567890123" },
		{ "01234567890123456789012345678901234567890123456789012345678901234", NULL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct strvec sv = STRVEC_INIT;
		struct strbuf sb = STRBUF_INIT;
		int rc = job_labels_parse(cases[i].in, &sv);

		for (size_t j = 0; j < sv.nr; j++)
			strbuf_addf(&sb, "%s%s", j ? " " : "", sv.v[j]);
		if (cases[i].out)
			is_str(rc ? fail_message() : sb.buf, cases[i].out, "labels '%s'", cases[i].in);
		else
			is_int(rc, -EXIT_USAGE, "labels '%s' refused", cases[i].in);
		strvec_clear(&sv);
		strbuf_release(&sb);
	}
}

static void names(void)
{
	static const char *const good_ids[] = { "a", "gh-123", "build.42:retry_2", "A-Z" };
	static const char *const bad_ids[] = { "", "a/b", "a b", "jöb", "a;b" };
	static const char *const good_orgs[] = { "acme", "a", "0day", "a-b-c" };
	static const char *const bad_orgs[] = { "", "Acme", "-acme", "a_b", "a.b",
		"0123456789012345678901234567890123456789" };
	static const char *const good_repos[] = { "acme/web", "Acme-Corp/my_repo.js", "a/b" };
	static const char *const bad_repos[] = { "", "acme", "/web", "acme/", "a/b/c", "a b/c",
		"ac_me/web" };
	char long_id[NAME_MAX_LEN + 2];

	for (size_t i = 0; i < ARRAY_SIZE(good_ids); i++)
		is_int(job_id_check(good_ids[i]), 0, "job id '%s'", good_ids[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad_ids); i++)
		is_int(job_id_check(bad_ids[i]), -EXIT_USAGE, "job id '%s' refused", bad_ids[i]);
	memset(long_id, 'j', sizeof(long_id) - 1);
	long_id[NAME_MAX_LEN] = '\0';
	is_int(job_id_check(long_id), 0, "a job id of %d bytes", NAME_MAX_LEN);
	long_id[NAME_MAX_LEN] = 'j';
	long_id[NAME_MAX_LEN + 1] = '\0';
	is_int(holder_check(long_id), -EXIT_USAGE, "a holder of %d bytes refused", NAME_MAX_LEN + 1);
	for (size_t i = 0; i < ARRAY_SIZE(good_orgs); i++)
		is_int(job_org_check(good_orgs[i]), 0, "org '%s'", good_orgs[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad_orgs); i++)
		is_int(job_org_check(bad_orgs[i]), -EXIT_USAGE, "org '%s' refused", bad_orgs[i]);
	for (size_t i = 0; i < ARRAY_SIZE(good_repos); i++)
		is_int(job_repo_check(good_repos[i]), 0, "repo '%s'", good_repos[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad_repos); i++)
		is_int(job_repo_check(bad_repos[i]), -EXIT_USAGE, "repo '%s' refused", bad_repos[i]);
	is_int(lease_ttl_check(0), -EXIT_USAGE, "TTL 0 refused");
	is_int(lease_ttl_check(LEASE_TTL_MAX + 1), -EXIT_USAGE, "TTL above the maximum refused");
	is_int(fence_check(0), -EXIT_USAGE, "fence 0 refused");
}

/* The webhook receiver's finish, which needs no fence. */
static void finish_unless_finished(struct store *st)
{
	struct job job = JOB_INIT, got = JOB_INIT;

	job.id = xstrdup("gh-1");
	is_int(job_add(st, NULL, &job), 1, "added");
	is_int(job_finish_unless_finished(st, "gh-1", JOB_CANCELLED, "completed"), 1, "finished");
	is_int(job_finish_unless_finished(st, "gh-1", JOB_FAILED, NULL), 0, "finished already");
	ok(!job_get(st, "gh-1", &got), "read");
	is_str(job_state_names[got.state], "cancelled", "as the first finish said");
	is_str(got.reason, "completed", "with its reason");
	is_int(job_finish_unless_finished(st, "gh-2", JOB_FAILED, NULL), -EXIT_NOTFOUND, "unknown");
	is_int(job_finish_unless_finished(st, "gh-1", JOB_CLAIMED, NULL), -EXIT_USAGE,
	       "claimed is no way to finish");
	job_clear(&job);
	job_clear(&got);
}

static void fenced_calls(struct store *st)
{
	struct job job = JOB_INIT, got = JOB_INIT;
	struct lease l = LEASE_INIT;
	json_t *meta;

	job.id = xstrdup("m-1");
	is_int(job_add(st, NULL, &job), 1, "added");
	is_int(job_add(st, NULL, &job), 0, "added again: nothing changes");
	is_int(lease_acquire(st, "m-1", "me", 60, &l), 0, "acquired");
	is_int(lease_check(st, "m-1", l.fence), 0, "checked");
	is_int(lease_check(st, "m-1", l.fence + 1000), -EXIT_REJECTED, "a fence from the future");
	is_int(lease_check(st, "none", 1), -EXIT_NOTFOUND, "an unknown job");

	meta = json_pack("{s:i}", "n", 1);
	is_int(job_set_meta(st, "m-1", l.fence, meta), -EXIT_USAGE, "metadata values are strings");
	json_decref(meta);
	meta = json_pack("{s:s}", "vm", "nimbus-0a1b2c3d");
	is_int(job_set_meta(st, "m-1", l.fence, meta), 0, "metadata written");
	is_int(job_set_meta(st, "m-1", 0, meta), -EXIT_USAGE, "fence 0 is no fence");
	is_int(job_finish(st, "m-1", 0, JOB_FAILED, NULL), -EXIT_USAGE, "nor for finish");
	json_decref(meta);
	ok(!job_get(st, "m-1", &got), "read");
	is_str(json_string_value(json_object_get(got.meta, "vm")), "nimbus-0a1b2c3d", "metadata read");
	is_int(got.state, JOB_CLAIMED, "claimed by its lease");
	is_int(got.lease.fence, l.fence, "with the lease's fence");
	is_int(lease_release(st, "m-1", l.fence), 1, "released");
	is_int(lease_release(st, "m-1", l.fence), 0, "released already");
	job_clear(&job);
	job_clear(&got);
	lease_clear(&l);
}

/* A deadline in the past gives up at once, and the handle stays usable. */
static void deadline(struct store *st)
{
	struct lease l = LEASE_INIT;
	int64_t ms;
	int rc;

	store_set_deadline(st, mono_ms() - 1);
	if (!strcmp(store_driver(st), "postgres")) {
		rc = store_now_ms(st, &ms);
		is_int(rc, -EXIT_UNAVAILABLE, "past the deadline: %s", fail_message());
	}
	store_set_deadline(st, 0);
	ok(!store_now_ms(st, &ms), "usable again");
	ok(!lease_acquire(st, "after", "me", 60, &l), "and writes");
	lease_clear(&l);
}

int main(void)
{
	struct test_store t;
	struct store *st;

	labels();
	names();
	test_store_init(&t, "lease");
	st = test_store_open(&t);
	if (st) {
		finish_unless_finished(st);
		fenced_calls(st);
		deadline(st);
		store_close(st);
	}
	test_store_cleanup(&t);
	return done_testing();
}
