#include "common.h"
#include "cgroup.h"
#include "config.h"
#include "lease.h"
#include "log.h"
#include "netns.h"
#include "output.h"
#include "parse-num.h"
#include "reap.h"
#include "sandbox.h"
#include "timeutil.h"
#include "vm.h"

#include <dirent.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

/* The kinds of objects, in the order boot makes them. */
enum kind {
	RECORD,
	NETNS,
	LINK,
	JAIL,
	CGROUP,
	PROCESS,
};

/* An object of a VM, as found. */
struct object {
	char id[VM_ID_LEN + 1];
	enum kind kind;
	char *path;			/* a link's name, a file or directory; NULL for a process */
	pid_t pid;
	int64_t mtime_ms;		/* when it was made (or last changed); -1: unknown */
};

/* A VM, from the objects found of it. */
struct vm {
	const char *id;
	bool record;			/* it has a record file, valid or not */
	struct vm_record rec;		/* rec.id NULL: no valid record */
	int64_t record_ms, newest_ms;	/* the record's time, its youngest object's; -1: none */
	const char *jail, *netns;
	struct strvec links, cgroups;
	pid_t *pids;
	size_t nr_pids, alloc_pids;
};

/* A jail's root/, as a process rooted there sees it. */
struct jail_root {
	dev_t dev;
	ino_t ino;
	char id[VM_ID_LEN + 1];
};

struct reaper {
	const struct reap_opts *o;
	struct teardown_actions *out;
	struct object *objs;
	size_t nr_objs, alloc_objs;
	struct jail_root *roots;
	size_t nr_roots, alloc_roots;
	struct vm *vms;
	size_t nr_vms;
	struct store *st;
	int st_rc;			/* why there is no store, once asked */
	char *st_err;
	int64_t now_ms;
};

static bool dry(const struct reaper *r)
{
	return r->o->flags & REAP_DRY_RUN;
}

static int64_t mtime_ms(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static void add(struct reaper *r, const char *id, enum kind kind, const char *path, pid_t pid,
		int64_t mtime)
{
	struct object *o;

	ALLOC_GROW(r->objs, r->nr_objs + 1, r->alloc_objs);
	o = &r->objs[r->nr_objs++];
	memcpy(o->id, id, sizeof(o->id));
	o->kind = kind;
	o->path = path ? xstrdup(path) : NULL;
	o->pid = pid;
	o->mtime_ms = mtime;
}

/* What could not be looked at: it may hold something stale. */
static void cannot_list(struct reaper *r, int err, const char *what)
{
	teardown_action_fail(r->out, NULL, "list", fail(err == EACCES || err == EPERM ? EXIT_PERM :
							EXIT_FAIL, "%s", strerror(err)), "%s", what);
}

static bool is_dir_kind(enum kind kind)
{
	return kind == JAIL || kind == CGROUP;
}

/*
 * The VM objects of kind in dir: directories or files named VM (records
 * VM.json), with their times but for cgroups: cgroupfs gives an inode the
 * time it was first looked up, by this scan often.
 */
static void scan_dir(struct reaper *r, const char *dir, enum kind kind)
{
	struct strbuf path = STRBUF_INIT;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		if (errno != ENOENT)
			cannot_list(r, errno, dir);
		return;
	}
	while ((de = readdir(d))) {
		char id[VM_ID_LEN + 1];
		struct stat st;

		if (strlen(de->d_name) != VM_ID_LEN + (kind == RECORD ? 5 : 0) ||
		    (kind == RECORD && !ends_with(de->d_name, ".json")))
			continue;
		xsnprintf(id, sizeof(id), "%.*s", VM_ID_LEN, de->d_name);
		if (!vm_id_valid(id))
			continue;
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir, de->d_name);
		/* never a symbolic link: its target is no VM's */
		if (lstat(path.buf, &st) || (is_dir_kind(kind) ? !S_ISDIR(st.st_mode) :
					     !S_ISREG(st.st_mode)))
			continue;
		add(r, id, kind, path.buf, 0, kind == CGROUP ? -1 : mtime_ms(&st));
	}
	closedir(d);
	strbuf_release(&path);
}

