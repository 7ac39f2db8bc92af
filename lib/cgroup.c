#include "common.h"
#include "cgroup.h"
#include "escape.h"
#include "timeutil.h"

const char *const cgroup_controllers[] = { "cpuset", "cpu", "memory", "pids", NULL };

/* The v1 controllers, told apart from the other options of a cgroup mount. */
static const char *const v1_controllers[] = {
	"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory", "misc",
	"net_cls", "net_prio", "perf_event", "pids", "rdma", NULL,
};

static void add_v2_controllers(struct cgroup_mount *m)
{
	struct strbuf path = STRBUF_INIT, sb = STRBUF_INIT;

	strbuf_addf(&path, "%s/cgroup.controllers", m->path);
	if (strbuf_read_file(&sb, path.buf, 4096) >= 0) {
		for (char *p = sb.buf; *p; p++)
			if (*p == '\n')
				*p = ' ';
		strvec_split(&m->controllers, sb.buf, ' ');
	}
	strbuf_release(&path);
	strbuf_release(&sb);
}

static void add_mount(struct cgroup_layout *l, const char *dir, const char *type, const char *opts)
{
	struct cgroup_mount *m;
	struct strvec o = STRVEC_INIT;
	struct strbuf path = STRBUF_INIT;

	ALLOC_GROW(l->mounts, l->nr + 1, l->alloc);
	m = &l->mounts[l->nr++];
	strbuf_add_mount_path(&path, dir);
	m->path = strbuf_detach(&path, NULL);
	m->version = strcmp(type, "cgroup2") ? 1 : 2;
	m->controllers = (struct strvec)STRVEC_INIT;
	if (m->version == 2) {
		add_v2_controllers(m);
		return;
	}
	strvec_split(&o, opts, ',');
	for (size_t i = 0; i < o.nr; i++)
		if (str_in_list(v1_controllers, o.v[i]))
			strvec_push(&m->controllers, o.v[i]);
	strvec_clear(&o);
}

static bool fits(const struct cgroup_layout *l, int version)
{
	for (const char *const *c = cgroup_controllers; *c; c++)
		if (!cgroup_mount_of(l, version, *c))
			return false;
	return true;
}

void cgroup_layout_parse(struct cgroup_layout *l, const char *text)
{
	struct strvec lines = STRVEC_INIT;

	strvec_split(&lines, text, '\n');
	for (size_t i = 0; i < lines.nr; i++) {
		struct strvec f = STRVEC_INIT;

		strvec_split(&f, lines.v[i], ' ');
		if (f.nr >= 4 && (!strcmp(f.v[2], "cgroup") || !strcmp(f.v[2], "cgroup2")))
			add_mount(l, f.v[1], f.v[2], f.v[3]);
		strvec_clear(&f);
	}
	strvec_clear(&lines);
	l->version = fits(l, 2) ? 2 : fits(l, 1) ? 1 : 0;
}

int cgroup_layout_read(struct cgroup_layout *l)
{
	struct strbuf sb = STRBUF_INIT;

	if (strbuf_read_file(&sb, "/proc/self/mounts", 1 << 24) < 0)
		return fail_errno(EXIT_FAIL, "cannot read /proc/self/mounts");
	cgroup_layout_parse(l, sb.buf);
	strbuf_release(&sb);
	return 0;
}

void cgroup_layout_release(struct cgroup_layout *l)
{
	for (size_t i = 0; i < l->nr; i++) {
		free(l->mounts[i].path);
		strvec_clear(&l->mounts[i].controllers);
	}
	free(l->mounts);
	*l = (struct cgroup_layout)CGROUP_LAYOUT_INIT;
}

const struct cgroup_mount *cgroup_mount_of(const struct cgroup_layout *l, int version,
					   const char *controller)
{
	for (size_t i = 0; i < l->nr; i++)
		if (l->mounts[i].version == version && str_in_list(l->mounts[i].controllers.v, controller))
			return &l->mounts[i];
	return NULL;
}

int cgroup_layout_check(const struct cgroup_layout *l)
{
	if (l->version)
		return 0;
	return fail(EXIT_UNAVAILABLE, "no cgroup hierarchy offers the cpuset, cpu, memory and pids "
		    "controllers (neither the unified one nor v1 hierarchies)");
}

bool cgroup_parent_valid(const char *parent)
{
	struct strvec parts = STRVEC_INIT;
	bool ok = *parent && *parent != '/' && !strstr(parent, "//") && !ends_with(parent, "/");

	strvec_split(&parts, parent, '/');
	for (size_t i = 0; ok && i < parts.nr; i++) {
		const char *p = parts.v[i];

		ok = strcmp(p, ".") && strcmp(p, "..") &&
		     !p[strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")];
	}
	strvec_clear(&parts);
	return ok;
}

void cgroup_values(int version, const struct cgroup_limits *lim, struct strvec *out)
{
	struct strbuf sb = STRBUF_INIT;

	cpulist_format(&sb, &lim->cpus);
	strvec_pushf(out, "cpuset.cpus=%s", sb.buf);
	strbuf_reset(&sb);
	cpulist_format(&sb, &lim->mems);
	strvec_pushf(out, "cpuset.mems=%s", sb.buf);
	strbuf_release(&sb);
	/* the kernel's default period, 100 ms */
	if (version == 2) {
		if (lim->quota_pct)
			strvec_pushf(out, "cpu.max=%u 100000", lim->quota_pct * 1000);
		strvec_pushf(out, "memory.max=%" PRIu64, lim->memory);
	} else {
		if (lim->quota_pct) {
			strvec_push(out, "cpu.cfs_period_us=100000");
			strvec_pushf(out, "cpu.cfs_quota_us=%u", lim->quota_pct * 1000);
		}
		strvec_pushf(out, "memory.limit_in_bytes=%" PRIu64, lim->memory);
	}
	strvec_pushf(out, "pids.max=%" PRId64, lim->pids);
}

/*
 * As the jailer (1.16) reads it: CONTROLLER.PROPERTY, the controller up
 * to the first dot (memory.memsw.limit_in_bytes is memory's), and no
 * path in it.
 */
int cgroup_file_controller(const char *file, struct strbuf *controller)
{
	const char *dot = strchr(file, '.');

	if (!dot || dot == file || !dot[1] || strchr(file, '/'))
		return -1;
	strbuf_add(controller, file, dot - file);
	return 0;
}

void cgroup_dirs(const struct cgroup_layout *l, const char *parent, const char *id,
		 struct strvec *out)
{
	for (const char *const *c = cgroup_controllers; *c; c++) {
		const struct cgroup_mount *m = cgroup_mount_of(l, l->version, *c);
		char *dir;
		bool seen = false;

		if (!m)
			continue;
		dir = xstrfmt("%s/%s/%s", m->path, parent, id);
		for (size_t i = 0; i < out->nr && !seen; i++)
			seen = !strcmp(out->v[i], dir);
		if (!seen)
			strvec_push(out, dir);
		free(dir);
	}
}

int cgroup_remove(const char *dir, int64_t timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;

	/* a task that was killed leaves its cgroup a moment after its signal */
	while (rmdir(dir)) {
		if (errno == ENOENT)
			return 0;
		if (errno != EBUSY || mono_ms() >= deadline)
			return fail_errno(errno == EBUSY ? EXIT_BUSY : EXIT_FAIL,
					  "cannot remove cgroup %s", dir);
		sleep_ms(10);
	}
	return 1;
}
