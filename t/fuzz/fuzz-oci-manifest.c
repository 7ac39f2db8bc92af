/*
 * Manifests as pushed: what parses has a known media type, digests of
 * the right form, sizes that are not negative and annotations that are
 * JSON again. The first byte picks the Content-Type sent with it.
 */
#include "common.h"
#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct oci_descriptor *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!oci_digest_valid(d[i].digest) || d[i].size < 0 || !d[i].media_type)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = {
		NULL, OCI_MANIFEST_TYPE, OCI_INDEX_TYPE, DOCKER_MANIFEST_TYPE, DOCKER_LIST_TYPE,
		"application/json", OCI_MANIFEST_TYPE "; charset=utf-8",
	};
	struct strbuf err = STRBUF_INIT;
	struct oci_manifest m;
	json_t *ann;

	if (!size)
		return 0;
	if (!oci_manifest_parse(&m, (const char *)data + 1, size - 1, types[data[0] % ARRAY_SIZE(types)],
				&err)) {
		check(m.blobs, m.blobs_nr);
		check(m.children, m.children_nr);
		if (m.has_subject)
			check(&m.subject, 1);
		if (m.is_index ? m.blobs_nr != 0 : m.blobs_nr < 1 || m.children_nr != 0)
			abort();
		if (m.annotations) {
			ann = json_loads(m.annotations, 0, NULL);
			if (!json_is_object(ann))
				abort();
			json_decref(ann);
		}
	} else if (!err.len) {
		abort();
	}
	oci_manifest_release(&m);
	strbuf_release(&err);
	return 0;
}