/* When pid started, on the wall clock, from /proc/PID/stat; -1 when unknown. */
static int64_t started_ms(pid_t pid)
{
	struct strbuf path = STRBUF_INIT, sb = STRBUF_INIT;
	struct strvec f = STRVEC_INIT;
	struct timespec boot;
	int64_t ticks, ms = -1;
	const char *paren;

	strbuf_addf(&path, "/proc/%d/stat", (int)pid);
	/* the command's name, in parentheses, may hold anything: fields follow the last ')' */
	if (!strbuf_read_file(&sb, path.buf, 4096) && (paren = strrchr(sb.buf, ')'))) {
		strvec_split(&f, paren + 1, ' ');
		/* starttime is field 22, the 20th after the name */
		if (f.nr > 19 && !parse_i64(f.v[19], 0, INT64_MAX / 1000, &ticks) &&
		    !clock_gettime(CLOCK_BOOTTIME, &boot))
			ms = now_ms() - ((int64_t)boot.tv_sec * 1000 + boot.tv_nsec / 1000000) +
			     ticks * 1000 / sysconf(_SC_CLK_TCK);
	}
	strvec_clear(&f);
	strbuf_release(&path);
	strbuf_release(&sb);
	return ms;
}

/* The VM of pid: by its command line, or with roots by the jail it is rooted in. */
static bool process_vm(struct reaper *r, pid_t pid, bool roots, char *id)
{
	char path[64];
	struct stat st;

	if (!roots)
		return vm_process_id(pid, id);
	/* a jailed process cannot leave its root, while it can rewrite its command line */
	xsnprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	if (r->nr_roots && !stat(path, &st))
		for (size_t i = 0; i < r->nr_roots; i++)
			if (r->roots[i].dev == st.st_dev && r->roots[i].ino == st.st_ino) {
				memcpy(id, r->roots[i].id, VM_ID_LEN + 1);
				return true;
			}
	return false;
}

/* The processes of VMs, by their command lines or (roots) by the jails found. */
static void scan_processes(struct reaper *r, bool roots)
{
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d) {
		cannot_list(r, errno, "/proc");
		return;
	}
	/* the roots of other uids' processes are only shown to their tracers */
	if (roots)
		caps_raise(CAP_SYS_PTRACE);
	while ((de = readdir(d))) {
		char id[VM_ID_LEN + 1];
		int64_t pid;

		if (!parse_i64(de->d_name, 1, INT32_MAX, &pid) && process_vm(r, pid, roots, id))
			add(r, id, PROCESS, NULL, pid, started_ms(pid));
	}
	if (roots)
		caps_lower(CAP_SYS_PTRACE);
	closedir(d);
}

/* Under the parent cgroup of every hierarchy: a VM's jailer writes to those it needs. */
static void scan_cgroups(struct reaper *r)
{
	struct cgroup_layout l = CGROUP_LAYOUT_INIT;
	struct strbuf dir = STRBUF_INIT;
	int rc = cgroup_layout_read(&l);

	if (rc)
		teardown_action_fail(r->out, NULL, "list", rc, "cgroup hierarchies");
	for (size_t i = 0; i < l.nr; i++) {
		strbuf_reset(&dir);
		strbuf_addf(&dir, "%s/%s", l.mounts[i].path, cfg_str("firecracker.parent_cgroup"));
		scan_dir(r, dir.buf, CGROUP);
	}
	cgroup_layout_release(&l);
	strbuf_release(&dir);
}

/* A jail's root/, a directory of its own: never a link, never the host's "/". */
static void add_root(struct reaper *r, const struct object *jail, const struct stat *host)
{
	char *path = xstrfmt("%s/root", jail->path);
	struct jail_root *root;
	struct stat st;

	if (!lstat(path, &st) && S_ISDIR(st.st_mode) &&
	    (st.st_dev != host->st_dev || st.st_ino != host->st_ino)) {
		ALLOC_GROW(r->roots, r->nr_roots + 1, r->alloc_roots);
		root = &r->roots[r->nr_roots++];
		root->dev = st.st_dev;
		root->ino = st.st_ino;
		memcpy(root->id, jail->id, sizeof(root->id));
	}
	free(path);
}

