#include "common.h"
#include "builtin.h"
#include "output.h"
#include "parse-options.h"
#include "rootfs-attest.h"
#include "rootfs.h"

static const char *const rootfs_hash_usage[] = {
	"nimbus rootfs hash IMAGE [--overlay FILE]... [--type image|tar] [-j N] [--tree FILE]"
	" [--verity] [--no-cache] [--cached] [--json]",
	NULL,
};

static const char *const rootfs_attest_usage[] = {
	"nimbus rootfs attest JOB --fence N IMAGE [--overlay FILE]... [--cached] [--json]",
	NULL,
};

static int opt_type(const struct option *opt, const char *arg)
{
	if (!rootfs_kind_parse(arg, opt->value))
		return 0;
	return error("option '--type': '%s' is not image or tar", arg);
}

/* dm-verity covers whole blocks only. */
static void add_verity_root(json_t *doc, const char *image, const struct verity_result *vr,
			    uint64_t size)
{
	char hex[2 * VERITY_HASH + 1];

	if (!vr->dm_blocks)
		die("%s is smaller than one 4096-byte block: dm-verity cannot cover it", image);
	if (size % VERITY_BLOCK)
		warning("dm-verity covers the first %" PRIu64 " blocks of %s, not its last %" PRIu64 " bytes",
			vr->dm_blocks, image, size % VERITY_BLOCK);
	hash_to_hex(hex, vr->dm_root);
	json_object_set_new(doc, "verity_root", xjson_string(hex));
}

static int hash_cmd(int argc, const char **argv)
{
	struct rootfs_opts opts = { .type = ROOTFS_AUTO };
	struct rootfs_manifest m = ROOTFS_MANIFEST_INIT;
	struct strvec overlays = STRVEC_INIT;
	struct verity_result base;
	int verity = 0, no_cache = 0, cached = 0, rc;
	int64_t jobs = 0;
	const struct option options[] = {
		OPT_STRVEC(0, "overlay", &overlays, "FILE", "an overlay, in order after IMAGE (repeatable)"),
		OPT_CALLBACK(0, "type", &opts.type, "image|tar",
			     "the kind of every component, instead of detecting it", opt_type),
		OPT_INT('j', "jobs", &jobs, "N", "hash on N threads (default: one per CPU)", 1, 256),
		OPT_STRING(0, "tree", &opts.tree, "FILE", "write IMAGE's Merkle tree to FILE"),
		OPT_BOOL(0, "verity", &verity, "also print IMAGE's dm-verity root hash"),
		OPT_BOOL(0, "no-cache", &no_cache, "drop the page cache behind the reads"),
		OPT_BOOL(0, "cached", &cached, "use and update the hash cache"),
		OPT_JSON(),
		OPT_END(),
	};
	json_t *doc;

	argc = parse_options(argc, argv, options, rootfs_hash_usage, 0);
	if (argc != 1)
		usage_msg(rootfs_hash_usage, options, argc ? "too many arguments" : "missing IMAGE");
	opts.jobs = jobs;
	opts.verity = verity;
	opts.drop_cache = no_cache;
	opts.cached = cached;
	rc = rootfs_hash(argv[0], overlays.v, overlays.nr, &opts, &m, &base);
	if (rc)
		die_fail(rc);
	doc = rootfs_result_json(argv[0], overlays.v, overlays.nr, &m);
	if (verity)
		add_verity_root(doc, argv[0], &base, m.comp[0].size);
	if (!out_is_json()) {
		json_t *text = verity ? json_pack("{s:O, s:O}", "address", json_object_get(doc, "address"),
						  "verity_root", json_object_get(doc, "verity_root")) :
			json_incref(json_object_get(doc, "address"));

		json_decref(doc);
		doc = text;
	}
	out_result(doc);
	rootfs_manifest_release(&m);
	strvec_clear(&overlays);
	return 0;
}

static int attest_cmd(int argc, const char **argv)
{
	struct rootfs_opts opts = { .type = ROOTFS_AUTO };
	struct strvec overlays = STRVEC_INIT;
	int64_t fence = 0;
	int cached = 0, rc;
	const struct option options[] = {
		OPT_INT(0, "fence", &fence, "N", "the fence of the job's lease", 1, INT64_MAX),
		OPT_STRVEC(0, "overlay", &overlays, "FILE", "an overlay, in order after IMAGE (repeatable)"),
		OPT_BOOL(0, "cached", &cached, "use and update the hash cache"),
		OPT_JSON(),
		OPT_END(),
	};
	char address[VERITY_HEX_SIZE];
	struct store *st;

	argc = parse_options(argc, argv, options, rootfs_attest_usage, 0);
	if (argc != 2)
		usage_msg(rootfs_attest_usage, options, argc > 2 ? "too many arguments" : "want JOB and IMAGE");
	if (!fence)
		usage_msg(rootfs_attest_usage, options, "--fence is required");
	opts.cached = cached;
	st = store_open_or_die();
	rc = rootfs_attest(st, argv[0], fence, argv[1], overlays.v, overlays.nr, &opts, address);
	if (rc)
		store_die(st, rc);
	store_close(st);
	out_result(json_pack("{s:s, s:I, s:s}", "job", argv[0], "fence", (json_int_t)fence,
			     "address", address));
	out_textf("%s\n", address);
	strvec_clear(&overlays);
	return 0;
}

static const struct subcommand rootfs_subcommands[] = {
	{ "attest", attest_cmd, rootfs_attest_usage, "record for a job the address of what it boots" },
	{ "hash", hash_cmd, rootfs_hash_usage, "print the content address of a rootfs and its overlays" },
	{ NULL },
};

int cmd_rootfs(int argc, const char **argv)
{
	return run_subcommand(argc, argv, rootfs_subcommands);
}
