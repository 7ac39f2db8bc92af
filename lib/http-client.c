#include "common.h"
#include "http-client.h"
#include "log.h"

#include <curl/curl.h>
#include <pthread.h>

struct http_client {
	CURL *curl;
};

struct exchange {
	struct http_client_response *resp;
	size_t max_body;
	bool too_large;
	int upload_fd, download_fd;
	ssize_t (*upload_read)(void *ctx, char *buf, size_t max);
	void *upload_ctx;
	int write_errno;
};

/* The chunks of a body made while it is sent: fewer calls than libcurl's 64 KiB. */
#define UPLOAD_CHUNK (512L << 10)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static struct curl_slist *xcurl_slist_append(struct curl_slist *list, const char *s)
{
	struct curl_slist *l = curl_slist_append(list, s);

	if (!l)
		die("out of memory");
	return l;
}

static void curl_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		die("cannot initialise libcurl");
}

struct http_client *http_client_new(void)
{
	struct http_client *c = xcalloc(1, sizeof(*c));

	/* curl_global_init() is not thread-safe: once, before any handle */
	pthread_once(&curl_once, curl_init);
	c->curl = curl_easy_init();
	if (!c->curl)
		die("cannot initialise libcurl");
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

static void clear_headers(struct http_client_response *resp)
{
	for (size_t i = 0; i < resp->headers_nr; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	resp->headers_nr = 0;
}

void http_client_response_release(struct http_client_response *resp)
{
	clear_headers(resp);
	free(resp->headers);
	strbuf_release(&resp->body);
	*resp = (struct http_client_response)HTTP_CLIENT_RESPONSE_INIT;
}

const char *http_client_response_header(const struct http_client_response *resp, const char *name)
{
	for (size_t i = 0; i < resp->headers_nr; i++)
		if (!strcasecmp(resp->headers[i].name, name))
			return resp->headers[i].value;
	return NULL;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *cls)
{
	struct exchange *x = cls;
	size_t n = size * nmemb;

	if (x->download_fd > 2) {
		if (write_in_full(x->download_fd, data, n) < 0) {
			x->write_errno = errno;
			return 0;
		}
		return n;
	}

	if (n > x->max_body - x->resp->body.len) {
		x->too_large = true;
		return 0;
	}
	strbuf_add(&x->resp->body, data, n);
	return n;
}

static size_t on_upload(char *buf, size_t size, size_t nmemb, void *cls)
{
	struct exchange *x = cls;
	ssize_t n;

	do
		n = read(x->upload_fd, buf, size * nmemb);
	while (n < 0 && errno == EINTR);
	return n < 0 ? CURL_READFUNC_ABORT : (size_t)n;
}

static size_t on_upload_read(char *buf, size_t size, size_t nmemb, void *cls)
{
	struct exchange *x = cls;
	ssize_t n = x->upload_read(x->upload_ctx, buf, size * nmemb);

	return n < 0 ? CURL_READFUNC_ABORT : (size_t)n;
}

/* One header line at a time, the status lines of interim responses included. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *cls)
{
	struct exchange *x = cls;
	size_t n = size * nmemb;
	struct http_client_response *resp = x->resp;
	struct strbuf name = STRBUF_INIT, value = STRBUF_INIT;
	const char *colon;

	if (n >= 5 && !memcmp(data, "HTTP/", 5)) {
		/* a new response (after 100 Continue): only the last one counts */
		clear_headers(resp);
		return n;
	}
	colon = memchr(data, ':', n);
	if (!colon)
		return n;
	strbuf_add(&name, data, colon - data);
	strbuf_add(&value, colon + 1, n - (colon + 1 - data));
	strbuf_trim(&name);
	strbuf_trim(&value);
	ALLOC_GROW(resp->headers, resp->headers_nr + 1, resp->headers_alloc);
	resp->headers[resp->headers_nr].name = strbuf_detach(&name, NULL);
	resp->headers[resp->headers_nr].value = strbuf_detach(&value, NULL);
	resp->headers_nr++;
	return n;
}

/*
 * libcurl's -v output as log lines: "* " its notes, "> " headers out, "< "
 * headers in. Body bytes stay out: they may be large, binary or secret.
 */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *cls)
{
	const char *prefix, *p = data, *end = data + size;

	switch (type) {
	case CURLINFO_TEXT:
		prefix = "* ";
		break;
	case CURLINFO_HEADER_OUT:
		prefix = "> ";
		break;
	case CURLINFO_HEADER_IN:
		prefix = "< ";
		break;
	default:
		return 0;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t len = (nl ? nl : end) - p;

		if (len && p[len - 1] == '\r')
			len--;
		if (len)
			log_msg(LOG_TRACE, "%s%.*s", prefix, (int)len, p);
		p = nl ? nl + 1 : end;
	}
	return 0;
}

static int exit_code_for(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return EXIT_UNAVAILABLE;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return EXIT_CONFIG;
	default:
		return EXIT_FAIL;
	}
}

int http_client_do(struct http_client *c, const struct http_client_request *req,
		   struct http_client_response *resp)
{
	struct exchange x = { .resp = resp, .upload_fd = req->upload_fd,
			      .download_fd = req->download_fd, .upload_read = req->upload_read,
			      .upload_ctx = req->upload_ctx };
	const char *method = req->method ? req->method : req->body || req->upload_read ? "POST" : "GET";
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *h = c->curl;
	CURLcode cc;
	int rc = 0;

	x.max_body = req->max_body ? req->max_body : HTTP_CLIENT_MAX_BODY;
	for (size_t i = 0; req->headers && req->headers[i]; i++)
		headers = xcurl_slist_append(headers, req->headers[i]);
	/* chunked, and without waiting up to a second for a 100 Continue first */
	if (req->upload_read)
		headers = xcurl_slist_append(xcurl_slist_append(headers, "Transfer-Encoding: chunked"),
					     "Expect:");

	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)(req->timeout ? req->timeout : HTTP_CLIENT_TIMEOUT));
	curl_easy_setopt(h, CURLOPT_USERAGENT, "nimbus/" NIMBUS_VERSION);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	if (req->unix_socket)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (req->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	} else if (req->upload_read) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &x);
		curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_CHUNK);
	} else if (req->upload_fd > 2) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
		curl_easy_setopt(h, CURLOPT_READDATA, &x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->upload_len);
	}
	if (req->aws_sigv4) {
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, req->aws_sigv4);
		curl_easy_setopt(h, CURLOPT_USERNAME, req->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, req->password);
	}
	if (log_enabled(LOG_TRACE)) {
		curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
		curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
	}

	cc = curl_easy_perform(h);
	if (x.too_large)
		rc = fail(EXIT_FAIL, "%s %s: response larger than %zu bytes", method, req->url, x.max_body);
	else if (x.write_errno)
		rc = fail(EXIT_FAIL, "%s %s: cannot write the response: %s", method, req->url,
			  strerror(x.write_errno));
	else if (cc)
		rc = fail(exit_code_for(cc), "%s %s: %s", method, req->url,
			  *errbuf ? errbuf : curl_easy_strerror(cc));
	else
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	/* forget our pointers; the reset keeps the connections, which is what a client is for */
	curl_easy_reset(h);
	curl_slist_free_all(headers);
	return rc;
}

int http_status_exit_code(long status)
{
	switch (status) {
	case 401:
	case 403:
		return EXIT_REJECTED;
	case 404:
		return EXIT_NOTFOUND;
	case 409:
	case 429:
		return EXIT_BUSY;
	case 502:
	case 503:
	case 504:
		return EXIT_UNAVAILABLE;
	}
	return EXIT_FAIL;
}
