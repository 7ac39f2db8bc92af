/*
 * The registry's store operations on one driver: a new SQLite file, or
 * the store of NIMBUS_TEST_STORE_URL (t/7010-registry-store.bats runs it
 * on PostgreSQL too).
 */
#include "tap.h"
#include "store.h"

#define DA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DC "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define M1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define M2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define M3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define QUOTA 1000

static void one_usage(void *data, const struct reg_usage *u)
{
	*(struct reg_usage *)data = *u;
	((struct reg_usage *)data)->org = NULL;
}

static struct reg_usage usage(struct store *st, const char *org)
{
	struct reg_usage u = { NULL, -1, -1, -1 };

	if (store_reg_usage(st, org, QUOTA, one_usage, &u))
		printf("# usage: %s\n", fail_message());
	return u;
}

static void links_and_quota(struct store *st)
{
	struct reg_usage u;
	int64_t size = 0;

	is_int(store_reg_link(st, "acme", DA, 100, QUOTA), 1, "link a blob");
	is_int(store_reg_link(st, "acme", DA, 100, QUOTA), 0, "again: linked already");
	u = usage(st, "acme");
	ok(u.used == 100 && u.quota == QUOTA && u.blobs == 1, "charged once: %" PRId64 " of %" PRId64
	   ", %" PRId64 " blob", u.used, u.quota, u.blobs);
	is_int(store_reg_link(st, "acme", DB, 901, QUOTA), -EXIT_REJECTED, "over the quota");
	ok(strstr(fail_message(), "100") && strstr(fail_message(), "1000") && strstr(fail_message(), "901"),
	   "the refusal names used, quota and size: %s", fail_message());
	is_int(usage(st, "acme").used, 100, "nothing charged");
	is_int(store_reg_blob(st, "acme", DB, &size), -EXIT_NOTFOUND, "nothing linked");
	is_int(store_reg_link(st, "acme", DB, 900, QUOTA), 1, "up to the quota exactly");
	is_int(store_reg_link(st, "beta", DA, 100, QUOTA), 1, "another org links the same blob");
	is_int(usage(st, "beta").used, 100, "and is charged for it too");
	is_int(usage(st, "acme").used, 1000, "the first org is charged as before");
	ok(!store_reg_blob(st, "beta", DA, &size) && size == 100, "beta reads it through its link");
	is_int(store_reg_blob(st, "beta", DB, &size), -EXIT_NOTFOUND, "but not acme's other blob");
	u = usage(st, "nobody");
	ok(u.used == 0 && u.quota == QUOTA && u.blobs == 0, "an org never seen uses nothing");
	ok(!store_reg_quota_set(st, "acme", 5000), "set a quota");
	is_int(usage(st, "acme").quota, 5000, "it is the org's");
	ok(!store_reg_quota_set(st, "acme", -1), "back to the default");
	is_int(usage(st, "acme").quota, QUOTA, "it is the default");
	is_int(store_reg_blob_drop(st, DA, false), 0, "a linked blob stays");
}

static void uploads(struct store *st)
{
	const char *id = "0123456789abcdef0123456789abcdef";
	struct strvec ids = STRVEC_INIT;

	ok(!store_reg_upload_new(st, id, "acme/app"), "a session");
	ok(!store_reg_upload_touch(st, id, "acme/app"), "touched by its repository");
	is_int(store_reg_upload_touch(st, id, "beta/app"), -EXIT_NOTFOUND, "another repository's");
	ok(!store_reg_gc_uploads(st, "beta", 0, false, &ids) && !ids.nr, "gc for another org");
	ok(!store_reg_gc_uploads(st, NULL, 3600 * 1000, false, &ids) && !ids.nr, "fresh: not ended");
	ok(!store_reg_gc_uploads(st, "acme", 0, true, &ids) && ids.nr == 1, "a dry run names it");
	strvec_clear(&ids);
	ok(!store_reg_gc_uploads(st, "acme", 0, false, &ids) && ids.nr == 1 && !strcmp(ids.v[0], id),
	   "ended by gc");
	is_int(store_reg_upload_touch(st, id, "acme/app"), -EXIT_NOTFOUND, "gone");
	ok(!store_reg_upload_new(st, id, "acme/app") && !store_reg_upload_end(st, id) &&
	   store_reg_upload_touch(st, id, "acme/app") == -EXIT_NOTFOUND, "ended by its client");
	strvec_clear(&ids);
}

