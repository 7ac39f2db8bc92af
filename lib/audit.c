#include "common.h"
#include "audit.h"
#include "config.h"
#include "rootfs-attest.h"
#include "vm.h"

#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#define PROC_MAX (1 << 20)

static const char *const status_names[] = { "pass", "warn", "fail" };

void audit_init(struct audit *a, const char *root)
{
	a->root = root ? root : "";
	a->checks = json_array();
	a->failed = 0;
}

void audit_release(struct audit *a)
{
	json_decref(a->checks);
	a->checks = NULL;
}

void audit_report(struct audit *a, const char *subject, const char *check,
		  enum audit_status status, const char *fmt, ...)
{
	struct strbuf reason = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&reason, fmt, ap);
	va_end(ap);
	json_array_append_new(a->checks, json_pack("{s:s, s:s, s:s, s:s}", "subject", subject,
						   "check", check, "status", status_names[status],
						   "reason", reason.buf));
	if (status == AUDIT_FAIL)
		a->failed++;
	strbuf_release(&reason);
}

/* Read root + path, trimmed; -1 with errno. */
static int read_under(const struct audit *a, const char *path, struct strbuf *sb)
{
	char *full = xstrfmt("%s%s", a->root, path);
	int rc;

	strbuf_reset(sb);
	rc = strbuf_read_file(sb, full, PROC_MAX);
	free(full);
	if (!rc)
		strbuf_trim(sb);
	return rc;
}

/* The value of "Name:\tvalue" in /proc/PID/status text, or NULL. */
static const char *status_field(const char *text, const char *name, struct strbuf *out)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, n) || p[n] != ':')
			continue;
		p += n + 1;
		p += strspn(p, " \t");
		strbuf_reset(out);
		strbuf_add(out, p, strcspn(p, "\n"));
		return out->buf;
	}
	return NULL;
}

static void mode_owner(struct strbuf *sb, const struct stat *st)
{
	struct passwd *pw = getpwuid(st->st_uid);
	struct group *gr = getgrgid(st->st_gid);

	if (pw)
		strbuf_addstr(sb, pw->pw_name);
	else
		strbuf_addf(sb, "%u", (unsigned)st->st_uid);
	if (gr)
		strbuf_addf(sb, ":%s", gr->gr_name);
	else
		strbuf_addf(sb, ":%u", (unsigned)st->st_gid);
	strbuf_addf(sb, " %04o", (unsigned)(st->st_mode & 07777));
}

/* /dev/kvm: root's, not for everyone to open. */
static void check_kvm(struct audit *a)
{
	char *path = xstrfmt("%s/dev/kvm", a->root);
	struct strbuf desc = STRBUF_INIT;
	struct stat st;

	if (stat(path, &st)) {
		audit_report(a, "host", "kvm", AUDIT_WARN, "no /dev/kvm: this host cannot run VMs");
		free(path);
		return;
	}
	mode_owner(&desc, &st);
	if (!S_ISCHR(st.st_mode))
		audit_report(a, "host", "kvm", AUDIT_FAIL, "/dev/kvm is not a character device");
	else if (st.st_uid)
		audit_report(a, "host", "kvm", AUDIT_FAIL, "/dev/kvm is %s: not root's", desc.buf);
	else if (st.st_mode & (S_IROTH | S_IWOTH))
		audit_report(a, "host", "kvm", AUDIT_WARN,
			     "/dev/kvm is %s: any local user may create VMs", desc.buf);
	else
		audit_report(a, "host", "kvm", AUDIT_PASS, "/dev/kvm is %s", desc.buf);
	strbuf_release(&desc);
	free(path);
}

/*
 * Firecracker's production host setup: SMT off for good, no KSM, no
 * swap. SMT on is a warning only: boot never gives two VMs the threads
 * of one core.
 */
static void check_smt(struct audit *a, struct strbuf *sb)
{
	if (read_under(a, "/sys/devices/system/cpu/smt/control", sb))
		audit_report(a, "host", "smt", AUDIT_WARN, "unknown: no smt/control");
	else if (!strcmp(sb->buf, "forceoff") || !strcmp(sb->buf, "notsupported"))
		audit_report(a, "host", "smt", AUDIT_PASS, "%s", sb->buf);
	else if (!strcmp(sb->buf, "off"))
		audit_report(a, "host", "smt", AUDIT_WARN, "off, but not for good: boot with nosmt=force");
	else
		audit_report(a, "host", "smt", AUDIT_WARN,
			     "%s: VMs get whole cores, but nosmt=force is safer", sb->buf);
}

