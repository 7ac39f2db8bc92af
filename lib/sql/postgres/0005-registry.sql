-- The OCI registry (lib/registry.c). Blob contents live on disk under
-- registry.dir by digest; these tables say which orgs may read them.
-- Times are milliseconds since the epoch from the server's clock.

-- An org's storage: used is the sum of the sizes of its links, changed
-- in the transaction that links or unlinks; quota NULL is registry.quota.
-- Writers of an org's links and manifests lock its row first.
CREATE TABLE registry_orgs (
	org text PRIMARY KEY,
	quota bigint,
	used bigint NOT NULL DEFAULT 0
);

-- Each blob once, whoever uploaded it.
CREATE TABLE registry_blobs (
	digest text PRIMARY KEY,
	size bigint NOT NULL,
	created_at bigint NOT NULL
);

-- The org boundary: an org reads a blob only through its own link.
CREATE TABLE registry_links (
	org text NOT NULL REFERENCES registry_orgs (org),
	digest text NOT NULL REFERENCES registry_blobs (digest),
	size bigint NOT NULL,
	linked_at bigint NOT NULL,
	accessed_at bigint NOT NULL,
	PRIMARY KEY (org, digest)
);
CREATE INDEX registry_links_digest ON registry_links (digest);

CREATE TABLE registry_repos (
	name text PRIMARY KEY,
	org text NOT NULL,
	created_at bigint NOT NULL
);

-- Manifests, byte for byte as pushed (JSON, so valid UTF-8 text).
CREATE TABLE registry_manifests (
	repo text NOT NULL REFERENCES registry_repos (name),
	digest text NOT NULL,
	media_type text NOT NULL,
	content text NOT NULL,
	size bigint NOT NULL,
	subject text,
	artifact_type text,
	annotations text,
	created_at bigint NOT NULL,
	PRIMARY KEY (repo, digest)
);
CREATE INDEX registry_manifests_subject ON registry_manifests (repo, subject)
	WHERE subject IS NOT NULL;

-- What each manifest references (config, layers, index children,
-- subject): gc keeps an org's links that any of its manifests references.
CREATE TABLE registry_refs (
	repo text NOT NULL,
	manifest text NOT NULL,
	digest text NOT NULL,
	org text NOT NULL,
	PRIMARY KEY (repo, manifest, digest),
	FOREIGN KEY (repo, manifest) REFERENCES registry_manifests (repo, digest) ON DELETE CASCADE
);
CREATE INDEX registry_refs_org_digest ON registry_refs (org, digest);

-- Tags sort in the C collation, the same as SQLite's.
CREATE TABLE registry_tags (
	repo text NOT NULL,
	tag text COLLATE "C" NOT NULL,
	digest text NOT NULL,
	PRIMARY KEY (repo, tag),
	FOREIGN KEY (repo, digest) REFERENCES registry_manifests (repo, digest) ON DELETE CASCADE
);
CREATE INDEX registry_tags_digest ON registry_tags (repo, digest);

-- Upload sessions; the data is registry.dir/uploads/ID.
CREATE TABLE registry_uploads (
	id text PRIMARY KEY,
	repo text NOT NULL,
	created_at bigint NOT NULL,
	touched_at bigint NOT NULL
);

-- Robot accounts of the token flow (ORG+NAME): only a hash of the secret.
CREATE TABLE registry_robots (
	org text NOT NULL,
	name text NOT NULL,
	secret_hash text NOT NULL,
	actions text NOT NULL,
	created_at bigint NOT NULL,
	PRIMARY KEY (org, name)
);
