#include "common.h"
#include "oci.h"
#include "token.h"

#include <openssl/evp.h>

static const char *const error_codes[] = {
	[OCI_BLOB_UNKNOWN] = "BLOB_UNKNOWN",
	[OCI_BLOB_UPLOAD_INVALID] = "BLOB_UPLOAD_INVALID",
	[OCI_BLOB_UPLOAD_UNKNOWN] = "BLOB_UPLOAD_UNKNOWN",
	[OCI_DIGEST_INVALID] = "DIGEST_INVALID",
	[OCI_MANIFEST_BLOB_UNKNOWN] = "MANIFEST_BLOB_UNKNOWN",
	[OCI_MANIFEST_INVALID] = "MANIFEST_INVALID",
	[OCI_MANIFEST_UNKNOWN] = "MANIFEST_UNKNOWN",
	[OCI_NAME_INVALID] = "NAME_INVALID",
	[OCI_NAME_UNKNOWN] = "NAME_UNKNOWN",
	[OCI_SIZE_INVALID] = "SIZE_INVALID",
	[OCI_UNAUTHORIZED] = "UNAUTHORIZED",
	[OCI_DENIED] = "DENIED",
	[OCI_UNSUPPORTED] = "UNSUPPORTED",
	[OCI_TOOMANYREQUESTS] = "TOOMANYREQUESTS",
};

const char *oci_error_code(enum oci_error e)
{
	return error_codes[e];
}

static bool is_lower_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(int c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool component_valid(const char *s, size_t len)
{
	size_t i = 0;

	for (;;) {
		size_t start = i;

		while (i < len && is_lower_alnum((unsigned char)s[i]))
			i++;
		if (i == start)
			return false;
		if (i == len)
			return true;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += i + 1 < len && s[i + 1] == '_' ? 2 : 1;
		else if (s[i] == '-')
			while (i < len && s[i] == '-')
				i++;
		else
			return false;
	}
}

bool oci_name_valid(const char *s, size_t len)
{
	size_t components = 0, start = 0;

	if (!len || len > OCI_NAME_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '/')
			continue;
		if (!component_valid(s + start, i - start))
			return false;
		if (!components++ && !org_id_valid(s, i))
			return false;
		start = i + 1;
	}
	return components >= 2;
}

size_t oci_name_org_len(const char *name)
{
	return strcspn(name, "/");
}

/* [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} */
bool oci_tag_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > OCI_TAG_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static bool hex_string(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_hex((unsigned char)s[i]))
			return false;
	return s[len] == '\0';
}

