#ifndef HTTP_RANGE_H
#define HTTP_RANGE_H

/*
 * The Range request header (RFC 9110 §14), for services that serve one
 * range of a stored object: bytes=FIRST-LAST, bytes=FIRST- (open) and
 * bytes=-SUFFIX. Several ranges are answered with the whole object, which
 * the RFC allows, as is a header that is not a bytes range.
 */

enum http_range {
	HTTP_RANGE_NONE,		/* answer 200 with everything */
	HTTP_RANGE_PARTIAL,		/* answer 206 with [*first, *first + *len) */
	HTTP_RANGE_UNSATISFIABLE,	/* answer 416; Content-Range names the size */
};

/* header may be NULL (no Range); size is the object's. */
enum http_range http_range_parse(const char *header, uint64_t size, uint64_t *first, uint64_t *len);

/* The Content-Range of a 206, or of a 416 when len is 0 (bytes, star, slash, size). */
void http_content_range(struct strbuf *sb, uint64_t first, uint64_t len, uint64_t size);

#endif
