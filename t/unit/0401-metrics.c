#include "tap.h"
#include "metrics.h"

#include <pthread.h>

static struct metric *hits;

static void *hammer(void *arg)
{
	for (int i = 0; i < 100000; i++)
		metric_add(hits, (const char *[]){ i % 2 ? "odd" : "even" }, 1);
	return NULL;
}

int main(void)
{
	static const char *const kind[] = { "kind", NULL };
	static const char *const two[] = { "a", "b", NULL };
	static const double bounds[] = { 0.1, 1, 10 };
	struct strbuf sb = STRBUF_INIT;
	struct metric *c, *g, *h, *plain;
	pthread_t t[4];

	c = metric_counter("test_total", "A counter.\nWith \\ and a newline.", two);
	ok(metric_counter("test_total", "other help", two) == c, "registering again returns the family");
	metric_add(c, (const char *[]){ "x", "y" }, 1);
	metric_add(c, (const char *[]){ "x", "y" }, 2.5);
	metric_add(c, (const char *[]){ "q\"uo\\te", "new\nline" }, 1);
	g = metric_gauge("test_gauge", "A gauge.", NULL);
	metric_set(g, NULL, 42);
	metric_add(g, NULL, -2);
	plain = metric_counter("test_untouched_total", "Never counted.", NULL);
	h = metric_histogram("test_seconds", "A histogram.", kind, bounds, ARRAY_SIZE(bounds));
	metric_observe(h, (const char *[]){ "k" }, 0.05);
	metric_observe(h, (const char *[]){ "k" }, 0.1);
	metric_observe(h, (const char *[]){ "k" }, 5);
	metric_observe(h, (const char *[]){ "k" }, 100);
	(void)plain;

	metrics_render(&sb);
	ok(has_line(sb.buf, "# HELP test_total A counter.\\nWith \\\\ and a newline."), "help escaped");
	ok(has_line(sb.buf, "# TYPE test_total counter"), "counter type line");
	ok(has_line(sb.buf, "test_total{a=\"x\",b=\"y\"} 3.5"), "counter value with labels");
	ok(has_line(sb.buf, "test_total{a=\"q\\\"uo\\\\te\",b=\"new\\nline\"} 1"), "label values escaped");
	ok(has_line(sb.buf, "# TYPE test_gauge gauge"), "gauge type line");
	ok(has_line(sb.buf, "test_gauge 40"), "gauge set then added");
	ok(has_line(sb.buf, "test_untouched_total 0"), "a family without labels shows 0 from the start");
	ok(has_line(sb.buf, "# TYPE test_seconds histogram"), "histogram type line");
	ok(has_line(sb.buf, "test_seconds_bucket{kind=\"k\",le=\"0.1\"} 2"), "le is inclusive, cumulative");
	ok(has_line(sb.buf, "test_seconds_bucket{kind=\"k\",le=\"1\"} 2"), "bucket 1");
	ok(has_line(sb.buf, "test_seconds_bucket{kind=\"k\",le=\"10\"} 3"), "bucket 10");
	ok(has_line(sb.buf, "test_seconds_bucket{kind=\"k\",le=\"+Inf\"} 4"), "+Inf bucket");
	ok(has_line(sb.buf, "test_seconds_sum{kind=\"k\"} 105.15"), "sum, shortest form");
	ok(has_line(sb.buf, "test_seconds_count{kind=\"k\"} 4"), "count");
	for (const char *name = "process_cpu_seconds_total\0process_resident_memory_bytes\0"
				"process_open_fds\0process_max_fds\0process_start_time_seconds\0"
				"process_threads\0process_virtual_memory_bytes\0";
	     *name; name += strlen(name) + 1) {
		struct strbuf type = STRBUF_INIT;

		strbuf_addf(&type, "# TYPE %s ", name);
		ok(strstr(sb.buf, type.buf), "process figure %s", name);
		strbuf_release(&type);
	}

	hits = metric_counter("test_hits_total", "Concurrent.", kind);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	strbuf_reset(&sb);
	metrics_render(&sb);
	ok(has_line(sb.buf, "test_hits_total{kind=\"odd\"} 200000"), "no increment lost across threads (odd)");
	ok(has_line(sb.buf, "test_hits_total{kind=\"even\"} 200000"), "no increment lost across threads (even)");
	strbuf_release(&sb);
	return done_testing();
}