bool oci_digest_valid(const char *s)
{
	return starts_with(s, "sha256:") && strlen(s) == OCI_DIGEST_LEN && hex_string(s + 7, 64);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Append s percent-decoded ('+' as a blank when plus); -1 for a bad escape or a NUL. */
static int unescape(struct strbuf *out, const char *s, size_t len, bool plus)
{
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < len ? hexval((unsigned char)s[i + 1]) : -1;
			int lo = hi < 0 ? -1 : hexval((unsigned char)s[i + 2]);

			if (lo < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		if (!c)
			return -1;
		strbuf_addch(out, c);
	}
	return 0;
}

/* Percent-decode a path segment into out (size max): no slash. */
static bool decode_segment(const char *s, char *out, size_t max)
{
	struct strbuf sb = STRBUF_INIT;
	bool ok = !unescape(&sb, s, strlen(s), false) && sb.len < max && !memchr(sb.buf, '/', sb.len);

	if (ok)
		memcpy(out, sb.buf, sb.len + 1);
	strbuf_release(&sb);
	return ok;
}

int oci_form_parse(const char *s, size_t len, oci_form_fn *fn, void *data)
{
	struct strbuf name = STRBUF_INIT, value = STRBUF_INIT;
	const char *end = s + len;
	int rc = 0;

	while (s < end && !rc) {
		const char *amp = memchr(s, '&', end - s), *eq;

		if (!amp)
			amp = end;
		eq = memchr(s, '=', amp - s);
		if (!eq)
			eq = amp;
		strbuf_reset(&name);
		strbuf_reset(&value);
		if (unescape(&name, s, eq - s, true) ||
		    (eq < amp && unescape(&value, eq + 1, amp - eq - 1, true)))
			rc = -1;
		else if (name.len)
			rc = fn(data, name.buf, value.buf);
		s = amp + 1;
	}
	strbuf_release_secret(&name);
	strbuf_release_secret(&value);
	return rc;
}

static int path_error(enum oci_error *err, enum oci_error e, struct strbuf *msg, const char *fmt, ...)
{
	va_list ap;

	*err = e;
	va_start(ap, fmt);
	strbuf_vaddf(msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* The endpoint and the length of the name; the reference segment in *ref. */
static bool split_path(const char *path, enum oci_endpoint *ep, size_t *nlen, const char **ref)
{
	static const struct {
		const char *suffix;
		enum oci_endpoint ep;
	} fixed[] = {
		{ "/tags/list", OCI_TAGS },
		{ "/blobs/uploads/", OCI_UPLOADS },
		{ "/blobs/uploads", OCI_UPLOADS },
	}, with_ref[] = {
		{ "/blobs/uploads", OCI_UPLOAD },
		{ "/manifests", OCI_MANIFEST },
		{ "/blobs", OCI_BLOB },
		{ "/referrers", OCI_REFERRERS },
	};
	size_t len = strlen(path), hlen;
	const char *slash;

	*ref = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
		size_t n = strlen(fixed[i].suffix);

		if (len > n && !strcmp(path + len - n, fixed[i].suffix)) {
			*ep = fixed[i].ep;
			*nlen = len - n;
			return true;
		}
	}
	slash = strrchr(path, '/');
	if (!slash || !slash[1])
		return false;
	hlen = slash - path;
	for (size_t i = 0; i < ARRAY_SIZE(with_ref); i++) {
		size_t n = strlen(with_ref[i].suffix);

		if (hlen > n && !memcmp(path + hlen - n, with_ref[i].suffix, n)) {
			*ep = with_ref[i].ep;
			*nlen = hlen - n;
			*ref = slash + 1;
			return true;
		}
	}
	return false;
}

int oci_path_parse(const char *path, struct oci_path *out, enum oci_error *err, struct strbuf *msg)
{
	const char *ref;
	size_t nlen;
	bool decoded;

	memset(out, 0, sizeof(*out));
	if (!*path) {
		out->endpoint = OCI_BASE;
		return 0;
	}
	if (!split_path(path, &out->endpoint, &nlen, &ref))
		return path_error(err, OCI_UNSUPPORTED, msg, "no such endpoint");
	if (!oci_name_valid(path, nlen))
		return path_error(err, OCI_NAME_INVALID, msg,
				  "invalid repository name: want ORG/NAME in lower case, at most %d characters",
				  OCI_NAME_MAX);
	memcpy(out->name, path, nlen);
	memcpy(out->org, path, oci_name_org_len(out->name));
	if (!ref)
		return 0;
	decoded = decode_segment(ref, out->ref, sizeof(out->ref));
	if (out->endpoint == OCI_UPLOAD) {
		if (!decoded || strlen(out->ref) != OCI_UPLOAD_ID_LEN || !hex_string(out->ref, OCI_UPLOAD_ID_LEN))
			return path_error(err, OCI_BLOB_UPLOAD_UNKNOWN, msg, "no such upload");
		return 0;
	}
	/* a manifest's reference is a tag unless it has the colon of a digest */
	if (out->endpoint == OCI_MANIFEST && decoded && !strchr(out->ref, ':')) {
		if (!oci_tag_valid(out->ref))
			return path_error(err, OCI_MANIFEST_INVALID, msg,
					  "invalid tag: want [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");
		return 0;
	}
	if (!decoded || !oci_digest_valid(out->ref))
		return path_error(err, OCI_DIGEST_INVALID, msg,
				  "invalid digest: want sha256: and 64 lower-case hex digits");
	out->ref_is_digest = true;
	return 0;
}

static bool digits(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (!n || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

int oci_chunk_range_parse(const char *s, uint64_t *first, uint64_t *last)
{
	const char *dash = strchr(s, '-');

	if (!dash || !digits(s, dash - s, first) || !digits(dash + 1, strlen(dash + 1), last) ||
	    *last < *first)
		return -1;
	return 0;
}

int oci_scope_parse(const char *s, char name[OCI_NAME_MAX + 1], unsigned *actions)
{
	static const struct {
		const char *word;
		unsigned bits;
	} words[] = {
		{ "pull", OCI_PULL }, { "push", OCI_PUSH }, { "delete", OCI_DELETE },
		{ "*", OCI_PULL | OCI_PUSH | OCI_DELETE },
	};
	const char *colon, *p;
	size_t nlen;

	if (!skip_prefix(s, "repository:", &s) || !(colon = strrchr(s, ':')))
		return -1;
	nlen = colon - s;
	if (!oci_name_valid(s, nlen))
		return -1;
	memcpy(name, s, nlen);
	name[nlen] = '\0';
	*actions = 0;
	for (p = colon + 1; *p; ) {
		size_t n = strcspn(p, ",");

		for (size_t i = 0; i < ARRAY_SIZE(words); i++)
			if (strlen(words[i].word) == n && !memcmp(p, words[i].word, n))
				*actions |= words[i].bits;
		p += n + (p[n] == ',');
	}
	return 0;
}

void oci_digest_format(const unsigned char sha[32], char out[OCI_DIGEST_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	memcpy(out, "sha256:", 7);
	for (size_t i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[sha[i] >> 4];
		out[8 + 2 * i] = hex[sha[i] & 15];
	}
	out[OCI_DIGEST_LEN] = '\0';
}

void oci_digest_of(const void *data, size_t len, char out[OCI_DIGEST_LEN + 1])
{
	unsigned char sha[32];

	if (!EVP_Digest(data, len, sha, NULL, EVP_sha256(), NULL))
		die("SHA-256 failed");
	oci_digest_format(sha, out);
}

static const char *const manifest_types[] = {
	OCI_MANIFEST_TYPE, OCI_INDEX_TYPE, DOCKER_MANIFEST_TYPE, DOCKER_LIST_TYPE,
};

/* One of ours for a media type (parameters and blanks ignored), or NULL. */
static const char *known_type(const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strcspn(s, "; \t");
	for (size_t i = 0; i < ARRAY_SIZE(manifest_types); i++)
		if (strlen(manifest_types[i]) == n && !strncasecmp(s, manifest_types[i], n))
			return manifest_types[i];
	return NULL;
}

static int invalid(struct strbuf *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(err, fmt, ap);
	va_end(ap);
	return -1;
}

static int descriptor(json_t *d, struct oci_descriptor *out, const char *what, size_t i,
		      struct strbuf *err)
{
	json_t *digest = json_object_get(d, "digest"), *size = json_object_get(d, "size");

	if (!json_is_object(d))
		return invalid(err, "%s %zu is not an object", what, i);
	out->media_type = json_string_value(json_object_get(d, "mediaType"));
	if (!out->media_type)
		return invalid(err, "%s %zu has no mediaType", what, i);
	if (!json_is_string(digest) || !oci_digest_valid(json_string_value(digest)))
		return invalid(err, "%s %zu has no sha256 digest", what, i);
	memcpy(out->digest, json_string_value(digest), OCI_DIGEST_LEN + 1);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return invalid(err, "%s %zu has no size", what, i);
	out->size = json_integer_value(size);
	return 0;
}

/* Append the descriptors of the array json[key] to *list. */
static int descriptors(json_t *json, const char *key, struct oci_descriptor **list, size_t *nr,
		       struct strbuf *err)
{
	json_t *arr = json_object_get(json, key);
	size_t n = json_array_size(arr);

	if (!json_is_array(arr))
		return invalid(err, "%s is not an array", key);
	*list = xrealloc(*list, (*nr + n) * sizeof(**list));
	for (size_t i = 0; i < n; i++)
		if (descriptor(json_array_get(arr, i), &(*list)[(*nr)++], key, i, err))
			return -1;
	return 0;
}

static int annotations(struct oci_manifest *m, struct strbuf *err)
{
	json_t *ann = json_object_get(m->json, "annotations"), *v;
	const char *k;

	if (!ann)
		return 0;
	if (!json_is_object(ann))
		return invalid(err, "annotations is not an object");
	json_object_foreach(ann, k, v)
		if (!json_is_string(v))
			return invalid(err, "annotation %s is not a string", k);
	m->annotations = json_dumps(ann, JSON_COMPACT);
	if (!m->annotations)
		die("out of memory");
	return 0;
}

/* The media type: the manifest's mediaType, which a manifest Content-Type must match. */
static int media_type(struct oci_manifest *m, const char *content_type, struct strbuf *err)
{
	json_t *field = json_object_get(m->json, "mediaType");
	const char *ct = content_type ? known_type(content_type) : NULL;

	if (field) {
		if (!json_is_string(field))
			return invalid(err, "mediaType is not a string");
		m->media_type = known_type(json_string_value(field));
		if (!m->media_type)
			return invalid(err, "unsupported media type %s", json_string_value(field));
		if (ct && ct != m->media_type)
			return invalid(err, "Content-Type %s does not match mediaType %s", ct, m->media_type);
		return 0;
	}
	if (!ct)
		return invalid(err, "unsupported media type: want a manifest Content-Type or mediaType");
	m->media_type = ct;
	return 0;
}

int oci_manifest_parse(struct oci_manifest *m, const char *data, size_t len,
		       const char *content_type, struct strbuf *err)
{
	json_error_t jerr;
	json_t *v;

	memset(m, 0, sizeof(*m));
	m->json = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!m->json)
		return invalid(err, "not JSON: %s", jerr.text);
	if (!json_is_object(m->json))
		return invalid(err, "not a JSON object");
	v = json_object_get(m->json, "schemaVersion");
	if (!json_is_integer(v) || json_integer_value(v) != 2)
		return invalid(err, "schemaVersion is not 2");
	if (media_type(m, content_type, err))
		return -1;
	m->is_index = !strcmp(m->media_type, OCI_INDEX_TYPE) || !strcmp(m->media_type, DOCKER_LIST_TYPE);
	if (m->is_index) {
		if (descriptors(m->json, "manifests", &m->children, &m->children_nr, err))
			return -1;
	} else {
		m->blobs = xmalloc(sizeof(*m->blobs));
		if (descriptor(json_object_get(m->json, "config"), &m->blobs[0], "config", 0, err))
			return -1;
		m->blobs_nr = 1;
		if (descriptors(m->json, "layers", &m->blobs, &m->blobs_nr, err))
			return -1;
	}
	v = json_object_get(m->json, "subject");
	if (v) {
		if (descriptor(v, &m->subject, "subject", 0, err))
			return -1;
		m->has_subject = true;
	}
	v = json_object_get(m->json, "artifactType");
	if (v && !json_is_string(v))
		return invalid(err, "artifactType is not a string");
	m->artifact_type = json_string_value(v);
	if (!m->artifact_type && !m->is_index)
		m->artifact_type = m->blobs[0].media_type;
	return annotations(m, err);
}

void oci_manifest_release(struct oci_manifest *m)
{
	json_decref(m->json);
	free(m->blobs);
	free(m->children);
	free(m->annotations);
	memset(m, 0, sizeof(*m));
}
