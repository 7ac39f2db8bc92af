#ifndef LOGS_H
#define LOGS_H

#include <jansson.h>

/*
 * Job logs: the lines of a job's output and who wrote them. The org,
 * repo, job and runner of a line come from the runner's token, never
 * from the payload. Every line is valid UTF-8 without NUL bytes and has
 * been through redact_line() before it is stored anywhere, the spool
 * included.
 *
 * (org, repo, job, seq) names a line: the sinks store each at most once
 * however often it is sent, so that a retried request adds nothing.
 * Queries return lines in (ts, repo, job, seq) order; ts is in whole
 * seconds (ClickHouse 18.16 has no DateTime64) and seq keeps the order
 * exact within a second.
 */

enum log_stream {
	LOG_STREAM_STDOUT = 1,
	LOG_STREAM_STDERR = 2,
};
const char *log_stream_name(int stream);
/* 0, or -1 when s is neither "stdout" nor "stderr". */
int log_stream_parse(const char *s, enum log_stream *out);

/* Every sink holds these: ClickHouse's DateTime is 32 bits unsigned. */
#define LOG_TS_MAX 4294967295LL
#define LOG_SEQ_MAX INT64_MAX

struct log_ident {
	const char *org, *repo, *job, *runner;
};

struct log_row {
	int64_t ts, seq;
	size_t off;		/* the line is at batch->base + off */
	uint32_t len;
	uint8_t stream;
};

/* The lines of one request, or of one spool record. */
struct log_batch {
	struct log_ident id;
	struct log_row *rows;
	size_t nr, alloc;
	const char *base;
	struct strbuf text;	/* holds the lines of a parsed request */
};
#define LOG_BATCH_INIT { { NULL, NULL, NULL, NULL }, NULL, 0, 0, NULL, STRBUF_INIT }
void log_batch_release(struct log_batch *b);

static inline const char *log_row_line(const struct log_batch *b, const struct log_row *r)
{
	return b->base + r->off;
}

/* What a POST says besides its body. */
struct log_post {
	struct log_ident id;	/* from the token */
	int64_t seq;		/* of the first line that gives none; -1: not given */
	enum log_stream stream;	/* of lines that do not say */
	int64_t now;		/* receive time: the ts of lines that give none */
	bool ndjson;		/* else text, one line per line */
};

/*
 * The lines of a body, made valid UTF-8 (invalid bytes and NUL become
 * U+FFFD) and redacted. A text line ends at '\n' (a '\r' before it is
 * dropped). An NDJSON line is an object with "line" and optionally
 * "ts" (RFC 3339 or seconds), "stream", "seq", and "org", "repo", "job"
 * and "runner", which must be the token's. A line without seq follows
 * the one before it. Returns 0, -EXIT_USAGE for a malformed body, or
 * -EXIT_REJECTED when the payload names another org, repo, job or
 * runner; out then holds nothing.
 */
int log_parse(const struct log_post *p, const char *body, size_t len, struct log_batch *out);

/*
 * Spool records: a batch framed with its length and a CRC-32, so that a
 * record torn by a crash is recognised. Decoding returns the record's
 * size with out pointing into buf, or 0 when buf does not start with a
 * whole, intact record.
 */
void log_record_encode(struct strbuf *out, const struct log_batch *b);
size_t log_record_decode(const char *buf, size_t len, struct log_batch *out);

/* GET /logs: the org is the token's, the rest comes from the query string. */
#define LOG_QUERY_LIMIT 1000
#define LOG_QUERY_LIMIT_MAX 10000
#define LOG_GREP_MAX 1024

struct log_query {
	const char *org;
	const char *repo, *job, *grep;	/* NULL: any */
	int64_t since, until;		/* ts in [since, until) */
	/* Lines after this one (the cursor of the previous page); after_ts -1: from the start. */
	int64_t after_ts, after_seq;
	char *after_repo, *after_job;
	int64_t limit;
};
#define LOG_QUERY_INIT { NULL, NULL, NULL, NULL, 0, LOG_TS_MAX + 1, -1, -1, NULL, NULL, LOG_QUERY_LIMIT }
void log_query_release(struct log_query *q);
/*
 * Set the parameter name (repo, job, grep, since, until, after, limit)
 * from its value, checked: 0, or -EXIT_USAGE with the reason. Other
 * names are not the query's business (1).
 */
int log_query_param(struct log_query *q, const char *name, const char *value);
/* The lowest ts that can match: since, or the cursor's. */
int64_t log_query_min_ts(const struct log_query *q);

/*
 * The parameters of the store's statements, in their order: org, the
 * lowest ts, until, grep (NULL: any), then repo and job when given, then
 * the cursor, then the limit. variant is 0 (neither repo nor job), 1
 * (repo), 2 (job) or 3 (both). The cursor is (ts, repo, job, seq),
 * except for variant 3, where it is (ts, seq) alone so that an index of
 * (org, repo, job, ts, seq) finds the page: lines of that one job after
 * the cursor are exactly those whose (ts, seq) exceeds what
 * log_query_job_cursor() says (the cursor's own, or with seq -1 or
 * LOG_SEQ_MAX when the cursor is of a job that sorts before or after).
 */
void log_query_job_cursor(const struct log_query *q, int64_t *ts, int64_t *seq);
#define LOG_QUERY_PARAMS_MAX 11
struct log_param {
	const char *s;		/* a text, or NULL for an integer or a NULL */
	int64_t i;
	bool is_int;
};
size_t log_query_params(const struct log_query *q, struct log_param *p, int *variant);

/* One line of a query's answer, and the cursor that resumes after it. */
json_t *log_entry_json(const char *repo, const char *job, const char *runner, int64_t ts,
		       int64_t seq, int stream, const char *line, size_t len);
void log_cursor_encode(struct strbuf *sb, int64_t ts, int64_t seq, const char *repo, const char *job);

#endif
