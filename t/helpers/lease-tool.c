/*
 * lease-tool: loops over the lease and job library for the tests and the
 * benchmark, one store connection per process, with nimbus'
 * configuration (NIMBUS_STORE_URL, NIMBUS_REDIS_URL ...).
 *
 *   lease-tool race DIR N CYCLES JOBS
 *	Racer N: CYCLES times, acquire one of the jobs race-0 ... with a
 *	TTL of 1 or 2 s, renew it, write its fence through a fenced
 *	metadata write, write the fence of the cycle before the same way
 *	and, most times, release it. Appends "JOB FENCE START END"
 *	(CLOCK_MONOTONIC nanoseconds around the acquisition) to
 *	DIR/acquired.N, and "JOB FENCE" to DIR/writes after each fenced
 *	write that was accepted, holding an exclusive flock on DIR/writes
 *	around both. Prints how many it acquired, found busy, wrote and
 *	saw refused.
 *   lease-tool add PREFIX FIRST COUNT
 *	Queue the jobs PREFIX-FIRST ... PREFIX-(FIRST+COUNT-1).
 *   lease-tool claim HOLDER OUT IDLE_MS
 *	Claim jobs and finish them, appending "JOB FENCE" to OUT for each,
 *	until none could be claimed for IDLE_MS.
 *   lease-tool take
 *	Take one id from the Redis queue and exit, as a claimer that dies.
 *   lease-tool bench JOB SECONDS
 *	Acquire and release JOB alternately; print operations per second.
 */
#include "common.h"
#include "job.h"
#include "parse-num.h"
#include "timeutil.h"

#include <sys/file.h>
#include <time.h>

static NORETURN void usage(void)
{
	fprintf(stderr, "usage: lease-tool race DIR N CYCLES JOBS\n"
		"   or: lease-tool add PREFIX FIRST COUNT\n"
		"   or: lease-tool claim HOLDER OUT IDLE_MS\n"
		"   or: lease-tool take\n"
		"   or: lease-tool bench JOB SECONDS\n");
	exit(EXIT_USAGE);
}

