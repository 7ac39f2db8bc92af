/*
 * libFuzzer: parse_host_port() on any bytes. A parsed address must format
 * back to text that parses to the same address; a refusal must say why.
 */
#include "common.h"
#include "netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmemdup(data, size);
	struct strbuf err = STRBUF_INIT, text = STRBUF_INIT;
	struct sockaddr_storage a, b;
	socklen_t alen, blen;

	if (!parse_host_port(s, &a, &alen, &err)) {
		if (err.len)
			abort();
		format_sockaddr(&text, (struct sockaddr *)&a, alen, true);
		if (parse_host_port(text.buf, &b, &blen, &err) || alen != blen || memcmp(&a, &b, alen))
			abort();
	} else if (!err.len) {
		abort();
	}
	strbuf_release(&err);
	strbuf_release(&text);
	free(s);
	return 0;
}
