/* The OCI parsers: names, tags, digests, paths, chunk ranges, scopes, forms, manifests. */
#include "tap.h"
#include "oci.h"

#define D1 "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define D2 "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

static void names(void)
{
	static const char *const good[] = {
		"acme/app", "acme/a/b/c", "a/b", "acme-1/x.y", "acme/x_y", "acme/x__y", "acme/x---y",
		"0acme/0",
	};
	static const char *const bad[] = {
		"acme", "", "/acme/app", "acme/app/", "acme//app", "Acme/app", "acme/App",
		"acme/../app", "acme/./app", "../acme/app", "acme/.app", "acme/app.", "acme/x___y",
		"acme/x_-y", "acme%2fapp", "acme/app%2fx", "-acme/app", "ac.me/app", "ac_me/app",
		"acme/ap p", "acme/app!", "a123456789a123456789a123456789a123456789/app",
	};
	char big[OCI_NAME_MAX + 2];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		ok(oci_name_valid(good[i], strlen(good[i])), "name %s", good[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ok(!oci_name_valid(bad[i], strlen(bad[i])), "not a name: '%s'", bad[i]);
	memset(big, 'a', sizeof(big) - 1);
	big[4] = '/';
	ok(oci_name_valid(big, OCI_NAME_MAX), "%d characters", OCI_NAME_MAX);
	ok(!oci_name_valid(big, OCI_NAME_MAX + 1), "%d characters are too many", OCI_NAME_MAX + 1);
	is_int(oci_name_org_len("acme/a/b"), 4, "the org is the first component");
}

static void tags_and_digests(void)
{
	char tag[OCI_TAG_MAX + 2];

	ok(oci_tag_valid("latest") && oci_tag_valid("v1.2_3-x") && oci_tag_valid("_x") &&
	   oci_tag_valid("A"), "tags");
	ok(!oci_tag_valid("") && !oci_tag_valid(".x") && !oci_tag_valid("-x") && !oci_tag_valid("a:b") &&
	   !oci_tag_valid("a/b") && !oci_tag_valid("a b"), "not tags");
	memset(tag, 'a', sizeof(tag) - 1);
	tag[sizeof(tag) - 1] = '\0';
	ok(!oci_tag_valid(tag), "%d characters are too many for a tag", OCI_TAG_MAX + 1);
	tag[OCI_TAG_MAX] = '\0';
	ok(oci_tag_valid(tag), "%d are fine", OCI_TAG_MAX);
	ok(oci_digest_valid(D1), "digest");
	ok(!oci_digest_valid("sha512:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
	   "another algorithm");
	ok(!oci_digest_valid("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982"),
	   "too short");
	ok(!oci_digest_valid(D1 "0"), "too long");
	ok(!oci_digest_valid("sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824"),
	   "upper case");
	ok(!oci_digest_valid("md5:d41d8cd98f00b204e9800998ecf8427e"), "md5");
}

static void path_ok(const char *path, enum oci_endpoint ep, const char *name, const char *ref)
{
	struct strbuf msg = STRBUF_INIT;
	struct oci_path p;
	enum oci_error e;
	int rc = oci_path_parse(path, &p, &e, &msg);

	ok(!rc && p.endpoint == ep && !strcmp(p.name, name) && !strcmp(p.ref, ref),
	   "%s: endpoint %d, name %s, ref %s%s%s", path, ep, name, ref, rc ? ": " : "", msg.buf);
	strbuf_release(&msg);
}

static void path_bad(const char *path, enum oci_error want)
{
	struct strbuf msg = STRBUF_INIT;
	struct oci_path p;
	enum oci_error e = -1;
	int rc = oci_path_parse(path, &p, &e, &msg);

	ok(rc && e == want, "%s: %s (%s)", path, oci_error_code(want), msg.buf);
	strbuf_release(&msg);
}

static void paths(void)
{
	struct strbuf msg = STRBUF_INIT;
	struct oci_path p;
	enum oci_error e;

	path_ok("", OCI_BASE, "", "");
	path_ok("acme/app/blobs/" D1, OCI_BLOB, "acme/app", D1);
	path_ok("acme/app/blobs/sha256%3A2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
		OCI_BLOB, "acme/app", D1);
	path_ok("acme/app/manifests/latest", OCI_MANIFEST, "acme/app", "latest");
	path_ok("acme/app/manifests/" D1, OCI_MANIFEST, "acme/app", D1);
	path_ok("acme/app/tags/list", OCI_TAGS, "acme/app", "");
	path_ok("acme/app/referrers/" D1, OCI_REFERRERS, "acme/app", D1);
	path_ok("acme/app/blobs/uploads/", OCI_UPLOADS, "acme/app", "");
	path_ok("acme/app/blobs/uploads", OCI_UPLOADS, "acme/app", "");
	path_ok("acme/app/blobs/uploads/0123456789abcdef0123456789abcdef", OCI_UPLOAD, "acme/app",
		"0123456789abcdef0123456789abcdef");
	/* names whose components look like endpoints */
	path_ok("acme/blobs/blobs/" D1, OCI_BLOB, "acme/blobs", D1);
	path_ok("acme/manifests/tags/list", OCI_TAGS, "acme/manifests", "");
	path_ok("acme/blobs/uploads/blobs/" D1, OCI_BLOB, "acme/blobs/uploads", D1);
	ok(!oci_path_parse("acme/a/b/manifests/x", &p, &e, &msg) && !strcmp(p.org, "acme"), "org");

	path_bad("acme/app", OCI_UNSUPPORTED);
	path_bad("acme/app/manifests/", OCI_UNSUPPORTED);
	path_bad("acme/app/other/x", OCI_UNSUPPORTED);
	path_bad("acme/../app/blobs/" D1, OCI_NAME_INVALID);
	path_bad("acme%2Fapp/manifests/latest", OCI_NAME_INVALID);
	path_bad("ACME/app/manifests/latest", OCI_NAME_INVALID);
	path_bad("acme/app/blobs/sha256:2cf24d", OCI_DIGEST_INVALID);
	path_bad("acme/app/blobs/latest", OCI_DIGEST_INVALID);
	path_bad("acme/app/blobs/sha256%3", OCI_DIGEST_INVALID);
	path_bad("acme/app/manifests/sha256:abc", OCI_DIGEST_INVALID);
	path_bad("acme/app/manifests/.hidden", OCI_MANIFEST_INVALID);
	path_bad("acme/app/manifests/a%2Fb", OCI_DIGEST_INVALID);
	path_bad("acme/app/manifests/a%00b", OCI_DIGEST_INVALID);
	path_bad("acme/app/blobs/uploads/xyz", OCI_BLOB_UPLOAD_UNKNOWN);
	path_bad("acme/app/blobs/uploads/0123456789ABCDEF0123456789ABCDEF", OCI_BLOB_UPLOAD_UNKNOWN);
	strbuf_release(&msg);
}

static void chunk_ranges(void)
{
	uint64_t a, b;

	ok(!oci_chunk_range_parse("0-99", &a, &b) && a == 0 && b == 99, "0-99");
	ok(!oci_chunk_range_parse("100-100", &a, &b) && a == 100 && b == 100, "one byte");
	ok(oci_chunk_range_parse("5-4", &a, &b), "backwards");
	ok(oci_chunk_range_parse("bytes 0-4/5", &a, &b), "the response form");
	ok(oci_chunk_range_parse("0-", &a, &b) && oci_chunk_range_parse("-5", &a, &b) &&
	   oci_chunk_range_parse("", &a, &b) && oci_chunk_range_parse("0-1-2", &a, &b) &&
	   oci_chunk_range_parse(" 0-1", &a, &b) && oci_chunk_range_parse("99999999999999999999-1", &a, &b),
	   "malformed ones");
}

static void scopes(void)
{
	char name[OCI_NAME_MAX + 1];
	unsigned actions;

	ok(!oci_scope_parse("repository:acme/app:pull,push", name, &actions) &&
	   !strcmp(name, "acme/app") && actions == (OCI_PULL | OCI_PUSH), "pull,push");
	ok(!oci_scope_parse("repository:acme/app:*", name, &actions) &&
	   actions == (OCI_PULL | OCI_PUSH | OCI_DELETE), "*");
	ok(!oci_scope_parse("repository:acme/app:fly,pull", name, &actions) && actions == OCI_PULL,
	   "unknown actions are dropped");
	ok(oci_scope_parse("registry:catalog:*", name, &actions), "the catalog is not a repository");
	ok(oci_scope_parse("repository:Acme/app:pull", name, &actions), "a bad name");
	ok(oci_scope_parse("repository:acme/app", name, &actions), "no actions");
}

struct pairs {
	struct strbuf sb;
};

static int add_pair(void *data, const char *name, const char *value)
{
	struct pairs *p = data;

	strbuf_addf(&p->sb, "[%s=%s]", name, value);
	return !strcmp(name, "stop") ? 7 : 0;
}

static void forms(void)
{
	static const struct {
		const char *in, *out;
		int rc;
	} cases[] = {
		{ "a=1&b=2", "[a=1][b=2]", 0 },
		{ "scope=repository%3Aacme%2Fapp%3Apull+push&x", "[scope=repository:acme/app:pull push][x=]", 0 },
		{ "&&a=&=b", "[a=]", 0 },
		{ "a=%zz", "", -1 },
		{ "a=%0", "", -1 },
		{ "a=%00", "", -1 },
		{ "a=1&stop=1&b=2", "[a=1][stop=1]", 7 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct pairs p = { STRBUF_INIT };
		int rc = oci_form_parse(cases[i].in, strlen(cases[i].in), add_pair, &p);

		is_int(rc, cases[i].rc, "form %s: rc", cases[i].in);
		if (!rc)
			is_str(p.sb.buf, cases[i].out, "form %s", cases[i].in);
		strbuf_release(&p.sb);
	}
}

static void manifest_ok(const char *json, const char *ct, const char *type, size_t blobs,
			size_t children, const char *artifact_type)
{
	struct oci_manifest m;
	struct strbuf err = STRBUF_INIT;
	int rc = oci_manifest_parse(&m, json, strlen(json), ct, &err);

	ok(!rc, "manifest parses%s%s", rc ? ": " : "", err.buf);
	if (!rc) {
		is_str(m.media_type, type, "its type");
		is_int(m.blobs_nr, blobs, "blobs");
		is_int(m.children_nr, children, "children");
		is_str(m.artifact_type, artifact_type, "artifact type");
	}
	oci_manifest_release(&m);
	strbuf_release(&err);
}

static void manifest_bad(const char *json, const char *ct, const char *why)
{
	struct oci_manifest m;
	struct strbuf err = STRBUF_INIT;

	ok(oci_manifest_parse(&m, json, strlen(json), ct, &err), "refused: %s (%s)", why, err.buf);
	oci_manifest_release(&m);
	strbuf_release(&err);
}

#define DESC(t, d, s) "{\"mediaType\":\"" t "\",\"digest\":\"" d "\",\"size\":" #s "}"
#define CONFIG DESC("application/vnd.oci.image.config.v1+json", D1, 5)
#define LAYER DESC("application/vnd.oci.image.layer.v1.tar+gzip", D2, 2)

static void manifests(void)
{
	struct oci_manifest m;
	struct strbuf err = STRBUF_INIT;
	const char *with_subject =
		"{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST_TYPE "\",\"artifactType\":\"x/sbom\","
		"\"config\":" CONFIG ",\"layers\":[],\"subject\":" DESC(OCI_MANIFEST_TYPE, D2, 9)
		",\"annotations\":{\"a\":\"b\"}}";

	manifest_ok("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST_TYPE "\",\"config\":" CONFIG
		    ",\"layers\":[" LAYER "," LAYER "]}", OCI_MANIFEST_TYPE, OCI_MANIFEST_TYPE, 3, 0,
		    "application/vnd.oci.image.config.v1+json");
	manifest_ok("{\"schemaVersion\":2,\"config\":" CONFIG ",\"layers\":[]}",
		    DOCKER_MANIFEST_TYPE "; charset=utf-8", DOCKER_MANIFEST_TYPE, 1, 0,
		    "application/vnd.oci.image.config.v1+json");
	manifest_ok("{\"schemaVersion\":2,\"mediaType\":\"" OCI_INDEX_TYPE "\",\"manifests\":["
		    DESC(OCI_MANIFEST_TYPE, D1, 9) "]}", NULL, OCI_INDEX_TYPE, 0, 1, NULL);
	manifest_ok("{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_LIST_TYPE "\",\"manifests\":[]}",
		    "application/octet-stream", DOCKER_LIST_TYPE, 0, 0, NULL);
	ok(!oci_manifest_parse(&m, with_subject, strlen(with_subject), NULL, &err) && m.has_subject &&
	   !strcmp(m.subject.digest, D2) && !strcmp(m.artifact_type, "x/sbom") &&
	   !strcmp(m.annotations, "{\"a\":\"b\"}"), "subject, artifactType and annotations");
	oci_manifest_release(&m);

	manifest_bad("", NULL, "empty");
	manifest_bad("[]", NULL, "not an object");
	manifest_bad("{\"schemaVersion\":1,\"mediaType\":\"" OCI_MANIFEST_TYPE "\",\"config\":" CONFIG
		     ",\"layers\":[]}", NULL, "schemaVersion 1");
	manifest_bad("{\"schemaVersion\":2,\"config\":" CONFIG ",\"layers\":[]}", NULL, "no type at all");
	manifest_bad("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST_TYPE "\",\"config\":" CONFIG
		     ",\"layers\":[]}", OCI_INDEX_TYPE, "Content-Type and mediaType differ");
	manifest_bad("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v1+json\"}",
		     NULL, "schema 1");
	manifest_bad("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST_TYPE "\",\"layers\":[]}", NULL,
		     "no config");
	manifest_bad("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST_TYPE "\",\"config\":" CONFIG "}",
		     NULL, "no layers");
	manifest_bad("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST_TYPE "\",\"config\":"
		     DESC("x", "sha512:abc", 1) ",\"layers\":[]}", NULL, "a digest of another algorithm");
	manifest_bad("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST_TYPE "\",\"config\":"
		     DESC("x", D1, -1) ",\"layers\":[]}", NULL, "a negative size");
	manifest_bad("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST_TYPE "\",\"config\":" CONFIG
		     ",\"layers\":[],\"annotations\":{\"a\":1}}", NULL, "an annotation that is no string");
	manifest_bad("{\"schemaVersion\":2,\"schemaVersion\":2,\"mediaType\":\"" OCI_INDEX_TYPE
		     "\",\"manifests\":[]}", NULL, "a duplicate name");
	manifest_bad("{\"schemaVersion\":2,\"mediaType\":\"" OCI_INDEX_TYPE "\",\"manifests\":{}}", NULL,
		     "manifests not an array");
	strbuf_release(&err);
}

static void digests(void)
{
	char d[OCI_DIGEST_LEN + 1];

	oci_digest_of("hello", 5, d);
	is_str(d, D1, "sha256 of hello");
	oci_digest_of("{}", 2, d);
	is_str(d, D2, "sha256 of {}");
}

int main(void)
{
	names();
	tags_and_digests();
	paths();
	chunk_ranges();
	scopes();
	forms();
	manifests();
	digests();
	return done_testing();
}