static void add_referrer(void *data, const char *digest, const char *media_type, int64_t size,
			 const char *artifact_type, const char *annotations)
{
	strbuf_addf(data, "%s %s %" PRId64 " %s %s;", digest + 7, media_type, size,
		    artifact_type ? artifact_type : "-", annotations ? annotations : "-");
}

static void manifests(struct store *st)
{
	struct oci_descriptor blobs[] = {
		{ "x", DA, 100 }, { "y", DB, 900 },
	}, wrong[] = { { "x", DA, 99 } }, missing[] = { { "x", DC, 1 } }, children[] = { { "z", M1, 10 } };
	const char *refs[] = { DA, DB };
	struct reg_manifest m = {
		.repo = "acme/app", .org = "acme", .digest = M1, .media_type = OCI_MANIFEST_TYPE,
		.content = "{\"m\":1}", .size = 7, .blobs = blobs, .blobs_nr = 2, .refs = refs, .refs_nr = 2,
	};
	struct strbuf content = STRBUF_INIT, type = STRBUF_INIT, sb = STRBUF_INIT;
	struct strvec tags = STRVEC_INIT;
	char digest[OCI_DIGEST_LEN + 1];
	int64_t size;

	m.blobs = missing;
	m.blobs_nr = 1;
	is_int(store_reg_manifest_put(st, &m, "v1"), -EXIT_NOTFOUND, "a blob the org lacks");
	ok(strstr(fail_message(), DC) != NULL, "named: %s", fail_message());
	m.blobs = wrong;
	is_int(store_reg_manifest_put(st, &m, "v1"), -EXIT_REJECTED, "a blob of another size");
	m.org = "beta";
	m.repo = "beta/app";
	m.blobs = blobs;
	m.blobs_nr = 2;
	is_int(store_reg_manifest_put(st, &m, "v1"), -EXIT_NOTFOUND, "another org's blob, even by digest");
	m.org = "acme";
	m.repo = "acme/app";
	ok(!store_reg_manifest_put(st, &m, "v1"), "store the manifest as v1");
	ok(!store_reg_manifest_put(st, &m, "Latest"), "and again as Latest");
	ok(!store_reg_manifest_get(st, "acme/app", "v1", false, &content, &type, digest) &&
	   !strcmp(content.buf, "{\"m\":1}") && !strcmp(type.buf, OCI_MANIFEST_TYPE) && !strcmp(digest, M1),
	   "by tag");
	strbuf_reset(&content);
	strbuf_reset(&type);
	ok(!store_reg_manifest_get(st, "acme/app", M1, true, &content, &type, digest), "by digest");
	is_int(store_reg_manifest_get(st, "acme/other", M1, true, &content, &type, digest), -EXIT_NOTFOUND,
	       "not in another repository");
	is_int(store_reg_unlink(st, "acme", DA), -EXIT_BUSY, "a referenced blob is not unlinked");

	/* an index of it, and referrers */
	m.digest = M2;
	m.media_type = OCI_INDEX_TYPE;
	m.blobs_nr = 0;
	m.children = children;
	m.children_nr = 1;
	m.refs = (const char *[]){ M1 };
	m.refs_nr = 1;
	m.subject = M1;
	m.artifact_type = "x/sig";
	m.annotations = "{\"k\":\"v\"}";
	ok(!store_reg_manifest_put(st, &m, "a"), "an index of it with a subject");
	children[0].digest[7] = '9';
	m.digest = M3;
	is_int(store_reg_manifest_put(st, &m, NULL), -EXIT_NOTFOUND, "an index of a missing manifest");
	children[0].digest[7] = '1';
	m.artifact_type = "x/sbom";
	m.annotations = NULL;
	ok(!store_reg_manifest_put(st, &m, NULL), "another referrer, untagged");
	ok(!store_reg_referrers(st, "acme/app", M1, NULL, add_referrer, &sb), "referrers");
	ok(strstr(sb.buf, "2222") && strstr(sb.buf, "x/sig {\"k\":\"v\"}") && strstr(sb.buf, "3333") &&
	   strstr(sb.buf, "x/sbom -"), "both: %s", sb.buf);
	strbuf_reset(&sb);
	ok(!store_reg_referrers(st, "acme/app", M1, "x/sbom", add_referrer, &sb) &&
	   !strstr(sb.buf, "2222") && strstr(sb.buf, "3333"), "filtered: %s", sb.buf);
	strbuf_reset(&sb);
	ok(!store_reg_referrers(st, "acme/app", M2, NULL, add_referrer, &sb) && !sb.len, "none");

	/* tags in order, a page at a time */
	ok(!store_reg_tags(st, "acme/app", NULL, 10, &tags), "tags");
	ok(tags.nr == 3 && !strcmp(tags.v[0], "a") && !strcmp(tags.v[1], "Latest") &&
	   !strcmp(tags.v[2], "v1"), "lexical, case-insensitive");
	strvec_clear(&tags);
	ok(!store_reg_tags(st, "acme/app", "a", 1, &tags) && tags.nr == 1 && !strcmp(tags.v[0], "Latest"),
	   "after a, one");
	strvec_clear(&tags);
	ok(!store_reg_tags(st, "acme/app", "v1", 5, &tags) && !tags.nr, "after the last, none");
	is_int(store_reg_tags(st, "acme/none", NULL, 5, &tags), -EXIT_NOTFOUND, "an unknown repository");
	ok(!store_reg_tag_delete(st, "acme/app", "Latest"), "delete a tag");
	is_int(store_reg_tag_delete(st, "acme/app", "Latest"), -EXIT_NOTFOUND, "once");
	ok(!store_reg_manifest_delete(st, "acme/app", M2), "delete the index");
	strvec_clear(&tags);
	ok(!store_reg_tags(st, "acme/app", NULL, 10, &tags) && tags.nr == 1 && !strcmp(tags.v[0], "v1"),
	   "its tag went with it");
	is_int(store_reg_manifest_delete(st, "acme/app", M2), -EXIT_NOTFOUND, "deleted once");
	ok(!store_reg_blob(st, "acme", DA, &size), "the blobs are still linked");
	strvec_clear(&tags);
	strbuf_release(&content);
	strbuf_release(&type);
	strbuf_release(&sb);
}

