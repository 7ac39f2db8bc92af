#!/usr/bin/env bats
# What nimbus reap leaves alone: a live VM (its job's lease current and
# held here, its process running), and what is younger than --grace; and
# what it reaps although it looks alive.

load lib/common
load lib/github
load lib/boot
load lib/reap

@test "a live VM stays; objects younger than --grace wait; then they go, the live VM still stays" {
	local id
	wboot
	assert_success
	id=$output
	stray_vm nimbus-0badcafe
	reap
	assert_success
	assert_output ""
	[ "$(leftovers | grep -c 0badcafe)" -gt 5 ] || fail "young objects were reaped: $(leftovers)"
	# a dry run as root sees what a run would do
	reap --dry-run --grace 0
	assert_success
	assert_line "deleted netns nimbus-0badcafe"
	refute_output --partial "$id"
	reap --grace 0
	assert_success
	assert_line "deleted netns nimbus-0badcafe"
	refute_output --partial "$id"
	[ "$(leftovers | grep -c 0badcafe)" = 0 ]
	world kill -0 "$(jq -r .pid "$RECORDS/$id.json")"
	[ -d "$JAILS/$id" ] && [ -e "$T/netns/$id" ] && [ -f "$RECORDS/$id.json" ]
	[ "$(nimbus job show j1 --json | jq -r .state)" = claimed ]
}

@test "a VM whose Firecracker died goes, and its job fails with reason infrastructure" {
	local id pid
	wboot
	id=$output
	pid=$(jq -r .pid "$RECORDS/$id.json")
	world kill -KILL "$pid"
	reap --grace 0
	assert_success
	refute_line --partial "killed"
	assert_line "deleted netns $id"
	assert_line "removed record $id"
	assert_equal "${lines[${#lines[@]} - 1]}" "finished job j1 as failed (infrastructure)"
	assert_clean
	[ "$(nimbus job show j1 --json | jq -r '.state, .reason' | tr '\n' ' ')" = "failed infrastructure " ]
}

@test "a running VM whose lease is another holder's, released or expired goes; the job is left to its holder" {
	local id
	wboot
	id=$output
	# held by another host: the reaper calls itself elsewhere
	NIMBUS_CORE_HOLDER=elsewhere reap --grace 0
	assert_success
	assert_line --regexp "^killed $id pid [0-9]+$"
	assert_clean
	# released
	new_job j2
	run --separate-stderr world "$NIMBUS" boot --job j2 --fence "$FENCE"
	id=$output
	nimbus lease release j2 --fence "$FENCE" >/dev/null
	reap --grace 0
	assert_line --regexp "^killed $id pid [0-9]+$"
	refute_line --partial "finished job"
	assert_clean
	# expired
	new_job j3
	run --separate-stderr world "$NIMBUS" boot --job j3 --fence "$FENCE"
	assert_success
	id=$output
	nimbus lease renew j3 --fence "$FENCE" --ttl 1 >/dev/null
	sleep 2
	reap --grace 0
	assert_line --regexp "^killed $id pid [0-9]+$"
	refute_line --partial "finished job"
	assert_clean
	[ "$(nimbus job show j3 --json | jq -r .state)" = queued ]
}

@test "without the store, a running VM cannot be judged and stays; the rest goes; exit 1" {
	local id
	wboot
	id=$output
	stray_vm nimbus-0badcafe
	NIMBUS_STORE_URL=postgresql://nimbus@127.0.0.1:1/nimbus reap --grace 0
	assert_failure 1
	assert_line "deleted netns nimbus-0badcafe"
	refute_output --partial "$id"
	[[ $stderr == *"nimbus reap: cannot check $id (job j1): "* ]] || fail "$stderr"
	# GitHub's client keeps its tokens in the store: the runner is looked for next time
	[[ $stderr == *"nimbus reap: cannot deregister runner nimbus-0badcafe: "* ]] || fail "$stderr"
	[ "$(leftovers | grep 0badcafe)" = "record nimbus-0badcafe.json" ] || fail "$(leftovers)"
	[ -f "$RECORDS/$id.json" ] && world kill -0 "$(jq -r .pid "$RECORDS/$id.json")"
	# in JSON too
	NIMBUS_STORE_URL=postgresql://nimbus@127.0.0.1:1/nimbus reap --grace 0 --json
	assert_failure 1
	[ "$(jq -r '.[] | select(.ok | not) | .vm + " " + .action' <<<"$output" | sort)" = \
		"$(printf '%s\n' "$id check" "nimbus-0badcafe deregister" | sort)" ]
}

@test "records: the reaper's own go whatever their age, unreadable ones with their VM" {
	stray_vm nimbus-0badcafe
	stray_vm nimbus-deadbeef
	mkdir -p "$RECORDS"
	jq -n '{id: "nimbus-0badcafe", state: "reaping", created: (now | todate)}' >"$RECORDS/nimbus-0badcafe.json"
	echo '{"id": "nimbus-deadbeef", "pid": -1}' >"$RECORDS/nimbus-deadbeef.json"
	reap
	assert_success
	assert_line "deleted netns nimbus-0badcafe"
	assert_line "removed record nimbus-0badcafe"
	# without a record to read, the VM is as young as its objects
	refute_output --partial nimbus-deadbeef
	[[ $stderr == *"nimbus-deadbeef"*"negative pid"* ]] || fail "$stderr"
	reap --grace 0
	assert_success
	assert_line "deleted netns nimbus-deadbeef"
	assert_line "removed record nimbus-deadbeef"
	assert_clean
}

@test "a Firecracker that blanked its command line is found by its jail, without record or pid file" {
	local id pid
	echo fc-hide >"$T/fail"
	wboot
	assert_success
	id=$output
	pid=$(jq -r .pid "$RECORDS/$id.json")
	wait_for 50 world sh -c "! tr -d '\\0' </proc/$pid/cmdline | grep -q ."
	rm "$RECORDS/$id.json" "$JAILS/$id/root/firecracker.pid"
	reap --grace 0
	assert_success
	assert_line --index 0 "killed $id pid $pid"
	assert_clean
}
