/*
 * The redaction function on arbitrary input: no crash, no overread, and
 * idempotent (masking masked text changes nothing), line by line too.
 */
#include "common.h"
#include "redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf once = STRBUF_INIT, twice = STRBUF_INIT, line = STRBUF_INIT;
	struct redact_state st = REDACT_STATE_INIT;
	static bool registered;

	if (!registered) {
		redact_register("hunter2-secret");
		registered = true;
	}
	strbuf_add(&once, data, size);
	redact(&once);
	strbuf_addbuf(&twice, &once);
	redact(&twice);
	if (once.len != twice.len || memcmp(once.buf, twice.buf, once.len))
		abort();
	if (memmem(once.buf, once.len, "hunter2-secret", 14))
		abort();
	for (size_t i = 0; i < size;) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : size - i;

		strbuf_reset(&line);
		strbuf_add(&line, data + i, n);
		redact_line(&st, &line);
		if (memmem(line.buf, line.len, "hunter2-secret", 14))
			abort();
		i += n + 1;
	}
	strbuf_release(&once);
	strbuf_release(&twice);
	strbuf_release(&line);
	return 0;
}
