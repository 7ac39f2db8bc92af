-- Jobs, their leases and the fences (lease.c, job.c).
-- Times are milliseconds since the epoch from SQLite's clock.

-- The last fence handed out. Statements take the next one as
-- (SELECT value + 1 FROM lease_fence) and the triggers below store it,
-- within the same statement and under SQLite's one write lock; they
-- refuse a fence that does not increase.
CREATE TABLE lease_fence (
	value INTEGER NOT NULL
) STRICT;
INSERT INTO lease_fence (value) VALUES (0);

-- A job is open while status is NULL; claimed or queued is derived from
-- its lease. labels is a JSON array of strings, meta a JSON object of
-- strings, payload the JSON text given when it was added.
CREATE TABLE jobs (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	id TEXT NOT NULL UNIQUE,
	org TEXT,
	repo TEXT,
	labels TEXT NOT NULL DEFAULT '[]',
	payload TEXT,
	meta TEXT NOT NULL DEFAULT '{}',
	status TEXT CHECK (status IN ('succeeded', 'failed', 'cancelled')),
	reason TEXT,
	created_at INTEGER NOT NULL,
	finished_at INTEGER
) STRICT;
-- Claims take the oldest open job.
CREATE INDEX jobs_open ON jobs (seq) WHERE status IS NULL;

-- The lease of a job, by any name: a job need not be queued to be
-- leased. A released or expired lease stays until the next acquisition,
-- so that releasing twice is not "unknown job". The triggers make
-- fences unique (each one larger than all before it).
CREATE TABLE leases (
	job TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	fence INTEGER NOT NULL,
	acquired_at INTEGER NOT NULL,
	renewed_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	released_at INTEGER
) STRICT, WITHOUT ROWID;

CREATE TRIGGER leases_fence_insert AFTER INSERT ON leases
BEGIN
	SELECT RAISE(ABORT, 'fence does not increase')
	WHERE NEW.fence <= (SELECT value FROM lease_fence);
	UPDATE lease_fence SET value = NEW.fence;
END;

CREATE TRIGGER leases_fence_update AFTER UPDATE OF fence ON leases
BEGIN
	SELECT RAISE(ABORT, 'fence does not increase')
	WHERE NEW.fence <= (SELECT value FROM lease_fence);
	UPDATE lease_fence SET value = NEW.fence;
END;
