#!/usr/bin/env bats
# The teardown library as the reaper will call it (t/helpers/teardown-tool):
# from a VM's record or from its names alone, every step including the
# GitHub runner (the GitHub double) and the job, each safe to repeat.

load lib/common
load lib/github
load lib/boot

setup_file() {
	github_key
}

setup() {
	github_setup
	boot_setup
}

teardown() {
	boot_teardown
	github_teardown
}

tool() {
	run --separate-stderr "$NIMBUS_BUILD/t/helpers/teardown-tool" "$@"
}

# The VM's record names runner $2 in acme.
give_runner() {
	local f=$NIMBUS_CORE_RUN_DIR/vms/$1.json
	jq --argjson id "$2" '. + {runner_scope: "acme", runner_id: $id}' "$f" >"$f.new"
	mv "$f.new" "$f"
}

@test "from a record: kill, links, netns, cgroups, jail, runner, record, then the job fails" {
	local id hex pid runner
	boot
	assert_success
	id=$output
	hex=${id#nimbus-}
	pid=$(jq -r .pid "$NIMBUS_CORE_RUN_DIR/vms/$id.json")
	runner=$(gh_runner acme "$id")
	give_runner "$id" "$runner"
	tool --dry-run "$id"
	assert_success
	assert_line --index 0 "killed $id pid $pid"
	assert_line "deregistered runner $runner in acme"
	assert_line "finished job j1 as failed (infrastructure)"
	local planned=$output
	[ "$(nimbus vm list --json | jq -r '.[0].alive')" = true ]
	[ "$(gh_count runner_delete)" = 0 ]
	tool "$id"
	assert_success
	# the dry run said what the teardown did
	[ "$output" = "$planned" ]
	assert_equal "${lines[0]}" "killed $id pid $pid"
	assert_equal "${lines[1]}" "deleted link nimbus${hex}h"
	assert_line "deleted netns $id"
	assert_line "removed cgroup /sys/fs/cgroup/pids/$BOOT_CGROUP/$id"
	assert_line "removed chroot $T/jail/firecracker/$id"
	assert_equal "${lines[${#lines[@]} - 3]}" "deregistered runner $runner in acme"
	assert_equal "${lines[${#lines[@]} - 2]}" "removed record $id"
	assert_equal "${lines[${#lines[@]} - 1]}" "finished job j1 as failed (infrastructure)"
	assert_no_leftovers
	[ "$(nimbus job show j1 --json | jq -r '.state, .reason' | tr '\n' ' ')" = "failed infrastructure " ]
	# again: all gone, nothing to say
	tool "$id"
	assert_success
	assert_output ""
}

@test "a busy runner is kept with the record, for the next run; --no-github and --keep-job" {
	local id runner
	boot
	id=$output
	runner=$(gh_runner acme "$id" busy=1)
	give_runner "$id" "$runner"
	tool --keep-job "$id"
	assert_status 5
	assert_line "cannot deregister runner $runner in acme: runner $id ($runner) in acme is running a job"
	refute_line --partial "removed record"
	[ -f "$NIMBUS_CORE_RUN_DIR/vms/$id.json" ]
	# the host side is clean already; the next run only retries the runner
	curl -sf -X POST "$GH/_double/busy?id=$runner&busy=0" >/dev/null
	tool --keep-job "$id"
	assert_success
	assert_output "deregistered runner $runner in acme
removed record $id"
	[ "$(nimbus job show j1 --json | jq -r .state)" = claimed ]
	assert_no_leftovers
	# --no-github leaves runners to GitHub
	boot
	id=$output
	give_runner "$id" "$(gh_runner acme "$id")"
	tool --no-github --keep-job "$id"
	assert_success
	refute_line --partial "runner"
	assert_no_leftovers
}

@test "by name alone, what a crash left: a stray netns, link, cgroups and jail" {
	local id
	killed_boot jailer
	id=$KILLED
	rm "$NIMBUS_CORE_RUN_DIR/vms/$id.json"
	tool "$id"
	assert_success
	assert_line --regexp "^killed $id pid [0-9]+$"
	assert_line "deleted netns $id"
	assert_line "removed chroot $T/jail/firecracker/$id"
	assert_no_leftovers
	# the job is not failed: without a record, nothing says which fence held it
	[ "$(nimbus job show j1 --json | jq -r .state)" = claimed ]
}

@test "a job whose fence went stale is not finished by the teardown" {
	local id
	boot
	id=$output
	FENCE=$(nimbus lease acquire j1)
	tool "$id"
	assert_success
	refute_line --partial "finished job"
	[ "$(nimbus job show j1 --json | jq -r .state)" = claimed ]
	assert_no_leftovers
}
