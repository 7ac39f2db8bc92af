#include "common.h"
#include "metrics.h"
#include "parse-num.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

static const char *const type_names[] = {
	[METRIC_COUNTER] = "counter",
	[METRIC_GAUGE] = "gauge",
	[METRIC_HISTOGRAM] = "histogram",
};

/*
 * One label combination. Children are only ever added, at the head of an
 * atomic list, so readers walk it without a lock. Doubles live in
 * uint64_t atomics (C11 has no atomic add for floating types).
 */
struct child {
	struct child *next;
	char *values[METRIC_LABELS_MAX];
	_Atomic uint64_t value;		/* counter, gauge; histogram: the sum */
	_Atomic uint64_t *buckets;	/* histogram: per bucket, the last is +Inf */
};

struct metric {
	struct metric *next;
	char *name;
	char *help;
	enum metric_type type;
	size_t nlabels;
	char *labels[METRIC_LABELS_MAX];
	double *bounds;
	size_t nbounds;
	_Atomic(struct child *) children;
	pthread_mutex_t add_lock;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric *families, **families_tail = &families;

static struct child *child(struct metric *m, const char *const *values);

static double load_double(_Atomic uint64_t *p)
{
	uint64_t u = atomic_load_explicit(p, memory_order_relaxed);
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static uint64_t double_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static void add_double(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
	double d;

	do {
		memcpy(&d, &old, sizeof(d));
	} while (!atomic_compare_exchange_weak_explicit(p, &old, double_bits(d + v),
							memory_order_relaxed, memory_order_relaxed));
}

static bool valid_name(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == ':'))
			return false;
	return true;
}

static bool same_labels(const struct metric *m, const char *const *labels)
{
	size_t n = 0;

	for (; labels && labels[n]; n++)
		if (n == m->nlabels || strcmp(m->labels[n], labels[n]))
			return false;
	return n == m->nlabels;
}

static struct metric *define(enum metric_type type, const char *name, const char *help,
			     const char *const *labels, const double *bounds, size_t nbounds)
{
	struct metric *m;

	if (!valid_name(name))
		BUG("metric name '%s'", name);
	pthread_mutex_lock(&registry_lock);
	for (m = families; m; m = m->next) {
		if (strcmp(m->name, name))
			continue;
		if (m->type != type || !same_labels(m, labels))
			BUG("metric '%s' registered twice, differently", name);
		pthread_mutex_unlock(&registry_lock);
		return m;
	}
	m = xcalloc(1, sizeof(*m));
	m->name = xstrdup(name);
	m->help = xstrdup(help);
	m->type = type;
	for (; labels && labels[m->nlabels]; m->nlabels++) {
		if (m->nlabels == METRIC_LABELS_MAX || !valid_name(labels[m->nlabels]))
			BUG("metric '%s': bad or too many labels", name);
		m->labels[m->nlabels] = xstrdup(labels[m->nlabels]);
	}
	for (size_t i = 1; i < nbounds; i++)
		if (!(bounds[i - 1] < bounds[i]))
			BUG("metric '%s': bucket bounds not increasing", name);
	if (nbounds)
		m->bounds = xmemdup(bounds, nbounds * sizeof(*bounds));
	m->nbounds = nbounds;
	pthread_mutex_init(&m->add_lock, NULL);
	/* a family without labels shows its zero from the start */
	if (!m->nlabels)
		child(m, NULL);
	*families_tail = m;
	families_tail = &m->next;
	pthread_mutex_unlock(&registry_lock);
	return m;
}

struct metric *metric_counter(const char *name, const char *help, const char *const *labels)
{
	return define(METRIC_COUNTER, name, help, labels, NULL, 0);
}

struct metric *metric_gauge(const char *name, const char *help, const char *const *labels)
{
	return define(METRIC_GAUGE, name, help, labels, NULL, 0);
}

struct metric *metric_histogram(const char *name, const char *help, const char *const *labels,
				const double *bounds, size_t nbounds)
{
	return define(METRIC_HISTOGRAM, name, help, labels, bounds, nbounds);
}

static struct child *find_child(struct child *c, size_t n, const char *const *values)
{
	for (; c; c = c->next) {
		size_t i = 0;

		while (i < n && !strcmp(c->values[i], values[i]))
			i++;
		if (i == n)
			return c;
	}
	return NULL;
}