static void scan_jails(struct reaper *r)
{
	const char *binary = cfg_str("firecracker.binary"), *slash = strrchr(binary, '/');
	struct strbuf dir = STRBUF_INIT;
	size_t from = r->nr_objs;
	struct stat host;

	/* as jail_path() lays them out */
	strbuf_addf(&dir, "%s/%s", cfg_str("firecracker.chroot_base"), slash ? slash + 1 : binary);
	scan_dir(r, dir.buf, JAIL);
	if (!stat("/", &host))
		for (size_t i = from; i < r->nr_objs; i++)
			add_root(r, &r->objs[i], &host);
	strbuf_release(&dir);
}

static void scan_links(struct reaper *r)
{
	struct strvec names = STRVEC_INIT;
	int rc = link_list(&names);

	if (rc)
		teardown_action_fail(r->out, NULL, "list", rc, "links");
	for (size_t i = 0; i < names.nr; i++) {
		char id[VM_ID_LEN + 1];

		/* a link has no time: its record, made before it, tells the VM's age */
		if (vm_id_of_name(names.v[i], id))
			add(r, id, LINK, names.v[i], 0, -1);
	}
	strvec_clear(&names);
}

static void scan(struct reaper *r)
{
	struct strbuf dir = STRBUF_INIT;

	scan_processes(r, false);
	scan_cgroups(r);
	scan_jails(r);
	if (r->nr_roots)
		scan_processes(r, true);
	scan_links(r);
	scan_dir(r, cfg_str("firecracker.netns_dir"), NETNS);
	vm_records_dir(&dir);
	scan_dir(r, dir.buf, RECORD);
	strbuf_release(&dir);
}

static int cmp_object(const void *a, const void *b)
{
	const struct object *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : (int)x->kind - (int)y->kind;
}

static void push_unique(struct strvec *sv, const char *s)
{
	for (size_t i = 0; i < sv->nr; i++)
		if (!strcmp(sv->v[i], s))
			return;
	strvec_push(sv, s);
}

/* The record of vm, read now: one removed since it was seen is none. */
static void load_record(struct vm *vm)
{
	int rc = vm_record_load(vm->id, &vm->rec);

	vm->record = rc != -EXIT_NOTFOUND;
	if (rc && vm->record)
		warning("%s: %s; reaping it as a VM without one", vm->id, fail_message());
	if (rc)
		vm->rec = (struct vm_record)VM_RECORD_INIT;
}

/* What the record knows that was not found (a runner, the job), and what was found besides. */
static void merge_record(struct vm *vm)
{
	const struct vm_record *rec = &vm->rec;

	if (!rec->id)
		return;
	if (rec->netns)
		vm->netns = rec->netns;
	if (rec->jail)
		vm->jail = rec->jail;
	for (size_t i = 0; i < rec->links.nr; i++)
		push_unique(&vm->links, rec->links.v[i]);
	for (size_t i = 0; i < rec->cgroups.nr; i++)
		push_unique(&vm->cgroups, rec->cgroups.v[i]);
}

static void take(struct vm *vm, const struct object *o)
{
	if (o->mtime_ms > vm->newest_ms)
		vm->newest_ms = o->mtime_ms;
	switch (o->kind) {
	case RECORD:
		vm->record_ms = o->mtime_ms;
		load_record(vm);
		break;
	case NETNS:
		vm->netns = o->path;
		break;
	case LINK:
		push_unique(&vm->links, o->path);
		break;
	case JAIL:
		vm->jail = o->path;
		break;
	case CGROUP:
		push_unique(&vm->cgroups, o->path);
		break;
	case PROCESS:
		ALLOC_GROW(vm->pids, vm->nr_pids + 1, vm->alloc_pids);
		vm->pids[vm->nr_pids++] = o->pid;
		break;
	}
}

