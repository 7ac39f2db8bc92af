#include "tap.h"
#include "cpulist.h"
#include "topology.h"

/* Parse s and format it back; "ERR" when it does not parse. */
static const char *roundtrip(const char *s)
{
	static struct strbuf sb = STRBUF_INIT;
	struct cpuset set;

	strbuf_reset(&sb);
	if (cpulist_parse(s, &set))
		strbuf_addstr(&sb, "ERR");
	else
		cpulist_format(&sb, &set);
	return sb.buf;
}

static void test_lists(void)
{
	static const char *const cases[][2] = {
		{ "", "" }, { "\n", "" }, { "0", "0" }, { "0-3", "0-3" }, { "0-3\n", "0-3" },
		{ "3,1,2", "1-3" }, { "0-1,1-2", "0-2" }, { "0,2,4-6,8", "0,2,4-6,8" },
		{ "4095", "4095" }, { "0-4095", "0-4095" }, { "007", "7" },
		{ "4096", "ERR" }, { "3-1", "ERR" }, { "1,", "ERR" }, { ",1", "ERR" }, { "1,,2", "ERR" },
		{ "-1", "ERR" }, { "1-", "ERR" }, { " 1", "ERR" }, { "1 ", "ERR" }, { "a", "ERR" },
		{ "1\n\n", "ERR" }, { "99999999999999999999", "ERR" },
	};
	struct strbuf sb = STRBUF_INIT;
	struct cpuset a, b;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		is_str(roundtrip(cases[i][0]), cases[i][1], "list %zu", i);
	cpulist_parse("0-3,64,4000", &a);
	is_int(cpuset_count(&a), 6, "count across words");
	is_int(cpuset_next(&a, 4), 64, "next skips an empty stretch");
	is_int(cpuset_next(&a, 4001), -1, "none after the last");
	cpulist_parse("2-5", &b);
	cpuset_andnot(&a, &b);
	cpulist_format(&sb, &a);
	is_str(sb.buf, "0-1,64,4000", "and-not");
	ok(!cpuset_subset(&b, &a) && !cpuset_intersects(&a, &b) && cpuset_subset(&b, &b),
	   "subset, intersects");
	strbuf_release(&sb);
}

/* Two nodes of two cores of two threads, as 4000-host-topology.bats fakes them. */
static void two_nodes(struct topology *t)
{
	static const char *const cores[] = { "0-1", "2-3", "4-5", "6-7" };

	cpulist_parse("0-7", &t->online);
	for (size_t i = 0; i < ARRAY_SIZE(cores); i++) {
		ALLOC_GROW(t->cores, t->nr_cores + 1, t->alloc_cores);
		cpulist_parse(cores[i], &t->cores[t->nr_cores++]);
	}
	ALLOC_GROW(t->nodes, 2, t->alloc_nodes);
	t->nodes[0] = (struct topo_node){ .id = 0 };
	t->nodes[1] = (struct topo_node){ .id = 1 };
	cpulist_parse("0-3", &t->nodes[0].cpus);
	cpulist_parse("4-7", &t->nodes[1].cpus);
	t->nr_nodes = 2;
}

/* Allocate want CPUs of pool with used taken on node: the list, or "BUSY"/"NOTFOUND". */
static const char *alloc(const struct topology *t, const char *pool, const char *used,
			 unsigned want, int node)
{
	static struct strbuf sb = STRBUF_INIT;
	struct cpuset p, u, out;
	int got, rc;

	cpulist_parse(pool, &p);
	cpulist_parse(used, &u);
	strbuf_reset(&sb);
	rc = topology_allocate(t, &p, &u, want, node, &out, &got);
	if (rc)
		strbuf_addstr(&sb, rc == -EXIT_BUSY ? "BUSY" : rc == -EXIT_NOTFOUND ? "NOTFOUND" : "?");
	else {
		strbuf_addf(&sb, "%d:", got);
		cpulist_format(&sb, &out);
	}
	return sb.buf;
}

static void test_allocate(void)
{
	struct topology t = TOPOLOGY_INIT;
	struct cpuset nodes, cpus;
	struct strbuf sb = STRBUF_INIT;

	two_nodes(&t);
	is_str(alloc(&t, "0-7", "", 2, -1), "0:0-1", "an empty host: node 0, one core");
	is_str(alloc(&t, "0-7", "", 1, -1), "0:0-1", "a core is not split between VMs");
	is_str(alloc(&t, "0-7", "", 3, -1), "0:0-3", "two cores for three vCPUs");
	is_str(alloc(&t, "0-7", "", 4, 1), "1:4-7", "the node asked for");
	is_str(alloc(&t, "0-7", "0", 2, -1), "1:4-5", "the freest node");
	is_str(alloc(&t, "0-7", "0", 2, 0), "0:2-3", "a core with a used thread is not free");
	is_str(alloc(&t, "0-7", "0,2", 2, 0), "BUSY", "no free core left on node 0");
	is_str(alloc(&t, "0-7", "", 5, -1), "BUSY", "a VM stays on one node");
	is_str(alloc(&t, "0-7", "", 1, 2), "NOTFOUND", "no node 2");
	is_str(alloc(&t, "1,3,5", "", 2, -1), "0:1,3", "only the pool's threads");
	is_str(alloc(&t, "1,3,5", "", 3, -1), "BUSY", "the pool is split across nodes");
	is_str(alloc(&t, "", "", 1, -1), "BUSY", "an empty pool");
	ok(strstr(fail_message(), "no NUMA node has 1 free CPUs"), "%s", fail_message());
	cpulist_parse("3-4", &cpus);
	topology_nodes_of(&t, &cpus, &nodes);
	cpulist_format(&sb, &nodes);
	is_str(sb.buf, "0-1", "the nodes of CPUs");
	ok(topology_node_of(&t, 5) == &t.nodes[1] && !topology_node_of(&t, 9), "the node of a CPU");
	strbuf_release(&sb);
	topology_release(&t);
}

int main(void)
{
	test_lists();
	test_allocate();
	return done_testing();
}
