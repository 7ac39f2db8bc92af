#include "tap.h"
#include "rootfs.h"

#define KNOWN "sha256:8a257e185954cb14ab208a7fd8045b41c17d9cc967c35d2e51f0863aa46cc881"
#define EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define CANONICAL "{\"components\":[{\"digest\":\"" KNOWN "\",\"kind\":\"image\",\"size\":1228800}," \
	"{\"digest\":\"" EMPTY "\",\"kind\":\"tar\",\"size\":0}],\"version\":1}"
/* printf '%s' CANONICAL | sha256sum */
#define ADDRESS "sha256:60d4e945a825ff44bef6fd112bf9f4e7d5c18e16b94d4d7243ce2717d5b00fb2"

static void test_canonical(void)
{
	static const char text[] = "{ \"version\": 1, \"components\": [\n"
		" {\"size\": 1228800, \"kind\": \"image\", \"digest\": \"" KNOWN "\"},\n"
		" {\"kind\": \"tar\", \"size\": 0, \"digest\": \"" EMPTY "\"} ] }\n";
	struct rootfs_manifest m = ROOTFS_MANIFEST_INIT;
	struct strbuf sb = STRBUF_INIT;
	char addr[VERITY_HEX_SIZE];
	json_t *j;
	char *s;

	ok(!rootfs_manifest_parse(text, strlen(text), "m", &m), "a manifest in any layout parses");
	is_int(m.nr, 2, "two components");
	rootfs_manifest_canonical(&m, &sb);
	is_str(sb.buf, CANONICAL, "canonical bytes: keys sorted, no blanks");
	rootfs_manifest_address(&m, addr);
	is_str(addr, ADDRESS, "the address is the SHA-256 of the canonical bytes");
	j = rootfs_manifest_json(&m);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	is_str(s, CANONICAL, "the JSON object dumps to the same bytes");
	free(s);
	json_decref(j);
	rootfs_manifest_release(&m);
	strbuf_release(&sb);
}

static void test_hash_json_document(void)
{
	struct rootfs_manifest m = ROOTFS_MANIFEST_INIT;
	const char *good = "{\"address\":\"" ADDRESS "\",\"files\":[\"a\",\"b\"],\"manifest\":" CANONICAL "}";
	const char *bad = "{\"address\":\"" EMPTY "\",\"manifest\":" CANONICAL "}";

	ok(!rootfs_manifest_parse(good, strlen(good), "doc", &m), "rootfs hash --json output is read");
	is_int(m.nr, 2, "with its manifest");
	rootfs_manifest_release(&m);
	is_int(rootfs_manifest_parse(bad, strlen(bad), "doc", &m), -EXIT_REJECTED,
	       "an address that is not the manifest's is refused");
	ok(strstr(fail_message(), "address"), "naming the address: %s", fail_message());
}

static void test_rejects(void)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"components\":[],\"version\":1}",
		"{\"components\":[{\"digest\":\"" EMPTY "\",\"kind\":\"tar\",\"size\":0}],\"version\":2}",
		"{\"components\":[{\"digest\":\"" EMPTY "\",\"kind\":\"tar\",\"size\":0}]}",
		"{\"components\":[{\"digest\":\"" EMPTY "\",\"kind\":\"tar\",\"size\":0}],\"version\":1,\"x\":1}",
		"{\"components\":[{\"digest\":\"" EMPTY "\",\"kind\":\"tar\",\"size\":-1}],\"version\":1}",
		"{\"components\":[{\"digest\":\"" EMPTY "\",\"kind\":\"tar\",\"size\":1.0}],\"version\":1}",
		"{\"components\":[{\"digest\":\"" EMPTY "\",\"kind\":\"dir\",\"size\":0}],\"version\":1}",
		"{\"components\":[{\"digest\":\"" EMPTY "\",\"kind\":\"tar\",\"size\":0,\"x\":0}],\"version\":1}",
		"{\"components\":[{\"digest\":\"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\","
		"\"kind\":\"tar\",\"size\":0}],\"version\":1}",
		"{\"components\":[{\"digest\":\"sha512:e3b0\",\"kind\":\"tar\",\"size\":0}],\"version\":1}",
		"{\"components\":[{\"digest\":\"" EMPTY "\",\"kind\":\"tar\",\"kind\":\"tar\",\"size\":0}],\"version\":1}",
		"{\"components\":[{\"digest\":\"" EMPTY "\",\"kind\":\"tar\",\"size\":99999999999999999999}],\"version\":1}",
		"{\"manifest\":[],\"address\":\"" ADDRESS "\"}",
		"{\"components\":[{\"digest\":\"" EMPTY "\",\"kind\":\"tar\\u0000x\",\"size\":0}],\"version\":1}",
		"{\"components\":[{\"digest\":\"" EMPTY "\\u0000\",\"kind\":\"tar\",\"size\":0}],\"version\":1}",
	};
	struct rootfs_manifest m = ROOTFS_MANIFEST_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		is_int(rootfs_manifest_parse(bad[i], strlen(bad[i]), "m", &m), -EXIT_REJECTED,
		       "refused: %s", bad[i]);
		is_int(m.nr, 0, "and nothing kept");
	}
}

static void test_geometry(void)
{
	struct verity_geom g, h;
	bool same = true;

	verity_geom_init(&g, 0);
	ok(!g.levels && !g.tree_blocks, "no tree for an empty file");
	verity_geom_init(&g, 1);
	ok(!g.levels && !g.tree_blocks, "nor for one block");
	verity_geom_init(&g, 2);
	ok(g.levels == 1 && g.tree_blocks == 1, "two blocks: one level of one block");
	verity_geom_init(&g, 128 * 128 + 1);
	is_int(g.levels, 3, "16385 blocks: three levels");
	ok(g.level_blocks[0] == 129 && g.level_blocks[1] == 2 && g.level_blocks[2] == 1,
	   "of 129, 2 and 1 blocks");
	ok(g.level_start[2] == 0 && g.level_start[1] == 1 && g.level_start[0] == 3,
	   "stored root level first");
	for (uint64_t n = 2; n < 40000; n += 997) {
		verity_geom_init(&g, n);
		same = same && !verity_geom_from_tree(&h, g.tree_blocks) &&
		       h.level_blocks[0] == g.level_blocks[0] && h.levels == g.levels;
	}
	ok(same, "the geometry is found again from the tree's length");
	is_int(verity_geom_from_tree(&h, 131), -1, "no tree is 131 blocks long");
}

static void test_digests(void)
{
	uint8_t zero[VERITY_HASH] = { 0 }, d[VERITY_HASH];
	char hex[VERITY_HEX_SIZE];

	verity_file_digest(0, zero, d);
	digest_to_hex(hex, d);
	is_str(hex, "sha256:3d248ca542a24fc62d1c43b916eae5016878e2533c88238480b26128a1f1af95",
	       "the fs-verity digest of an empty file (vector)");
	ok(!digest_from_hex(hex, d), "a digest parses back");
	ok(digest_from_hex("sha256:3d248ca542a24fc62d1c43b916eae5016878e2533c88238480b26128a1f1af9", d),
	   "63 digits do not");
	ok(digest_from_hex("sha256:3d248ca542a24fc62d1c43b916eae5016878e2533c88238480b26128a1f1af95 ", d),
	   "nor a trailing blank");
	ok(digest_from_hex("3d248ca542a24fc62d1c43b916eae5016878e2533c88238480b26128a1f1af95", d),
	   "nor a digest without its algorithm");
}

int main(void)
{
	test_canonical();
	test_hash_json_document();
	test_rejects();
	test_geometry();
	test_digests();
	return done_testing();
}
