#ifndef LOGS_CLICKHOUSE_H
#define LOGS_CLICKHOUSE_H

#include "clickhouse.h"
#include "logs.h"

/*
 * The ClickHouse sink of the job logs: the table DB.logs, a MergeTree
 * partitioned by month and ordered by (org_id, repo_id, job_id, ts, seq).
 *
 * MergeTree keeps every row it is given, so write() asks which of its
 * (org, repo, job, seq) the table holds already and inserts only the
 * others (a batch replayed from the spool, a retried request), in one
 * INSERT ... FORMAT JSONEachRow. The flusher is the table's only writer
 * on a host; two hosts that store the same line at the same instant may
 * both insert it.
 *
 * Every value from outside reaches SQL through clickhouse_quote(), and
 * the org condition of a query is always nimbus's own.
 */

/* ClickHouse 19.6 and later have TTL; on older ones prune drops old months. */
#define LOGS_CH_TTL_VERSION 19006

/* The statements of the schema: the database, the table, and the TTL when ttl. */
void logs_ch_schema(struct strvec *stmts, const char *db, int64_t retention_days, bool ttl);
int logs_ch_migrate(struct clickhouse *ch, int64_t retention_days);

int logs_ch_write(struct clickhouse *ch, struct log_batch *const *batches, size_t nr, int64_t *added);
int logs_ch_query(struct clickhouse *ch, const struct log_query *q, json_t *rows);
/* Drop the months that ended before before, of DB.logs and of the per-org copies. */
int logs_ch_prune(struct clickhouse *ch, int64_t before, int64_t *deleted);

/*
 * Direct SQL access for people, one user per org, named DB_org_ORG
 * ('-' as '_'). The password hash is the hex SHA-256 of its password.
 *
 * Row policies (ClickHouse 20.4 and later): the user reads DB.logs, and
 * the server shows it its org's rows only.
 *
 * Per-org databases (any version; 18.16 ignores row filters in
 * users.xml): the database DB_org_ORG holds a copy of the org's rows,
 * kept by a materialized view, and the user may use that database only
 * (allow_databases in users.xml; users_xml() writes the file).
 */
void logs_ch_org_name(struct strbuf *sb, const char *db, const char *org);
void logs_ch_row_policy(struct strvec *stmts, const char *db, const char *org, const char *hash);
void logs_ch_per_org(struct strvec *stmts, const char *db, const char *org);
void logs_ch_users_xml(struct strbuf *out, const char *db, const char *const *orgs,
		       const char *const *hashes, size_t nr);

#endif
