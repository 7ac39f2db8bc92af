/*
 * GET /logs parameters, the cursor above all (base64url of JSON from
 * the client): no crash; what is accepted is within the limits, and
 * ClickHouse's quoting of it never lets a quote through.
 */
#include "common.h"
#include "clickhouse.h"
#include "logs.h"

#include <ctype.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Quoted: no quote inside, and a backslash only ever starts \xHH. */
static void check_quoted(const char *s)
{
	struct strbuf sb = STRBUF_INIT;

	if (!s)
		return;
	clickhouse_quote(&sb, s, strlen(s));
	if (sb.len < 2 || sb.buf[0] != '\'' || sb.buf[sb.len - 1] != '\'')
		abort();
	for (size_t i = 1; i + 1 < sb.len; i++) {
		if (sb.buf[i] == '\'')
			abort();
		if (sb.buf[i] == '\\' && (i + 4 >= sb.len || sb.buf[i + 1] != 'x' ||
					    !isxdigit((unsigned char)sb.buf[i + 2]) ||
					    !isxdigit((unsigned char)sb.buf[i + 3])))
			abort();
	}
	strbuf_release(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "repo", "job", "grep", "since", "until", "limit", "after" };
	struct log_query q = LOG_QUERY_INIT;
	struct log_param p[LOG_QUERY_PARAMS_MAX];
	char *value;
	int variant;

	if (!size)
		return 0;
	value = xstrndup((const char *)data + 1, size - 1);
	if (!log_query_param(&q, names[data[0] % ARRAY_SIZE(names)], value)) {
		q.org = "acme";
		if (q.limit < 1 || q.limit > LOG_QUERY_LIMIT_MAX || q.since < 0 || q.until > LOG_TS_MAX + 1 ||
		    (q.grep && strlen(q.grep) > LOG_GREP_MAX))
			abort();
		if (log_query_params(&q, p, &variant) > LOG_QUERY_PARAMS_MAX)
			abort();
		check_quoted(q.repo);
		check_quoted(q.job);
		check_quoted(q.grep);
		check_quoted(q.after_repo);
		check_quoted(q.after_job);
	}
	log_query_release(&q);
	free(value);
	return 0;
}
