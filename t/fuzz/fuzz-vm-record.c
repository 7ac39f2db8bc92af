/*
 * libFuzzer: VM records, which teardown and allocation read from
 * core.run_dir. Whatever the JSON holds, a record is accepted only with a
 * valid id and never with a negative pid, and reading it is safe.
 */
#include "common.h"
#include "vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct vm_record r;

	if (doc && !vm_record_from_json(&r, doc)) {
		if (!vm_id_valid(r.id) || r.pid < 0 || r.fence < 0)
			abort();
		for (size_t i = 0; i < r.links.nr + r.cgroups.nr; i++)
			if (!(i < r.links.nr ? r.links.v[i] : r.cgroups.v[i - r.links.nr]))
				abort();
		vm_record_release(&r);
	}
	return 0;
}