static void gc(struct store *st)
{
	int64_t n, bytes, size;

	ok(!store_reg_gc_links(st, "acme", 3600 * 1000, false, &n, &bytes) && !n, "nothing old enough");
	is_int(store_reg_link(st, "acme", DC, 7, 1 << 20), 1, "an unreferenced blob");
	ok(!store_reg_gc_links(st, "acme", 0, true, &n, &bytes) && n == 1 && bytes == 7, "a dry run");
	ok(!store_reg_blob(st, "acme", DC, &size), "which leaves it");
	ok(!store_reg_gc_links(st, "acme", 0, false, &n, &bytes) && n == 1 && bytes == 7,
	   "only the unreferenced one goes");
	is_int(store_reg_blob(st, "acme", DC, &size), -EXIT_NOTFOUND, "unlinked");
	is_int(usage(st, "acme").used, 1000, "usage went down with it");
	is_int(store_reg_blob_drop(st, DC, true), 1, "its file may go: a dry run says so");
	is_int(store_reg_blob_drop(st, DC, false), 1, "and forgets it");
	ok(!store_reg_manifest_delete(st, "acme/app", M1) && !store_reg_manifest_delete(st, "acme/app", M3),
	   "delete the manifests");
	ok(!store_reg_gc_links(st, "acme", 0, false, &n, &bytes) && n == 2 && bytes == 1000,
	   "their blobs go now");
	is_int(usage(st, "acme").used, 0, "acme uses nothing");
	is_int(store_reg_blob_drop(st, DA, false), 0, "beta still links one");
	is_int(store_reg_blob_drop(st, DB, false), 1, "the other goes");
	ok(!store_reg_unlink(st, "beta", DA), "beta deletes its blob");
	is_int(store_reg_unlink(st, "beta", DA), -EXIT_NOTFOUND, "once");
	is_int(usage(st, "beta").used, 0, "beta uses nothing");
}

