/* libFuzzer: redis_url_parse() on any bytes; a parsed URL must be sane. */
#include "common.h"
#include "redis-url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmemdup(data, size);
	struct redis_url u = REDIS_URL_INIT;
	struct strbuf err = STRBUF_INIT;

	if (!redis_url_parse(s, &u, &err)) {
		if (!u.host || !*u.host || u.port < 1 || u.port > 65535 || u.db < 0 ||
		    (u.password && !*u.password) || err.len)
			abort();
		redis_url_release(&u);
	} else if (!err.len || u.host || u.password) {
		abort();
	}
	strbuf_release(&err);
	free(s);
	return 0;
}
