#ifndef CACHE_H
#define CACHE_H

#include "store.h"

/*
 * The build cache (issue 11): objects stored per org under the storage
 * key ORG/KEY, on a local directory (cache.dir) or in an S3 bucket, with
 * an index in the store (sizes and last reads) for the per-org limit
 * cache.max_bytes_per_org and its least-recently-used eviction.
 *
 * Only a complete, verified object ever becomes visible, at once: an
 * upload goes to a temporary file, its length and SHA-256 are checked,
 * then it is renamed into place (local) or sent whole to S3. Two uploads
 * of one key leave one of them.
 *
 * Reads do not write to the store: the time of each read is kept in
 * memory and written in batches every CACHE_FLUSH_MS, before an eviction
 * and when the cache is closed. A crash loses the recency of the reads
 * since the last batch, never an object.
 *
 * Functions return 0 or -code after fail(): EXIT_USAGE for a bad key or
 * upload, EXIT_REJECTED for content that fails its check, EXIT_NOTFOUND,
 * EXIT_UNAVAILABLE when S3 or the store is down.
 */

#define CACHE_KEY_MAX 1024
#define CACHE_FLUSH_MS 5000
/* Orphans (an object without an entry, a temporary file) younger than this are in flight. */
#define CACHE_GC_GRACE 3600
#define CACHE_ETAG_MAX 80

/*
 * KEY as it came in the path after /cache/ORG/: one or more segments of
 * [A-Za-z0-9._-], not "." or "..", percent-decoded once, where an escape
 * may not produce a "/" nor anything outside that set; at most
 * CACHE_KEY_MAX bytes decoded. 0 with the key in out, or -EXIT_USAGE.
 */
int cache_key_parse(const char *raw, struct strbuf *out);
/* Bazel's CAS keys (.../cas/<64 hex>) name their content: the hash, or NULL. */
const char *cache_key_cas(const char *key);

struct cache;

enum {
	/* For a server: write the reads' times in batches from a thread. */
	CACHE_SERVING = 1,
};

/* The cache of the configuration (cache.*). */
int cache_open(struct cache **out, unsigned flags);
/* Write the pending reads, then free everything. */
void cache_close(struct cache *c);
uint64_t cache_limit(const struct cache *c);

struct cache_object {
	int fd;			/* the content; -1 when only its size was asked for */
	uint64_t size;
	char etag[CACHE_ETAG_MAX];	/* quoted */
};

/*
 * Open org/key: with content, fd reads it from offset 0 (the caller
 * closes it); without, fd may be -1. -EXIT_NOTFOUND when absent.
 */
int cache_get(struct cache *c, const char *org, const char *key, bool content,
	      struct cache_object *obj);
/* org/key was read now (kept in memory until the next batch). */
void cache_accessed(struct cache *c, const char *org, const char *key);

struct cache_upload;
/*
 * Start an upload of len bytes to org/key; sha256 is the hex digest the
 * client announced, or NULL. -EXIT_USAGE when len is over the org's limit.
 */
int cache_upload_begin(struct cache *c, const char *org, const char *key, uint64_t len,
		       const char *sha256, struct cache_upload **out);
int cache_upload_write(struct cache_upload *u, const void *data, size_t len);
/*
 * Check and publish: -EXIT_USAGE for a length other than announced,
 * -EXIT_REJECTED for a digest that does not match (the announced one or
 * a CAS key's). Then the org is brought under its limit.
 */
int cache_upload_commit(struct cache_upload *u);
/* Forget an upload, committed or not; NULL is fine. */
void cache_upload_free(struct cache_upload *u);

/* -EXIT_NOTFOUND when it was not there. */
int cache_delete(struct cache *c, const char *org, const char *key);

struct cache_gc_result {
	int64_t evicted, evicted_bytes;		/* least recently used, over the limit */
	int64_t orphans, orphan_bytes;		/* objects without an entry, temporary files */
	int64_t missing;			/* entries without an object */
	int64_t entries, bytes;			/* what is left */
};
/*
 * Bring org under its limit and clear what crashes left behind: objects
 * without an entry and temporary files older than CACHE_GC_GRACE
 * (local directory only: S3 buckets have lifecycle rules), entries whose
 * object is gone.
 */
int cache_gc(struct cache *c, const char *org, struct cache_gc_result *res);
/* The orgs to collect: those of the index and, locally, those on disk. */
int cache_orgs(struct cache *c, struct strvec *out);
/* Every org's totals, from the index (store.h). */
int cache_stats(struct cache *c, struct store_cache_org **out, size_t *nr);

struct http_server;
/* The /cache/ routes on srv, for nimbus serve and nimbus cache serve; fini after the server stops. */
int cache_service_init(struct http_server *srv);
void cache_service_fini(void);

#endif