static void check_ksm(struct audit *a, struct strbuf *sb)
{
	if (read_under(a, "/sys/kernel/mm/ksm/run", sb))
		audit_report(a, "host", "ksm", AUDIT_PASS, "not built in");
	else if (!strcmp(sb->buf, "0"))
		audit_report(a, "host", "ksm", AUDIT_PASS, "off");
	else if (!strcmp(sb->buf, "2"))
		audit_report(a, "host", "ksm", AUDIT_WARN, "unmerging pages: set it to 0 once done");
	else
		audit_report(a, "host", "ksm", AUDIT_FAIL,
			     "merging pages across VMs: echo 0 > /sys/kernel/mm/ksm/run");
}

static void check_swap(struct audit *a, struct strbuf *sb)
{
	struct strvec lines = STRVEC_INIT;
	struct strbuf names = STRBUF_INIT;

	if (read_under(a, "/proc/swaps", sb)) {
		audit_report(a, "host", "swap", AUDIT_WARN, "unknown: cannot read /proc/swaps");
		return;
	}
	strvec_split(&lines, sb->buf, '\n');
	/* the first line is the header */
	for (size_t i = 1; i < lines.nr; i++)
		strbuf_addf(&names, "%s%.*s", names.len ? ", " : "",
			    (int)strcspn(lines.v[i], " \t"), lines.v[i]);
	if (names.len)
		audit_report(a, "host", "swap", AUDIT_WARN,
			     "on (%s): guest memory may reach the disk; swapoff, or encrypt it", names.buf);
	else
		audit_report(a, "host", "swap", AUDIT_PASS, "off");
	strvec_clear(&lines);
	strbuf_release(&names);
}

static void check_cgroup(struct audit *a, struct strbuf *sb)
{
	struct strvec lines = STRVEC_INIT;
	bool v1 = false, v2 = false, unified = false;

	if (read_under(a, "/proc/self/mounts", sb)) {
		audit_report(a, "host", "cgroup", AUDIT_WARN, "unknown: cannot read the mounts");
		return;
	}
	strvec_split(&lines, sb->buf, '\n');
	for (size_t i = 0; i < lines.nr; i++) {
		struct strvec f = STRVEC_INIT;

		strvec_split(&f, lines.v[i], ' ');
		if (f.nr >= 3 && !strcmp(f.v[2], "cgroup2")) {
			v2 = true;
			unified |= !strcmp(f.v[1], "/sys/fs/cgroup");
		}
		v1 |= f.nr >= 3 && !strcmp(f.v[2], "cgroup");
		strvec_clear(&f);
	}
	strvec_clear(&lines);
	if (v1)
		audit_report(a, "host", "cgroup", AUDIT_WARN, "v1%s: a VM's limits are spread over "
			     "hierarchies; v2 is simpler to get right", v2 ? ", v2 beside it" : "");
	else if (v2)
		audit_report(a, "host", "cgroup", AUDIT_PASS, "v2%s", unified ? ", unified" : "");
	else
		audit_report(a, "host", "cgroup", AUDIT_FAIL, "none mounted: no VM can be limited");
}

/* The state of one CPU vulnerability, or NULL when the kernel does not say. */
static const char *vulnerability(struct audit *a, const char *name, struct strbuf *sb)
{
	char *path = xstrfmt("/sys/devices/system/cpu/vulnerabilities/%s", name);
	int rc = read_under(a, path, sb);

	free(path);
	return rc ? NULL : sb->buf;
}

static bool has_word(const struct strvec *words, const char *w)
{
	for (size_t i = 0; i < words->nr; i++)
		if (!strcmp(words->v[i], w))
			return true;
	return false;
}

/*
 * The kernel command line: nothing that turns mitigations off, and the
 * parameters Firecracker's production host setup asks for, unless the
 * hardware makes them moot.
 */
static void check_cmdline(struct audit *a, struct strbuf *sb)
{
	static const char *const off[] = {
		"mitigations=off", "nopti", "pti=off", "nospectre_v1", "nospectre_v2",
		"spectre_v2=off", "nospec_store_bypass_disable", "spec_store_bypass_disable=off",
		"l1tf=off", "mds=off", "tsx_async_abort=off", "mmio_stale_data=off",
		"retbleed=off", "srbds=off", "gather_data_sampling=off",
	};
	struct strvec words = STRVEC_INIT;
	struct strbuf bad = STRBUF_INIT, missing = STRBUF_INIT, v = STRBUF_INIT;
	const char *s;

	if (read_under(a, "/proc/cmdline", sb)) {
		audit_report(a, "host", "cmdline", AUDIT_WARN, "unknown: cannot read /proc/cmdline");
		return;
	}
	strvec_split(&words, sb->buf, ' ');
	for (size_t i = 0; i < ARRAY_SIZE(off); i++)
		if (has_word(&words, off[i]))
			strbuf_addf(&bad, " %s", off[i]);
	if (!read_under(a, "/sys/devices/system/cpu/smt/control", &v) &&
	    strcmp(v.buf, "forceoff") && strcmp(v.buf, "notsupported") && !has_word(&words, "nosmt=force"))
		strbuf_addstr(&missing, " nosmt=force");
	s = vulnerability(a, "l1tf", &v);
	if (s && !starts_with(s, "Not affected") && !has_word(&words, "l1tf=full,force"))
		strbuf_addstr(&missing, " l1tf=full,force");
	s = vulnerability(a, "spec_store_bypass", &v);
	if (s && !starts_with(s, "Not affected") && !has_word(&words, "spec_store_bypass_disable=seccomp") &&
	    !has_word(&words, "spec_store_bypass_disable=on"))
		strbuf_addstr(&missing, " spec_store_bypass_disable=seccomp");
	if (bad.len)
		audit_report(a, "host", "cmdline", AUDIT_FAIL, "mitigations turned off:%s", bad.buf);
	else if (missing.len)
		audit_report(a, "host", "cmdline", AUDIT_WARN, "Firecracker's production setup adds:%s",
			     missing.buf);
	else
		audit_report(a, "host", "cmdline", AUDIT_PASS, "as Firecracker's production setup asks");
	strvec_clear(&words);
	strbuf_release(&bad);
	strbuf_release(&missing);
	strbuf_release(&v);
}

