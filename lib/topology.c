#include "common.h"
#include "output.h"
#include "parse-num.h"
#include "topology.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

/* The first line of sysfs/rel, or -1 when it cannot be read. */
static int read_line(const char *sysfs, const char *rel, struct strbuf *out)
{
	struct strbuf path = STRBUF_INIT;
	int rc;

	strbuf_reset(out);
	strbuf_addf(&path, "%s/%s", sysfs, rel);
	rc = strbuf_read_file(out, path.buf, 1 << 16) < 0 ? -1 : 0;
	strbuf_release(&path);
	if (!rc) {
		char *nl = strchr(out->buf, '\n');

		if (nl)
			strbuf_setlen(out, nl - out->buf);
	}
	return rc;
}

static int read_list(const char *sysfs, const char *rel, struct cpuset *out)
{
	struct strbuf sb = STRBUF_INIT;
	int rc = read_line(sysfs, rel, &sb);

	if (!rc && cpulist_parse(sb.buf, out))
		rc = fail(EXIT_FAIL, "%s/%s: '%s' is not a CPU list", sysfs, rel, sb.buf);
	else if (rc)
		rc = fail_errno(EXIT_FAIL, "cannot read %s/%s", sysfs, rel);
	strbuf_release(&sb);
	return rc;
}

static int read_int(const char *sysfs, const char *rel, int64_t *out)
{
	struct strbuf sb = STRBUF_INIT;
	int rc = read_line(sysfs, rel, &sb);

	if (!rc)
		rc = parse_i64(sb.buf, INT64_MIN, INT64_MAX, out);
	strbuf_release(&sb);
	return rc;
}

