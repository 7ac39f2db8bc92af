#include "common.h"
#include "cgroup.h"
#include "config.h"
#include "escape.h"
#include "github.h"
#include "job.h"
#include "log.h"
#include "netns.h"
#include "output.h"
#include "parse-num.h"
#include "sandbox.h"
#include "teardown.h"
#include "timeutil.h"

#include <dirent.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/stat.h>

struct teardown {
	struct store *st;
	bool own_st;
	struct github *gh;
	int gh_rc;			/* why there is no client, once asked */
	unsigned flags;
};

struct teardown *teardown_new(struct store *st, unsigned flags)
{
	struct teardown *td = xcalloc(1, sizeof(*td));

	td->st = st;
	td->flags = flags;
	return td;
}

void teardown_free(struct teardown *td)
{
	if (!td)
		return;
	github_close(td->gh);
	if (td->own_st)
		store_close(td->st);
	free(td);
}

void teardown_vm_of_record(struct teardown_vm *vm, const struct vm_record *r)
{
	*vm = (struct teardown_vm){
		.id = r->id, .pid = r->pid, .jail = r->jail, .netns = r->netns,
		.links = &r->links, .cgroups = &r->cgroups,
		.runner_scope = r->runner_scope, .runner_id = r->runner_id,
		.record = true, .job = r->job, .fence = r->fence,
	};
}

void teardown_actions_release(struct teardown_actions *a)
{
	for (size_t i = 0; i < a->nr; i++) {
		free(a->v[i].vm);
		free(a->v[i].object);
		free(a->v[i].error);
	}
	free(a->v);
	*a = (struct teardown_actions)TEARDOWN_ACTIONS_INIT;
}

void teardown_action_text(struct strbuf *sb, const struct teardown_action *a)
{
	if (a->rc)
		strbuf_addf(sb, "cannot %s %s: %s", a->verb, a->object, a->error);
	else
		strbuf_addf(sb, "%s %s", a->verb, a->object);
}

json_t *teardown_action_json(const struct teardown_action *a)
{
	return json_pack("{s:o, s:s, s:s, s:b, s:o}", "vm", a->vm ? xjson_string(a->vm) : json_null(),
			 "action", a->verb, "object", a->object, "ok", !a->rc,
			 "error", a->rc ? xjson_string(a->error) : json_null());
}

/* The two forms of each step's verb: what was done, and what could not be. */
struct verb {
	const char *done, *todo;
};
static const struct verb KILL = { "killed", "kill" };
static const struct verb DELETE = { "deleted", "delete" };
static const struct verb REMOVE = { "removed", "remove" };
static const struct verb DEREGISTER = { "deregistered", "deregister" };
static const struct verb FINISH = { "finished", "finish" };

/* One VM's teardown. */
struct step {
	struct teardown *td;
	const struct teardown_vm *vm;
	struct teardown_actions acts;	/* its own, given to the caller VM by VM */
	int rc;				/* the first failure */
	bool stopped;			/* a process would not die: the rest is in use */
};

static void add(struct teardown_actions *out, const char *vm, const char *verb, int rc,
		const char *fmt, va_list ap)
{
	struct teardown_action *a;
	struct strbuf obj = STRBUF_INIT;

	strbuf_vaddf(&obj, fmt, ap);
	ALLOC_GROW(out->v, out->nr + 1, out->alloc);
	a = &out->v[out->nr++];
	a->vm = vm ? xstrdup(vm) : NULL;
	a->verb = verb;
	a->object = strbuf_detach(&obj, NULL);
	a->rc = rc;
	a->error = rc ? xstrdup(fail_message()) : NULL;
}

void teardown_action_add(struct teardown_actions *out, const char *vm, const char *verb,
			 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(out, vm, verb, 0, fmt, ap);
	va_end(ap);
}

void teardown_action_fail(struct teardown_actions *out, const char *vm, const char *verb, int rc,
			  const char *fmt, ...)
{
	va_list ap;

	if (rc >= 0)
		BUG("teardown_action_fail() of a success");
	va_start(ap, fmt);
	add(out, vm, verb, rc, fmt, ap);
	va_end(ap);
}

