#ifndef LOGS_SPOOL_H
#define LOGS_SPOOL_H

/*
 * The durable queue between POST /logs and the sink: a directory of
 * segment files, 0000000000000001.seg and up, each a run of log records
 * (logs.h). A request's record is appended to the active segment and
 * fdatasync'ed before the request is answered 2xx; the flusher takes
 * sealed segments, oldest first, stores their lines and removes them.
 * What a crash leaves behind is replayed at the next start: the sinks
 * store a line once however often it comes, so a segment stored just
 * before the crash costs nothing but time.
 *
 * The active segment is sealed when it reaches segment_bytes (the
 * flusher is woken at once), when its first record is interval_ms old,
 * or when it holds idle_bytes and no record came for idle_ms: a burst
 * is stored once it ends, a trickle in batches of time.
 * The whole spool is held under max_bytes: an append that does not fit
 * is refused with -EXIT_UNAVAILABLE (503 and Retry-After), unless the
 * spool is empty. One process owns a spool directory (flock): another
 * one is refused with -EXIT_BUSY. Thread-safe.
 */

struct log_spool;

struct log_spool_limits {
	uint64_t max_bytes, segment_bytes, idle_bytes;
	int64_t interval_ms, idle_ms;
};

int log_spool_open(struct log_spool **out, const char *dir, const struct log_spool_limits *limits);
void log_spool_close(struct log_spool *sp);

/* Append one record durably: 0, -EXIT_UNAVAILABLE when it does not fit, or an I/O failure. */
int log_spool_append(struct log_spool *sp, const void *rec, size_t len);
/* Bytes in the spool, sealed and active. */
uint64_t log_spool_bytes(struct log_spool *sp);

/*
 * The flusher's side. next() waits for a sealed segment and puts its
 * path in *path: 1, or 0 once log_spool_stop() was called. sealed()
 * gives the path of the i-th oldest sealed segment, if there is one,
 * without waiting: a flusher that fell behind stores several at once.
 * remove() drops the oldest segment, whose lines are stored. sleep()
 * waits ms or until the stop, and says whether the spool still runs.
 */
int log_spool_next(struct log_spool *sp, struct strbuf *path);
bool log_spool_sealed(struct log_spool *sp, size_t i, struct strbuf *path);
void log_spool_remove(struct log_spool *sp, const char *path);
bool log_spool_sleep(struct log_spool *sp, int64_t ms);
void log_spool_stop(struct log_spool *sp);

#endif
