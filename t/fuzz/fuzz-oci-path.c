/*
 * The registry's request paths: what parses has a valid name (whose org
 * is its first component) and a reference of the endpoint's form.
 */
#include "common.h"
#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf msg = STRBUF_INIT;
	char *path = xmemdup(data, size);
	struct oci_path p;
	enum oci_error e;
	int rc = oci_path_parse(path, &p, &e, &msg);

	if (rc && !msg.len)
		abort();
	if (!rc && p.endpoint != OCI_BASE) {
		size_t org = oci_name_org_len(p.name);

		if (!oci_name_valid(p.name, strlen(p.name)) || strlen(p.org) != org ||
		    strncmp(p.org, p.name, org) || strstr(p.name, "..") || strchr(p.name, '%'))
			abort();
		if ((p.endpoint == OCI_BLOB || p.endpoint == OCI_REFERRERS) && !oci_digest_valid(p.ref))
			abort();
		if (p.endpoint == OCI_MANIFEST && !(p.ref_is_digest ? oci_digest_valid(p.ref) :
						    oci_tag_valid(p.ref)))
			abort();
		if (p.endpoint == OCI_UPLOAD && strlen(p.ref) != OCI_UPLOAD_ID_LEN)
			abort();
	}
	free(path);
	strbuf_release(&msg);
	return 0;
}
