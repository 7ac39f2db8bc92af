/*
 * libFuzzer: audit_is_serve() on any bytes, as any process may put
 * anything in its /proc/PID/cmdline. A yes needs nimbus and serve in it.
 */
#include "common.h"
#include "audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exactly size bytes: no terminating NUL to lean on */
	char *s = xmalloc(size ? size : 1);

	memcpy(s, data, size);
	if (audit_is_serve(s, size) && (!memmem(s, size, "nimbus", 6) || !memmem(s, size, "serve", 5)))
		abort();
	free(s);
	return 0;
}
