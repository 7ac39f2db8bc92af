#include "common.h"
#include "clickhouse.h"
#include "config.h"
#include "escape.h"
#include "http-client.h"
#include "parse-num.h"
#include "redact.h"

#include <sys/stat.h>

/* An INSERT of a whole batch may take a while on a loaded server. */
#define INSERT_TIMEOUT 120
#define READ_MAX_BODY (256 << 20)
#define CREDENTIALS_MAX 4096

struct clickhouse {
	struct http_client *http;
	char *url;		/* up to the query string, which we add */
	const char *database;
	struct strvec headers;	/* X-ClickHouse-User and -Key */
};

bool clickhouse_ident_valid(const char *name)
{
	size_t n = strlen(name);

	return n && n <= 64 && strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789_-") == n;
}

void clickhouse_quote_ident(struct strbuf *sb, const char *name)
{
	if (!clickhouse_ident_valid(name))
		BUG("'%s' is not a ClickHouse identifier we quote", name);
	strbuf_addf(sb, "`%s`", name);
}

void clickhouse_quote(struct strbuf *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	strbuf_grow(sb, len + 2);
	strbuf_addch(sb, '\'');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == ' ' || c == '_' || c == '.' || c == '/' || c == ':' || c == '-') {
			strbuf_addch(sb, c);
		} else {
			strbuf_addstr(sb, "\\x");
			strbuf_addch(sb, hex[c >> 4]);
			strbuf_addch(sb, hex[c & 15]);
		}
	}
	strbuf_addch(sb, '\'');
}

