-- The build cache's index (lib/cache.c): one row per stored object with
-- its size and when it was last read, for the per-org limit and the
-- least-recently-used eviction, and each org's totals, kept with them in
-- the same transactions. Times are milliseconds since the epoch from the
-- serving host's clock: they only order evictions.
CREATE TABLE cache_entries (
	org TEXT NOT NULL,
	key TEXT NOT NULL,
	size INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	accessed_at INTEGER NOT NULL,
	PRIMARY KEY (org, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX cache_entries_lru ON cache_entries (org, accessed_at, key);

CREATE TABLE cache_orgs (
	org TEXT PRIMARY KEY,
	entries INTEGER NOT NULL,
	bytes INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
