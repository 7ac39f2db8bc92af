#include "common.h"
#include "logs-spool.h"
#include "timeutil.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>

#define SEGMENT_SUFFIX ".seg"

struct segment {
	uint64_t id, size;
};

struct log_spool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *dir;
	int dirfd, lockfd;
	struct log_spool_limits limits;
	uint64_t bytes;			/* of every segment */
	struct segment *sealed;		/* oldest first */
	size_t sealed_nr, sealed_alloc;
	int fd;				/* of the active segment, or -1 */
	struct segment active;
	int64_t active_since;		/* mono_ms() of its first record */
	int64_t last_append;		/* mono_ms() of its last one */
	uint64_t next_id;
	bool stopping;
};

static void segment_path(const struct log_spool *sp, uint64_t id, struct strbuf *out)
{
	strbuf_reset(out);
	strbuf_addf(out, "%s/%016" PRIx64 SEGMENT_SUFFIX, sp->dir, id);
}

/* 0000000000000001.seg and up; anything else in the directory is not ours. */
static bool segment_id(const char *name, uint64_t *id)
{
	char *end;

	if (strlen(name) != 16 + strlen(SEGMENT_SUFFIX) || strcmp(name + 16, SEGMENT_SUFFIX) ||
	    strspn(name, "0123456789abcdef") != 16)
		return false;
	*id = strtoull(name, &end, 16);
	return end == name + 16 && *id;
}

