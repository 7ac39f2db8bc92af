-- Job logs for the store sink (logs-sink.c): one row per line. The org,
-- repo, job and runner come from the runner's token. (org_id, repo_id,
-- job_id, seq) names a line, so that a retried request adds nothing.
-- ts is in seconds since the epoch; stream is 1 (stdout) or 2 (stderr).
CREATE TABLE logs (
	org_id TEXT NOT NULL,
	repo_id TEXT NOT NULL,
	job_id TEXT NOT NULL,
	seq INTEGER NOT NULL,
	runner_id TEXT NOT NULL,
	ts INTEGER NOT NULL,
	stream INTEGER NOT NULL,
	line TEXT NOT NULL,
	PRIMARY KEY (org_id, repo_id, job_id, seq)
) STRICT;
-- Pages of a job's lines, pages of an org's lines, and prune by age.
CREATE INDEX logs_job_order ON logs (org_id, repo_id, job_id, ts, seq);
CREATE INDEX logs_org_order ON logs (org_id, ts, repo_id, job_id, seq);
CREATE INDEX logs_ts ON logs (ts);
