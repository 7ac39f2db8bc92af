/*
 * libFuzzer: the signer's parse of a request, on any bytes, as a
 * service taken over may send anything to the root process that signs.
 * With no keys there, every answer is an error with its code.
 */
#include "common.h"
#include "signer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *reply = signer_answer("/nonexistent/nimbus-fuzz-keys", (const char *)data, size);

	if (!json_is_integer(json_object_get(reply, "code")) || json_object_get(reply, "token"))
		abort();
	json_decref(reply);
	return 0;
}
