/*
 * The configuration parser on arbitrary files: it loads or fails with a
 * message naming a line, never crashes.
 */
#include "common.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmemdup(data, size);
	int rc;

	if (strlen(text) != size) {
		free(text);
		return 0; /* the loader refuses NULs before parsing */
	}
	cfg_reset();
	rc = cfg_parse_text(text, "fuzz.conf");
	if (rc && (rc != -EXIT_CONFIG || !starts_with(fail_message(), "fuzz.conf")))
		abort();
	free(text);
	return 0;
}
