#include "common.h"
#include "base64.h"
#include "escape.h"
#include "logs.h"
#include "output.h"
#include "parse-num.h"
#include "redact.h"
#include "timeutil.h"
#include "token.h"

#include <zlib.h>

const char *log_stream_name(int stream)
{
	return stream == LOG_STREAM_STDERR ? "stderr" : "stdout";
}

int log_stream_parse(const char *s, enum log_stream *out)
{
	if (!strcmp(s, "stdout"))
		*out = LOG_STREAM_STDOUT;
	else if (!strcmp(s, "stderr"))
		*out = LOG_STREAM_STDERR;
	else
		return -1;
	return 0;
}

void log_batch_release(struct log_batch *b)
{
	free(b->rows);
	b->rows = NULL;
	b->nr = b->alloc = 0;
	strbuf_release(&b->text);
	b->base = NULL;
}

/* Append s as valid UTF-8: an invalid byte or a NUL becomes U+FFFD. */
static void add_utf8(struct strbuf *sb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	strbuf_grow(sb, len);
	while (p < end) {
		const unsigned char *run = p;
		size_t n;

		while (p < end && *p >= 0x01 && *p < 0x80)
			p++;
		strbuf_add(sb, run, p - run);
		if (p == end)
			break;
		n = *p ? utf8_seq_len(p, end - p) : 0;
		if (n) {
			strbuf_add(sb, p, n);
			p += n;
		} else {
			strbuf_addstr(sb, "\xef\xbf\xbd");
			p++;
		}
	}
}

struct parser {
	const struct log_post *post;
	struct log_batch *out;
	struct redact_state redact;
	struct strbuf line;
	int64_t next_seq;	/* of a line that gives none; -1: unknown */
	size_t lineno;
};

static int add_row(struct parser *ps, const char *s, size_t len, int64_t ts, int64_t seq, int stream)
{
	struct log_batch *b = ps->out;
	struct log_row *r;

	if (seq < 0) {
		if (ps->next_seq < 0)
			return fail(EXIT_USAGE, "line %zu: no seq, and none before it (?seq=N)", ps->lineno);
		seq = ps->next_seq;
	}
	ps->next_seq = seq < LOG_SEQ_MAX ? seq + 1 : -1;
	strbuf_reset(&ps->line);
	add_utf8(&ps->line, s, len);
	redact_line(&ps->redact, &ps->line);
	if (ps->line.len > UINT32_MAX)
		return fail(EXIT_USAGE, "line %zu is longer than 4 GiB", ps->lineno);
	ALLOC_GROW(b->rows, b->nr + 1, b->alloc);
	r = &b->rows[b->nr++];
	r->ts = ts;
	r->seq = seq;
	r->stream = stream;
	r->off = b->text.len;
	r->len = ps->line.len;
	strbuf_addbuf(&b->text, &ps->line);
	return 0;
}

/* A field that names who wrote the line must name the token's. */
static int check_ident(struct parser *ps, const char *field, json_t *v, const char *want)
{
	if (!json_is_string(v))
		return fail(EXIT_USAGE, "line %zu: \"%s\" is not a string", ps->lineno, field);
	if (strcmp(json_string_value(v), want) || strlen(want) != json_string_length(v))
		return fail(EXIT_REJECTED, "line %zu: \"%s\" is not the token's", ps->lineno, field);
	return 0;
}

static int json_ts(struct parser *ps, json_t *v, int64_t *ts)
{
	if (json_is_integer(v))
		*ts = json_integer_value(v);
	else if (!json_is_string(v) || parse_rfc3339(json_string_value(v), ts))
		return fail(EXIT_USAGE, "line %zu: \"ts\" is not RFC 3339 or seconds", ps->lineno);
	if (*ts < 0 || *ts > LOG_TS_MAX)
		return fail(EXIT_USAGE, "line %zu: \"ts\" is out of range", ps->lineno);
	return 0;
}

