#include "common.h"
#include "parse-num.h"
#include "redis-url.h"

static int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode [s, s + n); -1 for a bad escape or an encoded NUL. */
static int decode(const char *s, size_t n, char **out)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] != '%') {
			strbuf_addch(&sb, s[i]);
			continue;
		}
		hi = n - i >= 3 ? hex_digit((unsigned char)s[i + 1]) : -1;
		lo = n - i >= 3 ? hex_digit((unsigned char)s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || !(hi | lo)) {
			strbuf_release_secret(&sb);
			return -1;
		}
		strbuf_addch(&sb, hi << 4 | lo);
		i += 2;
	}
	*out = strbuf_detach(&sb, NULL);
	return 0;
}

/* [USER]:PASSWORD */
static int parse_userinfo(const char *s, size_t n, struct redis_url *u, struct strbuf *err)
{
	const char *colon = memchr(s, ':', n);

	if (!colon) {
		strbuf_addstr(err, "has a user but no password ([USER]:PASSWORD@)");
		return -1;
	}
	if (colon + 1 == s + n) {
		strbuf_addstr(err, "has an empty password");
		return -1;
	}
	if ((colon > s && decode(s, colon - s, &u->user)) ||
	    decode(colon + 1, s + n - colon - 1, &u->password)) {
		strbuf_addstr(err, "has a bad %-escape in its user or password");
		return -1;
	}
	return 0;
}

static bool host_char(int c, bool v6)
{
	if (v6)
		return hex_digit(c) >= 0 || c == ':' || c == '.';
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/* HOST or [IPv6], then ':' or the end; returns where it stopped, or NULL. */
static const char *parse_host(const char *s, const char *end, struct redis_url *u, struct strbuf *err)
{
	bool v6 = *s == '[';
	const char *start = s + v6, *p = start, *next;

	while (p < end && host_char((unsigned char)*p, v6))
		p++;
	next = p;
	if (v6 && p < end && *p == ']')
		next++;
	if (p == start || (v6 && next == p) || (next < end && *next != ':')) {
		strbuf_addstr(err, "has no valid host");
		return NULL;
	}
	u->host = xstrndup(start, p - start);
	return next;
}

static int parse_int(const char *s, size_t n, int64_t min, int64_t max, int *out)
{
	char *num = xstrndup(s, n);
	int64_t v;
	int rc = parse_i64(num, min, max, &v);

	free(num);
	if (!rc)
		*out = v;
	return rc;
}

int redis_url_parse(const char *url, struct redis_url *out, struct strbuf *err)
{
	struct redis_url u = REDIS_URL_INIT;
	const char *p, *auth_end, *at;

	if (!skip_prefix(url, "redis://", &p)) {
		strbuf_addstr(err, "wants redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]");
		return -1;
	}
	for (const char *q = p; *q; q++) {
		if ((unsigned char)*q <= ' ' || *q == 0x7f || *q == '?' || *q == '#') {
			strbuf_addstr(err, "has a blank, a control character, a query or a fragment");
			return -1;
		}
	}
	auth_end = p + strcspn(p, "/");
	at = memrchr(p, '@', auth_end - p);
	if (at && parse_userinfo(p, at - p, &u, err))
		goto bad;
	if (at)
		p = at + 1;
	p = parse_host(p, auth_end, &u, err);
	if (!p)
		goto bad;
	if (p < auth_end && parse_int(p + 1, auth_end - p - 1, 1, 65535, &u.port)) {
		strbuf_addstr(err, "has a bad port (1-65535)");
		goto bad;
	}
	if (*auth_end && auth_end[1] && parse_int(auth_end + 1, strlen(auth_end + 1), 0, INT_MAX, &u.db)) {
		strbuf_addstr(err, "has a bad database number");
		goto bad;
	}
	*out = u;
	return 0;
bad:
	redis_url_release(&u);
	return -1;
}

void redis_url_release(struct redis_url *u)
{
	free(u->host);
	free_secret_str(u->user);
	free_secret_str(u->password);
	u->host = u->user = u->password = NULL;
}