static struct child *child(struct metric *m, const char *const *values)
{
	struct child *head = atomic_load_explicit(&m->children, memory_order_acquire), *c;

	c = find_child(head, m->nlabels, values);
	if (c)
		return c;
	pthread_mutex_lock(&m->add_lock);
	/* another thread may have added it meanwhile */
	c = find_child(atomic_load_explicit(&m->children, memory_order_acquire), m->nlabels, values);
	if (!c) {
		c = xcalloc(1, sizeof(*c));
		for (size_t i = 0; i < m->nlabels; i++)
			c->values[i] = xstrdup(values[i]);
		if (m->type == METRIC_HISTOGRAM)
			c->buckets = xcalloc(m->nbounds + 1, sizeof(*c->buckets));
		c->next = atomic_load_explicit(&m->children, memory_order_relaxed);
		atomic_store_explicit(&m->children, c, memory_order_release);
	}
	pthread_mutex_unlock(&m->add_lock);
	return c;
}

void metric_add(struct metric *m, const char *const *values, double v)
{
	if (m->type == METRIC_HISTOGRAM || (m->type == METRIC_COUNTER && v < 0))
		BUG("metric_add on '%s'", m->name);
	add_double(&child(m, values)->value, v);
}

void metric_set(struct metric *m, const char *const *values, double v)
{
	if (m->type != METRIC_GAUGE)
		BUG("metric_set on '%s'", m->name);
	atomic_store_explicit(&child(m, values)->value, double_bits(v), memory_order_relaxed);
}

void metric_observe(struct metric *m, const char *const *values, double v)
{
	struct child *c;
	size_t i = 0;

	if (m->type != METRIC_HISTOGRAM)
		BUG("metric_observe on '%s'", m->name);
	c = child(m, values);
	while (i < m->nbounds && v > m->bounds[i])
		i++;
	atomic_fetch_add_explicit(&c->buckets[i], 1, memory_order_relaxed);
	add_double(&c->value, v);
}

/* The shortest form that reads back as the same double. */
static void add_value(struct strbuf *out, double v)
{
	char buf[32];

	if (isnan(v)) {
		strbuf_addstr(out, "NaN");
		return;
	}
	if (isinf(v)) {
		strbuf_addstr(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		xsnprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	strbuf_addstr(out, buf);
}

static void add_escaped(struct strbuf *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			strbuf_addstr(out, "\\\\");
		else if (*s == '\n')
			strbuf_addstr(out, "\\n");
		else if (*s == '"' && quote)
			strbuf_addstr(out, "\\\"");
		else
			strbuf_addch(out, *s);
	}
}

static void add_header(struct strbuf *out, const char *name, const char *help, enum metric_type type)
{
	strbuf_addf(out, "# HELP %s ", name);
	add_escaped(out, help, false);
	strbuf_addf(out, "\n# TYPE %s %s\n", name, type_names[type]);
}

/* name{a="x",b="y",le="0.5"} value */
static void add_sample(struct strbuf *out, const struct metric *m, const char *suffix,
		       const struct child *c, const char *le, double v)
{
	strbuf_addf(out, "%s%s", m->name, suffix);
	if (m->nlabels || le) {
		strbuf_addch(out, '{');
		for (size_t i = 0; i < m->nlabels; i++) {
			strbuf_addf(out, "%s%s=\"", i ? "," : "", m->labels[i]);
			add_escaped(out, c->values[i], true);
			strbuf_addch(out, '"');
		}
		if (le)
			strbuf_addf(out, "%sle=\"%s\"", m->nlabels ? "," : "", le);
		strbuf_addch(out, '}');
	}
	strbuf_addch(out, ' ');
	add_value(out, v);
	strbuf_addch(out, '\n');
}

static void render_histogram(struct strbuf *out, const struct metric *m, struct child *c)
{
	struct strbuf le = STRBUF_INIT;
	uint64_t cumulative = 0;

	for (size_t i = 0; i <= m->nbounds; i++) {
		cumulative += atomic_load_explicit(&c->buckets[i], memory_order_relaxed);
		strbuf_reset(&le);
		if (i < m->nbounds)
			add_value(&le, m->bounds[i]);
		else
			strbuf_addstr(&le, "+Inf");
		add_sample(out, m, "_bucket", c, le.buf, cumulative);
	}
	add_sample(out, m, "_sum", c, NULL, load_double(&c->value));
	/* the count is the +Inf bucket, so that the two always agree */
	add_sample(out, m, "_count", c, NULL, cumulative);
	strbuf_release(&le);
}

static void add_process_figure(struct strbuf *out, const char *name, enum metric_type type,
			       const char *help, double v)
{
	add_header(out, name, help, type);
	strbuf_addf(out, "%s ", name);
	add_value(out, v);
	strbuf_addch(out, '\n');
}

static double boot_time(void)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p;
	uint64_t btime = 0;

	if (!strbuf_read_file(&sb, "/proc/stat", 1 << 20)) {
		p = strstr(sb.buf, "\nbtime ");
		if (p) {
			struct strbuf num = STRBUF_INIT;

			p += 7;
			strbuf_add(&num, p, strcspn(p, "\n"));
			if (parse_u64(num.buf, UINT64_MAX, &btime))
				btime = 0;
			strbuf_release(&num);
		}
	}
	strbuf_release(&sb);
	return btime;
}

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

