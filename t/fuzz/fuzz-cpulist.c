/*
 * libFuzzer: CPU lists, as sysfs, cpuset files, --cpus and
 * firecracker.cpu_pool spell them. A list that parses formats to the
 * shortest form, which parses to the same set.
 */
#include "common.h"
#include "cpulist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmemdup(data, size);
	struct strbuf sb = STRBUF_INIT, again = STRBUF_INIT;
	struct cpuset set, back;

	if (strlen(s) == size && !cpulist_parse(s, &set)) {
		cpulist_format(&sb, &set);
		if (cpulist_parse(sb.buf, &back) || memcmp(&set, &back, sizeof(set)))
			abort();
		cpulist_format(&again, &back);
		if (strcmp(sb.buf, again.buf) || sb.len > size + 1)
			abort();
		if (cpuset_count(&set) != cpuset_count(&back))
			abort();
	}
	strbuf_release(&sb);
	strbuf_release(&again);
	free(s);
	return 0;
}
