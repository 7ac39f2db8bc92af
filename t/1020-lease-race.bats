#!/usr/bin/env bats
# Races: holders fighting over leases, and claimers over a queue, on each
# store and kv; what they leave behind must show one owner per job.

bats_require_minimum_version 1.5.0
load lib/common
load lib/services

setup_file() {
	services_start
}

teardown_file() {
	services_stop
}

# Start lease-tool ARGS... in the background, its pid in pids, its
# output in $dir/out.N and $dir/err.N.
start() {
	lease_tool "$@" >"$dir/out.${#pids[@]}" 2>"$dir/err.${#pids[@]}" 3>&- &
	pids+=($!)
}

# Wait for every pid started; show the errors of one that failed.
wait_all() {
	local i
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { cat "$dir/err.$i"; return 1; }
	done
}

race() {
	local dir=$BATS_TEST_TMPDIR/$STORE_DRIVER i pids=()
	mkdir -p "$dir"
	# Eight writers on a busy machine may wait for SQLite's lock longer
	# than the default; this is about fences, not about waiting.
	export NIMBUS_STORE_BUSY_TIMEOUT=60
	lease_tool add race 0 10
	for i in 1 2 3 4 5 6 7 8; do
		start race "$dir" "$i" 200 10
	done
	wait_all

	# Every fence handed out once.
	[ -z "$(cat "$dir"/acquired.* | cut -d' ' -f2 | sort | uniq -d)" ]
	# Per job, in fence order, no acquisition ended before an earlier
	# fence's acquisition started: fences grow in acquisition order.
	sort -k1,1 -k2,2n "$dir"/acquired.* | awk '
		$1 != job { job = $1; started = 0 }
		started > $4 { print "fence " $2 " of " $1 " was acquired before a smaller one"; bad = 1 }
		$3 > started { started = $3 }
		END { exit bad }'
	# The fenced writes never went back to a smaller fence.
	awk '($1 in last) && $2 < last[$1] { print "write of fence " $2 " of " $1 " after " last[$1]; bad = 1 }
		{ last[$1] = $2 } END { exit bad }' "$dir/writes"
	# And the race did race: leases changed hands, stale writes were refused.
	cat "$dir"/out.*
	[ "$(cat "$dir"/acquired.* | wc -l)" -ge 200 ]
	[ "$(cat "$dir"/out.* | awk '{ n += $8 } END { print n }')" -gt 0 ]
}

@test "race: 8 processes x 200 acquire/renew/release cycles over 10 jobs, on each store" {
	for_each_store race
}

# At least $2 lines in file $1.
lines_at_least() {
	[ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]
}

claims() {
	local dir=$BATS_TEST_TMPDIR/$KV_DRIVER-$STORE_DRIVER i pids=()
	mkdir -p "$dir"
	lease_tool add job 0 250
	for i in 1 2 3 4; do
		start claim "claimer-$i" "$dir/claimed" 5000
	done
	if [ "$KV_DRIVER" = redis ]; then
		wait_for 300 lines_at_least "$dir/claimed" 100
		redis_down
		sleep 0.5
		redis_up
	fi
	lease_tool add job 250 250
	wait_all

	# Each job claimed once, and finished: none lost.
	[ "$(wc -l < "$dir/claimed")" -eq 500 ]
	[ "$(cut -d' ' -f1 "$dir/claimed" | sort -u | wc -l)" -eq 500 ]
	[ -z "$(cut -d' ' -f2 "$dir/claimed" | sort | uniq -d)" ]
	[ "$(nimbus job list --state succeeded --json | jq length)" -eq 500 ]
	[ "$(nimbus job list --json | jq length)" -eq 500 ]
	if [ "$KV_DRIVER" = redis ]; then
		# The claims fell back to the store while Redis was away, and
		# what went through Redis is all forgotten.
		cat "$dir"/err.* | grep -q "the job queue in Redis is unavailable"
		[ "$(redis_cli exists nimbus:queue nimbus:queue:taken nimbus:queue:jobs)" = 0 ]
	fi
}

@test "claims: 4 claimers, 500 jobs, each claimed once and none lost, on each kv (Redis restarted midway)" {
	for_each_kv claims
}
