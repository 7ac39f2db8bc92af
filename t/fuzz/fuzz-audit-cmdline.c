/*
 * libFuzzer: the readers of /proc/PID/cmdline, audit_is_serve() and
 * vm_cmdline_is(), on any bytes, as any process may put anything there.
 * A yes needs nimbus and serve, or --id and the VM id, in it.
 */
#include "common.h"
#include "audit.h"
#include "vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char id[] = "nimbus-0a1b2c3d";
	/* exactly size bytes: no terminating NUL to lean on */
	char *s = xmalloc(size ? size : 1);

	memcpy(s, data, size);
	if (audit_is_serve(s, size) && (!memmem(s, size, "nimbus", 6) || !memmem(s, size, "serve", 5)))
		abort();
	if (vm_cmdline_is(s, size, id) && (!memmem(s, size, "--id", 4) || !memmem(s, size, id, 15)))
		abort();
	free(s);
	return 0;
}