/* The objects, one VM per id. */
static void group(struct reaper *r)
{
	size_t alloc = 0;

	if (r->nr_objs)
		qsort(r->objs, r->nr_objs, sizeof(*r->objs), cmp_object);
	for (size_t i = 0; i < r->nr_objs; i++) {
		struct vm *vm = r->nr_vms ? &r->vms[r->nr_vms - 1] : NULL;

		if (!vm || strcmp(vm->id, r->objs[i].id)) {
			ALLOC_GROW(r->vms, r->nr_vms + 1, alloc);
			vm = &r->vms[r->nr_vms++];
			*vm = (struct vm){ .id = r->objs[i].id, .rec = VM_RECORD_INIT, .record_ms = -1,
					   .newest_ms = -1, .links = STRVEC_INIT, .cgroups = STRVEC_INIT };
		}
		take(vm, &r->objs[i]);
	}
	for (size_t i = 0; i < r->nr_vms; i++)
		merge_record(&r->vms[i]);
}

/* Whether pid exists: signal 0 to another uid's is refused without CAP_KILL, but it exists. */
static bool exists(pid_t pid)
{
	return !kill(pid, 0) || errno == EPERM;
}

/* Whether a process of vm runs, as its command line says. */
static bool runs(const struct vm *vm)
{
	if (vm->rec.pid && exists(vm->rec.pid) && vm_process_is(vm->rec.pid, vm->id))
		return true;
	for (size_t i = 0; i < vm->nr_pids; i++)
		if (exists(vm->pids[i]) && vm_process_is(vm->pids[i], vm->id))
			return true;
	return false;
}

/* The store, opened once it is needed; a failure is remembered, and said again. */
static int store(struct reaper *r)
{
	if (!r->st && !r->st_rc) {
		r->st_rc = store_open(&r->st, STORE_MIGRATE);
		if (r->st_rc)
			r->st_err = xstrdup(fail_message());
	}
	return r->st_rc ? fail(fail_code(r->st_rc), "%s", r->st_err) : 0;
}

/* 1 when the record's job is leased by this host with the record's fence, 0 when not. */
static int held_here(struct reaper *r, const struct vm_record *rec)
{
	struct lease l = LEASE_INIT;
	int rc;

	/* a job id no lease can have */
	if (!rec->job || rec->fence <= 0 || job_id_check(rec->job))
		return 0;
	rc = store(r);
	if (!rc)
		rc = lease_get(r->st, rec->job, &l);
	if (!rc)
		rc = lease_live(&l) && l.fence == rec->fence && !strcmp(l.holder, lease_default_holder());
	lease_clear(&l);
	return rc == -EXIT_NOTFOUND ? 0 : rc;
}

/* When vm was made: its record's "created", or the youngest of its objects. */
static int64_t born_ms(const struct vm *vm)
{
	const char *created = vm->rec.id ? json_string_value(json_object_get(vm->rec.doc, "created"))
					 : NULL;
	int64_t secs;

	if (created && !parse_rfc3339(created, &secs))
		return secs * 1000;
	return vm->rec.id ? vm->record_ms : vm->newest_ms;
}

/* 1 when vm is stale, 0 when it is to be left alone, -code when that cannot be told. */
static int stale(struct reaper *r, const struct vm *vm)
{
	const char *state = vm->rec.state;
	int64_t born = born_ms(vm);
	int rc;

	/* the reaper's own: found stale before */
	if (state && !strcmp(state, "reaping"))
		return 1;
	if (born >= 0 && r->now_ms - born < r->o->grace_ms) {
		log_debug("%s: %" PRId64 " s old, within the grace", vm->id, (r->now_ms - born) / 1000);
		return 0;
	}
	if (!vm->rec.id || !runs(vm))
		return 1;
	rc = held_here(r, &vm->rec);
	if (rc > 0)
		log_debug("%s is live: job %s, fence %" PRId64, vm->id, vm->rec.job, vm->rec.fence);
	return rc < 0 ? rc : !rc;
}

/* A record for a VM found without one: what its teardown leaves, the next run finds. */
static int adopt(const struct vm *vm)
{
	json_t *doc = json_pack("{s:s, s:s, s:o}", "id", vm->id, "state", "reaping",
				"created", xjson_time_ms(now_ms()));
	struct vm_record rec;
	int rc = vm_record_from_json(&rec, doc);

	if (!rc) {
		rc = vm_record_create(&rec);
		vm_record_release(&rec);
	}
	return rc;
}