static int ndjson_line(struct parser *ps, const char *s, size_t len)
{
	const struct log_post *p = ps->post;
	int64_t ts = p->now, seq = -1;
	enum log_stream stream = p->stream;
	const char *text = NULL, *key;
	size_t text_len = 0;
	json_error_t jerr;
	json_t *obj, *v;
	int rc = 0;

	obj = json_loadb(s, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return fail(EXIT_USAGE, "line %zu is not a JSON object", ps->lineno);
	}
	json_object_foreach(obj, key, v) {
		if (!strcmp(key, "line")) {
			text = json_string_value(v);
			text_len = json_string_length(v);
			if (!text)
				rc = fail(EXIT_USAGE, "line %zu: \"line\" is not a string", ps->lineno);
		} else if (!strcmp(key, "ts")) {
			rc = json_ts(ps, v, &ts);
		} else if (!strcmp(key, "stream")) {
			if (!json_is_string(v) || log_stream_parse(json_string_value(v), &stream))
				rc = fail(EXIT_USAGE, "line %zu: \"stream\" is not stdout or stderr", ps->lineno);
		} else if (!strcmp(key, "seq")) {
			seq = json_integer_value(v);
			if (!json_is_integer(v) || seq < 0)
				rc = fail(EXIT_USAGE, "line %zu: \"seq\" is not an integer >= 0", ps->lineno);
		} else if (!strcmp(key, "org")) {
			rc = check_ident(ps, key, v, p->id.org);
		} else if (!strcmp(key, "repo")) {
			rc = check_ident(ps, key, v, p->id.repo);
		} else if (!strcmp(key, "job")) {
			rc = check_ident(ps, key, v, p->id.job);
		} else if (!strcmp(key, "runner")) {
			rc = check_ident(ps, key, v, p->id.runner);
		} else {
			struct strbuf name = STRBUF_INIT;

			strbuf_add_printable(&name, key, strlen(key));
			rc = fail(EXIT_USAGE, "line %zu: unknown field \"%s\"", ps->lineno, name.buf);
			strbuf_release(&name);
		}
		if (rc)
			break;
	}
	if (!rc && !text)
		rc = fail(EXIT_USAGE, "line %zu has no \"line\" string", ps->lineno);
	if (!rc)
		rc = add_row(ps, text, text_len, ts, seq, stream);
	json_decref(obj);
	return rc;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

int log_parse(const struct log_post *p, const char *body, size_t len, struct log_batch *out)
{
	struct parser ps = { p, out, REDACT_STATE_INIT, STRBUF_INIT, p->seq, 0 };
	const char *s = body, *end = body + len;
	int rc = 0;

	out->id = p->id;
	strbuf_grow(&out->text, len);
	while (s < end && !rc) {
		const char *nl = memchr(s, '\n', end - s), *eol = nl ? nl : end;
		size_t n = eol - s;

		ps.lineno++;
		if (n && s[n - 1] == '\r')
			n--;
		if (!p->ndjson)
			rc = add_row(&ps, s, n, p->now, -1, p->stream);
		else if (!blank(s, n))
			rc = ndjson_line(&ps, s, n);
		s = nl ? nl + 1 : end;
	}
	strbuf_release(&ps.line);
	if (rc) {
		log_batch_release(out);
		return rc;
	}
	out->base = out->text.buf;
	return 0;
}

/*
 * record: "NLR1", u32 payload length, u32 CRC-32 of the payload, then
 * the payload: org, repo, job, runner (u16 length and bytes each), u32
 * rows, and per row i64 ts, i64 seq, u8 stream, u32 length and the
 * line. Integers are little-endian.
 */
#define RECORD_MAGIC "NLR1"
#define RECORD_HEADER 12

static void put_le(struct strbuf *sb, uint64_t v, int bytes)
{
	unsigned char b[8];

	for (int i = 0; i < bytes; i++)
		b[i] = (v >> (8 * i)) & 0xff;
	strbuf_add(sb, b, bytes);
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_str(struct strbuf *sb, const char *s)
{
	size_t n = strlen(s);

	if (n > UINT16_MAX)
		BUG("a log identity of %zu bytes", n);
	put_le(sb, n, 2);
	strbuf_add(sb, s, n);
}

void log_record_encode(struct strbuf *out, const struct log_batch *b)
{
	size_t start = out->len;
	uint64_t payload, crc;

	strbuf_addstr(out, RECORD_MAGIC);
	strbuf_addchars(out, 0, 8);
	put_str(out, b->id.org);
	put_str(out, b->id.repo);
	put_str(out, b->id.job);
	put_str(out, b->id.runner);
	put_le(out, b->nr, 4);
	for (size_t i = 0; i < b->nr; i++) {
		const struct log_row *r = &b->rows[i];

		put_le(out, r->ts, 8);
		put_le(out, r->seq, 8);
		put_le(out, r->stream, 1);
		put_le(out, r->len, 4);
		strbuf_add(out, log_row_line(b, r), r->len);
	}
	payload = out->len - start - RECORD_HEADER;
	if (payload > UINT32_MAX)
		BUG("a log record of %" PRIu64 " bytes", payload);
	crc = crc32_z(0, (unsigned char *)out->buf + start + RECORD_HEADER, payload);
	for (int i = 0; i < 4; i++) {
		out->buf[start + 4 + i] = (payload >> (8 * i)) & 0xff;
		out->buf[start + 8 + i] = (crc >> (8 * i)) & 0xff;
	}
}

/* A cursor over a record's payload; every read is bounds-checked. */
struct reader {
	const unsigned char *p, *end;
	bool bad;
};

static uint64_t read_le(struct reader *rd, int bytes)
{
	uint64_t v;

	if (rd->bad || rd->end - rd->p < bytes) {
		rd->bad = true;
		return 0;
	}
	v = get_le(rd->p, bytes);
	rd->p += bytes;
	return v;
}

/* A string of the record, copied into strs so that it ends with a NUL. */
static size_t read_str(struct reader *rd, struct strbuf *strs)
{
	size_t n = read_le(rd, 2), at = strs->len;

	if (rd->bad || (size_t)(rd->end - rd->p) < n || memchr(rd->p, 0, n)) {
		rd->bad = true;
		return 0;
	}
	strbuf_add(strs, rd->p, n);
	strbuf_addch(strs, '\0');
	rd->p += n;
	return at;
}

size_t log_record_decode(const char *buf, size_t len, struct log_batch *out)
{
	const unsigned char *u = (const unsigned char *)buf;
	struct reader rd;
	size_t payload, nr, ident[4];

	if (len < RECORD_HEADER || memcmp(buf, RECORD_MAGIC, 4))
		return 0;
	payload = get_le(u + 4, 4);
	if (payload > len - RECORD_HEADER ||
	    crc32_z(0, u + RECORD_HEADER, payload) != get_le(u + 8, 4))
		return 0;
	rd.p = u + RECORD_HEADER;
	rd.end = rd.p + payload;
	rd.bad = false;
	log_batch_release(out);
	for (int i = 0; i < 4; i++)
		ident[i] = read_str(&rd, &out->text);
	nr = read_le(&rd, 4);
	/* each row takes 21 bytes at least: no allocation beyond what the record holds */
	if (!rd.bad && nr > (size_t)(rd.end - rd.p) / 21)
		rd.bad = true;
	for (size_t i = 0; i < nr && !rd.bad; i++) {
		struct log_row *r;

		ALLOC_GROW(out->rows, out->nr + 1, out->alloc);
		r = &out->rows[out->nr++];
		r->ts = read_le(&rd, 8);
		r->seq = read_le(&rd, 8);
		r->stream = read_le(&rd, 1);
		r->len = read_le(&rd, 4);
		r->off = (const char *)rd.p - buf;
		if (rd.bad || r->len > (size_t)(rd.end - rd.p) || r->ts < 0 || r->ts > LOG_TS_MAX ||
		    r->seq < 0 || (r->stream != LOG_STREAM_STDOUT && r->stream != LOG_STREAM_STDERR))
			rd.bad = true;
		else
			rd.p += r->len;
	}
	if (rd.bad || rd.p != rd.end) {
		log_batch_release(out);
		return 0;
	}
	out->id.org = out->text.buf + ident[0];
	out->id.repo = out->text.buf + ident[1];
	out->id.job = out->text.buf + ident[2];
	out->id.runner = out->text.buf + ident[3];
	out->base = buf;
	return RECORD_HEADER + payload;
}

void log_query_release(struct log_query *q)
{
	free(q->after_repo);
	free(q->after_job);
	q->after_repo = q->after_job = NULL;
}

static bool valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0, n; i < len; i += n) {
		n = p[i] < 0x80 ? 1 : utf8_seq_len(p + i, len - i);
		if (!n || !p[i])
			return false;
	}
	return true;
}

