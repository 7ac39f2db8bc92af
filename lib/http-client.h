#ifndef HTTP_CLIENT_H
#define HTTP_CLIENT_H

/*
 * The one HTTP client, on libcurl: GitHub, ClickHouse, S3 and Firecracker's
 * API socket. A client keeps its connections alive between requests; use
 * one per thread. Redirects are not followed.
 *
 * At trace level (-v -v) libcurl's conversation, headers in and out but no
 * body bytes, goes through the logger and so through redaction:
 * "Authorization: Bearer <redacted>".
 *
 *	struct http_client_request rq = { .url = "http://localhost/machine-config",
 *					  .unix_socket = "/run/fc.sock" };
 *	struct http_client_response rs = HTTP_CLIENT_RESPONSE_INIT;
 *	int rc = http_client_do(c, &rq, &rs);
 *	if (rc)
 *		return rc;	(connect failure, timeout: -EXIT_UNAVAILABLE)
 *	if (rs.status != 200) ...
 *	http_client_response_release(&rs);
 */

#define HTTP_CLIENT_TIMEOUT 30			/* seconds */
#define HTTP_CLIENT_MAX_BODY (16 << 20)

struct http_client_request {
	const char *method;		/* NULL: GET, or POST with a body */
	const char *url;
	const char *const *headers;	/* "Name: value", NULL-terminated; or NULL */
	const void *body;
	size_t body_len;
	int timeout;			/* seconds for the whole exchange; 0: HTTP_CLIENT_TIMEOUT */
	const char *unix_socket;	/* connect to this socket, not to the URL's host */
	size_t max_body;		/* of the response; 0: HTTP_CLIENT_MAX_BODY */
	/* Files instead of memory, for objects of any size (descriptors above 2). */
	int upload_fd;			/* send upload_len bytes read from here, not body */
	uint64_t upload_len;
	int download_fd;		/* write the response body here, not to resp->body */
	/*
	 * Or a body made while it is sent, chunked: upload_read() fills buf
	 * with up to max bytes and returns how many, 0 at the end, or -1 to
	 * abort the exchange.
	 */
	ssize_t (*upload_read)(void *ctx, char *buf, size_t max);
	void *upload_ctx;
	/*
	 * AWS Signature Version 4 by libcurl: "aws:amz:REGION:SERVICE", signed
	 * with the access key id and the secret as user and password.
	 */
	const char *aws_sigv4;
	const char *user, *password;
};

struct http_client_header {
	char *name;
	char *value;
};

struct http_client_response {
	long status;
	struct http_client_header *headers;	/* of the final response */
	size_t headers_nr, headers_alloc;
	struct strbuf body;
};
#define HTTP_CLIENT_RESPONSE_INIT { 0, NULL, 0, 0, STRBUF_INIT }

struct http_client;

struct http_client *http_client_new(void);
void http_client_free(struct http_client *c);

/*
 * 0 when a response came, whatever its status. Otherwise a fail() code:
 * -EXIT_UNAVAILABLE (no connection, timeout, connection cut), -EXIT_CONFIG
 * (a malformed URL or a scheme other than http and https), -EXIT_FAIL
 * (a response body over the cap, a write error on download_fd, anything
 * else).
 */
int http_client_do(struct http_client *c, const struct http_client_request *req,
		   struct http_client_response *resp);

/*
 * The exit code the status of a failed exchange stands for: EXIT_REJECTED
 * for 401 and 403, EXIT_NOTFOUND for 404, EXIT_BUSY for 409 and 429,
 * EXIT_UNAVAILABLE for 502, 503 and 504, EXIT_FAIL for any other.
 */
int http_status_exit_code(long status);

/* The first header of that name (case-insensitive), or NULL. */
const char *http_client_response_header(const struct http_client_response *resp, const char *name);
void http_client_response_release(struct http_client_response *resp);

#endif
