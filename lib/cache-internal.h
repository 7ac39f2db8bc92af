#ifndef CACHE_INTERNAL_H
#define CACHE_INTERNAL_H

#include "cache.h"

/*
 * The S3 backend of the cache (cache-s3.c): objects at
 * <cache.s3_endpoint>/<cache.s3_bucket>/ORG/KEY (path style), requests
 * signed with AWS Signature Version 4 by libcurl. Each thread uses its
 * own connection.
 */
struct cache_s3;

int cache_s3_open(struct cache_s3 **out);
void cache_s3_free(struct cache_s3 *s);
/* The object into fd (its size and ETag only when fd is -1: a HEAD). */
int cache_s3_get(struct cache_s3 *s, const char *org, const char *key, int fd,
		 struct cache_object *obj);
/* size bytes of fd from offset 0; sha256 (hex) lets S3 check them too. */
int cache_s3_put(struct cache_s3 *s, const char *org, const char *key, int fd, uint64_t size,
		 const char *sha256);
/* Missing objects are not an error. */
int cache_s3_delete(struct cache_s3 *s, const char *org, const char *key);

/* An S3 credentials file (cache.s3_credentials_file): mode-checked, the secret registered. */
int cache_s3_credentials(const char *path, struct strbuf *id, struct strbuf *secret);

#endif