/* after=CURSOR: base64url of [ts, seq, "repo", "job"]. */
static int parse_cursor(struct log_query *q, const char *value)
{
	struct strbuf raw = STRBUF_INIT;
	json_t *doc = NULL;
	const char *repo, *job;
	json_int_t ts, seq;
	int rc = fail(EXIT_USAGE, "after: not a cursor of this service");

	if (strlen(value) > 1024 || base64url_decode(&raw, value, strlen(value)))
		goto out;
	doc = json_loadb(raw.buf, raw.len, 0, NULL);
	if (json_unpack(doc, "[IIss!]", &ts, &seq, &repo, &job) || ts < 0 || ts > LOG_TS_MAX ||
	    seq < 0 || !repo_valid(repo) || !token_word_valid(job, TOKEN_WORD_MAX))
		goto out;
	log_query_release(q);
	q->after_ts = ts;
	q->after_seq = seq;
	q->after_repo = xstrdup(repo);
	q->after_job = xstrdup(job);
	rc = 0;
out:
	json_decref(doc);
	strbuf_release(&raw);
	return rc;
}

int log_query_param(struct log_query *q, const char *name, const char *value)
{
	int64_t n;

	if (!strcmp(name, "repo")) {
		if (!repo_valid(value))
			return fail(EXIT_USAGE, "repo: want OWNER/NAME");
		q->repo = value;
	} else if (!strcmp(name, "job")) {
		if (!token_word_valid(value, TOKEN_WORD_MAX))
			return fail(EXIT_USAGE, "job: want 1 to %d printable characters", TOKEN_WORD_MAX);
		q->job = value;
	} else if (!strcmp(name, "grep")) {
		if (strlen(value) > LOG_GREP_MAX || !valid_utf8(value, strlen(value)))
			return fail(EXIT_USAGE, "grep: want at most %d bytes of UTF-8", LOG_GREP_MAX);
		q->grep = *value ? value : NULL;
	} else if (!strcmp(name, "since") || !strcmp(name, "until")) {
		if (parse_rfc3339(value, &n) || n < 0 || n > LOG_TS_MAX)
			return fail(EXIT_USAGE, "%s: want an RFC 3339 time", name);
		*(name[0] == 's' ? &q->since : &q->until) = n;
	} else if (!strcmp(name, "limit")) {
		if (parse_i64(value, 1, LOG_QUERY_LIMIT_MAX, &q->limit))
			return fail(EXIT_USAGE, "limit: want 1 to %d", LOG_QUERY_LIMIT_MAX);
	} else if (!strcmp(name, "after")) {
		return parse_cursor(q, value);
	} else {
		return 1;
	}
	return 0;
}

