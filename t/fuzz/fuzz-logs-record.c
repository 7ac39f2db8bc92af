/*
 * Spool segments as the flusher reads them after a crash: whatever the
 * bytes, decoding stays within them, and a record that decodes is one
 * that encodes back to the same bytes.
 */
#include "common.h"
#include "logs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct log_batch b = LOG_BATCH_INIT;
	struct strbuf again = STRBUF_INIT;
	const char *buf = (const char *)data;
	size_t off = 0, n;

	while (off < size && (n = log_record_decode(buf + off, size - off, &b))) {
		strbuf_reset(&again);
		log_record_encode(&again, &b);
		if (again.len != n || memcmp(again.buf, buf + off, n))
			abort();
		off += n;
	}
	log_batch_release(&b);
	strbuf_release(&again);
	return 0;
}