/* USER:PASSWORD on one line, in a file only its owner reads. */
static int read_credentials(struct clickhouse *ch, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	struct stat st;
	char *colon;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc = 0;

	if (fd < 0)
		return fail_errno(errno == EACCES ? EXIT_PERM : EXIT_CONFIG,
				  "logs.clickhouse_credentials_file: cannot open %s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		rc = fail(EXIT_CONFIG, "logs.clickhouse_credentials_file: %s is not a regular file", path);
	else if (st.st_mode & 077)
		rc = fail(EXIT_PERM, "logs.clickhouse_credentials_file: %s is readable by others "
			  "(mode %04o); chmod 600 it", path, (unsigned)st.st_mode & 07777);
	else if (strbuf_read_fd(&sb, fd, CREDENTIALS_MAX) < 0)
		rc = fail_errno(EXIT_CONFIG, "logs.clickhouse_credentials_file: cannot read %s", path);
	close(fd);
	if (rc) {
		strbuf_release_secret(&sb);
		return rc;
	}
	strbuf_rtrim(&sb);
	colon = strchr(sb.buf, ':');
	if (!colon || colon == sb.buf || memchr(sb.buf, '\n', sb.len) || memchr(sb.buf, '\r', sb.len) ||
	    strlen(sb.buf) != sb.len) {
		strbuf_release_secret(&sb);
		return fail(EXIT_CONFIG, "logs.clickhouse_credentials_file: %s is not one line USER:PASSWORD",
			    path);
	}
	*colon = '\0';
	redact_register(colon + 1);
	strvec_pushf(&ch->headers, "X-ClickHouse-User: %s", sb.buf);
	strvec_pushf(&ch->headers, "X-ClickHouse-Key: %s", colon + 1);
	strbuf_release_secret(&sb);
	return 0;
}

int clickhouse_open(struct clickhouse **out)
{
	const char *url = cfg_str("logs.clickhouse_url"), *creds = cfg_str("logs.clickhouse_credentials_file");
	struct clickhouse *ch;
	int rc = 0;

	if (!*url)
		return fail(EXIT_CONFIG, "logs.clickhouse_url is not set");
	ch = xcalloc(1, sizeof(*ch));
	ch->headers = (struct strvec)STRVEC_INIT;
	ch->url = xstrfmt("%s%s", url, strchr(url, '?') ? "&" : ends_with(url, "/") ? "?" : "/?");
	ch->database = cfg_str("logs.clickhouse_database");
	if (*creds)
		rc = read_credentials(ch, creds);
	if (rc) {
		clickhouse_close(ch);
		return rc;
	}
	ch->http = http_client_new();
	*out = ch;
	return 0;
}

void clickhouse_close(struct clickhouse *ch)
{
	if (!ch)
		return;
	http_client_free(ch->http);
	strvec_clear_secret(&ch->headers);
	free(ch->url);
	free(ch);
}

const char *clickhouse_database(const struct clickhouse *ch)
{
	return ch->database;
}

/* "Code: 60, e.displayText() = DB::Exception: Table x doesn't exist, e.what() = ..." */
static int exception(long status, const struct strbuf *body)
{
	struct strbuf msg = STRBUF_INIT;
	const char *text = strstr(body->buf, "DB::Exception: ");
	const char *end;
	int rc;

	text = text ? text + 15 : body->buf;
	end = strstr(text, ", e.what()");
	if (!end)
		end = text + strcspn(text, "\n");
	strbuf_add_printable(&msg, text, end - text > 500 ? 500 : end - text);
	rc = fail(http_status_exit_code(status), "clickhouse: %s (HTTP %ld)", msg.len ? msg.buf : "no message",
		  status);
	strbuf_release(&msg);
	return rc;
}

/* Send req, whose URL so far is the server's, with sql in the URL (a write) or as the body. */
static int run(struct clickhouse *ch, unsigned flags, const char *sql, struct http_client_request *req,
	       struct strbuf *out)
{
	struct http_client_response resp = HTTP_CLIENT_RESPONSE_INIT;
	struct strbuf url = STRBUF_INIT;
	int rc;

	strbuf_addf(&url, "%soutput_format_json_quote_64bit_integers=0%s", ch->url,
		    flags & CLICKHOUSE_READONLY ? "&readonly=2" : "");
	req->method = "POST";
	req->headers = ch->headers.v;
	if (req->body || req->upload_read) {
		strbuf_addstr(&url, "&query=");
		strbuf_add_urlencoded(&url, sql, strlen(sql));
		req->timeout = INSERT_TIMEOUT;
	} else {
		req->body = sql;
		req->body_len = strlen(sql);
		req->max_body = READ_MAX_BODY;
	}
	req->url = url.buf;
	rc = http_client_do(ch->http, req, &resp);
	if (!rc && resp.status != 200)
		rc = exception(resp.status, &resp.body);
	if (!rc && out)
		strbuf_addbuf(out, &resp.body);
	http_client_response_release(&resp);
	strbuf_release(&url);
	return rc;
}

int clickhouse_exec(struct clickhouse *ch, unsigned flags, const char *sql, const char *data,
		    size_t len, struct strbuf *out)
{
	struct http_client_request req = { .body = data, .body_len = len };

	return run(ch, flags, sql, &req, out);
}

int clickhouse_insert(struct clickhouse *ch, const char *sql,
		      ssize_t (*read)(void *ctx, char *buf, size_t max), void *ctx)
{
	struct http_client_request req = { .upload_read = read, .upload_ctx = ctx };

	return run(ch, 0, sql, &req, NULL);
}

int clickhouse_version(struct clickhouse *ch, int *version)
{
	struct strbuf out = STRBUF_INIT;
	int64_t major, minor;
	char *dot;
	int rc = clickhouse_exec(ch, CLICKHOUSE_READONLY, "SELECT version()", NULL, 0, &out);

	if (rc)
		goto done;
	strbuf_rtrim(&out);
	dot = strchr(out.buf, '.');
	if (dot) {
		*dot = '\0';
		dot[1 + strspn(dot + 1, "0123456789")] = '\0';
	}
	if (!dot || parse_i64(out.buf, 0, 999, &major) || parse_i64(dot + 1, 0, 999, &minor))
		rc = fail(EXIT_FAIL, "clickhouse: version() is not MAJOR.MINOR...");
	else
		*version = major * 1000 + minor;
done:
	strbuf_release(&out);
	return rc;
}
