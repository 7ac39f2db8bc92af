#include "common.h"
#include "builtin.h"
#include "output.h"
#include "parse-options.h"
#include "rootfs-attest.h"
#include "rootfs.h"

static const char *const verify_usage[] = {
	"nimbus verify IMAGE [--overlay FILE]... (--expect ADDRESS | --manifest FILE) [--tree FILE]"
	" [-j N] [--no-cache] [--json]",
	"nimbus verify --job JOB --expect ADDRESS [--json]",
	NULL,
};

/* The address attested for job against the one expected. */
static int verify_job(const char *job, const char *expect)
{
	struct strbuf address = STRBUF_INIT;
	struct store *st = store_open_or_die();
	int rc = rootfs_attested(st, job, &address, NULL);

	if (rc < 0)
		store_die(st, rc);
	store_close(st);
	if (!rc)
		die_code(EXIT_NOTFOUND, "no rootfs was attested for job %s", job);
	if (strcmp(address.buf, expect))
		die_code(EXIT_REJECTED, "job %s booted %s, not %s", job, address.buf, expect);
	out_result(json_pack("{s:s, s:s}", "job", job, "address", address.buf));
	out_textf("%s\n", address.buf);
	strbuf_release(&address);
	return 0;
}

static void read_manifest(const char *path, struct rootfs_manifest *m)
{
	struct strbuf sb = STRBUF_INIT;
	int rc;

	if (strbuf_read_file(&sb, path, ROOTFS_MAX_MANIFEST) < 0) {
		if (errno == E2BIG)
			die_code(EXIT_REJECTED, "%s is not a rootfs manifest: larger than 1 MiB", path);
		die_code(errno == ENOENT ? EXIT_NOTFOUND : errno == EACCES ? EXIT_PERM :
			 errno == EISDIR ? EXIT_USAGE : EXIT_FAIL, "cannot read %s: %s", path, strerror(errno));
	}
	rc = rootfs_manifest_parse(sb.buf, sb.len, path, m);
	if (rc)
		die_fail(rc);
	strbuf_release(&sb);
}

int cmd_verify(int argc, const char **argv)
{
	struct rootfs_opts opts = { .type = ROOTFS_AUTO };
	struct rootfs_manifest want = ROOTFS_MANIFEST_INIT, got = ROOTFS_MANIFEST_INIT;
	struct rootfs_expect exp = { 0 };
	struct strvec overlays = STRVEC_INIT, diffs = STRVEC_INIT;
	const char *manifest = NULL, *job = NULL;
	int no_cache = 0, rc;
	int64_t jobs = 0;
	uint8_t digest[VERITY_HASH];
	char address[VERITY_HEX_SIZE];
	const struct option options[] = {
		OPT_STRVEC(0, "overlay", &overlays, "FILE", "an overlay, in order after IMAGE (repeatable)"),
		OPT_STRING(0, "expect", &exp.address, "ADDRESS", "the address IMAGE and its overlays must have"),
		OPT_STRING(0, "manifest", &manifest, "FILE", "the manifest they must have"),
		OPT_STRING(0, "tree", &exp.tree, "FILE", "IMAGE's reference Merkle tree: name differing blocks"),
		OPT_INT('j', "jobs", &jobs, "N", "hash on N threads (default: one per CPU)", 1, 256),
		OPT_BOOL(0, "no-cache", &no_cache, "drop the page cache behind the reads"),
		OPT_STRING(0, "job", &job, "JOB", "compare the address attested for JOB instead"),
		OPT_JSON(),
		OPT_END(),
	};

	argc = parse_options(argc, argv, options, verify_usage, 0);
	if (job) {
		if (argc || manifest || exp.tree || overlays.nr || !exp.address)
			usage_msg(verify_usage, options, "--job takes only --expect ADDRESS");
		if (digest_from_hex(exp.address, digest))
			usage_msg(verify_usage, options, "--expect wants sha256: and 64 lower-case hex digits");
		return verify_job(job, exp.address);
	}
	if (argc != 1)
		usage_msg(verify_usage, options, argc ? "too many arguments" : "missing IMAGE");
	if (!exp.address == !manifest)
		usage_msg(verify_usage, options, "give one of --expect and --manifest");
	if (exp.address && digest_from_hex(exp.address, digest))
		usage_msg(verify_usage, options, "--expect wants sha256: and 64 lower-case hex digits");
	if (manifest) {
		read_manifest(manifest, &want);
		exp.manifest = &want;
	}
	opts.jobs = jobs;
	opts.drop_cache = no_cache;
	rc = rootfs_verify(argv[0], overlays.v, overlays.nr, &opts, &exp, &got, &diffs);
	for (size_t i = 0; i < diffs.nr; i++)
		error("%s", diffs.v[i]);
	if (rc)
		die_fail(rc);
	if (out_is_json()) {
		out_result(rootfs_result_json(argv[0], overlays.v, overlays.nr, &got));
	} else {
		rootfs_manifest_address(&got, address);
		out_result(xjson_string(address));
	}
	rootfs_manifest_release(&want);
	rootfs_manifest_release(&got);
	strvec_clear(&overlays);
	strvec_clear(&diffs);
	return 0;
}
