#include "tap.h"
#include "clickhouse.h"
#include "escape.h"
#include "logs.h"
#include "logs-spool.h"
#include "redact.h"
#include "timeutil.h"

#include <pthread.h>

static const struct log_ident acme = { "acme", "acme/widgets", "4242", "r-acme" };

static int parse(const char *body, size_t len, bool ndjson, int64_t seq, struct log_batch *b)
{
	struct log_post p = { acme, seq, LOG_STREAM_STDOUT, 1700000000, ndjson };

	log_batch_release(b);
	return log_parse(&p, body, len, b);
}

/* The line of row i, as a string. */
static const char *line(const struct log_batch *b, size_t i)
{
	static struct strbuf sb = STRBUF_INIT;

	strbuf_reset(&sb);
	strbuf_add(&sb, log_row_line(b, &b->rows[i]), b->rows[i].len);
	return sb.buf;
}

static void test_text(void)
{
	struct log_batch b = LOG_BATCH_INIT;
	static const char body[] = "a\nb\r\n\nlast";

	is_int(parse(body, strlen(body), false, 5, &b), 0, "text parses");
	is_int(b.nr, 4, "four lines, the last without its newline");
	is_str(line(&b, 1), "b", "the \\r before \\n goes");
	is_str(line(&b, 2), "", "an empty line is a line");
	is_int(b.rows[0].seq, 5, "the first line takes ?seq=");
	is_int(b.rows[3].seq, 8, "the others follow");
	is_int(b.rows[3].ts, 1700000000, "ts is the receive time");
	is_str(b.id.org, "acme", "the identity is the token's");
	is_int(parse("", 0, false, -1, &b), 0, "an empty body");
	is_int(b.nr, 0, "has no lines");
	is_int(fail_code(parse("x\n", 2, false, -1, &b)), EXIT_USAGE, "lines without seq: 400");
	is_int(b.nr, 0, "and nothing is kept");
	is_int(parse("a\xff\x00z\xc3\xa9\xed\xa0\x80", 9, false, 0, &b), 0, "bytes that are not UTF-8");
	is_str(line(&b, 0), "a\xef\xbf\xbd\xef\xbf\xbdz\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
	       "become U+FFFD, NUL and surrogates included");
	log_batch_release(&b);
}

