#!/usr/bin/env bats
# The GitHub client's circuit breaker, shared by every process through the
# kv (Redis, or either store): it opens after github.breaker_failures
# failures, then processes fail fast without asking GitHub, until one
# probe goes through after github.breaker_timeout.

load lib/common
load lib/services
load lib/github

setup_file() {
	github_key
	services_start
}

teardown_file() {
	services_stop
}

setup() {
	github_setup
	# long enough for the next process to find it open on a loaded machine
	export NIMBUS_GITHUB_BREAKER_TIMEOUT=4
}

open_fail_fast_probe() {
	local i before
	nimbus github token >/dev/null
	gh_fault 500 count=5 endpoint=runners
	for i in 1 2 3 4; do
		run nimbus -c github.max_attempts=1 github runners
		assert_status 6
		assert_output --partial "500 Server Error; gave up after 1 attempts"
	done
	run nimbus -c github.max_attempts=1 github runners
	assert_status 6
	assert_output --regexp "GitHub at 127.0.0.1:$GH_PORT: circuit open after 5 failures, retry in [1-4] s"
	# another process: refused without a request reaching GitHub
	before=$(gh_count total)
	run nimbus github runners
	assert_status 6
	assert_output --regexp "^nimbus github: GitHub at 127.0.0.1:$GH_PORT: circuit open, retry in [1-4] s$"
	run nimbus github jitconfig --name nimbus-00000001
	assert_status 6
	[ "$(gh_count total)" = "$before" ]
	run nimbus github breaker --json
	jq -e '.state == "open" and .failures == 5 and .retry_in <= 4' <<<"$output"
	# after the timeout one probe goes; its success closes the breaker
	sleep 4.2
	run nimbus github breaker
	assert_line --regexp '^state +half-open$'
	nimbus github runners
	[ "$(gh_count total)" = $((before + 1)) ]
	run nimbus github breaker --json
	jq -e '.state == "closed" and .failures == 0' <<<"$output"
}

@test "the breaker opens after 5 failures, fails fast, closes on a probe's success" {
	for_each_kv open_fail_fast_probe
}

# Whether the double has seen more than $1 requests.
more_than() {
	[ "$(gh_count total)" -gt "$1" ]
}

probe_out() {
	local i before probe
	nimbus github token >/dev/null
	gh_fault 500 count=5 endpoint=runners
	for i in 1 2 3 4 5; do
		nimbus -c github.max_attempts=1 github runners 2>/dev/null && return 1
	done
	sleep 4.2
	# the probe hangs; meanwhile the others are refused without a request
	gh_fault hang seconds=30 endpoint=runners
	before=$(gh_count total)
	# its failure opens the breaker for 60 s: long enough to look at it
	nimbus -c github.timeout=2 -c github.max_attempts=1 -c github.breaker_timeout=60 \
		github runners >/dev/null 2>"$BATS_TEST_TMPDIR/probe.err" &
	probe=$!
	wait_for 50 more_than "$before"
	run nimbus github runners
	assert_status 6
	assert_output --partial "circuit open, retry in"
	[ "$(gh_count total)" = $((before + 1)) ]
	# the probe timed out: open again at once, for the whole timeout
	! wait "$probe"
	grep -q "circuit open after 6 failures, retry in 60 s" "$BATS_TEST_TMPDIR/probe.err"
	run nimbus github breaker --json
	jq -e '.state == "open" and .failures == 6 and .retry_in > 50' <<<"$output"
	run nimbus github breaker --reset --json
	jq -e '.state == "closed" and .failures == 0' <<<"$output"
	nimbus github runners
}

@test "while the probe is out the others fail fast; its failure opens the breaker again" {
	for_each_kv probe_out
}

@test "each API host has its own breaker" {
	nimbus github token >/dev/null
	gh_fault 500 count=5 endpoint=runners
	for i in 1 2 3 4 5; do
		nimbus -c github.max_attempts=1 github runners 2>/dev/null && false
	done
	run nimbus github breaker --json
	jq -e '.state == "open"' <<<"$output"
	NIMBUS_GITHUB_API_URL=http://localhost:$GH_PORT run nimbus github breaker --json
	jq -e ".host == \"localhost:$GH_PORT\" and .state == \"closed\"" <<<"$output"
	NIMBUS_GITHUB_API_URL=http://localhost:$GH_PORT nimbus github runners
}