/* Record the outcome of an action on object: rc 0 done, else its failure. */
static PRINTF(4, 5) void action(struct step *s, const struct verb *verb, int rc,
				const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(&s->acts, s->vm->id, rc ? verb->todo : verb->done, rc, fmt, ap);
	va_end(ap);
	if (rc && !s->rc)
		s->rc = rc;
}

static bool dry(const struct step *s)
{
	return s->td->flags & TEARDOWN_DRY_RUN;
}

/* The pid the jailer wrote to <jail>/root/<exec>.pid, <exec> being the directory above the jail. */
static pid_t pid_file(const char *jail)
{
	struct strbuf path = STRBUF_INIT, sb = STRBUF_INIT, exec = STRBUF_INIT;
	const char *slash;
	int64_t pid = 0;

	strbuf_add(&exec, jail, strrchr(jail, '/') ? strrchr(jail, '/') - jail : 0);
	slash = strrchr(exec.buf, '/');
	strbuf_addf(&path, "%s/root/%s.pid", jail, slash ? slash + 1 : exec.buf);
	if (strbuf_read_file(&sb, path.buf, 64) >= 0) {
		strbuf_trim(&sb);
		if (parse_i64(sb.buf, 1, INT32_MAX, &pid))
			pid = 0;
	}
	strbuf_release(&path);
	strbuf_release(&sb);
	strbuf_release(&exec);
	return pid;
}

/* A process of a VM, pinned by a pidfd: what was checked is what is signalled. */
struct victim {
	struct step *s;
	pid_t pid;
	int fd;
	bool done;
	int rc;
	char *error;
};

struct victims {
	struct victim *v;
	size_t nr, alloc;
};

/* Whether the process of pidfd exits by deadline (mono_ms()). */
static bool exits(int pidfd, int64_t deadline)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int rc;

	while ((rc = poll(&p, 1, deadline > mono_ms() ? deadline - mono_ms() : 0)) < 0 &&
	       errno == EINTR)
		;
	return rc > 0;
}

/* The victim's outcome: gone (rc 0), or a failure whose message is kept for its action. */
static void settle(struct victim *v, int rc)
{
	v->done = true;
	v->rc = rc;
	if (rc)
		v->error = xstrdup(fail_message());
}

static void add_victim(struct victims *vs, struct step *s, pid_t pid)
{
	struct victim *v;
	int fd;

	for (size_t i = 0; i < vs->nr; i++)
		if (vs->v[i].s == s && vs->v[i].pid == pid)
			return;
	fd = pid > 0 ? pidfd_open(pid, 0) : -1;
	if (fd < 0 && (pid <= 0 || errno == ESRCH))
		return;
	if (fd >= 0 && !vm_process_of(pid, s->vm->id, s->vm->jail)) {
		close(fd);
		return;
	}
	ALLOC_GROW(vs->v, vs->nr + 1, vs->alloc);
	v = &vs->v[vs->nr++];
	*v = (struct victim){ .s = s, .pid = pid, .fd = fd };
	/* out of descriptors, say: it runs, and cannot be pinned */
	if (fd < 0)
		settle(v, fail_errno(EXIT_FAIL, "pidfd_open"));
}

/*
 * Send sig to each victim not settled; those that cannot get it are
 * failures. They run as their VMs' uids, not ours.
 */
static void send_all(struct victims *vs, int sig, const char *name)
{
	caps_raise(CAP_KILL);
	for (size_t i = 0; i < vs->nr; i++)
		if (!vs->v[i].done && pidfd_send_signal(vs->v[i].fd, sig, NULL, 0) && errno != ESRCH)
			settle(&vs->v[i], fail_errno(EXIT_PERM, "%s", name));
	caps_lower(CAP_KILL);
}

/* Those gone by deadline are settled; with last, the others too, as failures. */
static void wait_all(struct victims *vs, int64_t deadline, bool last)
{
	for (size_t i = 0; i < vs->nr; i++) {
		struct victim *v = &vs->v[i];

		if (v->done)
			continue;
		if (exits(v->fd, deadline))
			settle(v, 0);
		else if (last)
			settle(v, fail(EXIT_BUSY, "still alive %d s after SIGKILL", TEARDOWN_KILL_MS / 1000));
	}
}