/* What the teardown is to know of vm: what its record says, and what was found. */
static void teardown_of(const struct vm *vm, struct teardown_vm *tv)
{
	if (vm->rec.id)
		teardown_vm_of_record(tv, &vm->rec);
	else
		*tv = (struct teardown_vm){ .id = vm->id, .record = vm->record };
	tv->pids = vm->pids;
	tv->nr_pids = vm->nr_pids;
	tv->jail = vm->jail;
	tv->netns = vm->netns;
	tv->links = &vm->links;
	tv->cgroups = &vm->cgroups;
}

/* Whether an action on vm from out->v[from] on failed. */
static bool failed(const struct teardown_actions *out, size_t from, const char *vm)
{
	for (size_t i = from; i < out->nr; i++)
		if (out->v[i].rc && out->v[i].vm && !strcmp(out->v[i].vm, vm))
			return true;
	return false;
}

/* Tear the stale VMs down together; those adopted lose their record when all of them went. */
static void tear_down(struct reaper *r, const bool *todo)
{
	struct teardown_vm *tv = xcalloc(r->nr_vms + 1, sizeof(*tv));
	bool *adopted = xcalloc(r->nr_vms + 1, sizeof(*adopted));
	const struct vm **of = xcalloc(r->nr_vms + 1, sizeof(*of));
	size_t nr = 0, from = r->out->nr;
	struct teardown *td;

	for (size_t i = 0; i < r->nr_vms; i++) {
		const struct vm *vm = &r->vms[i];
		int rc;

		if (!todo[i])
			continue;
		if (!vm->record && !dry(r)) {
			rc = adopt(vm);
			/* a record since the scan: the VM is someone's now */
			if (rc == -EXIT_BUSY)
				continue;
			if (rc)
				teardown_action_fail(r->out, vm->id, "record", rc, "%s", vm->id);
			adopted[nr] = !rc;
		}
		of[nr] = vm;
		teardown_of(vm, &tv[nr++]);
	}
	/* the store, if the checks opened it, serves the teardowns' jobs too */
	td = teardown_new(r->st, TEARDOWN_FIND_RUNNER | (dry(r) ? TEARDOWN_DRY_RUN : 0) |
			  (r->o->flags & REAP_NO_GITHUB ? TEARDOWN_NO_GITHUB : 0));
	teardown_vms(td, tv, nr, r->out);
	teardown_free(td);
	for (size_t i = 0; i < nr; i++) {
		int rc;

		if (adopted[i] && !failed(r->out, from, of[i]->id) &&
		    (rc = vm_record_remove(of[i]->id)) < 0)
			teardown_action_fail(r->out, of[i]->id, "remove", rc, "record %s", of[i]->id);
	}
	free(tv);
	free(adopted);
	free(of);
}

static void release(struct reaper *r)
{
	for (size_t i = 0; i < r->nr_vms; i++) {
		vm_record_release(&r->vms[i].rec);
		strvec_clear(&r->vms[i].links);
		strvec_clear(&r->vms[i].cgroups);
		free(r->vms[i].pids);
	}
	free(r->vms);
	for (size_t i = 0; i < r->nr_objs; i++)
		free(r->objs[i].path);
	free(r->objs);
	free(r->roots);
	store_close(r->st);
	free(r->st_err);
}

int reap(const struct reap_opts *o, struct teardown_actions *out)
{
	struct reaper r = { .o = o, .out = out };
	int lock = dry(&r) ? -1 : vm_reap_lock();
	bool *todo;

	if (!dry(&r) && lock < 0)
		return lock;
	scan(&r);
	/* after the scan: no object found is younger than that */
	r.now_ms = now_ms();
	group(&r);
	todo = xcalloc(r.nr_vms + 1, sizeof(*todo));
	for (size_t i = 0; i < r.nr_vms; i++) {
		const struct vm *vm = &r.vms[i];
		int rc = stale(&r, vm);

		if (rc < 0)
			teardown_action_fail(out, vm->id, "check", rc, "%s (job %s)", vm->id, vm->rec.job);
		todo[i] = rc > 0;
	}
	tear_down(&r, todo);
	free(todo);
	release(&r);
	if (lock >= 0)
		vm_unlock(lock);
	return 0;
}
