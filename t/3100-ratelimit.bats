#!/usr/bin/env bats
# nimbus ratelimit: GCRA buckets in the kv, on Redis and on both store
# drivers; and the token mint limit that uses them.

load lib/common
load lib/services

setup_file() {
	services_start
}

teardown_file() {
	services_stop
}

# 100 takes at once from a bucket with a burst of 10 admit 10 ± 1. The
# rate is slow (10/m) so that starting 100 processes, which takes a
# while, refills nothing.
burst_race() {
	local i admitted=0 limited=0 pids=() dir
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/race.XXXXXX")
	nimbus db migrate >/dev/null
	for ((i = 0; i < 100; i++)); do
		nimbus ratelimit take org-a --rate 10/m --burst 10 >"$dir/out.$i" 2>"$dir/err.$i" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		if wait "${pids[$i]}"; then
			admitted=$((admitted + 1))
		elif [ $? -eq 5 ]; then
			limited=$((limited + 1))
			[[ $(cat "$dir/out.$i") =~ ^[1-6]$ ]] || fail "limited: stdout '$(cat "$dir/out.$i")'"
		else
			cat "$dir/err.$i"
			fail "take $i failed"
		fi
	done
	echo "# admitted $admitted, limited $limited"
	[ $((admitted + limited)) -eq 100 ]
	[ "$admitted" -ge 9 ] && [ "$admitted" -le 11 ]
	# another org's bucket is untouched
	nimbus ratelimit take org-b --rate 10/m --burst 10
	run nimbus ratelimit show org-b --rate 10/m --burst 10 --json
	[ "$(jq .remaining <<< "$output")" = 9 ]
}

@test "a burst admits burst ± 1 of 100 concurrent takes; orgs are separate" {
	for_each_kv burst_race
}

# Taking as fast as we can for 4.5 s from a 1/s bucket with a burst of 1
# admits the burst and then one a second: 5, give or take one (each
# attempt starts a process, well under a second even here).
refill() {
	local admitted=0 limited=0 end
	nimbus db migrate >/dev/null
	end=$(($(date +%s%N) + 4500000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		if nimbus ratelimit take r --rate 1/s --burst 1 >/dev/null; then
			admitted=$((admitted + 1))
		else
			[ $? -eq 5 ] || fail "take failed"
			limited=$((limited + 1))
		fi
	done
	echo "# admitted $admitted, limited $limited"
	[ "$limited" -gt 0 ]
	[ "$admitted" -ge 4 ] && [ "$admitted" -le 6 ]
}

@test "after the burst, requests are admitted at the rate" {
	for_each_kv refill
}

cost_and_show() {
	run nimbus ratelimit show fresh --rate 10/m --burst 4 --json
	assert_success
	[ "$(jq .remaining <<< "$output")" = 4 ]
	nimbus ratelimit take c --rate 10/m --burst 4 --cost 3
	run nimbus ratelimit take c --rate 10/m --burst 4 --cost 2
	assert_status 5
	# one token comes back every 6 s
	[ "$output" = 6 ]
	run nimbus ratelimit show c --rate 10/m --burst 4 --json
	[ "$(jq .remaining <<< "$output")" = 1 ]
	[ "$(jq .reset_ms <<< "$output")" -gt 17000 ]
	[ "$(jq .reset_ms <<< "$output")" -le 18000 ]
	nimbus ratelimit take c --rate 10/m --burst 4
}

@test "--cost takes several; show looks without taking" {
	for_each_kv cost_and_show
}

@test "bad input: the documented exit codes" {
	run nimbus ratelimit take k
	assert_status 2
	assert_output --partial "--rate is required"
	run nimbus ratelimit take k --rate 10
	assert_status 2
	run nimbus ratelimit take k --rate 0/s
	assert_status 2
	run nimbus ratelimit take k --rate 10/s --burst 0
	assert_status 2
	run nimbus ratelimit take k --rate 10/s --burst 2 --cost 3
	assert_status 2
	assert_output --partial "can never pass"
	run nimbus ratelimit take --rate 10/s
	assert_status 2
	run nimbus ratelimit take "$(printf 'a%.0s' {1..600})" --rate 10/s
	assert_status 2
	run nimbus ratelimit take $'bad\x01key' --rate 10/s
	assert_status 2
}

@test "Redis down: exit 6" {
	NIMBUS_REDIS_URL=redis://127.0.0.1:$(free_port) run nimbus ratelimit take k --rate 1/s
	assert_status 6
}

mint_limit() {
	nimbus key rotate >/dev/null
	local i
	for i in 1 2 3; do
		nimbus -c token.mint_rate=1/h -c token.mint_burst=3 token mint --scope pull:acme >/dev/null
	done
	run --separate-stderr nimbus -c token.mint_rate=1/h -c token.mint_burst=3 token mint --scope pull:acme
	assert_status 5
	[ -z "$output" ]
	[[ $stderr == *"mint rate of org acme exceeded"* ]]
	# each org has its own bucket
	nimbus -c token.mint_rate=1/h -c token.mint_burst=3 token mint --scope pull:other >/dev/null
}

@test "token mint is rate limited per org" {
	export NIMBUS_KEYS_DIR=$BATS_TEST_TMPDIR/keys
	for_each_kv mint_limit
}
