#!/usr/bin/env bats
# Twenty boots at once: distinct ids, uids and, while the pool lasts,
# CPUs; the others are refused whole and leave nothing.

load lib/common
load lib/boot

setup() {
	common_setup
	boot_setup
}

teardown() {
	boot_teardown
}

# boot_many N [ARG]...: N boots at once; $T/par.I holds boot I's stdout, $T/rc.I its status.
boot_many() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		{
			local rc=0
			"$NIMBUS" -v boot --job j1 --fence "$FENCE" "$@" >"$T/par.$i" 2>"$T/stderr.par.$i" || rc=$?
			echo $rc >"$T/rc.$i"
		} &
	done
	wait
}

ids_with_status() {
	local i
	for ((i = 0; i < 20; i++)); do
		[ "$(cat "$T/rc.$i")" = "$1" ] && cat "$T/par.$i"
	done
	true
}

stop_all() {
	local id
	for id in $(ls "$NIMBUS_CORE_RUN_DIR/vms" | sed -n 's/\.json$//p'); do
		nimbus vm stop "$id" --fence "$FENCE" >/dev/null || fail "cannot stop $id"
	done
}

@test "20 boots at once: the pool's two CPUs go to two VMs, the others are refused" {
	boot_many 20
	[ "$(ids_with_status 0 | wc -l)" = 2 ] || fail "$(cat "$T"/rc.* | sort | uniq -c)"
	[ "$(cat "$T"/rc.* | grep -c "^5$")" = 18 ] || fail "$(cat "$T"/rc.* | sort | uniq -c): $(cat "$T"/stderr.par.* | grep -v debug | sort | uniq -c)"
	run nimbus vm list --json
	[ "$(jq -r '[.[].cpus] | sort | join(" ")' <<<"$output")" = "0 1" ]
	[ "$(jq -r '[.[].uid] | unique | length' <<<"$output")" = 2 ]
	stop_all
	assert_no_leftovers
}

@test "20 boots at once on shared CPUs: distinct ids, uids, namespaces and taps" {
	local out
	boot_many 20 --cpus 0-1
	[ "$(ids_with_status 0 | wc -l)" = 20 ] || fail "$(cat "$T"/rc.* | sort | uniq -c): $(cat "$T"/stderr.par.* | grep -v debug | sort | uniq -c | head)"
	[ "$(ids_with_status 0 | sort -u | wc -l)" = 20 ]
	out=$(nimbus vm list --json)
	[ "$(jq -r '[.[].uid] | unique | length' <<<"$out")" = 20 ]
	[ "$(jq -r '[.[] | select(.alive)] | length' <<<"$out")" = 20 ]
	[ "$(ls "$T/netns" | wc -l)" = 20 ]
	[ "$(ip -o link show type veth | grep -c "nimbus[0-9a-f]\{8\}h")" -ge 20 ]
	stop_all
	assert_no_leftovers
}
