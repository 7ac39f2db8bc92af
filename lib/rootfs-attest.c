#include "common.h"
#include "job.h"
#include "lease.h"
#include "rootfs-attest.h"

int rootfs_attest(struct store *st, const char *job, int64_t fence, const char *image,
		  const char *const *overlays, size_t nr_overlays, const struct rootfs_opts *opts,
		  char *address)
{
	struct rootfs_manifest m = ROOTFS_MANIFEST_INIT;
	struct strbuf canon = STRBUF_INIT;
	json_t *meta;
	/* A courtesy: the fenced write decides, but hashing gigabytes first would be a waste. */
	int rc = lease_check(st, job, fence);

	if (!rc)
		rc = rootfs_hash(image, overlays, nr_overlays, opts, &m, NULL);
	if (rc)
		goto out;
	rootfs_manifest_canonical(&m, &canon);
	rootfs_manifest_address(&m, address);
	if (canon.len > META_VALUE_MAX) {
		rc = fail(EXIT_FAIL, "the manifest of %zu components is %zu bytes, more than the %d a "
			  "job's metadata holds", m.nr, canon.len, META_VALUE_MAX);
		goto out;
	}
	meta = json_pack("{s:s, s:s}", ROOTFS_META_ADDRESS, address, ROOTFS_META_MANIFEST, canon.buf);
	if (!meta)
		die("out of memory building the attestation");
	rc = job_set_meta(st, job, fence, meta);
	json_decref(meta);
out:
	rootfs_manifest_release(&m);
	strbuf_release(&canon);
	return rc;
}

int rootfs_attested(struct store *st, const char *job, struct strbuf *address, struct strbuf *manifest)
{
	struct job j = JOB_INIT;
	const char *a, *m;
	int rc = job_get(st, job, &j);

	if (rc)
		return rc;
	a = json_string_value(json_object_get(j.meta, ROOTFS_META_ADDRESS));
	m = json_string_value(json_object_get(j.meta, ROOTFS_META_MANIFEST));
	if (a) {
		strbuf_addstr(address, a);
		if (manifest && m)
			strbuf_addstr(manifest, m);
	}
	job_clear(&j);
	return a != NULL;
}