static void test_ndjson(void)
{
	struct log_batch b = LOG_BATCH_INIT;
	static const char body[] =
		"{\"line\":\"x\",\"seq\":10,\"ts\":\"2023-11-14T22:13:20Z\"}\n"
		"  \n"
		"{\"line\":\"y\",\"stream\":\"stderr\",\"ts\":5}\r\n"
		"{\"line\":\"z\\u0000\",\"org\":\"acme\",\"job\":\"4242\"}";
	static const struct {
		const char *body;
		int code;
		const char *why;
	} bad[] = {
		{ "{\"line\":\"x\",\"org\":\"bravo\"}", EXIT_REJECTED, "another org" },
		{ "{\"line\":\"x\",\"repo\":\"acme/other\"}", EXIT_REJECTED, "another repo" },
		{ "{\"line\":\"x\",\"job\":\"1\"}", EXIT_REJECTED, "another job" },
		{ "{\"line\":\"x\",\"runner\":\"r\"}", EXIT_REJECTED, "another runner" },
		{ "{\"line\":\"x\",\"org\":\"acme\\u0000x\"}", EXIT_REJECTED, "the org and more after a NUL" },
		{ "{\"line\":\"x\",\"org\":1}", EXIT_USAGE, "an org that is no string" },
		{ "{\"line\":\"x\",\"level\":1}", EXIT_USAGE, "an unknown field" },
		{ "{\"line\":1}", EXIT_USAGE, "a line that is no string" },
		{ "{\"seq\":1}", EXIT_USAGE, "no line" },
		{ "[\"x\"]", EXIT_USAGE, "an array" },
		{ "{\"line\":\"x\",\"ts\":4294967296}", EXIT_USAGE, "ts past 2106" },
		{ "{\"line\":\"x\",\"ts\":\"2023-02-30T00:00:00Z\"}", EXIT_USAGE, "a ts that is no date" },
		{ "{\"line\":\"x\",\"seq\":-1}", EXIT_USAGE, "a negative seq" },
		{ "{\"line\":\"x\",\"seq\":1.5}", EXIT_USAGE, "a seq that is no integer" },
		{ "{\"line\":\"x\",\"stream\":\"stdin\"}", EXIT_USAGE, "an unknown stream" },
		{ "{\"line\":\"x\",\"line\":\"y\"}", EXIT_USAGE, "a field twice" },
		{ "{\"line\":\"x\",\"seq\":9223372036854775807}\n{\"line\":\"y\"}", EXIT_USAGE,
		  "no seq after the last one" },
	};

	is_int(parse(body, strlen(body), true, -1, &b), 0, "NDJSON parses");
	is_int(b.nr, 3, "blank lines are skipped");
	is_int(b.rows[0].seq, 10, "a line's own seq");
	is_int(b.rows[1].seq, 11, "then the next");
	is_int(b.rows[0].ts, 1700000000, "ts in RFC 3339");
	is_int(b.rows[1].ts, 5, "ts in seconds");
	is_int(b.rows[2].ts, 1700000000, "no ts: the receive time");
	is_int(b.rows[1].stream, LOG_STREAM_STDERR, "stream");
	is_str(line(&b, 2), "z\xef\xbf\xbd", "a NUL in a line becomes U+FFFD");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		/* a good line first: a refusal keeps none of the body */
		struct strbuf sb = STRBUF_INIT;

		strbuf_addf(&sb, "{\"line\":\"ok\",\"seq\":0}\n%s", bad[i].body);
		is_int(fail_code(parse(sb.buf, sb.len, true, 0, &b)), bad[i].code, "refused: %s", bad[i].why);
		ok(!b.nr, "and nothing is kept: %s", bad[i].why);
		strbuf_release(&sb);
	}
	log_batch_release(&b);
}

static void test_redaction(void)
{
	struct log_batch b = LOG_BATCH_INIT;
	static const char body[] =
		"password=hunter2 here\n"
		"the registered s3cr3t-value\n"
		"-----BEGIN PRIVATE KEY-----\n"
		"MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n"
		"-----END PRIVATE KEY-----\n"
		"after the key\n";

	redact_register("s3cr3t-value");
	is_int(parse(body, strlen(body), false, 0, &b), 0, "lines with secrets");
	is_str(line(&b, 0), "password=<redacted> here", "patterns are masked");
	is_str(line(&b, 1), "the registered <redacted>", "registered secrets are masked");
	is_str(line(&b, 3), "<redacted>", "a key's body is masked line by line");
	is_str(line(&b, 5), "after the key", "and the lines after it are not");
	is_int(b.nr, 6, "the line count stays");
	log_batch_release(&b);
}

static void test_records(void)
{
	struct log_batch b = LOG_BATCH_INIT, d = LOG_BATCH_INIT;
	struct strbuf rec = STRBUF_INIT;
	static const char body[] = "one\ntwo\n\nfour";
	size_t n, first;
	bool torn = false, flipped = false;

	parse(body, strlen(body), false, 7, &b);
	log_record_encode(&rec, &b);
	first = rec.len;
	log_record_encode(&rec, &b);
	n = log_record_decode(rec.buf, rec.len, &d);
	is_int(n, first, "a record decodes to its size");
	is_str(d.id.org, "acme", "org");
	is_str(d.id.repo, "acme/widgets", "repo");
	is_str(d.id.job, "4242", "job");
	is_str(d.id.runner, "r-acme", "runner");
	is_int(d.nr, 4, "rows");
	is_int(d.rows[3].seq, 10, "seq");
	is_int(d.rows[3].ts, 1700000000, "ts");
	is_str(line(&d, 3), "four", "line");
	is_int(log_record_decode(rec.buf + n, rec.len - n, &d), first, "the next record follows");
	for (size_t len = 0; len < first; len++)
		torn |= log_record_decode(rec.buf, len, &d) != 0;
	ok(!torn, "no prefix of a record decodes");
	for (size_t i = 0; i < first; i++) {
		rec.buf[i] ^= 0x20;
		flipped |= log_record_decode(rec.buf, first, &d) != 0;
		rec.buf[i] ^= 0x20;
	}
	ok(!flipped, "no record with a flipped bit decodes");
	log_batch_release(&b);
	log_batch_release(&d);
	strbuf_release(&rec);
}