static void read_cores(const char *sysfs, struct topology *t)
{
	struct cpuset done;
	struct strbuf rel = STRBUF_INIT;

	cpuset_zero(&done);
	cpuset_for_each(cpu, &t->online) {
		struct cpuset sib;

		if (cpuset_has(&done, cpu))
			continue;
		strbuf_reset(&rel);
		strbuf_addf(&rel, "devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
		/* no topology directory: a core of its own */
		cpuset_zero(&sib);
		if (read_list(sysfs, rel.buf, &sib))
			cpuset_zero(&sib);
		cpuset_and(&sib, &t->online);
		cpuset_add(&sib, cpu);
		cpuset_or(&done, &sib);
		ALLOC_GROW(t->cores, t->nr_cores + 1, t->alloc_cores);
		t->cores[t->nr_cores++] = sib;
	}
	strbuf_release(&rel);
}

/* "Node 0 MemTotal:  12019484 kB" */
static uint64_t meminfo_bytes(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	uint64_t kib = 0;

	if (!p)
		return 0;
	for (p += strlen(key); *p == ' ' || *p == ':'; p++)
		;
	for (; *p >= '0' && *p <= '9'; p++)
		kib = kib * 10 + (*p - '0');
	return kib * 1024;
}

static int read_nodes(const char *sysfs, struct topology *t)
{
	struct cpuset nodes;
	struct strbuf rel = STRBUF_INIT, sb = STRBUF_INIT, path = STRBUF_INIT;

	if (read_list(sysfs, "devices/system/node/online", &nodes)) {
		ALLOC_GROW(t->nodes, 1, t->alloc_nodes);
		t->nodes[0] = (struct topo_node){ .id = 0, .cpus = t->online };
		t->nr_nodes = 1;
		return 0;
	}
	cpuset_for_each(n, &nodes) {
		struct topo_node *node;

		ALLOC_GROW(t->nodes, t->nr_nodes + 1, t->alloc_nodes);
		node = &t->nodes[t->nr_nodes++];
		*node = (struct topo_node){ .id = n };
		strbuf_reset(&rel);
		strbuf_addf(&rel, "devices/system/node/node%d/cpulist", n);
		if (read_list(sysfs, rel.buf, &node->cpus))
			cpuset_zero(&node->cpus);
		cpuset_and(&node->cpus, &t->online);
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/devices/system/node/node%d/meminfo", sysfs, n);
		strbuf_reset(&sb);
		if (strbuf_read_file(&sb, path.buf, 1 << 16) >= 0) {
			node->mem_total = meminfo_bytes(sb.buf, "MemTotal");
			node->mem_free = meminfo_bytes(sb.buf, "MemFree");
		}
	}
	strbuf_release(&rel);
	strbuf_release(&sb);
	strbuf_release(&path);
	return 0;
}

int topology_read(const char *sysfs, struct topology *t)
{
	struct strbuf sb = STRBUF_INIT;
	int64_t v;
	int rc = read_list(sysfs, "devices/system/cpu/online", &t->online);

	if (!rc && cpuset_empty(&t->online))
		rc = fail(EXIT_FAIL, "%s/devices/system/cpu/online lists no CPU", sysfs);
	if (rc)
		return rc;
	if (read_list(sysfs, "devices/system/cpu/isolated", &t->isolated))
		cpuset_zero(&t->isolated);
	read_cores(sysfs, t);
	read_nodes(sysfs, t);
	if (!read_line(sysfs, "devices/system/cpu/smt/control", &sb))
		t->smt = strbuf_detach(&sb, NULL);
	if (!read_int(sysfs, "devices/system/cpu/smt/active", &v))
		t->smt_active = !!v;
	if (!read_int(sysfs, "kernel/mm/ksm/run", &v))
		t->ksm = v;
	strbuf_release(&sb);
	return 0;
}

void topology_release(struct topology *t)
{
	free(t->cores);
	free(t->nodes);
	free(t->smt);
	*t = (struct topology)TOPOLOGY_INIT;
}

const struct topo_node *topology_node(const struct topology *t, int id)
{
	for (size_t i = 0; i < t->nr_nodes; i++)
		if (t->nodes[i].id == id)
			return &t->nodes[i];
	return NULL;
}

const struct topo_node *topology_node_of(const struct topology *t, unsigned cpu)
{
	for (size_t i = 0; i < t->nr_nodes; i++)
		if (cpuset_has(&t->nodes[i].cpus, cpu))
			return &t->nodes[i];
	return NULL;
}

void topology_nodes_of(const struct topology *t, const struct cpuset *cpus, struct cpuset *nodes)
{
	cpuset_zero(nodes);
	for (size_t i = 0; i < t->nr_nodes; i++)
		if (cpuset_intersects(&t->nodes[i].cpus, cpus))
			cpuset_add(nodes, t->nodes[i].id);
}

/* The pool's threads of node's free cores, taken in order until there are want. */
static unsigned take(const struct topology *t, const struct topo_node *node,
		     const struct cpuset *pool, const struct cpuset *used, unsigned want,
		     struct cpuset *out)
{
	unsigned n = 0;

	cpuset_zero(out);
	for (size_t i = 0; i < t->nr_cores && (!want || n < want); i++) {
		struct cpuset c = t->cores[i];

		if (cpuset_intersects(&c, used) || !cpuset_subset(&c, &node->cpus))
			continue;
		cpuset_and(&c, pool);
		n += cpuset_count(&c);
		cpuset_or(out, &c);
	}
	return n;
}

int topology_allocate(const struct topology *t, const struct cpuset *pool,
		      const struct cpuset *used, unsigned want, int node,
		      struct cpuset *out, int *node_out)
{
	const struct topo_node *best = NULL;
	unsigned best_free = 0;
	struct cpuset scratch;

	if (node >= 0) {
		best = topology_node(t, node);
		if (!best)
			return fail(EXIT_NOTFOUND, "there is no NUMA node %d", node);
		best_free = take(t, best, pool, used, 0, &scratch);
	}
	for (size_t i = 0; node < 0 && i < t->nr_nodes; i++) {
		unsigned free = take(t, &t->nodes[i], pool, used, 0, &scratch);

		if (free > best_free) {
			best = &t->nodes[i];
			best_free = free;
		}
	}
	if (!best || best_free < want) {
		if (node >= 0)
			return fail(EXIT_BUSY, "NUMA node %d has %u free CPUs in the pool, not %u",
				    node, best_free, want);
		return fail(EXIT_BUSY, "no NUMA node has %u free CPUs in the pool (at most %u)",
			    want, best_free);
	}
	take(t, best, pool, used, want, out);
	*node_out = best->id;
	return 0;
}

int kvm_check(const char *dev, int *api)
{
	int fd = open(dev, O_RDWR | O_CLOEXEC);

	*api = -1;
	if (fd < 0)
		return fail_errno(EXIT_UNAVAILABLE, "cannot open %s", dev);
	*api = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	/* the version has been 12 since Linux 2.6.22; anything else is not KVM as we know it */
	if (*api != KVM_API_VERSION)
		return fail(EXIT_UNAVAILABLE, "%s is not a usable KVM device (API version %d)", dev, *api);
	return 0;
}

json_t *cpulist_json(const struct cpuset *s)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *v;

	cpulist_format(&sb, s);
	v = xjson_string(sb.buf);
	strbuf_release(&sb);
	return v;
}

json_t *topology_json(const struct topology *t)
{
	json_t *cores = json_array(), *nodes = json_array();
	unsigned threads = 1;

	for (size_t i = 0; i < t->nr_cores; i++) {
		json_array_append_new(cores, cpulist_json(&t->cores[i]));
		if (cpuset_count(&t->cores[i]) > threads)
			threads = cpuset_count(&t->cores[i]);
	}
	for (size_t i = 0; i < t->nr_nodes; i++)
		json_array_append_new(nodes, json_pack("{s:i, s:o, s:I, s:I}", "node", t->nodes[i].id,
						       "cpus", cpulist_json(&t->nodes[i].cpus),
						       "memory_bytes", (json_int_t)t->nodes[i].mem_total,
						       "free_bytes", (json_int_t)t->nodes[i].mem_free));
	return json_pack("{s:o, s:I, s:o, s:o, s:i, s:o, s:o, s:o, s:o}",
			 "cpus", cpulist_json(&t->online), "nr_cpus", (json_int_t)cpuset_count(&t->online),
			 "isolated", cpulist_json(&t->isolated), "cores", cores,
			 "threads_per_core", threads,
			 "smt", t->smt ? xjson_string(t->smt) : json_null(),
			 "smt_active", t->smt_active < 0 ? json_null() : json_boolean(t->smt_active),
			 "ksm", t->ksm < 0 ? json_null() : xjson_string(t->ksm == 1 ? "on" :
									 t->ksm == 2 ? "unmerging" : "off"),
			 "nodes", nodes);
}
