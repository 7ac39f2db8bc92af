#!/usr/bin/env bats
# nimbus reap and the GitHub runners of stale VMs (the GitHub double in
# the test's world): a failing GitHub does not keep the host dirty, the
# runner is tried again by the next run; a busy runner is kept; runners
# of VMs that are not this host's are never touched.

load lib/common
load lib/github
load lib/boot
load lib/reap

@test "GitHub failing: the host is cleaned, the runner waits for the next run, exit 1" {
	local runner
	stray_vm nimbus-0badcafe
	runner=$(gh_runner acme nimbus-0badcafe)
	gh_fault 500 count=1 >/dev/null
	reap --grace 0
	assert_failure 1
	assert_line "deleted netns nimbus-0badcafe"
	assert_line "removed chroot $JAILS/nimbus-0badcafe"
	[[ $stderr == "nimbus reap: cannot deregister runner nimbus-0badcafe: "*500* ]] || fail "$stderr"
	# its record, the reaper's, says where to look next time
	[ "$(leftovers)" = "record nimbus-0badcafe.json" ] || fail "$(leftovers)"
	[ "$(jq -r .state "$RECORDS/nimbus-0badcafe.json")" = reaping ]
	reap --grace 0 --json
	assert_success
	[ "$(jq -r '.[] | [.action, .object, .ok] | join(" ")' <<<"$output")" = "deregistered runner $runner in acme true
removed record nimbus-0badcafe true" ]
	assert_clean
	reap --grace 0
	assert_success
	assert_output ""
}

@test "a busy runner is kept, and the record with it, until it is idle" {
	local id runner
	wboot
	id=$output
	runner=$(gh_runner acme "$id" busy=1)
	nimbus lease release j1 --fence "$FENCE" >/dev/null
	reap --grace 0
	assert_failure 1
	assert_line --regexp "^killed $id pid [0-9]+$"
	assert_line "deleted netns $id"
	refute_line --partial "removed record"
	[ "$stderr" = "nimbus reap: cannot deregister runner $runner in acme: runner $id ($runner) in acme is running a job" ] ||
		fail "$stderr"
	[ "$(leftovers)" = "record $id.json" ] || fail "$(leftovers)"
	# a dry run says the same
	reap --grace 0 --dry-run
	assert_failure 1
	assert_output ""
	[[ $stderr == *"runner $id ($runner) in acme is running a job" ]] || fail "$stderr"
	curl -sf -X POST "$GH/_double/busy?id=$runner&busy=0" >/dev/null
	reap --grace 0
	assert_success
	assert_output "deregistered runner $runner in acme
removed record $id"
	assert_clean
}

@test "--no-github leaves runners alone; a runner of no VM of this host is never touched" {
	stray_vm nimbus-0badcafe
	gh_runner acme nimbus-0badcafe >/dev/null
	gh_runner acme nimbus-12345678 >/dev/null
	reap --grace 0 --no-github
	assert_success
	assert_line "deleted netns nimbus-0badcafe"
	refute_output --partial runner
	[ "$(gh_count total)" = 0 ]
	assert_clean
	# another host's VMs' runners are named the same way: only their host can tell
	reap --grace 0
	assert_success
	assert_output ""
	[ "$(gh_count runner_delete)" = 0 ]
}