static void check_vulnerabilities(struct audit *a, struct strbuf *sb)
{
	char *path = xstrfmt("%s/sys/devices/system/cpu/vulnerabilities", a->root);
	struct strbuf vulnerable = STRBUF_INIT, unknown = STRBUF_INIT;
	struct dirent **names;
	int nr = scandir(path, &names, NULL, alphasort);
	size_t n = 0;

	if (nr < 0) {
		audit_report(a, "host", "vulnerabilities", AUDIT_WARN, "unknown: the kernel does not say");
		free(path);
		return;
	}
	for (int i = 0; i < nr; i++) {
		const char *name = names[i]->d_name, *s;

		if (name[0] != '.' && (s = vulnerability(a, name, sb))) {
			n++;
			if (starts_with(s, "Vulnerable"))
				strbuf_addf(&vulnerable, " %s", name);
			else if (starts_with(s, "Unknown"))
				strbuf_addf(&unknown, " %s", name);
		}
		free(names[i]);
	}
	free(names);
	if (vulnerable.len)
		audit_report(a, "host", "vulnerabilities", AUDIT_FAIL, "vulnerable:%s", vulnerable.buf);
	else if (unknown.len)
		audit_report(a, "host", "vulnerabilities", AUDIT_WARN, "unknown:%s", unknown.buf);
	else
		audit_report(a, "host", "vulnerabilities", AUDIT_PASS, "%zu known, each mitigated or moot", n);
	strbuf_release(&vulnerable);
	strbuf_release(&unknown);
	free(path);
}

/* Files of nimbus' own may belong to root, to whoever runs this, or to the service user. */
static bool trusted_owner(uid_t uid)
{
	struct passwd *pw;

	if (!uid || uid == geteuid())
		return true;
	pw = getpwnam(cfg_str("serve.user"));
	return pw && pw->pw_uid == uid;
}

/* Stat one of nimbus' files: one that is missing passes, saying so; an error fails. */
static bool found(struct audit *a, const char *check, const char *path, const char *missing,
		  struct stat *st)
{
	int err;

	if (!stat(path, st))
		return true;
	err = errno;
	audit_report(a, "host", check, err == ENOENT ? AUDIT_PASS : AUDIT_FAIL, "%s: %s", path,
		     err == ENOENT ? missing : strerror(err));
	return false;
}

static void check_config(struct audit *a)
{
	const char *path = cfg_file_path();
	struct strbuf desc = STRBUF_INIT;
	struct stat st;

	if (!found(a, "config", path, "none, the defaults hold", &st))
		return;
	mode_owner(&desc, &st);
	if (st.st_uid && st.st_uid != geteuid())
		audit_report(a, "host", "config", AUDIT_FAIL, "%s is %s: whoever owns it configures nimbus",
			     path, desc.buf);
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		audit_report(a, "host", "config", AUDIT_FAIL, "%s is %s: writable by others", path, desc.buf);
	else if (st.st_mode & S_IROTH)
		audit_report(a, "host", "config", AUDIT_WARN,
			     "%s is %s: readable by anyone, and it may hold passwords", path, desc.buf);
	else
		audit_report(a, "host", "config", AUDIT_PASS, "%s is %s", path, desc.buf);
	strbuf_release(&desc);
}

/* A file in keys.dir: the private keys for the owner alone, nothing writable by others. */
static void check_key_file(const char *dir, const char *name, const struct stat *dst,
			   struct strbuf *bad)
{
	char *path = xstrfmt("%s/%s", dir, name);
	struct stat st;

