#ifndef TEST_STORE_H
#define TEST_STORE_H

/*
 * For unit tests of code on the store: an empty configuration (nothing
 * from this host) in a new temporary directory, and the store of
 * NIMBUS_TEST_STORE_URL, or else a new SQLite file in sub/ of that
 * directory. The bats tests run such unit tests on PostgreSQL too.
 */
#include "tap.h"
#include "store.h"

struct test_store {
	char dir[64];
	char *conf, *db, *url;
};

static UNUSED void test_store_init(struct test_store *t, const char *name)
{
	const char *url = getenv("NIMBUS_TEST_STORE_URL");
	int fd;

	xsnprintf(t->dir, sizeof(t->dir), "/tmp/nimbus-%s-test.XXXXXX", name);
	if (!mkdtemp(t->dir))
		die_errno("mkdtemp");
	t->conf = xstrfmt("%s/nimbus.conf", t->dir);
	fd = open(t->conf, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || close(fd))
		die_errno("%s", t->conf);
	setenv("NIMBUS_CONFIG", t->conf, 1);
	t->db = NULL;
	if (url && *url) {
		t->url = xstrdup(url);
	} else {
		t->db = xstrfmt("%s/sub/nimbus.db", t->dir);
		t->url = xstrfmt("sqlite:%s", t->db);
	}
}

/* Open the store, migrated; NULL (a failed test) when it cannot be. */
static UNUSED struct store *test_store_open(struct test_store *t)
{
	struct store *st;
	int rc = store_open_url(&st, t->url, STORE_MIGRATE);

	ok(!rc, "open %s%s%s", t->url, rc ? ": " : "", rc ? fail_message() : "");
	if (!rc)
		printf("# driver %s\n", store_driver(st));
	return rc ? NULL : st;
}

/* Remove what test_store_init made, checking that nothing else was left. */
static UNUSED void test_store_cleanup(struct test_store *t)
{
	if (t->db) {
		ok(!unlink(t->db), "the file was there");
		*strrchr(t->db, '/') = '\0';
		ok(!rmdir(t->db), "nothing else was left");
	}
	ok(!unlink(t->conf) && !rmdir(t->dir), "clean up");
	free(t->conf);
	free(t->db);
	free(t->url);
}

#endif