static const char *quoted(const char *s, size_t len)
{
	static struct strbuf sb = STRBUF_INIT;

	strbuf_reset(&sb);
	clickhouse_quote(&sb, s, len);
	return sb.buf;
}

static void test_quoting(void)
{
	struct strbuf sb = STRBUF_INIT;

	is_str(quoted("acme/w_1.x: -", 13), "'acme/w_1.x: -'", "plain characters stay");
	is_str(quoted("' OR 1=1 --", 11), "'\\x27 OR 1\\x3d1 --'", "a quote and = as escapes");
	is_str(quoted("\\", 1), "'\\x5c'", "a backslash");
	is_str(quoted("a\0b", 3), "'a\\x00b'", "a NUL");
	is_str(quoted("\xc3\xa9\n", 3), "'\\xc3\\xa9\\x0a'", "UTF-8 and newlines byte by byte");
	ok(clickhouse_ident_valid("nimbus_org_a-b"), "an identifier");
	ok(!clickhouse_ident_valid("a`b") && !clickhouse_ident_valid("") && !clickhouse_ident_valid("a.b"),
	   "backquotes, nothing and dots are not");
	strbuf_add_urlencoded(&sb, "a b&c=d/é~", 11);
	is_str(sb.buf, "a%20b%26c%3Dd%2F%C3%A9~", "URL query encoding");
	strbuf_reset(&sb);
	strbuf_add_json_string(&sb, "plain \"q\" \\ \t\x01\x7f\xc3\xa9\xff end", 22);
	is_str(sb.buf, "\"plain \\\"q\\\" \\\\ \\t\\u0001\\u007f\xc3\xa9\\ufffd end\"",
	       "JSON strings: runs of plain text and the escapes between them");
	strbuf_release(&sb);
}

static void test_query(void)
{
	struct log_query q = LOG_QUERY_INIT;
	struct log_param p[LOG_QUERY_PARAMS_MAX];
	struct strbuf cur = STRBUF_INIT, big = STRBUF_INIT;
	int variant;
	size_t n;

	strbuf_addchars(&big, 'a', LOG_GREP_MAX + 1);
	is_int(fail_code(log_query_param(&q, "repo", "acme")), EXIT_USAGE, "a repo is OWNER/NAME");
	is_int(fail_code(log_query_param(&q, "job", "a b")), EXIT_USAGE, "a job has no blanks");
	is_int(fail_code(log_query_param(&q, "grep", big.buf)), EXIT_USAGE, "grep has a limit");
	is_int(fail_code(log_query_param(&q, "grep", "\xff")), EXIT_USAGE, "grep is UTF-8");
	is_int(fail_code(log_query_param(&q, "since", "yesterday")), EXIT_USAGE, "since is RFC 3339");
	is_int(fail_code(log_query_param(&q, "limit", "10001")), EXIT_USAGE, "limit has a maximum");
	is_int(fail_code(log_query_param(&q, "after", "e30")), EXIT_USAGE, "{} is no cursor");
	is_int(log_query_param(&q, "org", "acme"), 1, "org is not the query's to take");
	log_cursor_encode(&cur, 1700000000, 42, "acme/widgets", "it's");
	is_int(log_query_param(&q, "after", cur.buf), 0, "a cursor of ours");
	ok(q.after_ts == 1700000000 && q.after_seq == 42 && !strcmp(q.after_repo, "acme/widgets") &&
	   !strcmp(q.after_job, "it's"), "comes back whole");
	q.org = "acme";
	n = log_query_params(&q, p, &variant);
	ok(variant == 0 && n == 9 && p[5].s && !strcmp(p[5].s, "acme/widgets") && p[8].i == LOG_QUERY_LIMIT,
	   "an org's query: the whole cursor, then the limit");
	log_query_param(&q, "repo", "acme/widgets");
	log_query_param(&q, "job", "it's");
	n = log_query_params(&q, p, &variant);
	ok(variant == 3 && n == 9 && p[6].i == 1700000000 && p[7].i == 42, "a job's query: (ts, seq)");
	log_query_param(&q, "job", "zzz");
	log_query_params(&q, p, &variant);
	is_int(p[7].i, -1, "a cursor of a job before: the whole second");
	log_query_param(&q, "job", "a");
	log_query_params(&q, p, &variant);
	is_int(p[7].i, LOG_SEQ_MAX, "a cursor of a job after: none of the second");
	log_query_release(&q);
	strbuf_release(&cur);
	strbuf_release(&big);
}

