#!/usr/bin/env bats
# The kv's claims of several keys at once, which the webhook receiver's
# replay keys use: all or none, one winner among racing claimers however
# they order their keys, and claims given up, on each kv.

bats_require_minimum_version 1.5.0
load lib/common
load lib/services

setup_file() {
	services_start
}

teardown_file() {
	services_stop
}

all_or_none() {
	kv_tool claim-all 60 a b
	run kv_tool claim-all 60 b c
	assert_status 5
	# c was not taken with b held
	kv_tool claim c 60
	run kv_tool claim a 60
	assert_status 5
	kv_tool unclaim a b
	kv_tool claim-all 60 b a
	run kv_tool claim-all 60 a
	assert_status 5
	# expired claims can be claimed again
	kv_tool claim-all 1 e1 e2
	sleep 1.2
	kv_tool claim-all 60 e2 e1
}

@test "claim-all takes every key or none; unclaim gives them up; on each kv" {
	for_each_kv all_or_none
}

race() {
	local i n=40 won=0 held=0 pids=() dir=$BATS_TEST_TMPDIR/$KV_DRIVER-$STORE_DRIVER
	mkdir -p "$dir"
	kv_tool claim warm-up 60
	# each claims the shared key and one of its own, half of them in the other order
	for ((i = 0; i < n; i++)); do
		if ((i % 2)); then
			kv_tool claim-all 60 shared "own-$i" 2>"$dir/err.$i" &
		else
			kv_tool claim-all 60 "own-$i" shared 2>"$dir/err.$i" &
		fi
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		if wait "${pids[$i]}"; then
			won=$((won + 1))
		elif [ $? -eq 5 ]; then
			held=$((held + 1))
			# a loser took nothing
			kv_tool claim "own-$i" 60 || { echo "own-$i was taken by a loser"; return 1; }
		else
			cat "$dir/err.$i"
			return 1
		fi
	done
	[ "$won" -eq 1 ] && [ "$held" -eq $((n - 1)) ] || { echo "won $won, held $held"; return 1; }
}

@test "of 40 processes claiming overlapping pairs exactly one wins, losers take nothing, on each kv" {
	for_each_kv race
}
