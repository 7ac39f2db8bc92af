#ifndef OCI_H
#define OCI_H

#include <jansson.h>

/*
 * The outside input of the OCI distribution API (spec v1.1), parsed
 * strictly: request paths, repository names, tags, digests, chunk ranges,
 * token-flow scopes and manifests. Nothing here touches the store or the
 * disk, so that all of it can be fuzzed.
 */

/* A repository name: the spec's grammar, ORG/NAME..., ORG an org id. */
#define OCI_NAME_MAX 255
#define OCI_TAG_MAX 128
/* Only sha256 digests: sha256: and 64 lower-case hex digits. */
#define OCI_DIGEST_LEN 71
/* Upload session ids: 32 lower-case hex digits. */
#define OCI_UPLOAD_ID_LEN 32

#define OCI_MANIFEST_TYPE "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX_TYPE "application/vnd.oci.image.index.v1+json"
#define DOCKER_MANIFEST_TYPE "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_LIST_TYPE "application/vnd.docker.distribution.manifest.list.v2+json"

/* The spec's error codes (code-1 to code-14). */
enum oci_error {
	OCI_BLOB_UNKNOWN,
	OCI_BLOB_UPLOAD_INVALID,
	OCI_BLOB_UPLOAD_UNKNOWN,
	OCI_DIGEST_INVALID,
	OCI_MANIFEST_BLOB_UNKNOWN,
	OCI_MANIFEST_INVALID,
	OCI_MANIFEST_UNKNOWN,
	OCI_NAME_INVALID,
	OCI_NAME_UNKNOWN,
	OCI_SIZE_INVALID,
	OCI_UNAUTHORIZED,
	OCI_DENIED,
	OCI_UNSUPPORTED,
	OCI_TOOMANYREQUESTS,
};
const char *oci_error_code(enum oci_error e);

/* len bytes of s: the grammar, at most OCI_NAME_MAX, two components or more. */
bool oci_name_valid(const char *s, size_t len);
/* The org of a valid name: the length of its first component. */
size_t oci_name_org_len(const char *name);
bool oci_tag_valid(const char *s);
bool oci_digest_valid(const char *s);

/* The endpoints under /v2/. */
enum oci_endpoint {
	OCI_BASE,		/* /v2/ */
	OCI_BLOB,		/* NAME/blobs/DIGEST */
	OCI_MANIFEST,		/* NAME/manifests/REFERENCE */
	OCI_TAGS,		/* NAME/tags/list */
	OCI_REFERRERS,		/* NAME/referrers/DIGEST */
	OCI_UPLOADS,		/* NAME/blobs/uploads/ */
	OCI_UPLOAD,		/* NAME/blobs/uploads/ID */
};

struct oci_path {
	enum oci_endpoint endpoint;
	char name[OCI_NAME_MAX + 1];
	char org[40];
	/* The digest, tag or upload id, percent-decoded. */
	char ref[OCI_TAG_MAX + 1];
	bool ref_is_digest;
};

/*
 * Parse the path after "/v2/", as sent (the name is never decoded, so
 * an encoded slash is a bad name). Returns 0, or -1 with the error in
 * *err and a message in msg: OCI_UNSUPPORTED for a path that is no
 * endpoint, OCI_NAME_INVALID, OCI_DIGEST_INVALID, OCI_MANIFEST_INVALID
 * for a reference that is neither tag nor digest, OCI_BLOB_UPLOAD_UNKNOWN
 * for an upload id of the wrong form.
 */
int oci_path_parse(const char *path, struct oci_path *out, enum oci_error *err, struct strbuf *msg);

/* The Content-Range of an upload chunk, "FIRST-LAST" (inclusive): 0 or -1. */
int oci_chunk_range_parse(const char *s, uint64_t *first, uint64_t *last);

/* Actions of token-flow scopes. */
enum {
	OCI_PULL = 1,
	OCI_PUSH = 2,
	OCI_DELETE = 4,
};
/*
 * One scope of the Docker token flow, repository:NAME:ACTIONS, ACTIONS
 * separated by commas ("*" is all three; unknown ones are dropped). 0, or
 * -1 for anything else, which the token endpoint ignores.
 */
int oci_scope_parse(const char *s, char name[OCI_NAME_MAX + 1], unsigned *actions);

/*
 * application/x-www-form-urlencoded text, a query string or a form body
 * (the token endpoint's): fn gets each name and value, percent- and
 * '+'-decoded, and returns 0 to go on. Returns 0, what fn returned, or
 * -1 for a bad escape or an encoded NUL.
 */
typedef int oci_form_fn(void *data, const char *name, const char *value);
int oci_form_parse(const char *s, size_t len, oci_form_fn *fn, void *data);

/* sha256:HEX of data. */
void oci_digest_of(const void *data, size_t len, char out[OCI_DIGEST_LEN + 1]);
/* A digest from a raw SHA-256. */
void oci_digest_format(const unsigned char sha[32], char out[OCI_DIGEST_LEN + 1]);

struct oci_descriptor {
	const char *media_type;		/* in the manifest's json */
	char digest[OCI_DIGEST_LEN + 1];
	int64_t size;
};

/*
 * A manifest: an OCI image manifest or index, or a Docker schema 2
 * manifest or manifest list. blobs are what must be in the registry as
 * blobs (the config and layers), children the manifests an index lists.
 */
struct oci_manifest {
	json_t *json;
	const char *media_type;		/* one of the four *_TYPE constants */
	bool is_index;
	struct oci_descriptor *blobs, *children;
	size_t blobs_nr, children_nr;
	bool has_subject;
	struct oci_descriptor subject;
	/* artifactType, else an image manifest's config media type, else NULL */
	const char *artifact_type;
	/* The annotations as compact JSON, or NULL */
	char *annotations;
};
#define OCI_MANIFEST_INIT { 0 }

/*
 * Parse and check a manifest. content_type is the request's Content-Type
 * (parameters ignored) or NULL; a mediaType in the manifest must agree
 * with it. Returns 0, or -1 with the reason in err (MANIFEST_INVALID).
 */
int oci_manifest_parse(struct oci_manifest *m, const char *data, size_t len,
		       const char *content_type, struct strbuf *err);
void oci_manifest_release(struct oci_manifest *m);

#endif