	if (lstat(path, &st))
		strbuf_addf(bad, "; cannot stat %s", name);
	else if (!S_ISREG(st.st_mode))
		strbuf_addf(bad, "; %s is not a regular file", name);
	else if (st.st_uid != dst->st_uid)
		strbuf_addf(bad, "; %s belongs to uid %u", name, (unsigned)st.st_uid);
	else if (ends_with(name, ".pem") && (st.st_mode & 077))
		strbuf_addf(bad, "; %s has mode %04o", name, (unsigned)(st.st_mode & 07777));
	else if (st.st_mode & 022)
		strbuf_addf(bad, "; %s is writable by others", name);
	free(path);
}

static void check_keys(struct audit *a)
{
	const char *path = cfg_str("keys.dir");
	struct strbuf desc = STRBUF_INIT, bad = STRBUF_INIT;
	struct dirent *de;
	struct stat st;
	DIR *dir;

	if (!found(a, "keys", path, "no keys yet", &st))
		return;
	mode_owner(&desc, &st);
	if (!S_ISDIR(st.st_mode))
		strbuf_addstr(&bad, "; not a directory");
	else if (st.st_uid && st.st_uid != geteuid())
		strbuf_addstr(&bad, "; whoever owns it may plant a key");
	else if (st.st_mode & S_IWGRP)
		strbuf_addstr(&bad, "; writable by its group");
	else if (st.st_mode & S_IRWXO)
		strbuf_addstr(&bad, "; open to anyone");
	if (!bad.len && (dir = opendir(path))) {
		while ((de = readdir(dir)))
			if (de->d_name[0] != '.')
				check_key_file(path, de->d_name, &st, &bad);
		closedir(dir);
	}
	if (bad.len)
		audit_report(a, "host", "keys", AUDIT_FAIL, "%s is %s%s", path, desc.buf, bad.buf);
	else
		audit_report(a, "host", "keys", AUDIT_PASS, "%s is %s, its keys private", path, desc.buf);
	strbuf_release(&desc);
	strbuf_release(&bad);
}

/* The files of secrets the configuration names (the keys *_file). */
static void check_secret_files(struct audit *a)
{
	struct strbuf bad = STRBUF_INIT, missing = STRBUF_INIT;
	size_t n = 0;

	for (size_t i = 0; i < cfg_keys_nr; i++) {
		const char *key = cfg_keys[i].name, *path;
		struct stat st;

		if (!ends_with(key, "_file") || !*(path = cfg_str(key)))
			continue;
		n++;
		if (stat(path, &st))
			strbuf_addf(&missing, "; %s %s: %s", key, path, strerror(errno));
		else if (!trusted_owner(st.st_uid))
			strbuf_addf(&bad, "; %s belongs to uid %u", path, (unsigned)st.st_uid);
		else if (st.st_mode & 077)
			strbuf_addf(&bad, "; %s has mode %04o", path, (unsigned)(st.st_mode & 07777));
	}
	if (bad.len)
		audit_report(a, "host", "secret_files", AUDIT_FAIL, "%s", bad.buf + 2);
	else if (missing.len)
		audit_report(a, "host", "secret_files", AUDIT_WARN, "%s", missing.buf + 2);
	else
		audit_report(a, "host", "secret_files", AUDIT_PASS, "%zu configured, each private", n);
	strbuf_release(&bad);
	strbuf_release(&missing);
}

void audit_host(struct audit *a)
{
	struct strbuf sb = STRBUF_INIT;

	check_kvm(a);
	check_smt(a, &sb);
	check_ksm(a, &sb);
	check_swap(a, &sb);
	check_cgroup(a, &sb);
	check_cmdline(a, &sb);
	check_vulnerabilities(a, &sb);
	check_config(a);
	check_keys(a);
	check_secret_files(a);
	strbuf_release(&sb);
}

/* The uid or gid line of a status: real, effective, saved and fs ids; 0 when all equal. */
static int ids(const char *text, const char *name, int64_t *id)
{
	struct strbuf v = STRBUF_INIT;
	unsigned long long r, e, s, f;
	int rc = -1;

	if (status_field(text, name, &v) && sscanf(v.buf, "%llu %llu %llu %llu", &r, &e, &s, &f) == 4 &&
	    r == e && e == s && s == f) {
		*id = r;
		rc = 0;
	}
	strbuf_release(&v);
	return rc;
}

/*
 * Whether a thread's filters are its own: more than the inherited ones
 * (nimbus boot's, which a VM's process holds from its start), when the
 * kernel counts them (Linux 5.9).
 */
static bool own_filters(const char *status, int64_t inherited, struct strbuf *v)
{
	return inherited <= 0 || !status_field(status, "Seccomp_filters", v) ||
	       strtoll(v->buf, NULL, 10) > inherited;
}

/*
 * On every thread of pid: no capability in any set (a bounding set that
 * is not empty is reported as bounding says, with why), no_new_privs,
 * seccomp filtering by filters of its own, beyond the inherited ones.
 * A thread may differ from the process: each is read.
 */
