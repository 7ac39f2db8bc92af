#ifndef LOGS_SINK_H
#define LOGS_SINK_H

#include "logs.h"

/*
 * Where the job logs are kept: the store (the embedded default) or
 * ClickHouse, as logs.sink says. Either way a line (org, repo, job, seq)
 * is stored once however often it is written, and a query sees the
 * lines of its org only. Functions return 0 or -code after fail(); a
 * sink that cannot be reached is -EXIT_UNAVAILABLE. A handle serves one
 * thread at a time.
 */

struct log_sink;

int log_sink_open(struct log_sink **out);
void log_sink_close(struct log_sink *s);
/* "store" or "clickhouse". */
const char *log_sink_name(const struct log_sink *s);

/* Bring the schema up to date (the store's migrations, or ClickHouse's table). */
int log_sink_migrate(struct log_sink *s);
/* Store the lines of the batches; *added: how many were new. */
int log_sink_write(struct log_sink *s, struct log_batch *const *batches, size_t nr, int64_t *added);
/* Append the lines q asks for to rows, in (ts, repo, job, seq) order. */
int log_sink_query(struct log_sink *s, const struct log_query *q, json_t *rows);
/* Delete the lines older than before (ClickHouse: whole months); *deleted: how many. */
int log_sink_prune(struct log_sink *s, int64_t before, int64_t *deleted);

#endif
