/*
 * The token endpoint's input: forms and query strings, the scopes in
 * them, and the chunk ranges of uploads. Decoded names and values hold no
 * NUL; a scope that parses names a valid repository; a range is ordered.
 */
#include "common.h"
#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int each(void *data, const char *name, const char *value)
{
	char repo[OCI_NAME_MAX + 1];
	unsigned actions;

	if (!*name)
		abort();
	if (!oci_scope_parse(value, repo, &actions) &&
	    (!oci_name_valid(repo, strlen(repo)) || actions & ~(OCI_PULL | OCI_PUSH | OCI_DELETE)))
		abort();
	++*(size_t *)data;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmemdup(data, size);
	uint64_t first, last;
	size_t n = 0;

	if (!oci_form_parse(s, size, each, &n) && n > size)
		abort();
	if (!oci_chunk_range_parse(s, &first, &last) && last < first)
		abort();
	free(s);
	return 0;
}
