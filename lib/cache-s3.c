#include "common.h"
#include "cache-internal.h"
#include "config.h"
#include "http-client.h"
#include "redact.h"

#include <pthread.h>
#include <sys/stat.h>

/* A whole transfer, for objects of gigabytes on a slow link. */
#define S3_TIMEOUT 600
#define CREDENTIALS_MAX 4096

struct cache_s3 {
	char *base;		/* endpoint/bucket, no trailing slash */
	char *sigv4;		/* aws:amz:REGION:s3 */
	struct strbuf id, secret;
	pthread_key_t client_key;
};

static void free_client(void *c)
{
	http_client_free(c);
}

/*
 * The AWS shared credentials form, which operators already have:
 *	[default]
 *	aws_access_key_id = AKIA...
 *	aws_secret_access_key = ...
 * Only the owner may read it, as for any file holding a secret.
 */
int cache_s3_credentials(const char *path, struct strbuf *id, struct strbuf *secret)
{
	struct strbuf text = STRBUF_INIT;
	struct stat st;
	char *line, *save = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc = 0;

	if (fd < 0)
		return fail_errno(errno == ENOENT ? EXIT_NOTFOUND : errno == EACCES ? EXIT_PERM : EXIT_FAIL,
				  "cannot open cache.s3_credentials_file %s", path);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		rc = fail(EXIT_CONFIG, "cache.s3_credentials_file %s is not a file", path);
	else if (st.st_mode & (S_IRWXG | S_IRWXO))
		rc = fail(EXIT_PERM, "%s has mode %04o: group or others may read it; chmod 600 it",
			  path, (unsigned)(st.st_mode & 07777));
	else if (strbuf_read_fd(&text, fd, CREDENTIALS_MAX) < 0)
		rc = fail_errno(EXIT_FAIL, "cannot read %s", path);
	close(fd);
	for (line = rc ? NULL : strtok_r(text.buf, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		char *eq = strchr(line, '=');
		struct strbuf name = STRBUF_INIT;
		struct strbuf *to = NULL;

		if (!eq)
			continue;
		strbuf_add(&name, line, eq - line);
		strbuf_trim(&name);
		if (!strcmp(name.buf, "aws_access_key_id"))
			to = id;
		else if (!strcmp(name.buf, "aws_secret_access_key"))
			to = secret;
		strbuf_release(&name);
		if (!to)
			continue;
		strbuf_reset(to);
		strbuf_addstr(to, eq + 1);
		strbuf_trim(to);
	}
	strbuf_release_secret(&text);
	if (!rc && (!id->len || !secret->len))
		rc = fail(EXIT_CONFIG, "%s lacks aws_access_key_id or aws_secret_access_key", path);
	if (!rc)
		redact_register(secret->buf);
	return rc;
}

int cache_s3_open(struct cache_s3 **out)
{
	const char *endpoint = cfg_str("cache.s3_endpoint"), *bucket = cfg_str("cache.s3_bucket");
	const char *creds = cfg_str("cache.s3_credentials_file");
	struct cache_s3 *s;
	size_t n = strlen(endpoint);
	int rc;

	*out = NULL;
	if (!*endpoint || !*bucket || !*creds)
		return fail(EXIT_CONFIG, "the S3 backend needs cache.s3_endpoint, cache.s3_bucket "
			    "and cache.s3_credentials_file");
	s = xcalloc(1, sizeof(*s));
	strbuf_init(&s->id, 0);
	strbuf_init(&s->secret, 0);
	while (n && endpoint[n - 1] == '/')
		n--;
	s->base = xstrfmt("%.*s/%s", (int)n, endpoint, bucket);
	s->sigv4 = xstrfmt("aws:amz:%s:s3", cfg_str("cache.s3_region"));
	pthread_key_create(&s->client_key, free_client);
	rc = cache_s3_credentials(creds, &s->id, &s->secret);
	if (rc) {
		cache_s3_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void cache_s3_free(struct cache_s3 *s)
{
	if (!s)
		return;
	http_client_free(pthread_getspecific(s->client_key));
	pthread_setspecific(s->client_key, NULL);
	pthread_key_delete(s->client_key);
	free(s->base);
	free(s->sigv4);
	strbuf_release(&s->id);
	strbuf_release_secret(&s->secret);
	free(s);
}

/* The SHA-256 of nothing: the signed payload of a request without a body. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/*
 * One exchange with S3 on this thread's connection. S3 wants the
 * payload's SHA-256 in x-amz-content-sha256 on every signed request,
 * and checks the body against it; libcurl 7.x does not add it.
 */
static int s3_do(struct cache_s3 *s, struct http_client_request *rq, const char *org,
		 const char *key, const char *sha256, struct http_client_response *rs)
{
	struct http_client *c = pthread_getspecific(s->client_key);
	struct strbuf url = STRBUF_INIT, sum = STRBUF_INIT;
	const char *headers[] = { NULL, "Content-Type: application/octet-stream", NULL };
	int rc;

	if (!c) {
		c = http_client_new();
		pthread_setspecific(s->client_key, c);
	}
	/* keys are [A-Za-z0-9._-/]: nothing to escape */
	strbuf_addf(&url, "%s/%s/%s", s->base, org, key);
	strbuf_addf(&sum, "x-amz-content-sha256: %s", sha256 ? sha256 : EMPTY_SHA256);
	headers[0] = sum.buf;
	/* a Content-Type for uploads only */
	if (!sha256)
		headers[1] = NULL;
	rq->headers = headers;
	rq->url = url.buf;
	rq->timeout = S3_TIMEOUT;
	rq->aws_sigv4 = s->sigv4;
	rq->user = s->id.buf;
	rq->password = s->secret.buf;
	rc = http_client_do(c, rq, rs);
	strbuf_release(&url);
	strbuf_release(&sum);
	return rc;
}

static int s3_refused(const char *method, const char *org, const char *key, long status)
{
	/* the client is not told about our credentials: a 503, not a 403 */
	return fail(EXIT_UNAVAILABLE, "S3 answered %ld to %s %s/%s", status, method, org, key);
}

int cache_s3_get(struct cache_s3 *s, const char *org, const char *key, int fd,
		 struct cache_object *obj)
{
	struct http_client_request rq = { .method = fd < 0 ? "HEAD" : "GET", .download_fd = fd };
	struct http_client_response rs = HTTP_CLIENT_RESPONSE_INIT;
	const char *etag, *len;
	struct stat st;
	uint64_t size = 0;
	int rc = s3_do(s, &rq, org, key, NULL, &rs);

	if (!rc && rs.status == 404)
		rc = fail(EXIT_NOTFOUND, "no such cache entry");
	else if (!rc && rs.status != 200)
		rc = s3_refused(rq.method, org, key, rs.status);
	if (!rc && fd >= 0) {
		if (fstat(fd, &st))
			rc = fail_errno(EXIT_FAIL, "cannot stat the download of %s/%s", org, key);
		else
			size = st.st_size;
	} else if (!rc) {
		len = http_client_response_header(&rs, "Content-Length");
		if (!len || parse_u64(len, UINT64_MAX, &size))
			rc = fail(EXIT_UNAVAILABLE, "S3 sent no length for %s/%s", org, key);
	}
	if (!rc) {
		etag = http_client_response_header(&rs, "ETag");
		obj->size = size;
		if (etag && strlen(etag) < CACHE_ETAG_MAX && *etag == '"')
			xsnprintf(obj->etag, CACHE_ETAG_MAX, "%s", etag);
		else
			xsnprintf(obj->etag, CACHE_ETAG_MAX, "\"%" PRIx64 "\"", size);
	}
	http_client_response_release(&rs);
	return rc;
}

int cache_s3_put(struct cache_s3 *s, const char *org, const char *key, int fd, uint64_t size,
		 const char *sha256)
{
	struct http_client_request rq = { .method = "PUT", .upload_fd = fd, .upload_len = size };
	struct http_client_response rs = HTTP_CLIENT_RESPONSE_INIT;
	int rc = s3_do(s, &rq, org, key, sha256, &rs);

	if (!rc && rs.status != 200)
		rc = s3_refused("PUT", org, key, rs.status);
	http_client_response_release(&rs);
	return rc;
}

int cache_s3_delete(struct cache_s3 *s, const char *org, const char *key)
{
	struct http_client_request rq = { .method = "DELETE" };
	struct http_client_response rs = HTTP_CLIENT_RESPONSE_INIT;
	int rc = s3_do(s, &rq, org, key, NULL, &rs);

	if (!rc && rs.status != 204 && rs.status != 200 && rs.status != 404)
		rc = s3_refused("DELETE", org, key, rs.status);
	http_client_response_release(&rs);
	return rc;
}
