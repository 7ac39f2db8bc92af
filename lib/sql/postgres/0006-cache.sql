-- The build cache's index (lib/cache.c): one row per stored object with
-- its size and when it was last read, for the per-org limit and the
-- least-recently-used eviction, and each org's totals, kept with them in
-- the same transactions. Times are milliseconds since the epoch from the
-- serving host's clock: they only order evictions.
CREATE TABLE cache_entries (
	org text NOT NULL,
	key text NOT NULL,
	size bigint NOT NULL,
	created_at bigint NOT NULL,
	accessed_at bigint NOT NULL,
	PRIMARY KEY (org, key)
);
CREATE INDEX cache_entries_lru ON cache_entries (org, accessed_at, key);

-- Writers lock their org's row first: one org's totals change in order.
CREATE TABLE cache_orgs (
	org text PRIMARY KEY,
	entries bigint NOT NULL,
	bytes bigint NOT NULL
);
