#ifndef REGISTRY_H
#define REGISTRY_H

#include "http-server.h"
#include "store.h"

/*
 * The OCI registry (distribution spec v1.1) of `nimbus serve` and
 * `nimbus registry serve`: /v2/... and the Docker token endpoint /token.
 *
 * A repository is ORG/NAME; a request on it needs a bearer token with
 * aud "registry" and the scope of its action on ORG (pull, push,
 * delete). Blobs belong to orgs through links in the store: an org
 * reads a blob only through its own link, so another org's digest is
 * as unknown to it as one that was never pushed. Each blob is one file
 * (blobdir.h), linked to an org only once that org has uploaded its
 * bytes or mounted it from an org it may pull from.
 */

/* Open registry.dir and add the routes; 0 or a fail() code. */
int registry_service_init(struct http_server *srv);

/* registry.quota, the quota of an org without its own. */
int64_t registry_default_quota(void);

/* What `nimbus registry gc` does, and what it did. */
struct registry_gc {
	const char *org;		/* NULL: every org */
	int64_t grace;			/* seconds */
	bool dry_run;
	int64_t links, link_bytes;	/* unlinked from orgs (freed from quotas) */
	int64_t blobs, blob_bytes;	/* files no org links, removed */
	int64_t uploads;		/* abandoned upload sessions and files ended */
};

/*
 * Unlink from each org the blobs that none of its manifests references
 * (configs, layers, index children, subjects) and that were linked and
 * last read more than grace seconds ago; remove the files that no org
 * links any more; end the upload sessions untouched for grace seconds.
 * It runs beside a serving registry: each step takes the same locks
 * as the requests it could race with.
 */
int registry_gc(struct store *st, struct registry_gc *gc);

#endif
