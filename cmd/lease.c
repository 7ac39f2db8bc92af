#include "common.h"
#include "builtin.h"
#include "config.h"
#include "lease.h"
#include "log.h"
#include "output.h"
#include "parse-options.h"
#include "spawn.h"
#include "timeutil.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

static const char *const lease_acquire_usage[] = {
	"nimbus lease acquire JOB [--holder NAME] [--ttl SECONDS] [--json]",
	NULL,
};

static const char *const lease_renew_usage[] = {
	"nimbus lease renew JOB --fence N [--ttl SECONDS] [--json]",
	NULL,
};

static const char *const lease_release_usage[] = {
	"nimbus lease release JOB --fence N [--json]",
	NULL,
};

static const char *const lease_check_usage[] = {
	"nimbus lease check JOB --fence N",
	NULL,
};

static const char *const lease_show_usage[] = {
	"nimbus lease show [JOB] [--json]",
	NULL,
};

static const char *const lease_hold_usage[] = {
	"nimbus lease hold JOB [--holder NAME] [--ttl SECONDS] [--renew-every SECONDS] "
	"[--kill-after SECONDS] -- COMMAND [ARG]...",
	NULL,
};

static const char *holder;
static int64_t ttl, fence;

#define OPT_HOLDER() OPT_STRING(0, "holder", &holder, "NAME", "holder name (core.holder, the host name)")
#define OPT_TTL() OPT_SECONDS(0, "ttl", &ttl, "lease time to live (lease.ttl)", 1, LEASE_TTL_MAX)
#define OPT_FENCE() OPT_INT(0, "fence", &fence, "N", "the fence of the lease", 1, INT64_MAX)

/* Check the JOB argument and fill in the defaults of the options. */
static const char *job_arg(const char *job, const struct option *opts, const char *const *usage)
{
	if (job && job_id_check(job))
		usage_msg(usage, opts, "%s", fail_message());
	if (!ttl)
		ttl = cfg_int("lease.ttl");
	if (!holder)
		holder = lease_default_holder();
	return job;
}

/*
 * Parse the options and the JOB argument (optional when job_optional);
 * with want_fence, --fence is required.
 */
static const char *parse_job(int argc, const char **argv, const struct option *opts,
			     const char *const *usage, bool job_optional, bool want_fence)
{
	argc = parse_options(argc, argv, opts, usage, 0);
	if (argc > 1)
		usage_msg(usage, opts, "too many arguments");
	if (!argc && !job_optional)
		usage_msg(usage, opts, "missing JOB");
	if (want_fence && !fence)
		usage_msg(usage, opts, "missing --fence");
	return job_arg(argc ? argv[0] : NULL, opts, usage);
}

static int lease_acquire_cmd(int argc, const char **argv)
{
	const struct option options[] = { OPT_HOLDER(), OPT_TTL(), OPT_JSON(), OPT_END() };
	const char *job = parse_job(argc, argv, options, lease_acquire_usage, false, false);
	struct store *st = store_open_or_die();
	struct lease l = LEASE_INIT;
	int rc = lease_acquire(st, job, holder, ttl, &l);

	if (rc)
		store_die(st, rc);
	out_result(lease_json(&l));
	out_textf("%" PRId64 "\n", l.fence);
	lease_clear(&l);
	store_close(st);
	return 0;
}

static int lease_renew_cmd(int argc, const char **argv)
{
	const struct option options[] = { OPT_FENCE(), OPT_TTL(), OPT_JSON(), OPT_END() };
	const char *job = parse_job(argc, argv, options, lease_renew_usage, false, true);
	struct store *st = store_open_or_die();
	struct lease l = LEASE_INIT;
	struct strbuf t = STRBUF_INIT;
	int rc = lease_renew(st, job, fence, ttl, &l);

	if (rc)
		store_die(st, rc);
	fmt_rfc3339_ms(&t, l.expires_ms);
	out_result(lease_json(&l));
	out_textf("%s\n", t.buf);
	strbuf_release(&t);
	lease_clear(&l);
	store_close(st);
	return 0;
}

static int lease_release_cmd(int argc, const char **argv)
{
	const struct option options[] = { OPT_FENCE(), OPT_JSON(), OPT_END() };
	const char *job = parse_job(argc, argv, options, lease_release_usage, false, true);
	struct store *st = store_open_or_die();
	int rc = lease_release(st, job, fence);

	if (rc < 0)
		store_die(st, rc);
	out_result(json_pack("{s:s, s:I, s:b}", "job", job, "fence", (json_int_t)fence,
			     "released", rc));
	out_textf("%s", "");
	store_close(st);
	return 0;
}

static int lease_check_cmd(int argc, const char **argv)
{
	const struct option options[] = { OPT_FENCE(), OPT_END() };
	const char *job = parse_job(argc, argv, options, lease_check_usage, false, true);
	struct store *st = store_open_or_die();
	int rc = lease_check(st, job, fence);

	if (rc)
		store_die(st, rc);
	store_close(st);
	return 0;
}

