#ifndef CLICKHOUSE_H
#define CLICKHOUSE_H

/*
 * ClickHouse over its HTTP interface (lib/http-client), configured by
 * logs.clickhouse_url, logs.clickhouse_credentials_file and
 * logs.clickhouse_database.
 *
 * The credentials file holds one line, USER:PASSWORD; it must not be
 * readable by group or others. The password is registered for redaction
 * and sent in X-ClickHouse-Key, never in the URL.
 *
 * ClickHouse 18.16 has no query parameters ({name:Type}): every value
 * that comes from outside goes into SQL through clickhouse_quote() only.
 * A handle serves one thread at a time.
 */

struct clickhouse;

/* 0, or -EXIT_CONFIG (no URL, a bad credentials file), -EXIT_PERM (its mode). */
int clickhouse_open(struct clickhouse **out);
void clickhouse_close(struct clickhouse *ch);
/* The database of the configuration, a plain identifier. */
const char *clickhouse_database(const struct clickhouse *ch);

enum {
	/* A read: the server refuses anything else (readonly=2). */
	CLICKHOUSE_READONLY = 1,
};

/*
 * Run one statement. With data, the statement goes in the URL and data
 * is its body (INSERT ... FORMAT ...). The response body is appended to
 * out (may be NULL). 0, or -EXIT_UNAVAILABLE (no answer, timeout),
 * -EXIT_REJECTED (refused credentials), -EXIT_NOTFOUND (no such database
 * or table), -EXIT_FAIL (any other exception, its message in
 * fail_message()).
 */
int clickhouse_exec(struct clickhouse *ch, unsigned flags, const char *sql, const char *data,
		    size_t len, struct strbuf *out);

/*
 * An INSERT ... FORMAT ... whose data is made while it is sent: read() as
 * in struct http_client_request's upload_read. Returns as clickhouse_exec().
 */
int clickhouse_insert(struct clickhouse *ch, const char *sql,
		      ssize_t (*read)(void *ctx, char *buf, size_t max), void *ctx);

/* The server's version as major * 1000 + minor (18016 for 18.16.1). */
int clickhouse_version(struct clickhouse *ch, int *version);

/*
 * Append s as a string literal: quoted, with every byte outside
 * [A-Za-z0-9 _./:-] written as \xHH. ClickHouse reads back exactly the
 * bytes of s, NULs included, and nothing in s can end the literal.
 */
void clickhouse_quote(struct strbuf *sb, const char *s, size_t len);
/* An identifier in backquotes; name must be [A-Za-z0-9_-] only. */
void clickhouse_quote_ident(struct strbuf *sb, const char *name);
/* Whether name is a database name clickhouse_quote_ident() takes. */
bool clickhouse_ident_valid(const char *name);

#endif