static void check_threads(struct audit *a, const char *subject, pid_t pid,
			  enum audit_status bounding, const char *why, int64_t inherited)
{
	static const char *const sets[] = { "CapInh", "CapPrm", "CapEff", "CapAmb" };
	char *path = xstrfmt("%s/proc/%d/task", a->root, (int)pid);
	struct strbuf st = STRBUF_INIT, v = STRBUF_INIT, caps = STRBUF_INIT, bnd = STRBUF_INIT,
		      nnp = STRBUF_INIT, seccomp = STRBUF_INIT, borrowed = STRBUF_INIT;
	struct dirent *de;
	DIR *dir = opendir(path);
	size_t n = 0;

	while (dir && (de = readdir(dir))) {
		char *file;

		if (de->d_name[0] == '.')
			continue;
		file = xstrfmt("/proc/%d/task/%s/status", (int)pid, de->d_name);
		if (!read_under(a, file, &st)) {
			n++;
			for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
				if (!status_field(st.buf, sets[i], &v) || strtoull(v.buf, NULL, 16))
					strbuf_addf(&caps, " %s:%s=%s", de->d_name, sets[i], v.len ? v.buf : "?");
			if (!status_field(st.buf, "CapBnd", &v) || strtoull(v.buf, NULL, 16))
				strbuf_addf(&bnd, " %s:CapBnd=%s", de->d_name, v.len ? v.buf : "?");
			if (!status_field(st.buf, "NoNewPrivs", &v) || strcmp(v.buf, "1"))
				strbuf_addf(&nnp, " %s", de->d_name);
			if (!status_field(st.buf, "Seccomp", &v) || strcmp(v.buf, "2"))
				strbuf_addf(&seccomp, " %s:%s", de->d_name, v.len ? v.buf : "?");
			else if (!own_filters(st.buf, inherited, &v))
				strbuf_addf(&borrowed, " %s", de->d_name);
		}
		free(file);
	}
	if (dir)
		closedir(dir);
	if (!n) {
		audit_report(a, subject, "threads", AUDIT_FAIL, "cannot read the threads of pid %d",
			     (int)pid);
	} else {
		if (caps.len)
			audit_report(a, subject, "capabilities", AUDIT_FAIL, "held by thread%s", caps.buf);
		else if (bnd.len)
			audit_report(a, subject, "capabilities", bounding, "none held, but bounding set of "
				     "thread%s (%s)", bnd.buf, why);
		else
			audit_report(a, subject, "capabilities", AUDIT_PASS, "none in any set, on %zu threads", n);
		if (nnp.len)
			audit_report(a, subject, "no_new_privs", AUDIT_FAIL, "not set on thread%s", nnp.buf);
		else
			audit_report(a, subject, "no_new_privs", AUDIT_PASS, "set on %zu threads", n);
		if (seccomp.len)
			audit_report(a, subject, "seccomp", AUDIT_FAIL, "not filtering on thread%s",
				     seccomp.buf);
		else if (borrowed.len)
			audit_report(a, subject, "seccomp", AUDIT_FAIL, "no filter of its own, only the %"
				     PRId64 " of nimbus boot, on thread%s", inherited, borrowed.buf);
		else
			audit_report(a, subject, "seccomp", AUDIT_PASS, "filtering on %zu threads", n);
	}
	strbuf_release(&st);
	strbuf_release(&v);
	strbuf_release(&caps);
	strbuf_release(&bnd);
	strbuf_release(&nnp);
	strbuf_release(&seccomp);
	strbuf_release(&borrowed);
	free(path);
}

bool audit_is_serve(const char *cmdline, size_t len)
{
	struct strvec argv = STRVEC_INIT;
	const char *base;
	size_t i = 1;
	bool yes = false;

	for (size_t at = 0, n; at < len; at += n + 1) {
		n = strnlen(cmdline + at, len - at);
		strvec_pushf(&argv, "%.*s", (int)n, cmdline + at);
	}
	base = argv.nr ? strrchr(argv.v[0], '/') : NULL;
	if (!argv.nr || strcmp(base ? base + 1 : argv.v[0], "nimbus"))
		goto out;
	while (i < argv.nr && argv.v[i][0] == '-') {
		if (!strcmp(argv.v[i], "-c") || !strcmp(argv.v[i], "--config"))
			i++;
		i++;
	}
	if (i < argv.nr)
		yes = !strcmp(argv.v[i], "serve") ||
		      (strcmp(argv.v[i], "help") && i + 1 < argv.nr && !strcmp(argv.v[i + 1], "serve"));
out:
	strvec_clear(&argv);
	return yes;
}

/* Whether pid runs `nimbus serve` (or `nimbus SERVICE serve`). */
static bool is_serve(struct audit *a, long pid, struct strbuf *sb)
{
	char file[64];

	xsnprintf(file, sizeof(file), "/proc/%ld/cmdline", pid);
	/* a service may come and go while we look */
	return !read_under(a, file, sb) && audit_is_serve(sb->buf, sb->len);
}

