/* The Range parser: whatever it accepts lies inside the object. */
#include "common.h"
#include "http-range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *h;
	uint64_t obj, first, len;

	if (size < 2)
		return 0;
	obj = data[0] | (uint64_t)data[1] << 8;
	h = xmemdup(data + 2, size - 2);
	if (http_range_parse(h, obj, &first, &len) == HTTP_RANGE_PARTIAL &&
	    (!len || first >= obj || len > obj - first))
		abort();
	free(h);
	return 0;
}
