#include "common.h"
#include "config.h"
#include "logs-clickhouse.h"
#include "logs-sink.h"
#include "store.h"

/* Lines deleted per statement: short transactions beside the writers. */
#define PRUNE_CHUNK 10000

struct log_sink {
	struct store *st;		/* one of the two */
	struct clickhouse *ch;
};

int log_sink_open(struct log_sink **out)
{
	struct log_sink *s = xcalloc(1, sizeof(*s));
	int rc;

	if (!strcmp(cfg_str("logs.sink"), "clickhouse"))
		rc = clickhouse_open(&s->ch);
	else
		rc = store_open(&s->st, STORE_MIGRATE);
	if (rc) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void log_sink_close(struct log_sink *s)
{
	if (!s)
		return;
	store_close(s->st);
	clickhouse_close(s->ch);
	free(s);
}

const char *log_sink_name(const struct log_sink *s)
{
	return s->ch ? "clickhouse" : "store";
}

int log_sink_migrate(struct log_sink *s)
{
	if (s->ch)
		return logs_ch_migrate(s->ch, cfg_int("logs.retention_days"));
	return store_migrate(s->st, NULL);
}

int log_sink_write(struct log_sink *s, struct log_batch *const *batches, size_t nr, int64_t *added)
{
	int rc;

	if (s->ch)
		return logs_ch_write(s->ch, batches, nr, added);
	rc = store_logs_insert(s->st, batches, nr);
	if (rc < 0)
		return rc;
	*added = rc;
	return 0;
}

int log_sink_query(struct log_sink *s, const struct log_query *q, json_t *rows)
{
	if (s->ch)
		return logs_ch_query(s->ch, q, rows);
	return store_logs_query(s->st, q, rows);
}

int log_sink_prune(struct log_sink *s, int64_t before, int64_t *deleted)
{
	int rc;

	if (s->ch)
		return logs_ch_prune(s->ch, before, deleted);
	*deleted = 0;
	do {
		rc = store_logs_prune(s->st, before, PRUNE_CHUNK);
		if (rc > 0)
			*deleted += rc;
	} while (rc == PRUNE_CHUNK);
	return rc < 0 ? rc : 0;
}