/* The registry's signer: root, forked by a service to read the private keys for it. */
static bool is_signer(struct audit *a, const char *status)
{
	struct strbuf v = STRBUF_INIT;
	bool yes = false;
	char *end;
	long ppid;

	if (status_field(status, "Name", &v) && !strcmp(v.buf, "nimbus-signer") &&
	    status_field(status, "PPid", &v)) {
		ppid = strtol(v.buf, &end, 10);
		yes = !*end && ppid > 1 && is_serve(a, ppid, &v);
	}
	strbuf_release(&v);
	return yes;
}

static void check_service(struct audit *a, pid_t pid, const char *status)
{
	bool signer = is_signer(a, status);
	char subject[32];
	int64_t uid;
	struct passwd *pw;

	xsnprintf(subject, sizeof(subject), "%s:%d", signer ? "signer" : "serve", (int)pid);
	if (ids(status, "Uid", &uid))
		audit_report(a, subject, "user", AUDIT_FAIL, "mixed uids: it may switch back");
	else if (!uid && signer)
		audit_report(a, subject, "user", AUDIT_PASS, "root, for the private keys alone: it only signs");
	else if (!uid)
		audit_report(a, subject, "user", AUDIT_FAIL, "root: set serve.user");
	else if ((pw = getpwuid(uid)))
		audit_report(a, subject, "user", AUDIT_PASS, "%s (uid %" PRId64 ")", pw->pw_name, uid);
	else
		audit_report(a, subject, "user", AUDIT_PASS, "uid %" PRId64, uid);
	check_threads(a, subject, pid, AUDIT_WARN,
		      "only root can empty it, and with no_new_privs it is of no use", 0);
}

void audit_services(struct audit *a)
{
	char *path = xstrfmt("%s/proc", a->root);
	struct strbuf sb = STRBUF_INIT, file = STRBUF_INIT;
	DIR *dir = opendir(path);
	struct dirent *de;
	size_t n = 0;

	while (dir && (de = readdir(dir))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == getpid())
			continue;
		if (!is_serve(a, pid, &sb))
			continue;
		strbuf_reset(&file);
		strbuf_addf(&file, "/proc/%ld/status", pid);
		if (read_under(a, file.buf, &sb))
			continue;
		check_service(a, pid, sb.buf);
		n++;
	}
	if (dir)
		closedir(dir);
	if (!n)
		audit_report(a, "serve", "running", AUDIT_PASS, "no nimbus service runs here");
	strbuf_release(&sb);
	strbuf_release(&file);
	free(path);
}

/* The target of a /proc symbolic link under the root, or "" */
static void read_link(const struct audit *a, const char *path, struct strbuf *out)
{
	char *full = xstrfmt("%s%s", a->root, path);
	char buf[PATH_MAX];
	ssize_t n = readlink(full, buf, sizeof(buf) - 1);

	strbuf_reset(out);
	if (n > 0)
		strbuf_add(out, buf, n);
	free(full);
}

/*
 * Whether the pid of vm is its Firecracker (not a process that took its
 * pid since): rooted in its jail, or named for it on its command line.
 */
static bool is_vm_process(struct audit *a, const struct vm_record *vm, struct strbuf *sb)
{
	char *path = xstrfmt("/proc/%d/cmdline", (int)vm->pid);
	char *root = xstrfmt("%s/proc/%d/root", a->root, (int)vm->pid);
	bool yes = (vm->jail && vm_root_is(root, vm->jail)) ||
		   (!read_under(a, path, sb) && vm_cmdline_is(sb->buf, sb->len, vm->id));

	free(path);
	free(root);
	return yes;
}

static void check_jail(struct audit *a, const struct vm_record *vm, struct strbuf *sb)
{
	char *link, *path, *want;

	if (!vm->jail) {
		audit_report(a, vm->id, "jail", AUDIT_FAIL, "its record names no jail");
		return;
	}
	link = xstrfmt("/proc/%d/root", (int)vm->pid);
	path = xstrfmt("%s%s", a->root, link);
	want = xstrfmt("%s/root", vm->jail);
	read_link(a, link, sb);
	if (!vm_root_is(path, vm->jail))
		audit_report(a, vm->id, "jail", AUDIT_FAIL, "its root is %s, not %s",
			     sb->len ? sb->buf : "unknown", want);
	else
		audit_report(a, vm->id, "jail", AUDIT_PASS, "chrooted in %s", want);
	free(link);
	free(path);
	free(want);
}

