#include "tap.h"
#include "http-range.h"

static void expect(const char *h, uint64_t size, enum http_range want, uint64_t wfirst, uint64_t wlen)
{
	uint64_t first = 99, len = 99;
	enum http_range got = http_range_parse(h, size, &first, &len);

	ok(got == want && (want != HTTP_RANGE_PARTIAL || (first == wfirst && len == wlen)),
	   "'%s' of %" PRIu64 " bytes", h ? h : "(none)", size);
	if (got != want || (want == HTTP_RANGE_PARTIAL && (first != wfirst || len != wlen)))
		printf("#   got %d %" PRIu64 "+%" PRIu64 "\n", got, first, len);
}

int main(void)
{
	struct strbuf sb = STRBUF_INIT;

	expect(NULL, 100, HTTP_RANGE_NONE, 0, 0);
	expect("bytes=0-9", 100, HTTP_RANGE_PARTIAL, 0, 10);
	expect("bytes=90-", 100, HTTP_RANGE_PARTIAL, 90, 10);
	expect("bytes=90-1000", 100, HTTP_RANGE_PARTIAL, 90, 10);
	expect("bytes=-10", 100, HTTP_RANGE_PARTIAL, 90, 10);
	expect("bytes=-1000", 100, HTTP_RANGE_PARTIAL, 0, 100);
	expect("Bytes= 5-5 ", 100, HTTP_RANGE_PARTIAL, 5, 1);
	expect("bytes=99-99", 100, HTTP_RANGE_PARTIAL, 99, 1);
	expect("bytes=100-", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0);
	expect("bytes=100-200", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0);
	expect("bytes=-0", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0);
	expect("bytes=0-", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0);
	expect("bytes=-5", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0);
	expect("bytes=0-1,4-5", 100, HTTP_RANGE_NONE, 0, 0);
	expect("bytes=5-4", 100, HTTP_RANGE_NONE, 0, 0);
	expect("bytes=a-4", 100, HTTP_RANGE_NONE, 0, 0);
	expect("bytes=4", 100, HTTP_RANGE_NONE, 0, 0);
	expect("bytes=-", 100, HTTP_RANGE_NONE, 0, 0);
	expect("bytes=--5", 100, HTTP_RANGE_NONE, 0, 0);
	expect("bytes=+1-2", 100, HTTP_RANGE_NONE, 0, 0);
	expect("bytes=1-2 x", 100, HTTP_RANGE_NONE, 0, 0);
	expect("items=0-9", 100, HTTP_RANGE_NONE, 0, 0);
	expect("bytes=99999999999999999999-", 100, HTTP_RANGE_NONE, 0, 0);
	expect("bytes=0-18446744073709551615", 100, HTTP_RANGE_PARTIAL, 0, 100);
	http_content_range(&sb, 90, 10, 100);
	is_str(sb.buf, "bytes 90-99/100", "Content-Range of a 206");
	strbuf_reset(&sb);
	http_content_range(&sb, 0, 0, 100);
	is_str(sb.buf, "bytes */100", "Content-Range of a 416");
	strbuf_release(&sb);
	return done_testing();
}