int64_t log_query_min_ts(const struct log_query *q)
{
	return q->after_ts > q->since ? q->after_ts : q->since;
}

void log_query_job_cursor(const struct log_query *q, int64_t *ts, int64_t *seq)
{
	/* byte order, as every sink compares: the cursor's job sorts before, after or is this one */
	int cmp = q->after_ts < 0 ? 1 : strcmp(q->repo, q->after_repo);

	if (!cmp)
		cmp = strcmp(q->job, q->after_job);
	*ts = q->after_ts;
	*seq = cmp > 0 ? -1 : cmp < 0 ? LOG_SEQ_MAX : q->after_seq;
}

static void add_int(struct log_param *p, size_t *n, int64_t i)
{
	p[*n].s = NULL;
	p[*n].i = i;
	p[(*n)++].is_int = true;
}

static void add_text(struct log_param *p, size_t *n, const char *s)
{
	p[*n].s = s;
	p[(*n)++].is_int = false;
}

size_t log_query_params(const struct log_query *q, struct log_param *p, int *variant)
{
	size_t n = 0;

	*variant = !!q->repo + 2 * !!q->job;
	add_text(p, &n, q->org);
	add_int(p, &n, log_query_min_ts(q));
	add_int(p, &n, q->until);
	add_text(p, &n, q->grep);
	if (q->repo)
		add_text(p, &n, q->repo);
	if (q->job)
		add_text(p, &n, q->job);
	if (*variant == 3) {
		int64_t ts, seq;

		log_query_job_cursor(q, &ts, &seq);
		add_int(p, &n, ts);
		add_int(p, &n, seq);
	} else {
		add_int(p, &n, q->after_ts);
		add_text(p, &n, q->after_repo ? q->after_repo : "");
		add_text(p, &n, q->after_job ? q->after_job : "");
		add_int(p, &n, q->after_seq);
	}
	add_int(p, &n, q->limit);
	return n;
}

json_t *log_entry_json(const char *repo, const char *job, const char *runner, int64_t ts,
		       int64_t seq, int stream, const char *line, size_t len)
{
	struct strbuf valid = STRBUF_INIT;
	json_t *o;

	/* what the sinks hold is valid UTF-8; a line that is not is shown, not refused */
	if (!valid_utf8(line, len)) {
		add_utf8(&valid, line, len);
		line = valid.buf;
		len = valid.len;
	}
	o = json_pack("{s:s, s:s, s:s, s:o, s:I, s:s, s:s%}", "repo", repo, "job", job,
		      "runner", runner, "ts", xjson_time(ts), "seq", (json_int_t)seq,
		      "stream", log_stream_name(stream), "line", line, len);
	strbuf_release(&valid);
	if (!o)
		die("out of memory building a log line");
	return o;
}

void log_cursor_encode(struct strbuf *sb, int64_t ts, int64_t seq, const char *repo, const char *job)
{
	json_t *doc = json_pack("[I, I, s, s]", (json_int_t)ts, (json_int_t)seq, repo, job);
	char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	if (!s)
		die("out of memory building a cursor");
	base64url_encode(sb, s, strlen(s));
	free(s);
	json_decref(doc);
}
