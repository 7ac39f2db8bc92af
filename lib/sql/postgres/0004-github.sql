-- Circuit breakers of the kv (kv_breaker_*), one row per breaker:
-- consecutive failures, when it opened (0: closed) and until when a
-- probe is in flight, in milliseconds since the epoch.
CREATE TABLE kv_breakers (
	key text PRIMARY KEY,
	failures bigint NOT NULL,
	open_until bigint NOT NULL,
	probe_until bigint NOT NULL
);

-- GitHub App installation tokens, shared by every process until shortly
-- before they expire.
CREATE TABLE github_tokens (
	installation_id bigint PRIMARY KEY,
	token text NOT NULL,
	expires_at timestamptz NOT NULL
);
