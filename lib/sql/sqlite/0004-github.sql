-- Circuit breakers of the kv (kv_breaker_*), one row per breaker:
-- consecutive failures, when it opened (0: closed) and until when a
-- probe is in flight, in milliseconds since the epoch.
CREATE TABLE kv_breakers (
	key TEXT PRIMARY KEY,
	failures INTEGER NOT NULL,
	open_until INTEGER NOT NULL,
	probe_until INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- GitHub App installation tokens, shared by every process until shortly
-- before they expire (milliseconds since the epoch, GitHub's word).
CREATE TABLE github_tokens (
	installation_id INTEGER PRIMARY KEY,
	token TEXT NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