static void record(struct strbuf *rec, const char *text)
{
	struct log_batch b = LOG_BATCH_INIT;

	parse(text, strlen(text), false, 0, &b);
	strbuf_reset(rec);
	log_record_encode(rec, &b);
	log_batch_release(&b);
}

struct waiter {
	struct log_spool *sp;
	struct strbuf path;
	int ready;
};

static void *wait_next(void *arg)
{
	struct waiter *w = arg;

	__atomic_store_n(&w->ready, log_spool_next(w->sp, &w->path), __ATOMIC_RELEASE);
	return NULL;
}

/* Join within 10 s (the machine may be loaded), or fail. */
static bool joined(pthread_t t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	return !pthread_timedjoin_np(t, NULL, &ts);
}

static void test_spool(const char *dir)
{
	struct log_spool *sp, *other;
	struct log_spool_limits limits;
	struct strbuf rec = STRBUF_INIT, path = STRBUF_INIT, data = STRBUF_INIT;
	struct waiter w = { NULL, STRBUF_INIT, -1 };
	struct log_batch d = LOG_BATCH_INIT;
	pthread_t t;
	uint64_t size;

	record(&rec, "one\ntwo\n");
	size = rec.len;
	limits = (struct log_spool_limits){ 3 * size, 2 * size, 3 * size, 50, 50 };
	is_int(log_spool_open(&sp, dir, &limits), 0, "a spool opens");
	is_int(fail_code(log_spool_open(&other, dir, &limits)), EXIT_BUSY,
	       "one process at a time");
	/* a flusher already waiting on an empty spool is woken by the first record */
	w.sp = sp;
	pthread_create(&t, NULL, wait_next, &w);
	is_int(log_spool_append(sp, rec.buf, rec.len), 0, "a record goes in");
	ok(joined(t) && w.ready == 1, "the waiting flusher gets the segment once it is old enough");
	is_int(log_spool_append(sp, rec.buf, rec.len), 0, "a second one");
	is_int(log_spool_bytes(sp), 2 * size, "bytes counted");
	is_int(log_spool_append(sp, rec.buf, rec.len), 0, "a third one fills the spool");
	is_int(fail_code(log_spool_append(sp, rec.buf, rec.len)), EXIT_UNAVAILABLE, "a fourth does not fit");
	is_int(log_spool_next(sp, &path), 1, "the oldest segment");
	is_str(path.buf, w.path.buf, "is the first one");
	strbuf_read_file(&data, path.buf, 1 << 20);
	is_int(data.len, size, "it holds the first record");
	is_int(log_record_decode(data.buf, data.len, &d), size, "whole");
	log_spool_remove(sp, path.buf);
	is_int(log_spool_bytes(sp), 2 * size, "removing it makes room");
	is_int(log_spool_append(sp, rec.buf, rec.len), 0, "for another record");
	log_spool_close(sp);

	/* what is left is replayed after a restart, oldest first */
	is_int(log_spool_open(&sp, dir, &limits), 0, "the spool opens again");
	is_int(log_spool_bytes(sp), 3 * size, "with what was left");
	is_int(log_spool_next(sp, &path), 1, "a segment is ready at once");
	strbuf_reset(&data);
	strbuf_read_file(&data, path.buf, 1 << 20);
	is_int(data.len, 2 * size, "the sealed one, with two records");
	log_spool_remove(sp, path.buf);
	is_int(log_spool_next(sp, &path), 1, "then the one that was active");
	log_spool_remove(sp, path.buf);
	is_int(log_spool_bytes(sp), 0, "then nothing");
	strbuf_reset(&rec);
	strbuf_addchars(&rec, 'x', 10 * size);
	is_int(log_spool_append(sp, rec.buf, rec.len), 0, "an empty spool takes a record over its size");
	log_spool_stop(sp);
	is_int(log_spool_next(sp, &path), 0, "a stopped spool hands out nothing: it is for the next start");
	ok(!log_spool_sleep(sp, 10000), "and does not sleep");
	log_spool_close(sp);
	log_batch_release(&d);
	strbuf_release(&rec);
	strbuf_release(&path);
	strbuf_release(&data);
	strbuf_release(&w.path);
}

