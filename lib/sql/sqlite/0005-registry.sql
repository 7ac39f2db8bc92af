-- The OCI registry (lib/registry.c). Blob contents live on disk under
-- registry.dir by digest; these tables say which orgs may read them.
-- Times are milliseconds since the epoch from SQLite's clock.

-- An org's storage: used is the sum of the sizes of its links, changed
-- in the transaction that links or unlinks; quota NULL is registry.quota.
CREATE TABLE registry_orgs (
	org TEXT PRIMARY KEY,
	quota INTEGER,
	used INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

-- Each blob once, whoever uploaded it.
CREATE TABLE registry_blobs (
	digest TEXT PRIMARY KEY,
	size INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The org boundary: an org reads a blob only through its own link.
CREATE TABLE registry_links (
	org TEXT NOT NULL REFERENCES registry_orgs (org),
	digest TEXT NOT NULL REFERENCES registry_blobs (digest),
	size INTEGER NOT NULL,
	linked_at INTEGER NOT NULL,
	accessed_at INTEGER NOT NULL,
	PRIMARY KEY (org, digest)
) STRICT, WITHOUT ROWID;
CREATE INDEX registry_links_digest ON registry_links (digest);

CREATE TABLE registry_repos (
	name TEXT PRIMARY KEY,
	org TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Manifests, byte for byte as pushed (JSON, so valid UTF-8 text).
CREATE TABLE registry_manifests (
	repo TEXT NOT NULL REFERENCES registry_repos (name),
	digest TEXT NOT NULL,
	media_type TEXT NOT NULL,
	content TEXT NOT NULL,
	size INTEGER NOT NULL,
	subject TEXT,
	artifact_type TEXT,
	annotations TEXT,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (repo, digest)
) STRICT, WITHOUT ROWID;
CREATE INDEX registry_manifests_subject ON registry_manifests (repo, subject)
	WHERE subject IS NOT NULL;

-- What each manifest references (config, layers, index children,
-- subject): gc keeps an org's links that any of its manifests references.
CREATE TABLE registry_refs (
	repo TEXT NOT NULL,
	manifest TEXT NOT NULL,
	digest TEXT NOT NULL,
	org TEXT NOT NULL,
	PRIMARY KEY (repo, manifest, digest),
	FOREIGN KEY (repo, manifest) REFERENCES registry_manifests (repo, digest) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX registry_refs_org_digest ON registry_refs (org, digest);

CREATE TABLE registry_tags (
	repo TEXT NOT NULL,
	tag TEXT NOT NULL,
	digest TEXT NOT NULL,
	PRIMARY KEY (repo, tag),
	FOREIGN KEY (repo, digest) REFERENCES registry_manifests (repo, digest) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX registry_tags_digest ON registry_tags (repo, digest);

-- Upload sessions; the data is registry.dir/uploads/ID.
CREATE TABLE registry_uploads (
	id TEXT PRIMARY KEY,
	repo TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	touched_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Robot accounts of the token flow (ORG+NAME): only a hash of the secret.
CREATE TABLE registry_robots (
	org TEXT NOT NULL,
	name TEXT NOT NULL,
	secret_hash TEXT NOT NULL,
	actions TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (org, name)
) STRICT, WITHOUT ROWID;