static int64_t number(const char *s)
{
	int64_t v;

	if (parse_i64(s, 0, INT32_MAX, &v))
		die_code(EXIT_USAGE, "'%s' %s", s, parse_num_reason(errno));
	return v;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static FILE *open_append(const char *path)
{
	FILE *fp = fopen(path, "a");

	if (!fp)
		die_errno("cannot open %s", path);
	setvbuf(fp, NULL, _IOLBF, 0);
	return fp;
}

/* A refusal is part of the race; anything else ends it. */
static void expect(int rc, int allowed, const char *what)
{
	if (rc < 0 && rc != -allowed)
		die_code(fail_code(rc), "%s: %s", what, fail_message());
}

struct racer {
	const char *holder;
	FILE *writes;
	int64_t acquired, busy, written, refused;
};

/* A fenced write of the fence itself, logged when the store accepts it. */
static void fenced_write(struct store *st, struct racer *r, const char *job, int64_t fence)
{
	char value[24];
	json_t *meta;
	int rc;

	xsnprintf(value, sizeof(value), "%" PRId64, fence);
	meta = json_pack("{s:s, s:s}", "holder", r->holder, "fence", value);
	rc = job_set_meta(st, job, fence, meta);
	expect(rc, EXIT_REJECTED, "metadata write");
	if (!rc)
		fprintf(r->writes, "%s %" PRId64 "\n", job, fence);
	r->written += !rc;
	r->refused += !!rc;
	json_decref(meta);
}

/*
 * Each cycle also writes with the fence of the cycle before, usually
 * released or taken over by now: the store must refuse it.
 */
static int race(struct store *st, const char **argv)
{
	int64_t racer = number(argv[1]), cycles = number(argv[2]), jobs = number(argv[3]);
	char *path = xstrfmt("%s/acquired.%" PRId64, argv[0], racer);
	char *writes_path = xstrfmt("%s/writes", argv[0]);
	char *holder = xstrfmt("racer-%" PRId64, racer);
	FILE *acquired = open_append(path);
	struct racer r = { holder, open_append(writes_path), 0, 0, 0, 0 };
	char job[32], prev_job[32] = "";
	int64_t prev_fence = 0;
	unsigned seed = getpid();

	for (int64_t i = 0; i < cycles; i++) {
		struct lease l = LEASE_INIT;
		int64_t start, end, fence;
		int rc;

		xsnprintf(job, sizeof(job), "race-%d", (int)(rand_r(&seed) % jobs));
		start = mono_ns();
		rc = lease_acquire(st, job, holder, 1 + rand_r(&seed) % 2, &l);
		end = mono_ns();
		expect(rc, EXIT_BUSY, "acquire");
		if (rc) {
			/* stretch the race beyond the TTLs, for leases to expire in it */
			lease_clear(&l);
			r.busy++;
			sleep_ms(rand_r(&seed) % 20);
			continue;
		}
		r.acquired++;
		fence = l.fence;
		fprintf(acquired, "%s %" PRId64 " %" PRId64 " %" PRId64 "\n", job, fence, start, end);
		expect(lease_renew(st, job, fence, 1 + rand_r(&seed) % 2, &l), EXIT_REJECTED, "renew");
		lease_clear(&l);

		if (flock(fileno(r.writes), LOCK_EX) < 0)
			die_errno("flock");
		fenced_write(st, &r, job, fence);
		if (prev_fence)
			fenced_write(st, &r, prev_job, prev_fence);
		flock(fileno(r.writes), LOCK_UN);

		/* Some leases are left to expire, for the others to take over. */
		if (rand_r(&seed) % 8)
			expect(lease_release(st, job, fence), 0, "release");
		xsnprintf(prev_job, sizeof(prev_job), "%s", job);
		prev_fence = fence;
	}
	printf("acquired %" PRId64 " busy %" PRId64 " written %" PRId64 " refused %" PRId64 "\n",
	       r.acquired, r.busy, r.written, r.refused);
	fclose(acquired);
	fclose(r.writes);
	free(path);
	free(writes_path);
	free(holder);
	return 0;
}

static int add(struct store *st, const char **argv)
{
	int64_t first = number(argv[1]), count = number(argv[2]);
	struct kv *queue = job_queue_open(st);

	for (int64_t i = first; i < first + count; i++) {
		struct job job = JOB_INIT;
		int rc;

		job.id = xstrfmt("%s-%" PRId64, argv[0], i);
		rc = job_add(st, queue, &job);
		if (rc < 0)
			die_fail(rc);
		job_clear(&job);
	}
	kv_close(queue);
	return 0;
}

static int claim(struct store *st, const char **argv)
{
	int64_t idle = number(argv[2]), last = mono_ms();
	struct kv *queue = job_queue_open(st);
	FILE *out = open_append(argv[1]);

	while (mono_ms() - last < idle) {
		struct job job = JOB_INIT;
		int rc = job_claim(st, queue, argv[0], 600, NULL, &job);

		if (rc == -EXIT_BUSY) {
			sleep_ms(20);
			continue;
		}
		if (rc)
			die_fail(rc);
		fprintf(out, "%s %" PRId64 "\n", job.id, job.lease.fence);
		rc = job_finish(st, job.id, job.lease.fence, JOB_SUCCEEDED, NULL);
		if (rc)
			die_fail(rc);
		job_clear(&job);
		last = mono_ms();
	}
	kv_close(queue);
	fclose(out);
	return 0;
}

static int take(struct store *st)
{
	struct kv *queue = job_queue_open(st);
	char *id;
	int rc;

	if (!queue)
		die("no Redis queue");
	rc = kv_queue_take(queue, NULL, QUEUE_VISIBILITY, &id);
	if (rc < 0)
		die_fail(rc);
	if (!rc)
		die_code(EXIT_BUSY, "the queue is empty");
	printf("%s\n", id);
	free(id);
	kv_close(queue);
	return 0;
}

static int bench(struct store *st, const char **argv)
{
	int64_t secs = number(argv[1]), ops = 0;
	double start = mono_seconds(), elapsed;
	struct lease l = LEASE_INIT;

	do {
		int rc = lease_acquire(st, argv[0], "bench", 60, &l);

		if (!rc)
			rc = lease_release(st, argv[0], l.fence);
		if (rc < 0)
			die_fail(rc);
		ops += 2;
		elapsed = mono_seconds() - start;
	} while (elapsed < secs);
	lease_clear(&l);
	printf("%.0f\n", ops / elapsed);
	return 0;
}

int main(int argc, const char **argv)
{
	struct store *st;
	int rc;

	set_progname("lease-tool");
	if (argc < 2)
		usage();
	if (!((!strcmp(argv[1], "race") && argc == 6) || (!strcmp(argv[1], "add") && argc == 5) ||
	      (!strcmp(argv[1], "claim") && argc == 5) || (!strcmp(argv[1], "take") && argc == 2) ||
	      (!strcmp(argv[1], "bench") && argc == 4)))
		usage();
	rc = store_open(&st, STORE_MIGRATE);
	if (rc)
		return report_fail(rc);
	if (!strcmp(argv[1], "race"))
		rc = race(st, argv + 2);
	else if (!strcmp(argv[1], "add"))
		rc = add(st, argv + 2);
	else if (!strcmp(argv[1], "claim"))
		rc = claim(st, argv + 2);
	else if (!strcmp(argv[1], "take"))
		rc = take(st);
	else
		rc = bench(st, argv + 2);
	store_close(st);
	return rc || fflush(stdout) ? EXIT_FAIL : EXIT_OK;
}
