#!/usr/bin/env bats
# lib/github as the reaper and the agent call it, and its metrics: the
# unit test t/unit/3201-github-client.c against the double.

load lib/common
load lib/github

@test "the library: list, find, deregister (busy, done, gone), JIT configs, metrics" {
	gh_runner acme nimbus-00000001 >/dev/null
	gh_runner acme nimbus-00000002 busy=1 >/dev/null
	gh_fault 500 endpoint=runners
	NIMBUS_TEST_GITHUB=1 run "$NIMBUS_BUILD/t/unit/3201-github-client.t"
	echo "$output"
	assert_success
	refute_output --partial "not ok"
}
