#include "tap.h"
#include "redis-url.h"

struct good {
	const char *url;
	const char *host;
	int port, db;
	const char *user, *password;
};

static const struct good good[] = {
	{ "redis://localhost", "localhost", 6379, 0, NULL, NULL },
	{ "redis://127.0.0.1:6380", "127.0.0.1", 6380, 0, NULL, NULL },
	{ "redis://h/", "h", 6379, 0, NULL, NULL },
	{ "redis://h:1/15", "h", 1, 15, NULL, NULL },
	{ "redis://:pw@h", "h", 6379, 0, NULL, "pw" },
	{ "redis://app:pw@h:65535/2", "h", 65535, 2, "app", "pw" },
	{ "redis://:p%40ss%3Aw%2Fd@h", "h", 6379, 0, NULL, "p@ss:w/d" },
	{ "redis://:a@b@h", "h", 6379, 0, NULL, "a@b" },
	{ "redis://[::1]:7000/3", "::1", 7000, 3, NULL, NULL },
	{ "redis://:pw@[fe80::1]", "fe80::1", 6379, 0, NULL, "pw" },
	{ "redis://cache-1.internal_x", "cache-1.internal_x", 6379, 0, NULL, NULL },
};

static const char *const bad[] = {
	"", "redis:/h", "http://h", "rediss://h", "redis://", "redis://:6379", "redis://h:",
	"redis://h:0", "redis://h:65536", "redis://h:x", "redis://h:1x", "redis://h:-1",
	"redis://h/x", "redis://h/-1", "redis://h/1/2", "redis://h//1", "redis://h/99999999999",
	"redis://h?db=1", "redis://h#f", "redis://h h", "redis://h\t", "redis://user@h",
	"redis://:@h", "redis://:pw%4@h", "redis://:pw%zz@h", "redis://:pw%00@h",
	"redis://[::1", "redis://[::1]x", "redis://[]", "redis://[h]", "redis://h]",
	"redis://h:pw@", "redis://:secret",
};

int main(void)
{
	struct strbuf err = STRBUF_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct redis_url u = REDIS_URL_INIT;
		int rc = redis_url_parse(good[i].url, &u, &err);

		is_int(rc, 0, "%s parses%s%s", good[i].url, err.len ? ": " : "", err.buf);
		is_str(u.host, good[i].host, "%s: host", good[i].url);
		is_int(u.port, good[i].port, "%s: port", good[i].url);
		is_int(u.db, good[i].db, "%s: db", good[i].url);
		is_str(u.user, good[i].user, "%s: user", good[i].url);
		is_str(u.password, good[i].password, "%s: password", good[i].url);
		redis_url_release(&u);
		strbuf_reset(&err);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct redis_url u = REDIS_URL_INIT;

		is_int(redis_url_parse(bad[i], &u, &err), -1, "'%s' is refused: %s", bad[i], err.buf);
		ok(err.len && !strstr(err.buf, "secret") && !strstr(err.buf, "pw"),
		   "'%s': the reason repeats nothing of the URL", bad[i]);
		ok(!u.host && !u.password, "'%s': nothing is left allocated", bad[i]);
		strbuf_reset(&err);
	}
	strbuf_release(&err);
	return done_testing();
}
