-- Jobs, their leases and the fences (lease.c, job.c).

-- One global, strictly increasing sequence of fences. A fence is taken
-- while the lease row is locked, so per job the fences increase in the
-- order of acquisition.
CREATE SEQUENCE lease_fences AS bigint;

-- A job is open while status is NULL; claimed or queued is derived from
-- its lease. labels is a JSON array of strings, meta a JSON object of
-- strings, payload the JSON text given when it was added.
CREATE TABLE jobs (
	id text PRIMARY KEY,
	seq bigint GENERATED ALWAYS AS IDENTITY,
	org text,
	repo text,
	labels jsonb NOT NULL DEFAULT '[]',
	payload text,
	meta jsonb NOT NULL DEFAULT '{}',
	status text CHECK (status IN ('succeeded', 'failed', 'cancelled')),
	reason text,
	created_at timestamptz NOT NULL DEFAULT statement_timestamp(),
	finished_at timestamptz
);
-- Claims take the oldest open job.
CREATE INDEX jobs_open ON jobs (seq) WHERE status IS NULL;

-- The lease of a job, by any name: a job need not be queued to be
-- leased. A released or expired lease stays until the next acquisition,
-- so that releasing twice is not "unknown job". The sequence makes
-- fences unique; an index on them would cost every acquisition an index
-- entry (and its update the HOT path) and answer no query.
CREATE TABLE leases (
	job text PRIMARY KEY,
	holder text NOT NULL,
	fence bigint NOT NULL,
	acquired_at timestamptz NOT NULL,
	renewed_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	released_at timestamptz
);
