-- Job logs for the store sink (logs-sink.c): one row per line. The org,
-- repo, job and runner come from the runner's token. (org_id, repo_id,
-- job_id, seq) names a line, so that a retried request adds nothing.
-- ts is in seconds since the epoch; stream is 1 (stdout) or 2 (stderr).
-- Byte order (COLLATE "C"), as in SQLite and ClickHouse, keeps the
-- (ts, repo, job, seq) order of pages independent of the locale.
CREATE TABLE logs (
	org_id text COLLATE "C" NOT NULL,
	repo_id text COLLATE "C" NOT NULL,
	job_id text COLLATE "C" NOT NULL,
	seq bigint NOT NULL,
	runner_id text NOT NULL,
	ts bigint NOT NULL,
	stream smallint NOT NULL,
	line text NOT NULL,
	PRIMARY KEY (org_id, repo_id, job_id, seq)
);
-- Pages of a job's lines, pages of an org's lines, and prune by age.
CREATE INDEX logs_job_order ON logs (org_id, repo_id, job_id, ts, seq);
CREATE INDEX logs_org_order ON logs (org_id, ts, repo_id, job_id, seq);
CREATE INDEX logs_ts ON logs (ts);