static int lease_show_cmd(int argc, const char **argv)
{
	const struct option options[] = { OPT_JSON(), OPT_END() };
	const char *job = parse_job(argc, argv, options, lease_show_usage, true, false);
	struct store *st = store_open_or_die();
	struct lease l = LEASE_INIT, *all;
	size_t nr;
	json_t *list;
	int rc;

	if (job) {
		rc = lease_get(st, job, &l);
		if (rc)
			store_die(st, rc);
		out_result(lease_json(&l));
		lease_clear(&l);
		store_close(st);
		return 0;
	}
	rc = store_lease_list(st, &all, &nr);
	if (rc)
		store_die(st, rc);
	list = json_array();
	for (size_t i = 0; i < nr; i++) {
		json_array_append_new(list, lease_json(&all[i]));
		lease_clear(&all[i]);
	}
	free(all);
	out_result(list);
	store_close(st);
	return 0;
}

/*
 * lease hold: a command that runs only while this process holds the
 * lease. Times are mono_ms(). The lease's expiry is known on the store's
 * clock only, so it is carried over as what was left of it when the
 * store answered, counted from when the request was sent: that is no
 * later than the real expiry, whatever the two clocks say.
 *
 * When renewals do not get through, the command is stopped while the
 * lease still holds: SIGTERM once less than the grace (--kill-after, at
 * most a third of the TTL) is left, SIGKILL --kill-after later. With
 * the defaults, the command is gone by the time the lease expires.
 */
struct hold {
	const char *job;
	int64_t fence;
	struct store *st;
	pid_t pid;		/* the command, leader of its process group */
	int64_t ttl, renew_every, kill_after, grace;
	int64_t stop_at;	/* the lease expires no earlier than grace after it */
	int64_t next_renew;
	int64_t kill_at;	/* when lost: SIGKILL then, 0 once sent */
	bool lost, failing;
};

/*
 * The command: in a process group of its own, with our environment less
 * nimbus' own settings (they may carry passwords), but naming the
 * configuration file read, for the nimbus commands it runs; and the
 * lease. Killed with us: nobody renews the lease once we are gone.
 */
static int spawn(struct hold *h, const char **cmd, const struct lease *l, const sigset_t *oldmask)
{
	struct child c = CHILD_INIT;
	const char *conf = cfg_file_path();
	struct strbuf t = STRBUF_INIT;
	int rc;

	c.argv = cmd;
	c.flags = CHILD_INHERIT_ENV | CHILD_NEW_PGRP | CHILD_DIE_WITH_PARENT;
	c.sigmask = oldmask;
	if (!access(conf, F_OK))
		strvec_pushf(&c.env, "NIMBUS_CONFIG=%s", conf);
	fmt_rfc3339_ms(&t, l->expires_ms);
	strvec_pushf(&c.env, "NIMBUS_JOB=%s", h->job);
	strvec_pushf(&c.env, "NIMBUS_FENCE=%" PRId64, h->fence);
	strvec_pushf(&c.env, "NIMBUS_LEASE_EXPIRES=%s", t.buf);
	strbuf_release(&t);
	rc = child_start(&c);
	h->pid = c.pid;
	return rc;
}

static void lose(struct hold *h, const char *why)
{
	error("lease of job %s lost: %s; stopping the command", h->job, why);
	h->lost = true;
	kill(-h->pid, SIGTERM);
	h->kill_at = mono_ms() + h->kill_after;
}

static void renew(struct hold *h)
{
	struct lease l = LEASE_INIT;
	int64_t sent = mono_ms();
	int rc;

	store_set_deadline(h->st, h->stop_at);
	rc = lease_renew(h->st, h->job, h->fence, h->ttl, &l);
	if (!rc) {
		h->stop_at = sent + (l.expires_ms - l.now_ms) - h->grace;
		h->next_renew = sent + h->renew_every;
		if (h->failing)
			log_info("lease of job %s renewed again", h->job);
		h->failing = false;
	} else if (rc == -EXIT_REJECTED || rc == -EXIT_NOTFOUND) {
		lose(h, fail_message());
	} else {
		if (!h->failing)
			warning("cannot renew the lease of job %s, retrying until it expires: %s",
				h->job, fail_message());
		h->failing = true;
		h->next_renew = mono_ms() + (h->renew_every < 1000 ? h->renew_every : 1000);
	}
	lease_clear(&l);
}

/* Handle the signals that arrived; true once the command has exited, with its status. */
static bool handle_signals(struct hold *h, int sfd, int *status)
{
	struct signalfd_siginfo si;
	bool exited = false;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGCHLD)
			kill(-h->pid, si.ssi_signo);
		else if (!exited)
			exited = waitpid(h->pid, status, WNOHANG) == h->pid;
	}
	return exited;
}