static void add_robot(void *data, const char *org, const char *name, const char *actions,
		      int64_t created_ms)
{
	strbuf_addf(data, "%s+%s:%s;", org, name, actions);
}

static void robots(struct store *st)
{
	struct strbuf hash = STRBUF_INIT, actions = STRBUF_INIT, sb = STRBUF_INIT;

	ok(!store_reg_robot_set(st, "acme", "ci", "h1", "pull"), "a robot");
	ok(!store_reg_robot_set(st, "acme", "ci", "h2", "pull push"), "changed");
	ok(!store_reg_robot_set(st, "beta", "ci", "h3", "pull"), "another org's");
	ok(!store_reg_robot_get(st, "acme", "ci", &hash, &actions) && !strcmp(hash.buf, "h2") &&
	   !strcmp(actions.buf, "pull push"), "its hash and actions");
	is_int(store_reg_robot_get(st, "acme", "cd", &hash, &actions), -EXIT_NOTFOUND, "unknown");
	ok(!store_reg_robots(st, NULL, add_robot, &sb), "list");
	is_str(sb.buf, "acme+ci:pull push;beta+ci:pull;", "all");
	strbuf_reset(&sb);
	ok(!store_reg_robots(st, "beta", add_robot, &sb), "list one org's");
	is_str(sb.buf, "beta+ci:pull;", "one");
	ok(!store_reg_robot_delete(st, "acme", "ci"), "delete");
	is_int(store_reg_robot_delete(st, "acme", "ci"), -EXIT_NOTFOUND, "once");
	strbuf_release(&hash);
	strbuf_release(&actions);
	strbuf_release(&sb);
}

int main(void)
{
	const char *url = getenv("NIMBUS_TEST_STORE_URL");
	char dir[] = "/tmp/nimbus-registry-store.XXXXXX";
	char *conf, *db_url = NULL;
	struct store *st;
	int fd, rc;

	if (!mkdtemp(dir))
		die_errno("mkdtemp");
	conf = xstrfmt("%s/nimbus.conf", dir);
	fd = open(conf, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || close(fd))
		die_errno("%s", conf);
	setenv("NIMBUS_CONFIG", conf, 1);
	if (!url || !*url)
		url = db_url = xstrfmt("sqlite:%s/nimbus.db", dir);
	rc = store_open_url(&st, url, STORE_MIGRATE);
	ok(!rc, "open %s%s%s", url, rc ? ": " : "", rc ? fail_message() : "");
	if (!rc) {
		printf("# driver %s\n", store_driver(st));
		links_and_quota(st);
		uploads(st);
		manifests(st);
		gc(st);
		robots(st);
		store_close(st);
	}
	for (size_t i = 0; db_url && i < 3; i++) {
		char *f = xstrfmt("%s/nimbus.db%s", dir, (const char *[]){ "", "-wal", "-shm" }[i]);

		unlink(f);
		free(f);
	}
	ok(!unlink(conf) && !rmdir(dir), "clean up");
	free(conf);
	free(db_url);
	return done_testing();
}
