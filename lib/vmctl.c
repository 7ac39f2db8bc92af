#include "common.h"
#include "fc-api.h"
#include "fc-config.h"
#include "jail.h"
#include "lease.h"
#include "log.h"
#include "output.h"
#include "sandbox.h"
#include "timeutil.h"
#include "vmctl.h"

#include <dirent.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/pidfd.h>
#include <sys/stat.h>

/* Writing a snapshot of a large memory takes a while. */
#define SNAPSHOT_TIMEOUT 600

/* Where Firecracker writes a snapshot, in its jail, before it is moved out. */
#define OUT_STATE "snapshot.out.vmstate"
#define OUT_MEMORY "snapshot.out.mem"

int vm_held(struct store *st, const char *id, int64_t fence, struct vm_record *r)
{
	int rc = vm_record_load(id, r);

	if (!rc && !r->job)
		rc = fail(EXIT_FAIL, "the record of %s names no job", id);
	if (!rc)
		rc = lease_check(st, r->job, fence);
	if (rc)
		vm_record_release(r);
	return rc;
}

/* A pidfd of the VM's Firecracker, or -1 when it is not running. */
static int vm_pidfd(const struct vm_record *r)
{
	int fd = r->pid ? pidfd_open(r->pid, 0) : -1;

	if (fd >= 0 && !vm_process_of(r->pid, r->id, r->jail)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static bool exits_within(int pidfd, int64_t ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int64_t deadline = mono_ms() + ms;
	int rc;

	while ((rc = poll(&p, 1, deadline - mono_ms() > 0 ? deadline - mono_ms() : 0)) < 0 &&
	       errno == EINTR)
		;
	return rc > 0;
}

int vm_stop(struct store *st, const struct vm_record *r, int64_t timeout,
	    struct teardown_actions *out)
{
	struct teardown *td;
	struct teardown_vm vm;
	int fd = vm_pidfd(r), rc;

	if (fd >= 0 && timeout && r->socket) {
		struct fc_api api;
		json_t *body = json_pack("{s:s}", "action_type", "SendCtrlAltDel");

		/* the guest shuts down and Firecracker exits; if not, the teardown kills it */
		rc = fc_api_open(&api, r->socket, timeout);
		if (!rc)
			rc = fc_api_call(&api, "PUT", "/actions", body, NULL);
		if (rc)
			log_info("%s did not take Ctrl-Alt-Del: %s", r->id, fail_message());
		else if (exits_within(fd, timeout * 1000))
			teardown_action_add(out, r->id, "shut down", "%s pid %d", r->id, (int)r->pid);
		fc_api_close(&api);
		json_decref(body);
	}
	if (fd >= 0)
		close(fd);
	teardown_vm_of_record(&vm, r);
	td = teardown_new(st, TEARDOWN_KEEP_JOB);
	rc = teardown_vm(td, &vm, out);
	teardown_free(td);
	return rc;
}

static int make_out_dir(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (mkdir_p(dir, 0700))
		return fail_errno(errno == EACCES ? EXIT_PERM : EXIT_FAIL, "cannot create %s", dir);
	d = opendir(dir);
	if (!d)
		return fail_errno(EXIT_FAIL, "cannot read %s", dir);
	while (!rc && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = fail(EXIT_BUSY, "%s is not empty", dir);
	closedir(d);
	return rc;
}

static int copy_fd(int in, int out)
{
	ssize_t n;

	while ((n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0)) > 0)
		;
	return n < 0 ? -1 : 0;
}

/*
 * Move a file Firecracker wrote out of its jail, to root's and readable
 * by all: the directory holding it is 0700, and a VM booted from it
 * reads it under its own uid through a link in its jail. The file and
 * the jail's root/ are the VM's uid's.
 */
static int move_out(const char *root, const char *name, const char *dir, const char *to)
{
	struct strbuf src = STRBUF_INIT, dst = STRBUF_INIT;
	int in = -1, out = -1, rc = 0;

	caps_raise(CAP_DAC_OVERRIDE);
	caps_raise(CAP_CHOWN);
	strbuf_addf(&src, "%s/%s", root, name);
	strbuf_addf(&dst, "%s/%s", dir, to);
	if (rename(src.buf, dst.buf)) {
		if (errno != EXDEV) {
			rc = fail_errno(EXIT_FAIL, "cannot move %s to %s", src.buf, dst.buf);
			goto out;
		}
		in = open(src.buf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		out = open(dst.buf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (in < 0 || out < 0 || copy_fd(in, out) || fsync(out)) {
			rc = fail_errno(EXIT_FAIL, "cannot copy %s to %s", src.buf, dst.buf);
			goto out;
		}
		unlink(src.buf);
	}
	if (chown(dst.buf, 0, 0) || chmod(dst.buf, 0644))
		rc = fail_errno(EXIT_FAIL, "cannot give %s to root", dst.buf);
out:
	caps_lower(CAP_CHOWN);
	caps_lower(CAP_DAC_OVERRIDE);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	strbuf_release(&src);
	strbuf_release(&dst);
	return rc;
}

static json_t *describe(const struct vm_record *r)
{
	static const char *const keys[] = {
		"vcpus", "mem_mib", "job", "kernel", "rootfs", "overlays", "rootfs_address", NULL,
	};
	json_t *meta = json_pack("{s:s, s:s, s:o}", "vm", r->id, "iface_id", FC_IFACE_ID,
				 "created", xjson_time_ms(now_ms()));

	for (const char *const *k = keys; *k; k++) {
		json_t *v = json_object_get(r->doc, *k);

		if (v)
			json_object_set(meta, *k, v);
	}
	return meta;
}

static int write_meta(const char *dir, json_t *meta)
{
	struct strbuf path = STRBUF_INIT;
	char *text = json_dumps(meta, JSON_INDENT(2) | JSON_SORT_KEYS);
	int fd, rc = 0;

	if (!text)
		die("out of memory");
	strbuf_addf(&path, "%s/%s", dir, SNAPSHOT_META);
	fd = open(path.buf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || write_in_full(fd, text, strlen(text)) < 0 || write_in_full(fd, "\n", 1) < 0 ||
	    fsync(fd))
		rc = fail_errno(EXIT_FAIL, "cannot write %s", path.buf);
	if (fd >= 0)
		close(fd);
	free(text);
	strbuf_release(&path);
	return rc;
}

static void remove_partial(const char *root, const char *dir)
{
	static const char *const names[] = { SNAPSHOT_STATE, SNAPSHOT_MEMORY, SNAPSHOT_META, NULL };
	struct strbuf path = STRBUF_INIT;

	for (const char *const *n = names; *n; n++) {
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir, *n);
		unlink(path.buf);
	}
	/* in the jail's root/, the VM's uid's */
	caps_raise(CAP_DAC_OVERRIDE);
	for (const char *const *n = (const char *const[]){ OUT_STATE, OUT_MEMORY, NULL }; *n; n++) {
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", root, *n);
		unlink(path.buf);
	}
	caps_lower(CAP_DAC_OVERRIDE);
	strbuf_release(&path);
}

static int vm_state(struct fc_api *api, const char *state)
{
	json_t *body = json_pack("{s:s}", "state", state);
	int rc = fc_api_call(api, "PATCH", "/vm", body, NULL);

	json_decref(body);
	return rc;
}

int vm_snapshot(struct store *st, const struct vm_record *r, const char *dir, bool resume,
		json_t **meta, struct teardown_actions *acts)
{
	json_t *create = json_pack("{s:s, s:s, s:s}", "snapshot_type", "Full",
				   "snapshot_path", "/" OUT_STATE, "mem_file_path", "/" OUT_MEMORY);
	struct strbuf root = STRBUF_INIT;
	struct fc_api api;
	int rc, fd = vm_pidfd(r);
	bool paused = false;

	*meta = NULL;
	if (fd < 0 || !r->socket || !r->jail)
		rc = fail(EXIT_NOTFOUND, "VM %s is not running", r->id);
	else
		rc = make_out_dir(dir);
	if (fd >= 0)
		close(fd);
	if (rc) {
		json_decref(create);
		return rc;
	}
	strbuf_addf(&root, "%s/root", r->jail);
	rc = fc_api_open(&api, r->socket, SNAPSHOT_TIMEOUT);
	if (!rc)
		rc = vm_state(&api, "Paused");
	paused = !rc;
	if (!rc)
		rc = fc_api_call(&api, "PUT", "/snapshot/create", create, NULL);
	if (!rc)
		rc = move_out(root.buf, OUT_STATE, dir, SNAPSHOT_STATE);
	if (!rc)
		rc = move_out(root.buf, OUT_MEMORY, dir, SNAPSHOT_MEMORY);
	if (!rc) {
		*meta = describe(r);
		rc = write_meta(dir, *meta);
	}
	if (rc) {
		struct strbuf why = STRBUF_INIT;

		/* keep the failure's message over the resume's */
		strbuf_addstr(&why, fail_message());
		remove_partial(root.buf, dir);
		if (paused && vm_state(&api, "Resumed"))
			warning("%s stays paused: %s", r->id, fail_message());
		json_decref(*meta);
		*meta = NULL;
		fail(EXIT_FAIL, "%s", why.buf);
		strbuf_release(&why);
	} else if (resume) {
		rc = vm_state(&api, "Resumed");
	}
	fc_api_close(&api);
	if (!rc && !resume)
		rc = vm_stop(st, r, 0, acts);
	json_decref(create);
	strbuf_release(&root);
	return rc;
}