/*
 * /proc/self/stat: after "(comm)", which may hold spaces and parentheses,
 * field 3 (state) onwards; see proc(5).
 */
enum {
	STAT_UTIME = 14, STAT_STIME = 15, STAT_THREADS = 20, STAT_STARTTIME = 22,
	STAT_VSIZE = 23, STAT_RSS = 24,
};

static uint64_t stat_field(const struct strvec *f, int field)
{
	uint64_t v;

	if ((size_t)(field - 3) >= f->nr || parse_u64(f->v[field - 3], UINT64_MAX, &v))
		return 0;
	return v;
}

static void render_process(struct strbuf *out)
{
	struct strbuf sb = STRBUF_INIT;
	struct strvec f = STRVEC_INIT;
	double tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	const char *p;
	struct rlimit rl;
	int fds = count_open_fds();

	if (strbuf_read_file(&sb, "/proc/self/stat", 1 << 16) || !(p = strrchr(sb.buf, ')'))) {
		strbuf_release(&sb);
		return;
	}
	strvec_split(&f, p + 1, ' ');
	add_process_figure(out, "process_cpu_seconds_total", METRIC_COUNTER,
			   "Total user and system CPU time spent in seconds.",
			   (stat_field(&f, STAT_UTIME) + stat_field(&f, STAT_STIME)) / tck);
	add_process_figure(out, "process_resident_memory_bytes", METRIC_GAUGE,
			   "Resident memory size in bytes.", stat_field(&f, STAT_RSS) * page);
	add_process_figure(out, "process_virtual_memory_bytes", METRIC_GAUGE,
			   "Virtual memory size in bytes.", stat_field(&f, STAT_VSIZE));
	add_process_figure(out, "process_start_time_seconds", METRIC_GAUGE,
			   "Start time of the process since unix epoch in seconds.",
			   boot_time() + stat_field(&f, STAT_STARTTIME) / tck);
	add_process_figure(out, "process_threads", METRIC_GAUGE,
			   "Number of OS threads in the process.", stat_field(&f, STAT_THREADS));
	if (fds >= 0)
		add_process_figure(out, "process_open_fds", METRIC_GAUGE,
				   "Number of open file descriptors.", fds);
	if (!getrlimit(RLIMIT_NOFILE, &rl))
		add_process_figure(out, "process_max_fds", METRIC_GAUGE,
				   "Maximum number of open file descriptors.",
				   rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
	strvec_clear(&f);
	strbuf_release(&sb);
}

void metrics_render(struct strbuf *out)
{
	pthread_mutex_lock(&registry_lock);
	for (struct metric *m = families; m; m = m->next) {
		struct child *c = atomic_load_explicit(&m->children, memory_order_acquire);

		add_header(out, m->name, m->help, m->type);
		for (; c; c = c->next) {
			if (m->type == METRIC_HISTOGRAM)
				render_histogram(out, m, c);
			else
				add_sample(out, m, "", c, NULL, load_double(&c->value));
		}
	}
	pthread_mutex_unlock(&registry_lock);
	render_process(out);
}
