/*
 * The store library on one driver: a new SQLite file, or the store of
 * NIMBUS_TEST_STORE_URL (t/0300-db.bats runs this on PostgreSQL too).
 */
#include "test-store.h"
#include "timeutil.h"

static void bad_urls(void)
{
	static const char *const urls[] = { "sqlite:", "mysql://u:pw@h/db", "postgres://[bad" };
	struct store *st;

	for (size_t i = 0; i < ARRAY_SIZE(urls); i++) {
		is_int(store_open_url(&st, urls[i], 0), -EXIT_CONFIG, "%s is a bad URL", urls[i]);
		ok(!st, "%s: no store", urls[i]);
	}
}

static void schema(struct store *st)
{
	struct store_migrate_result res = STORE_MIGRATE_RESULT_INIT;
	int version = -1;

	ok(!store_version(st, &version), "version");
	is_int(version, store_latest_version(st), "opened with STORE_MIGRATE: up to date");
	ok(store_latest_version(st) >= 1, "at least one migration");
	is_str(store_migration_name(st, 1), "core", "migration 1 is core");
	ok(!store_migrate(st, &res), "migrate again");
	is_int(res.applied_nr, 0, "nothing to apply");
	is_int(res.from, version, "from");
	is_int(res.to, version, "to");
	store_migrate_result_release(&res);
}

static void clock_and_transactions(struct store *st)
{
	int64_t ms = 0, value = 0;

	ok(!store_now_ms(st, &ms), "the store's clock");
	ok(ms - now_ms() < 5000 && now_ms() - ms < 5000, "is near this host's (%" PRId64 " ms off)",
	   ms - now_ms());

	ok(!store_begin(st, STORE_TX_WRITE), "begin");
	is_int(store_kv_claim(st, "tx-rolled-back", 60), 1, "claim in a transaction");
	store_rollback(st);
	is_int(store_kv_claim(st, "tx-rolled-back", 60), 1, "rolled back: it can be claimed");
	is_int(store_kv_claim(st, "tx-rolled-back", 60), 0, "then it is held");

	ok(!store_begin(st, STORE_TX_WRITE), "begin");
	is_int(store_kv_claim(st, "tx-committed", 60), 1, "claim in a transaction");
	ok(!store_commit(st), "commit");
	is_int(store_kv_claim(st, "tx-committed", 60), 0, "committed: it is held");

	ok(!store_begin(st, STORE_TX_READ), "begin a read transaction");
	ok(!store_now_ms(st, &ms), "read in it");
	ok(!store_commit(st), "commit it");
	store_rollback(st);

	ok(!store_kv_incr(st, "big", INT64_MAX, 60, &value), "a counter at the top");
	is_int(value, INT64_MAX, "value");
	ok(store_kv_incr(st, "big", 1, 60, &value) < 0, "overflowing it fails: %s", fail_message());
	ok(!store_kv_incr(st, "big", -1, 60, &value), "and it is left as it was");
	is_int(value, INT64_MAX - 1, "value");
	ok(store_kv_sweep(st, 10) >= 0, "sweep");
}

int main(void)
{
	struct test_store t;
	struct store *st;

	test_store_init(&t, "store");
	bad_urls();
	st = test_store_open(&t);
	if (st) {
		schema(st);
		clock_and_transactions(st);
		store_close(st);
	}
	test_store_cleanup(&t);
	return done_testing();
}
