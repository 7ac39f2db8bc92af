/*
 * libFuzzer: how the reaper tells a VM's processes and objects from
 * others', on any bytes: a command line (any process writes its own
 * /proc/PID/cmdline) and an object's name. A yes names a valid VM id
 * that the input holds (its 8 hex characters, at least).
 */
#include "common.h"
#include "vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exactly size bytes: no terminating NUL to lean on */
	char *s = xmalloc(size ? size : 1), *name;
	char id[VM_ID_LEN + 1];

	memcpy(s, data, size);
	if (vm_cmdline_id(s, size, id) && (!vm_id_valid(id) || !memmem(s, size, id, VM_ID_LEN)))
		abort();
	name = xstrndup(s, size);
	if (vm_id_of_name(name, id) &&
	    (!vm_id_valid(id) || !strstr(name, id + strlen(VM_ID_PREFIX))))
		abort();
	free(name);
	free(s);
	return 0;
}
