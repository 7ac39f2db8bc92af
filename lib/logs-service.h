#ifndef LOGS_SERVICE_H
#define LOGS_SERVICE_H

#include "http-server.h"

/*
 * The log service of `nimbus serve` and `nimbus logs serve`:
 *
 *	POST /logs	a runner token (aud logs, scope push:ORG, claims repo,
 *			job, runner); the body is text lines, or NDJSON with
 *			Content-Type application/x-ndjson. Query: seq (of the
 *			first line), stream, and org, repo, job, runner, which
 *			must be the token's. 200 {"lines":N,"next_seq":S} once
 *			the lines are in the spool (logs-spool.h); 503 with
 *			Retry-After when the spool is full.
 *	GET /logs	a token with pull:ORG; repo, job, since, until, grep,
 *			limit, after (a cursor), org (when the token has more
 *			than one). 200 {"lines":[...],"cursor":C,"more":B}.
 *
 * A flusher thread moves the spool into the sink (logs-sink.h), in
 * batches of logs.batch_bytes or every logs.flush_interval, retrying
 * with backoff while the sink is down.
 */

/* Open the spool, start the flusher, add the routes: 0 or a fail() code. */
int logs_service_init(struct http_server *srv);
/* After the server stopped: stop the flusher, close everything. */
void logs_service_fini(void);

#endif
