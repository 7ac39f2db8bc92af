#include "common.h"
#include "blobdir.h"
#include "config.h"
#include "log.h"
#include "registry.h"
#include "timeutil.h"

struct gc_run {
	struct registry_gc *gc;
	struct store *st;
	struct blobdir dir;
	struct strvec ended;		/* upload sessions ended by this run */
};

static void add_org(void *data, const struct reg_usage *u)
{
	strvec_push(data, u->org);
}

/* Each org's unreferenced links older than the grace; usage goes down with them. */
static int unlink_unreferenced(struct gc_run *run)
{
	struct registry_gc *gc = run->gc;
	struct strvec orgs = STRVEC_INIT;
	int rc = 0;

	if (gc->org)
		strvec_push(&orgs, gc->org);
	else
		rc = store_reg_usage(run->st, NULL, 0, add_org, &orgs);
	for (size_t i = 0; !rc && i < orgs.nr; i++) {
		int64_t n, bytes;

		rc = store_reg_gc_links(run->st, orgs.v[i], gc->grace * 1000, gc->dry_run, &n, &bytes);
		if (!rc && n)
			log_info("%s %" PRId64 " blobs (%" PRId64 " bytes) of org %s",
				 gc->dry_run ? "would unlink" : "unlinked", n, bytes, orgs.v[i]);
		gc->links += n;
		gc->link_bytes += bytes;
	}
	strvec_clear(&orgs);
	return rc;
}

/* Upload files untouched for the grace, besides those of the sessions ended. */
static int stale_upload_file(void *data, const char *id, const struct stat *st)
{
	struct gc_run *run = data;
	int64_t mtime_ms = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;

	if (now_ms() - mtime_ms < run->gc->grace * 1000)
		return 0;
	for (size_t i = 0; i < run->ended.nr; i++)
		if (!strcmp(run->ended.v[i], id))
			return 0;
	run->gc->uploads++;
	return run->gc->dry_run ? 0 : blobdir_upload_remove(&run->dir, id);
}

static int end_abandoned_uploads(struct gc_run *run)
{
	struct registry_gc *gc = run->gc;
	int rc = store_reg_gc_uploads(run->st, gc->org, gc->grace * 1000, gc->dry_run, &run->ended);

	gc->uploads += run->ended.nr;
	for (size_t i = 0; !rc && !gc->dry_run && i < run->ended.nr; i++)
		rc = blobdir_upload_remove(&run->dir, run->ended.v[i]);
	/* files whose sessions a crash lost carry no org: only a run over every org takes them */
	if (!rc && !gc->org)
		rc = blobdir_each_upload(&run->dir, stale_upload_file, run);
	return rc;
}

/*
 * A blob file that no org links goes, its row first, under its shard's
 * lock: a request that links it holds the same lock from the rename of
 * its upload to the commit of its link.
 */
static int drop_unlinked_file(void *data, const char *digest, const struct stat *st)
{
	struct gc_run *run = data;
	bool dry = run->gc->dry_run;
	int shard = -1, rc;

	if (!dry && (shard = blobdir_lock(&run->dir, digest)) < 0)
		return shard;
	rc = store_reg_blob_drop(run->st, digest, dry);
	if (rc == 1) {
		run->gc->blobs++;
		run->gc->blob_bytes += st->st_size;
		rc = dry ? 0 : blobdir_remove(&run->dir, shard, digest);
	}
	if (shard >= 0)
		close(shard);
	return rc;
}

int registry_gc(struct store *st, struct registry_gc *gc)
{
	struct gc_run run = { gc, st, { 0 }, STRVEC_INIT };
	int rc = blobdir_open(&run.dir, cfg_str("registry.dir"));

	gc->links = gc->link_bytes = gc->blobs = gc->blob_bytes = gc->uploads = 0;
	if (!rc)
		rc = unlink_unreferenced(&run);
	if (!rc)
		rc = end_abandoned_uploads(&run);
	/* after the unlinking, so that what it freed goes in the same run */
	if (!rc)
		rc = blobdir_each_blob(&run.dir, drop_unlinked_file, &run);
	blobdir_close(&run.dir);
	strvec_clear(&run.ended);
	return rc;
}
