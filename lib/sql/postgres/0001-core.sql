-- The bookkeeping of migrations, and the kv's tables (kv-store.c).
CREATE TABLE schema_migrations (
	version integer PRIMARY KEY,
	name text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
);

-- Claims (nonces): set-if-absent with a TTL.
CREATE TABLE kv_claims (
	key text PRIMARY KEY,
	expires_at timestamptz NOT NULL
);
CREATE INDEX kv_claims_expires_at ON kv_claims (expires_at);

-- Counters whose TTL starts when they are created.
CREATE TABLE kv_counters (
	key text PRIMARY KEY,
	value bigint NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX kv_counters_expires_at ON kv_counters (expires_at);
