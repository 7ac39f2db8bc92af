#ifndef REDIS_URL_H
#define REDIS_URL_H

/*
 * redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]: HOST a name, an IPv4
 * address or [IPv6]; PORT 1-65535 (6379); DB 0 or more (0). USER and
 * PASSWORD may be percent-encoded. Nothing else: no query, no fragment.
 */
struct redis_url {
	char *host;		/* without the brackets of an IPv6 address */
	int port;
	int db;
	char *user;		/* NULL: the default user */
	char *password;		/* NULL: no AUTH */
};
#define REDIS_URL_INIT { NULL, 6379, 0, NULL, NULL }

/* 0, or -1 with the reason in err (which repeats no part of the URL: it may hold a secret). */
int redis_url_parse(const char *url, struct redis_url *out, struct strbuf *err);
/* Free the fields, wiping the password. */
void redis_url_release(struct redis_url *u);

#endif
