#include "common.h"
#include "config.h"
#include "sandbox.h"
#include "timeutil.h"
#include "vm.h"

#include <dirent.h>
#include <linux/capability.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

/* Records are small; anything larger is not one of ours. */
#define RECORD_MAX (1 << 20)

bool vm_id_valid(const char *id)
{
	const char *hex;

	if (!skip_prefix(id, VM_ID_PREFIX, &hex) || strlen(hex) != VM_HEX_LEN)
		return false;
	return strspn(hex, "0123456789abcdef") == VM_HEX_LEN;
}

void vm_id_new(char *out)
{
	uint8_t b[VM_HEX_LEN / 2];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		die_errno("getrandom");
	xsnprintf(out, VM_ID_LEN + 1, VM_ID_PREFIX "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
}

void vm_link_name(char *out, const char *id, char suffix)
{
	xsnprintf(out, VM_ID_LEN + 1, "nimbus%s%c", id + strlen(VM_ID_PREFIX), suffix);
}

bool vm_id_of_name(const char *name, char *id)
{
	const char *hex;

	if (strlen(name) != VM_ID_LEN || !skip_prefix(name, "nimbus", &hex))
		return false;
	if (*hex == '-') {
		if (!vm_id_valid(name))
			return false;
		memcpy(id, name, VM_ID_LEN + 1);
		return true;
	}
	/* the suffix may be a hex letter too */
	if (strspn(hex, "0123456789abcdef") < VM_HEX_LEN || hex[VM_HEX_LEN] < 'a' ||
	    hex[VM_HEX_LEN] > 'z')
		return false;
	xsnprintf(id, VM_ID_LEN + 1, VM_ID_PREFIX "%.*s", VM_HEX_LEN, hex);
	return true;
}

void vm_records_dir(struct strbuf *out)
{
	strbuf_addf(out, "%s/vms", cfg_str("core.run_dir"));
}

void vm_record_path(struct strbuf *out, const char *id)
{
	vm_records_dir(out);
	strbuf_addf(out, "/%s.json", id);
}

static const char *str_field(json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

static int64_t int_field(json_t *doc, const char *key, int64_t def)
{
	json_t *v = json_object_get(doc, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

static void strings_field(json_t *doc, const char *key, struct strvec *out)
{
	json_t *a = json_object_get(doc, key), *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (json_is_string(v))
			strvec_push(out, json_string_value(v));
}

int vm_record_from_json(struct vm_record *r, json_t *doc)
{
	const char *cpus;

	*r = (struct vm_record)VM_RECORD_INIT;
	r->doc = doc;
	r->id = str_field(doc, "id");
	if (!json_is_object(doc) || !r->id || !vm_id_valid(r->id)) {
		vm_record_release(r);
		return fail(EXIT_FAIL, "no valid VM id");
	}
	r->state = str_field(doc, "state");
	r->job = str_field(doc, "job");
	r->fence = int_field(doc, "fence", 0);
	r->pid = int_field(doc, "pid", 0);
	r->uid = int_field(doc, "uid", -1);
	r->gid = int_field(doc, "gid", -1);
	cpus = str_field(doc, "cpus");
	if (!cpus || cpulist_parse(cpus, &r->cpus))
		cpuset_zero(&r->cpus);
	r->netns = str_field(doc, "netns");
	strings_field(doc, "links", &r->links);
	strings_field(doc, "cgroups", &r->cgroups);
	r->jail = str_field(doc, "jail");
	r->socket = str_field(doc, "socket");
	r->runner_scope = str_field(doc, "runner_scope");
	r->runner_id = int_field(doc, "runner_id", 0);
	if (r->pid < 0 || r->fence < 0) {
		vm_record_release(r);
		return fail(EXIT_FAIL, "a negative pid or fence");
	}
	return 0;
}

int vm_record_load(const char *id, struct vm_record *r)
{
	struct strbuf path = STRBUF_INIT, sb = STRBUF_INIT;
	json_error_t jerr;
	json_t *doc;
	int rc = 0;

	*r = (struct vm_record)VM_RECORD_INIT;
	if (!vm_id_valid(id))
		return fail(EXIT_NOTFOUND, "'%s' is not a VM id", id);
	vm_record_path(&path, id);
	if (strbuf_read_file(&sb, path.buf, RECORD_MAX) < 0)
		rc = fail_errno(errno == ENOENT ? EXIT_NOTFOUND : EXIT_FAIL, "no record of VM %s", id);
	else if (!(doc = json_loadb(sb.buf, sb.len, JSON_REJECT_DUPLICATES, &jerr)))
		rc = fail(EXIT_FAIL, "%s: %s", path.buf, jerr.text);
	else if ((rc = vm_record_from_json(r, doc))) {
		/* fail() reuses the buffer of fail_message() */
		char *why = xstrdup(fail_message());

		rc = fail(EXIT_FAIL, "%s: %s", path.buf, why);
		free(why);
	} else if (strcmp(r->id, id)) {
		rc = fail(EXIT_FAIL, "%s records VM %s", path.buf, r->id);
		vm_record_release(r);
	}
	strbuf_release(&path);
	strbuf_release(&sb);
	return rc;
}

static int write_record(const struct vm_record *r, bool create)
{
	struct strbuf dir = STRBUF_INIT, tmp = STRBUF_INIT, path = STRBUF_INIT;
	char *text = json_dumps(r->doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	int fd, rc = 0;

	if (!text)
		die("out of memory writing a VM record");
	vm_records_dir(&dir);
	vm_record_path(&path, r->id);
	strbuf_addf(&tmp, "%s/.%s.tmp", dir.buf, r->id);
	fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || write_in_full(fd, text, strlen(text)) < 0 || write_in_full(fd, "\n", 1) < 0)
		rc = fail_errno(EXIT_FAIL, "cannot write %s", tmp.buf);
	if (fd >= 0 && close(fd) && !rc)
		rc = fail_errno(EXIT_FAIL, "cannot write %s", tmp.buf);
	/* a new record must not replace another VM's: link fails when the name is taken */
	if (!rc && create && link(tmp.buf, path.buf))
		rc = fail_errno(errno == EEXIST ? EXIT_BUSY : EXIT_FAIL, "cannot create %s", path.buf);
	else if (!rc && !create && rename(tmp.buf, path.buf))
		rc = fail_errno(EXIT_FAIL, "cannot write %s", path.buf);
	if (create || rc)
		unlink(tmp.buf);
	free(text);
	strbuf_release(&dir);
	strbuf_release(&tmp);
	strbuf_release(&path);
	return rc;
}

int vm_record_save(const struct vm_record *r)
{
	return write_record(r, false);
}

int vm_record_create(const struct vm_record *r)
{
	return write_record(r, true);
}

int vm_record_remove(const char *id)
{
	struct strbuf path = STRBUF_INIT;
	int rc = 1;

	vm_record_path(&path, id);
	if (unlink(path.buf))
		rc = errno == ENOENT ? 0 : fail_errno(EXIT_FAIL, "cannot remove %s", path.buf);
	strbuf_release(&path);
	return rc;
}

void vm_record_release(struct vm_record *r)
{
	json_decref(r->doc);
	strvec_clear(&r->links);
	strvec_clear(&r->cgroups);
	*r = (struct vm_record)VM_RECORD_INIT;
}

static int cmp_record(const void *a, const void *b)
{
	return strcmp(((const struct vm_record *)a)->id, ((const struct vm_record *)b)->id);
}

int vm_record_list(struct vm_record **out, size_t *nr)
{
	struct strbuf dir = STRBUF_INIT;
	struct dirent *de;
	size_t alloc = 0;
	DIR *d;
	int rc;

	*out = NULL;
	*nr = 0;
	vm_records_dir(&dir);
	d = opendir(dir.buf);
	if (!d) {
		rc = errno == ENOENT ? 0 : fail_errno(EXIT_FAIL, "cannot read %s", dir.buf);

		strbuf_release(&dir);
		return rc;
	}
	while ((de = readdir(d))) {
		char id[VM_ID_LEN + 1];
		struct vm_record r;

		if (strlen(de->d_name) != VM_ID_LEN + 5 || !ends_with(de->d_name, ".json"))
			continue;
		memcpy(id, de->d_name, VM_ID_LEN);
		id[VM_ID_LEN] = '\0';
		if (!vm_id_valid(id))
			continue;
		rc = vm_record_load(id, &r);
		if (rc) {
			/* gone since readdir (a teardown): not a VM any more */
			if (rc != -EXIT_NOTFOUND)
				warning("skipping %s", fail_message());
			continue;
		}
		ALLOC_GROW(*out, *nr + 1, alloc);
		(*out)[(*nr)++] = r;
	}
	closedir(d);
	strbuf_release(&dir);
	if (*nr)
		qsort(*out, *nr, sizeof(**out), cmp_record);
	return 0;
}

void vm_record_list_free(struct vm_record *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		vm_record_release(&v[i]);
	free(v);
}

static int lock(const char *name)
{
	struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT;
	int fd, rc = 0;

	vm_records_dir(&dir);
	if (mkdir_p(dir.buf, 0755))
		rc = fail_errno(errno == EACCES ? EXIT_PERM : EXIT_FAIL, "cannot create %s", dir.buf);
	strbuf_addf(&path, "%s/%s", dir.buf, name);
	fd = rc ? -1 : open(path.buf, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (!rc && fd < 0)
		rc = fail_errno(errno == EACCES ? EXIT_PERM : EXIT_FAIL, "cannot open %s", path.buf);
	while (!rc && flock(fd, LOCK_EX))
		if (errno != EINTR)
			rc = fail_errno(EXIT_FAIL, "cannot lock %s", path.buf);
	if (rc && fd >= 0)
		close(fd);
	strbuf_release(&dir);
	strbuf_release(&path);
	return rc ? rc : fd;
}

int vm_lock(void)
{
	return lock(".lock");
}

int vm_reap_lock(void)
{
	return lock(".reap.lock");
}

void vm_unlock(int fd)
{
	close(fd);
}

/* An --id value: a VM id, or not ours at all. */
static bool id_value(const char *v, size_t len, char *id)
{
	char buf[VM_ID_LEN + 1];

	if (len != VM_ID_LEN)
		return false;
	memcpy(buf, v, len);
	buf[len] = '\0';
	if (!vm_id_valid(buf) || (*id && strcmp(id, buf)))
		return false;
	memcpy(id, buf, sizeof(buf));
	return true;
}

bool vm_cmdline_id(const char *cmdline, size_t len, char *id)
{
	bool after_id = false;
	size_t n;

	*id = '\0';
	/* past the program's name */
	for (size_t at = strnlen(cmdline, len) + 1; at < len; at += n + 1) {
		const char *a = cmdline + at;

		n = strnlen(a, len - at);
		/* a last argument without its NUL may have been cut short */
		if (at + n == len)
			break;
		if (after_id && !id_value(a, n, id))
			return false;
		if (!after_id && n > 5 && !memcmp(a, "--id=", 5) && !id_value(a + 5, n - 5, id))
			return false;
		if (!after_id && n == 2 && !memcmp(a, "--", 2))
			break;
		after_id = !after_id && n == 4 && !memcmp(a, "--id", 4);
	}
	return *id && !after_id;
}

bool vm_cmdline_is(const char *cmdline, size_t len, const char *id)
{
	char got[VM_ID_LEN + 1];

	return vm_cmdline_id(cmdline, len, got) && !strcmp(got, id);
}

/* The command line of pid: its length, or -1 when the process is gone. */
static ssize_t cmdline_of(pid_t pid, struct strbuf *cmd)
{
	struct strbuf path = STRBUF_INIT;
	int rc;

	strbuf_addf(&path, "/proc/%d/cmdline", (int)pid);
	strbuf_reset(cmd);
	rc = strbuf_read_file(cmd, path.buf, 1 << 16);
	strbuf_release(&path);
	return rc ? -1 : (ssize_t)cmd->len;
}

bool vm_process_id(pid_t pid, char *id)
{
	struct strbuf cmd = STRBUF_INIT;
	bool found = cmdline_of(pid, &cmd) > 0 && vm_cmdline_id(cmd.buf, cmd.len, id);

	strbuf_release(&cmd);
	return found;
}

bool vm_process_is(pid_t pid, const char *id)
{
	struct strbuf cmd = STRBUF_INIT;
	ssize_t len;
	int tries = 0;
	bool is;

	/* in the middle of an exec (the jailer's of Firecracker), a process shows none for a moment */
	while (!(len = cmdline_of(pid, &cmd)) && ++tries < 50)
		sleep_ms(2);
	is = len > 0 && vm_cmdline_is(cmd.buf, cmd.len, id);
	strbuf_release(&cmd);
	return is;
}

bool vm_root_is(const char *proc_root, const char *jail)
{
	char *dir = xstrfmt("%s/root", jail);
	struct stat root, want;
	bool yes = !stat(proc_root, &root) && !stat(dir, &want) && root.st_dev == want.st_dev &&
		   root.st_ino == want.st_ino;

	free(dir);
	return yes;
}

bool vm_process_of(pid_t pid, const char *id, const char *jail)
{
	char *root = xstrfmt("/proc/%d/root", (int)pid);
	bool yes = false;

	/* another uid's root is only shown to its tracers */
	if (jail) {
		caps_raise(CAP_SYS_PTRACE);
		yes = vm_root_is(root, jail);
		caps_lower(CAP_SYS_PTRACE);
	}
	yes = yes || vm_process_is(pid, id);
	free(root);
	return yes;
}