/* Every process of the VMs at once: each one's grace runs while the others' does. */
static void kill_vms(struct step *steps, size_t nr)
{
	struct victims vs = { NULL, 0, 0 };

	for (size_t i = 0; i < nr; i++) {
		const struct teardown_vm *vm = steps[i].vm;

		add_victim(&vs, &steps[i], vm->pid ? vm->pid : vm->jail ? pid_file(vm->jail) : 0);
		for (size_t k = 0; k < vm->nr_pids; k++)
			add_victim(&vs, &steps[i], vm->pids[k]);
	}
	if (!dry(steps)) {
		send_all(&vs, SIGTERM, "SIGTERM");
		wait_all(&vs, mono_ms() + TEARDOWN_KILL_MS, false);
		send_all(&vs, SIGKILL, "SIGKILL");
		wait_all(&vs, mono_ms() + TEARDOWN_KILL_MS, true);
	}
	/* said in the order found, as a dry run says it */
	for (size_t i = 0; i < vs.nr; i++) {
		struct victim *v = &vs.v[i];

		if (v->rc)
			fail(fail_code(v->rc), "%s", v->error);
		action(v->s, &KILL, v->rc, "%s pid %d", v->s->vm->id, (int)v->pid);
		v->s->stopped |= v->rc != 0;
		if (v->fd >= 0)
			close(v->fd);
		free(v->error);
	}
	free(vs.v);
}

static bool exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static void delete_link(struct step *s, const char *name)
{
	int rc = link_delete(name);

	if (rc)
		action(s, &DELETE, rc < 0 ? rc : 0, "link %s", name);
}

/*
 * The VMs' host links, in one batch for the kernel; one by one if the
 * batch fails, so that each failure is the VM's whose link it is.
 */
static void delete_links(struct step *steps, size_t nr)
{
	struct strvec names = STRVEC_INIT;
	struct step **owner = NULL;
	size_t alloc = 0;
	bool *existed;
	int rc;

	for (size_t i = 0; i < nr; i++) {
		const struct strvec *links = steps[i].vm->links;

		for (size_t k = 0; !steps[i].stopped && links && k < links->nr; k++) {
			if (dry(steps) && !if_nametoindex(links->v[k]))
				continue;
			ALLOC_GROW(owner, names.nr + 1, alloc);
			owner[names.nr] = &steps[i];
			strvec_push(&names, links->v[k]);
		}
	}
	existed = xcalloc(names.nr + 1, sizeof(*existed));
	rc = dry(steps) ? 0 : link_delete_all(&names, existed);
	if (rc)
		log_debug("deleting links in one batch: %s; one by one", fail_message());
	for (size_t i = 0; i < names.nr; i++) {
		if (rc)
			delete_link(owner[i], names.v[i]);
		else if (existed[i] || dry(steps))
			action(owner[i], &DELETE, 0, "link %s", names.v[i]);
	}
	free(existed);
	free(owner);
	strvec_clear(&names);
}

/*
 * The namespace goes with the links in it: the kernel unregisters a
 * namespace's devices in one batch for every namespace that goes at the
 * same time, where deleting them one by one waits for an RCU grace
 * period each (tens of milliseconds on a loaded host).
 */
static void delete_netns(struct step *s)
{
	const char *ns = s->vm->netns;
	int rc;

	if (s->stopped || !ns || !exists(ns))
		return;
	rc = dry(s) ? 1 : netns_delete(ns);
	if (rc)
		action(s, &DELETE, rc < 0 ? rc : 0, "netns %s", base_name(ns));
}

static void remove_cgroups(struct step *s)
{
	for (size_t i = 0; s->vm->cgroups && i < s->vm->cgroups->nr; i++) {
		const char *dir = s->vm->cgroups->v[i];
		int rc = dry(s) ? exists(dir) : cgroup_remove(dir, TEARDOWN_CGROUP_MS);

		if (rc)
			action(s, &REMOVE, rc < 0 ? rc : 0, "cgroup %s", dir);
	}
}

