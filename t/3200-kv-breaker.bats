#!/usr/bin/env bats
# Circuit breakers in the kv, on Redis and on both store drivers: the
# state every process shares (the GitHub client's breaker is one).

load lib/common
load lib/services

setup_file() {
	services_start
}

teardown_file() {
	services_stop
}

# kv-tool breaker OP KEY [PROBE_MS]: 3 failures open it for 2 s; probes
# are out for 30 s unless said otherwise, which no test waits for.
brk() {
	kv_tool breaker "$1" "$2" 3 2000 "${3:-30000}"
}

life_cycle() {
	run brk peek b
	assert_output "closed 0 0"
	brk failure b
	brk failure b
	run brk ask b
	assert_success
	assert_output "closed 2 0"
	# a success clears the count: failures must be consecutive
	brk success b
	brk failure b
	brk failure b
	run brk failure b
	assert_output --regexp '^open 3 (1[0-9]{3}|2000)$'
	run brk ask b
	assert_status 5
	assert_output --regexp '^open 3 [0-9]+$'
	sleep 2.1
	run brk peek b
	assert_output "half-open 3 0"
	# one probe goes; the others wait for it
	run brk ask b
	assert_success
	assert_output --regexp '^half-open 3 [0-9]+ probing$'
	run brk ask b
	assert_status 5
	assert_output --regexp '^half-open 3 [0-9]+ probing$'
	# the probe failed: open again at once, whatever the count
	run brk failure b
	assert_output --regexp '^open 4 [0-9]+$'
	sleep 2.1
	brk ask b
	run brk success b
	assert_output "closed 0 0"
	run brk ask b
	assert_success
	# another key is another breaker
	run brk peek other
	assert_output "closed 0 0"
}

@test "kv breaker: opens at the threshold, lets one probe through, closes on its success" {
	for_each_kv life_cycle
}

probe_timeout() {
	brk failure p
	brk failure p
	brk failure p
	sleep 2.1
	brk ask p 3000
	run brk ask p 3000
	assert_status 5
	# the probe never reported: after probe_ms another may go
	sleep 3.1
	run brk ask p 3000
	assert_success
	assert_output --regexp 'probing$'
}

@test "kv breaker: a probe that never reports lets another through after probe_ms" {
	for_each_kv probe_timeout
}

probe_race() {
	local i n=20 went=0 refused=0 pids=() dir
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/race.XXXXXX")
	brk failure r
	brk failure r
	brk failure r
	sleep 2.1
	for ((i = 0; i < n; i++)); do
		brk ask r >"$dir/out.$i" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		if wait "${pids[$i]}"; then
			went=$((went + 1))
		elif [ $? -eq 5 ]; then
			refused=$((refused + 1))
		else
			cat "$dir/out.$i"
			fail "ask $i failed"
		fi
	done
	echo "# went $went, refused $refused"
	[ "$went" -eq 1 ] && [ "$refused" -eq $((n - 1)) ]
}

@test "kv breaker: of 20 processes asking a breaker due for a probe, one goes" {
	for_each_kv probe_race
}

@test "kv breaker: reset closes it" {
	reset() {
		brk failure z
		brk failure z
		brk failure z
		run brk reset z
		assert_output "closed 0 0"
		brk ask z
	}
	for_each_kv reset
}
