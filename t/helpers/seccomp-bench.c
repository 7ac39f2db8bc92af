/*
 * seccomp-bench [N]
 *
 * The cost of the services' seccomp filter per system call: N calls of
 * a cheap allowed one (fstat, then a 1-byte pread of /dev/zero) without
 * the filter, then with it (sandbox_seccomp_serve()), in one process;
 * the best of 5 rounds each, the machine being shared. Prints the
 * nanoseconds per call of each and their ratio.
 */
#include "common.h"
#include "parse-num.h"
#include "sandbox.h"

#include <sys/stat.h>
#include <time.h>

static double ns_per_call(int fd, int64_t n, bool use_pread)
{
	double best = 0;

	for (int round = 0; round < 5; round++) {
		struct timespec a, b;
		struct stat st;
		double ns;
		char c;

		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int64_t i = 0; i < n; i++)
			if (use_pread ? pread(fd, &c, 1, 0) != 1 : fstat(fd, &st) != 0)
				die_errno("the call failed");
		clock_gettime(CLOCK_MONOTONIC, &b);
		ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
		if (!round || ns < best)
			best = ns;
	}
	return best;
}

int main(int argc, const char **argv)
{
	int64_t n = 500000;
	int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC), rc;
	double before[2], after[2];

	set_progname("seccomp-bench");
	if (fd < 0 || (argc > 1 && parse_i64(argv[1], 1, INT64_MAX, &n)))
		die("usage: seccomp-bench [N]");
	for (int k = 0; k < 2; k++)
		before[k] = ns_per_call(fd, n, k);
	rc = sandbox_seccomp_serve();
	if (rc)
		die_fail(rc);
	for (int k = 0; k < 2; k++)
		after[k] = ns_per_call(fd, n, k);
	printf("  %-24s %8.1f ns/call unfiltered %8.1f ns/call filtered  ratio %.2f\n",
	       "fstat", before[0], after[0], after[0] / before[0]);
	printf("  %-24s %8.1f ns/call unfiltered %8.1f ns/call filtered  ratio %.2f\n",
	       "pread 1 byte", before[1], after[1], after[1] / before[1]);
	return 0;
}