/* Mount points at or under dir, deepest first. */
static void mounts_under(const char *dir, struct strvec *out)
{
	struct strbuf sb = STRBUF_INIT, mp = STRBUF_INIT;
	struct strvec lines = STRVEC_INIT;
	size_t n = strlen(dir);

	if (strbuf_read_file(&sb, "/proc/self/mountinfo", 1 << 24) < 0)
		return;
	strvec_split(&lines, sb.buf, '\n');
	for (size_t i = lines.nr; i-- > 0;) {
		struct strvec f = STRVEC_INIT;

		strvec_split(&f, lines.v[i], ' ');
		strbuf_reset(&mp);
		strbuf_add_mount_path(&mp, f.nr > 4 ? f.v[4] : "");
		if (!strncmp(mp.buf, dir, n) && (!mp.buf[n] || mp.buf[n] == '/'))
			strvec_push(out, mp.buf);
		strvec_clear(&f);
	}
	strvec_clear(&lines);
	strbuf_release(&sb);
	strbuf_release(&mp);
}

/* rm -r name under dirfd, without following symbolic links. */
static int remove_at(int at, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if (!unlinkat(at, name, 0) || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return -1;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (!rc && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = remove_at(fd, de->d_name);
	closedir(d);
	if (!rc && unlinkat(at, name, AT_REMOVEDIR) && errno != ENOENT)
		rc = -1;
	return rc;
}

static void remove_jail(struct step *s)
{
	const char *jail = s->vm->jail;
	struct strvec mounts = STRVEC_INIT;
	int rc = 0;

	if (!jail || !exists(jail))
		return;
	if (!dry(s)) {
		mounts_under(jail, &mounts);
		caps_raise(CAP_SYS_ADMIN);
		for (size_t i = 0; !rc && i < mounts.nr; i++)
			if (umount2(mounts.v[i], MNT_DETACH | UMOUNT_NOFOLLOW) && errno != EINVAL)
				rc = fail_errno(EXIT_FAIL, "cannot unmount %s", mounts.v[i]);
		caps_lower(CAP_SYS_ADMIN);
		/* root/ and what is in it are the VM's uid's */
		caps_raise(CAP_DAC_OVERRIDE);
		if (!rc && remove_at(AT_FDCWD, jail))
			rc = fail_errno(errno == EBUSY ? EXIT_BUSY : EXIT_FAIL, "cannot remove");
		caps_lower(CAP_DAC_OVERRIDE);
	}
	action(s, &REMOVE, rc, "chroot %s", jail);
	strvec_clear(&mounts);
}

static int github(struct teardown *td, struct github **out)
{
	if (!td->gh && !td->gh_rc)
		td->gh_rc = github_open(&td->gh, td->st, NULL);
	*out = td->gh;
	return td->gh_rc;
}

/* Deregister runner id of scope, or in a dry run see whether that would be done. */
static void deregister(struct step *s, struct github *gh, const char *scope, int64_t id)
{
	struct github_runner r = GITHUB_RUNNER_INIT;
	int rc;

	if (dry(s)) {
		rc = github_runner_get(gh, scope, id, &r);
		if (!rc && r.busy)
			rc = fail(EXIT_BUSY, "runner %s (%" PRId64 ") in %s is running a job", r.name,
				  id, scope);
		else
			rc = rc == -EXIT_NOTFOUND ? 0 : rc ? rc : 1;
		github_runner_release(&r);
	} else {
		rc = github_runner_deregister(gh, scope, id, 0);
	}
	if (rc)
		action(s, &DEREGISTER, rc < 0 ? rc : 0, "runner %" PRId64 " in %s", id, scope);
}

/* The runners named as the VM, in each scope of github.orgs and github.repos. */
static int deregister_by_name(struct step *s, struct github *gh)
{
	struct strvec scopes = STRVEC_INIT;
	int rc = 0;

	github_config_scopes(&scopes);
	for (size_t i = 0; !rc && i < scopes.nr; i++) {
		struct github_runner r = GITHUB_RUNNER_INIT;

		rc = github_runner_find(gh, scopes.v[i], s->vm->id, &r);
		if (!rc)
			deregister(s, gh, scopes.v[i], r.id);
		if (rc == -EXIT_NOTFOUND)
			rc = 0;
		github_runner_release(&r);
	}
	strvec_clear(&scopes);
	return rc;
}

static void deregister_runner(struct step *s)
{
	const struct teardown_vm *vm = s->vm;
	bool named = vm->runner_scope && vm->runner_id;
	struct github *gh;
	int rc;

	if ((s->td->flags & TEARDOWN_NO_GITHUB) || !*cfg_str("github.app_id") ||
	    (!named && !(s->td->flags & TEARDOWN_FIND_RUNNER)))
		return;
	rc = github(s->td, &gh);
	if (!rc && named)
		deregister(s, gh, vm->runner_scope, vm->runner_id);
	else if (!rc)
		rc = deregister_by_name(s, gh);
	if (rc && named)
		action(s, &DEREGISTER, rc, "runner %" PRId64 " in %s", vm->runner_id, vm->runner_scope);
	else if (rc)
		action(s, &DEREGISTER, rc, "runner %s", vm->id);
}

static void remove_record(struct step *s)
{
	struct strbuf path = STRBUF_INIT;
	int rc;

	/* kept for the next run to find what is left */
	if (!s->vm->record || s->rc)
		return;
	vm_record_path(&path, s->vm->id);
	rc = dry(s) ? exists(path.buf) : vm_record_remove(s->vm->id);
	if (rc)
		action(s, &REMOVE, rc < 0 ? rc : 0, "record %s", s->vm->id);
	strbuf_release(&path);
}

/* Whether fence holds the open job: otherwise someone else owns its outcome. */
static int job_held(struct store *st, const char *id, int64_t fence)
{
	struct job job = JOB_INIT;
	int rc = job_get(st, id, &job);

	if (!rc)
		rc = job.state == JOB_CLAIMED && job.lease.fence == fence;
	job_clear(&job);
	return rc == -EXIT_NOTFOUND ? 0 : rc;
}

static void fail_job(struct step *s)
{
	struct teardown *td = s->td;
	int rc = 0;

	if ((td->flags & TEARDOWN_KEEP_JOB) || !s->vm->job || s->vm->fence <= 0)
		return;
	if (!td->st) {
		rc = store_open(&td->st, STORE_MIGRATE);
		td->own_st = !rc;
	}
	if (!rc)
		rc = job_held(td->st, s->vm->job, s->vm->fence);
	if (rc > 0 && !dry(s)) {
		rc = job_finish(td->st, s->vm->job, s->vm->fence, JOB_FAILED, "infrastructure");
		/* lost or finished meanwhile: not ours to finish any more */
		if (rc == -EXIT_REJECTED || rc == -EXIT_BUSY || rc == -EXIT_NOTFOUND)
			return;
		if (!rc)
			rc = 1;
	}
	if (rc)
		action(s, &FINISH, rc < 0 ? rc : 0, "job %s as failed (infrastructure)", s->vm->job);
}

/* At most this many VMs at once: each process pinned takes a descriptor. */
#define BATCH 128

static int teardown_batch(struct teardown *td, const struct teardown_vm *vms, size_t nr,
			  struct teardown_actions *out)
{
	struct step *steps = xcalloc(nr, sizeof(*steps));
	int rc = 0;

	for (size_t i = 0; i < nr; i++) {
		if (!vm_id_valid(vms[i].id))
			BUG("teardown of '%s', which is not a VM id", vms[i].id);
		steps[i] = (struct step){ .td = td, .vm = &vms[i], .acts = TEARDOWN_ACTIONS_INIT };
	}
	kill_vms(steps, nr);
	delete_links(steps, nr);
	for (size_t i = 0; i < nr; i++) {
		struct step *s = &steps[i];

		delete_netns(s);
		if (!s->stopped) {
			remove_cgroups(s);
			remove_jail(s);
			deregister_runner(s);
			remove_record(s);
			fail_job(s);
		}
		for (size_t k = 0; k < s->acts.nr; k++) {
			ALLOC_GROW(out->v, out->nr + 1, out->alloc);
			out->v[out->nr++] = s->acts.v[k];
		}
		free(s->acts.v);
		if (!rc)
			rc = s->rc;
	}
	free(steps);
	return rc;
}

int teardown_vms(struct teardown *td, const struct teardown_vm *vms, size_t nr,
		 struct teardown_actions *out)
{
	int rc = 0;

	for (size_t i = 0; i < nr; i += BATCH) {
		int batch = teardown_batch(td, vms + i, nr - i < BATCH ? nr - i : BATCH, out);

		if (!rc)
			rc = batch;
	}
	return rc;
}

int teardown_vm(struct teardown *td, const struct teardown_vm *vm, struct teardown_actions *out)
{
	return teardown_vms(td, vm, 1, out);
}
