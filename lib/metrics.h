#ifndef METRICS_H
#define METRICS_H

/*
 * The process's Prometheus registry, rendered in the text exposition
 * format 0.0.4 by /metrics. Services register their families once
 * (registering a name again returns the same family) and update them from
 * any thread: lookups of known label values take no lock, values are
 * atomics. Label sets are small and fixed per family; their values must
 * come from a bounded set (route names, status codes, org ids), never
 * from raw request data.
 *
 *	static const char *const labels[] = { "route", "status", NULL };
 *	struct metric *m = metric_counter("nimbus_http_requests_total",
 *					  "HTTP requests.", labels);
 *	metric_add(m, (const char *[]){ "healthz", "200" }, 1);
 *
 * The process figures (process_cpu_seconds_total, ..._resident_memory_bytes,
 * _open_fds, _max_fds, _start_time_seconds, _threads, ...) are read from
 * /proc when rendering.
 */

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRIC_LABELS_MAX 4

struct metric;

/* labels: the label names, NULL-terminated; NULL when there are none. */
struct metric *metric_counter(const char *name, const char *help, const char *const *labels);
struct metric *metric_gauge(const char *name, const char *help, const char *const *labels);
/* bounds: the buckets' upper bounds, increasing; +Inf is implied. */
struct metric *metric_histogram(const char *name, const char *help, const char *const *labels,
				const double *bounds, size_t nbounds);

/* values: one per label name, in their order (NULL when there are none). */
void metric_add(struct metric *m, const char *const *values, double v);	/* counters, gauges */
void metric_set(struct metric *m, const char *const *values, double v);	/* gauges */
void metric_observe(struct metric *m, const char *const *values, double v);	/* histograms */

/* Every family, then the process figures. */
void metrics_render(struct strbuf *out);

#endif