/* Its namespace of type (pid, net) against the host's, which is init's. */
static void check_namespace(struct audit *a, const struct vm_record *vm, const char *type,
			    const char *path)
{
	struct strbuf ours = STRBUF_INIT, host = STRBUF_INIT;
	char *link = xstrfmt("/proc/%d/ns/%s", (int)vm->pid, type), *check = xstrfmt("%s_ns", type);
	struct stat st;
	unsigned long long ino;

	read_link(a, link, &ours);
	free(link);
	link = xstrfmt("/proc/1/ns/%s", type);
	read_link(a, link, &host);
	if (!ours.len)
		audit_report(a, vm->id, check, AUDIT_FAIL, "cannot read its %s namespace", type);
	else if (!strcmp(ours.buf, host.buf))
		audit_report(a, vm->id, check, AUDIT_FAIL, "the host's (%s)", ours.buf);
	else if (path && (stat(path, &st) || sscanf(ours.buf, "%*[^[][%llu]", &ino) != 1 ||
			  ino != (unsigned long long)st.st_ino))
		audit_report(a, vm->id, check, AUDIT_FAIL, "%s, not %s", ours.buf, path);
	else
		audit_report(a, vm->id, check, AUDIT_PASS, "its own (%s)", ours.buf);
	free(link);
	free(check);
	strbuf_release(&ours);
	strbuf_release(&host);
}

static void check_vm_user(struct audit *a, const struct vm_record *vm, const char *status,
			  const struct vm_record *others, size_t nr)
{
	int64_t uid, gid;

	if (ids(status, "Uid", &uid) || ids(status, "Gid", &gid)) {
		audit_report(a, vm->id, "user", AUDIT_FAIL, "mixed ids: it may switch");
		return;
	}
	if (!uid || !gid) {
		audit_report(a, vm->id, "user", AUDIT_FAIL, "runs as root (uid %" PRId64 ", gid %" PRId64 ")",
			     uid, gid);
		return;
	}
	if (uid != vm->uid || gid != vm->gid) {
		audit_report(a, vm->id, "user", AUDIT_FAIL, "uid %" PRId64 " gid %" PRId64 ", not its own "
			     "%" PRId64 ":%" PRId64, uid, gid, vm->uid, vm->gid);
		return;
	}
	for (size_t i = 0; i < nr; i++) {
		if (!strcmp(others[i].id, vm->id) || (others[i].uid != uid && others[i].gid != gid))
			continue;
		audit_report(a, vm->id, "user", AUDIT_FAIL, "uid %" PRId64 " gid %" PRId64
			     ", shared with %s", uid, gid, others[i].id);
		return;
	}
	audit_report(a, vm->id, "user", AUDIT_PASS, "uid %" PRId64 " gid %" PRId64 ", its own", uid, gid);
}

/* Whether dir (a cgroup directory) is one of pid's cgroups. */
static bool in_cgroup(const char *cgroups, const char *dir)
{
	struct strvec lines = STRVEC_INIT;
	bool yes = false;

	strvec_split(&lines, cgroups, '\n');
	for (size_t i = 0; i < lines.nr && !yes; i++) {
		const char *path = strchr(lines.v[i], ':');

		path = path ? strchr(path + 1, ':') : NULL;
		yes = path && strcmp(path + 1, "/") && ends_with(dir, path + 1);
	}
	strvec_clear(&lines);
	return yes;
}

/* A limit file of a cgroup directory: whether it limits anything. */
static bool limited(const char *dir, const char *file, struct strbuf *sb)
{
	char *path = xstrfmt("%s/%s", dir, file);
	int rc;

	strbuf_reset(sb);
	rc = strbuf_read_file(sb, path, 4096);

	free(path);
	if (rc)
		return false;
	strbuf_trim(sb);
	if (!strcmp(file, "memory.limit_in_bytes"))
		return strtoull(sb->buf, NULL, 10) < (1ULL << 60);
	if (!strcmp(file, "cpu.cfs_quota_us"))
		return strcmp(sb->buf, "-1");
	return sb->len && !starts_with(sb->buf, "max");
}

static void check_cgroups(struct audit *a, const struct vm_record *vm, struct strbuf *sb)
{
	static const struct { const char *what, *v2, *v1; } limits[] = {
		{ "memory", "memory.max", "memory.limit_in_bytes" },
		{ "pids", "pids.max", "pids.max" },
		{ "cpuset", "cpuset.cpus", "cpuset.cpus" },
	};
	struct strbuf v = STRBUF_INIT, missing = STRBUF_INIT, outside = STRBUF_INIT;
	char *path = xstrfmt("/proc/%d/cgroup", (int)vm->pid);
	bool quota = false;

	if (read_under(a, path, sb))
		strbuf_reset(sb);
	free(path);
	for (size_t i = 0; i < vm->cgroups.nr; i++) {
		const char *dir = vm->cgroups.v[i];

		if (!in_cgroup(sb->buf, dir))
			strbuf_addf(&outside, " %s", dir);
		quota |= limited(dir, "cpu.max", &v) || limited(dir, "cpu.cfs_quota_us", &v);
	}
	for (size_t l = 0; l < ARRAY_SIZE(limits); l++) {
		bool found = false;

		for (size_t i = 0; i < vm->cgroups.nr && !found; i++)
			found = limited(vm->cgroups.v[i], limits[l].v2, &v) ||
				limited(vm->cgroups.v[i], limits[l].v1, &v);
		if (!found)
			strbuf_addf(&missing, " %s", limits[l].what);
	}
	if (!vm->cgroups.nr)
		audit_report(a, vm->id, "cgroup", AUDIT_FAIL, "its record names no cgroup");
	else if (outside.len)
		audit_report(a, vm->id, "cgroup", AUDIT_FAIL, "not in its cgroup:%s", outside.buf);
	else if (missing.len)
		audit_report(a, vm->id, "cgroup", AUDIT_FAIL, "no limit on:%s", missing.buf);
	else
		audit_report(a, vm->id, "cgroup", AUDIT_PASS, "memory, pids and cpuset limited%s",
			     quota ? ", CPU quota set" : "");
	strbuf_release(&v);
	strbuf_release(&missing);
	strbuf_release(&outside);
}