static int cmp_segment(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* What an earlier run left: every segment is sealed now, to be replayed in order. */
static int scan(struct log_spool *sp)
{
	DIR *d = fdopendir(dup(sp->dirfd));
	struct dirent *de;
	struct stat st;

	if (!d)
		return fail_errno(EXIT_FAIL, "cannot read %s", sp->dir);
	while ((de = readdir(d))) {
		struct segment seg;

		if (!segment_id(de->d_name, &seg.id))
			continue;
		if (fstatat(sp->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
			closedir(d);
			return fail(EXIT_FAIL, "%s/%s is not a regular file", sp->dir, de->d_name);
		}
		if (!st.st_size) {
			unlinkat(sp->dirfd, de->d_name, 0);
			continue;
		}
		seg.size = st.st_size;
		ALLOC_GROW(sp->sealed, sp->sealed_nr + 1, sp->sealed_alloc);
		sp->sealed[sp->sealed_nr++] = seg;
		sp->bytes += seg.size;
		if (seg.id >= sp->next_id)
			sp->next_id = seg.id + 1;
	}
	closedir(d);
	if (sp->sealed_nr)
		qsort(sp->sealed, sp->sealed_nr, sizeof(*sp->sealed), cmp_segment);
	return 0;
}

static int lock_dir(struct log_spool *sp)
{
	sp->lockfd = openat(sp->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (sp->lockfd < 0)
		return fail_errno(errno == EACCES ? EXIT_PERM : EXIT_FAIL, "cannot open %s/lock", sp->dir);
	if (flock(sp->lockfd, LOCK_EX | LOCK_NB) < 0)
		return fail_errno(errno == EWOULDBLOCK ? EXIT_BUSY : EXIT_FAIL,
				  "the log spool %s is in use by another process", sp->dir);
	return 0;
}

int log_spool_open(struct log_spool **out, const char *dir, const struct log_spool_limits *limits)
{
	struct log_spool *sp = xcalloc(1, sizeof(*sp));
	pthread_condattr_t attr;
	int rc = 0;

	sp->dir = xstrdup(dir);
	sp->limits = *limits;
	sp->fd = sp->lockfd = -1;
	sp->next_id = 1;
	pthread_mutex_init(&sp->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&sp->cond, &attr);
	pthread_condattr_destroy(&attr);
	rc = mkdir_parents(dir);
	sp->dirfd = rc ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (!rc && sp->dirfd < 0)
		rc = fail_errno(errno == EACCES ? EXIT_PERM : EXIT_FAIL, "cannot open %s", dir);
	if (!rc)
		rc = lock_dir(sp);
	if (!rc)
		rc = scan(sp);
	if (rc) {
		log_spool_close(sp);
		return rc;
	}
	*out = sp;
	return 0;
}

void log_spool_close(struct log_spool *sp)
{
	if (!sp)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	if (sp->lockfd >= 0)
		close(sp->lockfd);
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	pthread_cond_destroy(&sp->cond);
	pthread_mutex_destroy(&sp->lock);
	free(sp->sealed);
	free(sp->dir);
	free(sp);
}

/* Under the lock: the active segment joins the sealed ones. */
static void seal(struct log_spool *sp)
{
	close(sp->fd);
	sp->fd = -1;
	ALLOC_GROW(sp->sealed, sp->sealed_nr + 1, sp->sealed_alloc);
	sp->sealed[sp->sealed_nr++] = sp->active;
	pthread_cond_broadcast(&sp->cond);
}

/* Under the lock: a new active segment, whose name is durable before any record is. */
static int start_segment(struct log_spool *sp)
{
	struct strbuf path = STRBUF_INIT;
	int rc = 0;

	segment_path(sp, sp->next_id, &path);
	sp->fd = open(path.buf, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (sp->fd < 0)
		rc = fail_errno(errno == ENOSPC ? EXIT_UNAVAILABLE : EXIT_FAIL, "cannot create %s", path.buf);
	else if (fsync(sp->dirfd) < 0)
		rc = fail_errno(EXIT_FAIL, "cannot sync %s", sp->dir);
	if (rc && sp->fd >= 0) {
		close(sp->fd);
		unlink(path.buf);
		sp->fd = -1;
	}
	if (!rc) {
		sp->active.id = sp->next_id++;
		sp->active.size = 0;
		sp->active_since = mono_ms();
		/* the flusher waits for a segment to exist before it times its age */
		pthread_cond_broadcast(&sp->cond);
	}
	strbuf_release(&path);
	return rc;
}

/*
 * Under the lock: a record that could not be written whole is cut off,
 * and the segment is sealed (or dropped when empty), so that the next
 * record does not follow a torn one.
 */
static int append_failed(struct log_spool *sp)
{
	int rc = fail_errno(errno == ENOSPC || errno == EDQUOT ? EXIT_UNAVAILABLE : EXIT_FAIL,
			    "cannot write to the log spool %s", sp->dir);

	if (ftruncate(sp->fd, sp->active.size) < 0 || sp->active.size) {
		seal(sp);
	} else {
		struct strbuf path = STRBUF_INIT;

		segment_path(sp, sp->active.id, &path);
		close(sp->fd);
		sp->fd = -1;
		unlink(path.buf);
		strbuf_release(&path);
	}
	return rc;
}

int log_spool_append(struct log_spool *sp, const void *rec, size_t len)
{
	int rc = 0;

	pthread_mutex_lock(&sp->lock);
	if (sp->bytes && sp->bytes + len > sp->limits.max_bytes)
		rc = fail(EXIT_UNAVAILABLE, "the log spool is full (%" PRIu64 " bytes)", sp->bytes);
	else if (sp->fd < 0)
		rc = start_segment(sp);
	if (!rc && (write_in_full(sp->fd, rec, len) < 0 || fdatasync(sp->fd) < 0))
		rc = append_failed(sp);
	if (!rc) {
		bool was_small = sp->active.size < sp->limits.idle_bytes;

		sp->active.size += len;
		sp->bytes += len;
		sp->last_append = mono_ms();
		if (sp->active.size >= sp->limits.segment_bytes)
			seal(sp);
		else if (was_small && sp->active.size >= sp->limits.idle_bytes)
			/* the flusher now waits for the end of the burst, not the interval */
			pthread_cond_broadcast(&sp->cond);
	}
	pthread_mutex_unlock(&sp->lock);
	return rc;
}

uint64_t log_spool_bytes(struct log_spool *sp)
{
	uint64_t n;

	pthread_mutex_lock(&sp->lock);
	n = sp->bytes;
	pthread_mutex_unlock(&sp->lock);
	return n;
}

static void wait_ms(struct log_spool *sp, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&sp->cond, &sp->lock, &ts);
}

int log_spool_next(struct log_spool *sp, struct strbuf *path)
{
	int ready = 0;

	pthread_mutex_lock(&sp->lock);
	while (!sp->stopping) {
		int64_t now, wait;

		if (sp->sealed_nr) {
			segment_path(sp, sp->sealed[0].id, path);
			ready = 1;
			break;
		}
		if (sp->fd < 0) {
			pthread_cond_wait(&sp->cond, &sp->lock);
			continue;
		}
		now = mono_ms();
		wait = sp->active_since + sp->limits.interval_ms - now;
		if (sp->active.size >= sp->limits.idle_bytes &&
		    sp->last_append + sp->limits.idle_ms - now < wait)
			wait = sp->last_append + sp->limits.idle_ms - now;
		if (wait <= 0)
			seal(sp);
		else
			wait_ms(sp, wait);
	}
	pthread_mutex_unlock(&sp->lock);
	return ready;
}

bool log_spool_sealed(struct log_spool *sp, size_t i, struct strbuf *path)
{
	bool found;

	pthread_mutex_lock(&sp->lock);
	found = i < sp->sealed_nr;
	if (found)
		segment_path(sp, sp->sealed[i].id, path);
	pthread_mutex_unlock(&sp->lock);
	return found;
}

void log_spool_remove(struct log_spool *sp, const char *path)
{
	struct strbuf want = STRBUF_INIT;

	pthread_mutex_lock(&sp->lock);
	if (!sp->sealed_nr)
		BUG("removing %s from an empty spool", path);
	segment_path(sp, sp->sealed[0].id, &want);
	if (strcmp(want.buf, path))
		BUG("removing %s before %s", path, want.buf);
	if (unlink(path) < 0)
		warning("cannot remove %s: %s", path, strerror(errno));
	sp->bytes -= sp->sealed[0].size;
	memmove(sp->sealed, sp->sealed + 1, --sp->sealed_nr * sizeof(*sp->sealed));
	pthread_cond_broadcast(&sp->cond);
	pthread_mutex_unlock(&sp->lock);
	strbuf_release(&want);
}

bool log_spool_sleep(struct log_spool *sp, int64_t ms)
{
	int64_t end = mono_ms() + ms, left;
	bool running;

	pthread_mutex_lock(&sp->lock);
	while (!sp->stopping && (left = end - mono_ms()) > 0)
		wait_ms(sp, left);
	running = !sp->stopping;
	pthread_mutex_unlock(&sp->lock);
	return running;
}

void log_spool_stop(struct log_spool *sp)
{
	pthread_mutex_lock(&sp->lock);
	sp->stopping = true;
	pthread_cond_broadcast(&sp->cond);
	pthread_mutex_unlock(&sp->lock);
}
