/*
 * The keyset parser (keyset.json, with a JWK per key) on arbitrary input:
 * it loads or fails with exit 1 naming the file; what loads formats and
 * parses back to the same keys, and renders as a JWK set.
 */
#include "common.h"
#include "keyset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyset ks = KEYSET_INIT, back = KEYSET_INIT;
	struct strbuf text = STRBUF_INIT;
	json_t *jwks;
	int rc = keyset_parse(&ks, (const char *)data, size, "fuzz.json");

	if (rc) {
		if (rc != -EXIT_FAIL || !starts_with(fail_message(), "fuzz.json"))
			abort();
		return 0;
	}
	keyset_states(&ks, 1800000000);
	keyset_format(&ks, &text);
	if (keyset_parse(&back, text.buf, text.len, "again") || back.nr != ks.nr)
		abort();
	for (size_t i = 0; i < ks.nr; i++)
		if (strcmp(ks.keys[i].key->kid, back.keys[i].key->kid) ||
		    ks.keys[i].activated != back.keys[i].activated ||
		    ks.keys[i].retired != back.keys[i].retired)
			abort();
	jwks = keyset_jwks(&ks);
	if (!jwks)
		abort();
	json_decref(jwks);
	strbuf_release(&text);
	keyset_release(&back);
	keyset_release(&ks);
	return 0;
}
