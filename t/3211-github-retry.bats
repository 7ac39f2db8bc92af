#!/usr/bin/env bats
# The GitHub client's retries against the double's faults: backoff, the
# waits GitHub asks for, what is never retried, and answers that make no
# sense. The backoff is the real one (base 1 s): waits are checked from
# below only, and attempts are kept few.

load lib/common
load lib/github

setup() {
	github_setup
	# the token first, so that the faults meet the runner endpoints
	nimbus github token >/dev/null
}

@test "3 × 500, then success: retried with backoff" {
	gh_fault 500 count=3 endpoint=runners
	run nimbus github runners --json
	assert_success
	[ "$(gh_count runners)" = 4 ]
	# the success closed the count: the breaker saw 3 failures, then none
	run nimbus github breaker --json
	jq -e '.state == "closed" and .failures == 0' <<<"$output"
}

@test "429 with retry-after: 2 waits at least 2 s" {
	local start
	gh_fault 429 seconds=2
	start=$(ms)
	nimbus github runners
	[ $(($(ms) - start)) -ge 2000 ]
	[ "$(gh_count runners)" = 2 ]
}

@test "x-ratelimit-remaining: 0 waits until x-ratelimit-reset" {
	local start
	# reset is 3 s from the double's current second: at least 2 s from now
	gh_fault ratelimit seconds=3
	start=$(ms)
	nimbus github runners
	[ $(($(ms) - start)) -ge 2000 ]
	[ "$(gh_count runners)" = 2 ]
}

@test "403 secondary rate limit is retried; a plain 403 is exit 8 at once" {
	gh_fault secondary
	nimbus github runners
	[ "$(gh_count runners)" = 2 ]
	gh_fault status status=403
	run nimbus github runners
	assert_status 8
	assert_output --partial "403 Resource not accessible by integration"
	[ "$(gh_count runners)" = 3 ]
}

@test "404, 422 fail at once; 401 with a cached token gets one new token" {
	gh_fault status status=404
	run nimbus github runners
	assert_status 4
	gh_fault status status=422
	run nimbus github runners
	assert_status 3
	assert_output --partial "422 Validation Failed"
	[ "$(gh_count runners)" = 2 ]
	# a revoked token: dropped from the cache, a new one, one more try
	curl -sf -X POST "$GH/_double/revoke"
	nimbus github runners
	[ "$(gh_count access_tokens)" = 2 ]
	[ "$(gh_count runners)" = 4 ]
	gh_fault status status=401 count=2 endpoint=runners
	run nimbus github runners
	assert_status 3
	assert_output --partial "401 Bad credentials"
	[ "$(gh_count access_tokens)" = 3 ]
	[ "$(gh_count runners)" = 6 ]
}

@test "gives up after github.max_attempts with exit 6" {
	gh_fault 500 count=10
	run nimbus -c github.max_attempts=3 github runners
	assert_status 6
	assert_output "nimbus github: GitHub: GET /orgs/acme/actions/runners?per_page=100: 500 Server Error; gave up after 3 attempts"
	[ "$(gh_count runners)" = 3 ]
}

@test "a wait longer than github.max_wait gives up at once" {
	local start
	gh_fault 429 seconds=600
	start=$(ms)
	run nimbus -c github.max_wait=5 github runners
	assert_status 6
	assert_output --partial "429 Too Many Requests; retry in 600 s"
	[ $(($(ms) - start)) -lt 5000 ]
	[ "$(gh_count runners)" = 1 ]
}

@test "a request that hangs times out after github.timeout and is retried" {
	local start
	gh_fault hang seconds=30
	start=$(ms)
	run nimbus -c github.timeout=1 -c github.max_attempts=2 github runners
	assert_success
	[ $(($(ms) - start)) -ge 1000 ]
	gh_fault hang seconds=30 count=2
	run nimbus -c github.timeout=1 -c github.max_attempts=2 github runners
	assert_status 6
	assert_output --partial "timed out"
}

# Each endpoint's answer broken three ways: exit 6, a message, no crash.
bad_answers() {
	local kind=$1 want=$2
	gh_fault "$kind" endpoint=runners
	run nimbus github runners
	assert_status 6
	assert_output --partial "$want"
	gh_runner acme nimbus-deadbeef >/dev/null
	gh_fault "$kind" endpoint=runner
	run nimbus github deregister --name nimbus-deadbeef
	assert_status 6
	assert_output --partial "$want"
	gh_fault "$kind" endpoint=jitconfig
	run nimbus github jitconfig --name "nimbus-$kind"
	assert_status 6
	assert_output --partial "$want"
	gh_fault "$kind" endpoint=access_tokens
	# a cached token needs no request: only a fresh store asks
	NIMBUS_STORE_URL=sqlite:$BATS_TEST_TMPDIR/fresh-$kind.db run nimbus github token
	assert_status 6
	assert_output --partial "$want"
	refute_output --partial "ghs_"
}

@test "malformed JSON answers are exit 6 with a clear message" {
	bad_answers malformed "malformed"
}

@test "truncated answers are exit 6 with a clear message" {
	bad_answers truncated "malformed"
}

@test "answers that are not JSON are exit 6 with a clear message" {
	bad_answers html "the answer is text/html; charset=utf-8, not JSON"
}
