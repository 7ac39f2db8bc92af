#!/usr/bin/env bats
# Installation tokens are fetched once, kept in the store and shared by
# every process until GITHUB_TOKEN_MIN_LEFT (300 s) before they expire;
# on both store drivers.

load lib/common
load lib/services
load lib/github

setup_file() {
	github_key
	pg_start
}

teardown_file() {
	pg_stop
}

fetched_once() {
	local before t1 t2 i pids=()
	before=$(gh_count access_tokens)
	t1=$(nimbus github token)
	t2=$(nimbus github token)
	[ "$t1" = "$t2" ]
	nimbus github runners >/dev/null
	nimbus github jitconfig --name "nimbus-$STORE_DRIVER" >/dev/null
	for i in 1 2 3 4 5; do
		nimbus github runners >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
	[ "$(gh_count access_tokens)" = $((before + 1)) ]
	[ "$(store_sql "SELECT count(*) FROM github_tokens")" = 1 ]
}

@test "the installation token is fetched once and reused by every process" {
	for_each_store fetched_once
}

near_expiry() {
	local before t1 t2
	before=$(gh_count access_tokens)
	t1=$(nimbus github token)
	t2=$(nimbus github token)
	[ "$t1" = "$t2" ]
	[ "$(gh_count access_tokens)" = $((before + 1)) ]
	# 303 s tokens are good for 3 s: then a new one
	sleep 3.5
	t2=$(nimbus github token)
	[ "$t1" != "$t2" ]
	[ "$(nimbus github token)" = "$t2" ]
	[ "$(gh_count access_tokens)" = $((before + 2)) ]
	[ "$(store_sql "SELECT count(*) FROM github_tokens")" = 1 ]
}

@test "a token is used until 5 minutes before it expires, then replaced" {
	github_teardown
	github_double_start --token-ttl 303
	for_each_store near_expiry
}

@test "installations have their own tokens" {
	github_teardown
	github_double_start --installation 78
	t77=$(nimbus github token)
	t78=$(nimbus github token --installation 78)
	[ "$t77" != "$t78" ]
	[ "$(nimbus github token --installation 77)" = "$t77" ]
	[ "$(nimbus github token --installation 78)" = "$t78" ]
	[ "$(gh_count access_tokens)" = 2 ]
}
