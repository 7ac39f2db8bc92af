/*
 * POST /logs bodies, text and NDJSON: no crash, no overread; what is
 * accepted is valid UTF-8 without NUL, carries the token's identity,
 * has no registered secret left, and survives a spool record whole.
 */
#include "common.h"
#include "escape.h"
#include "logs.h"
#include "redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0, n; i < len; i += n) {
		n = p[i] < 0x80 ? 1 : utf8_seq_len(p + i, len - i);
		if (!n || !p[i])
			abort();
	}
	if (memmem(s, len, "hunter2-secret", 14))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct log_ident id = { "acme", "acme/widgets", "4242", "r-acme" };
	struct log_batch b = LOG_BATCH_INIT, d = LOG_BATCH_INIT;
	struct strbuf body = STRBUF_INIT, rec = STRBUF_INIT;
	static bool registered;

	if (!registered) {
		redact_register("hunter2-secret");
		registered = true;
	}
	if (!size)
		return 0;
	/* the first byte picks the format and whether ?seq= is given */
	strbuf_add(&body, data + 1, size - 1);
	for (int ndjson = 0; ndjson < 2; ndjson++) {
		struct log_post p = { id, data[0] & 1 ? 0 : -1, LOG_STREAM_STDOUT, 1700000000, ndjson };

		if (log_parse(&p, body.buf, body.len, &b)) {
			if (b.nr)
				abort();
			continue;
		}
		if (strcmp(b.id.org, "acme") || strcmp(b.id.runner, "r-acme"))
			abort();
		for (size_t i = 0; i < b.nr; i++)
			check_line(log_row_line(&b, &b.rows[i]), b.rows[i].len);
		strbuf_reset(&rec);
		log_record_encode(&rec, &b);
		if (log_record_decode(rec.buf, rec.len, &d) != rec.len || d.nr != b.nr)
			abort();
		for (size_t i = 0; i < b.nr; i++)
			if (d.rows[i].seq != b.rows[i].seq || d.rows[i].len != b.rows[i].len ||
			    memcmp(log_row_line(&d, &d.rows[i]), log_row_line(&b, &b.rows[i]), b.rows[i].len))
				abort();
		log_batch_release(&b);
	}
	log_batch_release(&d);
	strbuf_release(&body);
	strbuf_release(&rec);
	return 0;
}