/* A burst is stored once it ends; a trickle waits for the interval. */
static void test_spool_idle(const char *dir)
{
	struct log_spool_limits limits;
	struct waiter w = { NULL, STRBUF_INIT, -1 };
	struct strbuf rec = STRBUF_INIT, data = STRBUF_INIT;
	struct log_spool *sp;
	pthread_t t;

	record(&rec, "one\ntwo\n");
	limits = (struct log_spool_limits){ 1 << 20, 1 << 20, 2 * rec.len, 60000, 50 };
	is_int(log_spool_open(&sp, dir, &limits), 0, "a spool that seals when idle opens");
	w.sp = sp;
	pthread_create(&t, NULL, wait_next, &w);
	is_int(log_spool_append(sp, rec.buf, rec.len), 0, "a record under idle_bytes goes in");
	usleep(300 * 1000);
	is_int(__atomic_load_n(&w.ready, __ATOMIC_ACQUIRE), -1, "and waits for the interval past idle_ms");
	is_int(log_spool_append(sp, rec.buf, rec.len), 0, "a second one reaches idle_bytes");
	if (joined(t)) {
		is_int(w.ready, 1, "the segment is sealed once no record comes for idle_ms");
		strbuf_read_file(&data, w.path.buf, 1 << 20);
		is_int(data.len, 2 * rec.len, "with both records");
	} else {
		ok(0, "the segment is sealed once no record comes for idle_ms");
		log_spool_stop(sp);
		pthread_join(t, NULL);
	}
	log_spool_close(sp);
	strbuf_release(&rec);
	strbuf_release(&data);
	strbuf_release(&w.path);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = xstrfmt("%s/nimbus-logs-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	char *spool, *idle, *rm;

	if (!mkdtemp(dir))
		die_errno("mkdtemp");
	spool = xstrfmt("%s/spool", dir);
	idle = xstrfmt("%s/idle", dir);
	test_text();
	test_ndjson();
	test_redaction();
	test_records();
	test_quoting();
	test_query();
	test_spool(spool);
	test_spool_idle(idle);
	rm = xstrfmt("rm -rf '%s'", dir);
	if (system(rm))
		warning("cannot remove %s", dir);
	free(rm);
	free(spool);
	free(idle);
	free(dir);
	return done_testing();
}