/*
 * The links of its network namespace (/proc/PID/net/dev shows them):
 * the tap, named as the VM, and others named nimbus, its 8 hex digits
 * and one letter.
 */
static void check_links(struct audit *a, const struct vm_record *vm, struct strbuf *sb)
{
	struct strvec lines = STRVEC_INIT;
	struct strbuf stray = STRBUF_INIT;
	char *path = xstrfmt("/proc/%d/net/dev", (int)vm->pid);
	bool tap = false;

	if (read_under(a, path, sb))
		strbuf_reset(sb);
	free(path);
	strvec_split(&lines, sb->buf, '\n');
	/* two lines of headers */
	for (size_t i = 2; i < lines.nr; i++) {
		const char *name = lines.v[i] + strspn(lines.v[i], " ");
		size_t n = strcspn(name, ":");

		if (n == 2 && !strncmp(name, "lo", 2))
			continue;
		if (n == strlen(vm->id) && !strncmp(name, vm->id, n))
			tap = true;
		else if (n != 15 || strncmp(name, "nimbus", 6) || strncmp(name + 6, vm->id + 7, 8) ||
			 name[14] < 'a' || name[14] > 'z')
			strbuf_addf(&stray, " %.*s", (int)n, name);
	}
	if (stray.len)
		audit_report(a, vm->id, "tap", AUDIT_FAIL, "links not named for it:%s", stray.buf);
	else if (!tap)
		audit_report(a, vm->id, "tap", AUDIT_FAIL, "no tap %s in its namespace", vm->id);
	else
		audit_report(a, vm->id, "tap", AUDIT_PASS, "%s, and its links named for it", vm->id);
	strvec_clear(&lines);
	strbuf_release(&stray);
}

static void check_rootfs(struct audit *a, const struct vm_record *vm, struct store *st)
{
	struct strbuf address = STRBUF_INIT;
	int rc;

	if (!vm->job) {
		audit_report(a, vm->id, "rootfs", AUDIT_WARN, "no job yet: nothing attested");
		return;
	}
	if (!st) {
		audit_report(a, vm->id, "rootfs", AUDIT_WARN, "cannot check: the store is unavailable");
		return;
	}
	rc = rootfs_attested(st, vm->job, &address, NULL);
	if (rc > 0)
		audit_report(a, vm->id, "rootfs", AUDIT_PASS, "job %s booted %s", vm->job, address.buf);
	else if (!rc || rc == -EXIT_NOTFOUND)
		audit_report(a, vm->id, "rootfs", AUDIT_FAIL, "nothing attested for job %s", vm->job);
	else
		audit_report(a, vm->id, "rootfs", AUDIT_WARN, "cannot check: %s", fail_message());
	strbuf_release(&address);
}

void audit_vm(struct audit *a, const struct vm_record *vm, const struct vm_record *others,
	      size_t nr, struct store *st)
{
	struct strbuf sb = STRBUF_INIT;
	char *path = xstrfmt("/proc/%d/status", (int)vm->pid);

	if (vm->pid <= 0) {
		audit_report(a, vm->id, "process", AUDIT_WARN, "not started yet");
	} else if (!is_vm_process(a, vm, &sb) || read_under(a, path, &sb)) {
		audit_report(a, vm->id, "process", AUDIT_WARN, "pid %d is gone: reap it", (int)vm->pid);
	} else {
		check_vm_user(a, vm, sb.buf, others, nr);
		check_jail(a, vm, &sb);
		check_namespace(a, vm, "pid", NULL);
		check_namespace(a, vm, "net", vm->netns);
		check_threads(a, vm->id, vm->pid, AUDIT_WARN,
			      "the jailer leaves it as nimbus boot passed it on; with no_new_privs and no "
			      "uid 0 it is of no use",
			      json_integer_value(json_object_get(vm->doc, "inherited_seccomp_filters")));
		check_cgroups(a, vm, &sb);
		check_links(a, vm, &sb);
	}
	check_rootfs(a, vm, st);
	free(path);
	strbuf_release(&sb);
}
