#!/usr/bin/env bats
# The registry's store operations (t/unit/7010-registry-store.c) on each
# store driver: links and quotas, uploads, manifests, tags, referrers,
# gc's unlinking and robots.

load lib/common
load lib/services

setup_file() {
	pg_start
}

teardown_file() {
	pg_stop
}

registry_store() {
	NIMBUS_TEST_STORE_URL=$NIMBUS_STORE_URL run "$NIMBUS_BUILD/t/unit/7010-registry-store.t"
	assert_success
	assert_line "# driver $STORE_DRIVER"
	refute_line --regexp '^not ok'
}

@test "registry store operations, on each store" {
	for_each_store registry_store
}