/* Renew until the command exits; its wait status. */
static int supervise(struct hold *h, int sfd)
{
	struct pollfd pfd = { .fd = sfd, .events = POLLIN };
	int status;

	for (;;) {
		int64_t now = mono_ms(), wake;

		if (!h->lost && now >= h->stop_at) {
			lose(h, "no renewal got through in time");
		} else if (!h->lost && now >= h->next_renew) {
			renew(h);
			continue;
		} else if (h->lost && h->kill_at && now >= h->kill_at) {
			kill(-h->pid, SIGKILL);
			h->kill_at = 0;
		}
		if (h->lost)
			wake = h->kill_at ? h->kill_at : -1;
		else
			wake = h->next_renew < h->stop_at ? h->next_renew : h->stop_at;
		if (poll(&pfd, 1, wake < 0 ? -1 : wake - now > INT_MAX ? INT_MAX : (int)(wake - now)) < 0 &&
		    errno != EINTR)
			die_errno("poll");
		if (handle_signals(h, sfd, &status))
			return status;
	}
}

static void release(struct hold *h)
{
	store_set_deadline(h->st, 0);
	if (lease_release(h->st, h->job, h->fence) < 0)
		warning("cannot release the lease of job %s (it expires on its own): %s", h->job,
			fail_message());
	store_close(h->st);
}

static int lease_hold_cmd(int argc, const char **argv)
{
	int64_t renew_every = 0, kill_after = 10;
	const struct option options[] = {
		OPT_HOLDER(), OPT_TTL(),
		OPT_SECONDS(0, "renew-every", &renew_every, "renew this often (TTL/3)", 1, LEASE_TTL_MAX),
		OPT_SECONDS(0, "kill-after", &kill_after, "SIGKILL this long after SIGTERM (10)", 0, 3600),
		OPT_END(),
	};
	struct hold h = { 0 };
	struct lease l = LEASE_INIT;
	sigset_t mask, oldmask;
	int sfd, rc, status;

	argc = parse_options(argc, argv, options, lease_hold_usage, PARSE_OPT_KEEP_DASHDASH);
	if (argc < 3 || strcmp(argv[1], "--"))
		usage_msg(lease_hold_usage, options, argc && !strcmp(argv[0], "--") ? "missing JOB" :
			  "wants JOB -- COMMAND [ARG]...");
	h.job = job_arg(argv[0], options, lease_hold_usage);
	h.ttl = ttl;
	h.renew_every = renew_every ? renew_every * 1000 : ttl * 1000 / 3;
	h.kill_after = kill_after * 1000;
	h.grace = h.kill_after < h.ttl * 1000 / 3 ? h.kill_after : h.ttl * 1000 / 3;
	if (h.renew_every >= h.ttl * 1000 - h.grace)
		usage_msg(lease_hold_usage, options, "--renew-every must be shorter than the TTL "
			  "less --kill-after (at most a third of the TTL)");

	/* Signals arrive on sfd; the command gets our mask as it was. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, &oldmask) < 0)
		die_errno("sigprocmask");
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		die_errno("signalfd");

	h.st = store_open_or_die();
	h.next_renew = mono_ms();
	rc = lease_acquire(h.st, h.job, holder, ttl, &l);
	if (rc)
		store_die(h.st, rc);
	h.fence = l.fence;
	h.stop_at = h.next_renew + (l.expires_ms - l.now_ms) - h.grace;
	h.next_renew += h.renew_every;
	rc = spawn(&h, argv + 2, &l, &oldmask);
	lease_clear(&l);
	if (rc) {
		/* as a shell says it: 127 not found, 126 not runnable */
		error("%s", fail_message());
		release(&h);
		return rc == -EXIT_NOTFOUND ? 127 : 126;
	}

	status = supervise(&h, sfd);
	close(sfd);
	if (h.lost) {
		/* what is left of the group runs without the lease */
		kill(-h.pid, SIGKILL);
		store_close(h.st);
		return EXIT_REJECTED;
	}
	release(&h);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const struct subcommand lease_subcommands[] = {
	{ "acquire", lease_acquire_cmd, lease_acquire_usage, "acquire a job's lease, print its fence" },
	{ "check", lease_check_cmd, lease_check_usage, "exit 0 when a fence holds a job's lease" },
	{ "hold", lease_hold_cmd, lease_hold_usage, "run a command while holding a job's lease" },
	{ "release", lease_release_cmd, lease_release_usage, "release the lease of a fence" },
	{ "renew", lease_renew_cmd, lease_renew_usage, "extend the lease of a fence" },
	{ "show", lease_show_cmd, lease_show_usage, "show a job's lease, or every live one" },
	{ NULL },
};

int cmd_lease(int argc, const char **argv)
{
	return run_subcommand(argc, argv, lease_subcommands);
}
