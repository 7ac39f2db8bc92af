-- The bookkeeping of migrations, and the kv's tables (kv-store.c).
-- Times are milliseconds since the epoch from SQLite's clock.
CREATE TABLE schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at TEXT NOT NULL
) STRICT;

-- Claims (nonces): set-if-absent with a TTL.
CREATE TABLE kv_claims (
	key TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX kv_claims_expires_at ON kv_claims (expires_at);

-- Counters whose TTL starts when they are created. STRICT turns an
-- integer overflow (SQLite would make it a REAL) into an error.
CREATE TABLE kv_counters (
	key TEXT PRIMARY KEY,
	value INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX kv_counters_expires_at ON kv_counters (expires_at);
