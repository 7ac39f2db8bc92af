#!/usr/bin/env bats
# nimbus reap's least privilege: read from /proc while it waits for
# GitHub in a VM's teardown, it keeps the capabilities nimbus-reap(1)
# documents (CAPABILITIES), none effective, with no_new_privs and its
# seccomp filter; a dry run keeps CAP_SYS_PTRACE alone, to see what a
# run sees.

load lib/common
load lib/github
load lib/boot
load lib/reap
load lib/sandbox

# The pid on the host of nsenter's child, which it runs in the world's pid namespace.
reap_found() {
	REAP=$(cat "/proc/$REAP_NSENTER/task/$REAP_NSENTER/children" 2>/dev/null)
	REAP=${REAP% }
	[ -n "$REAP" ]
}

asked_github() {
	[ "$(gh_count total)" -gt 0 ]
}

# reap_in_background ARG...: nimbus reap in the world; REAP is its pid on the
# host. GitHub may hang (gh_fault hang) for it to wait there.
reap_in_background() {
	export NIMBUS_GITHUB_TIMEOUT=120
	# as world() does, but nsenter itself in the background, not a subshell
	nsenter -t "$WORLD" -m -n -p -- "$NIMBUS" reap "$@" >"$T/out" 2>"$T/err" 3>&- &
	REAP_NSENTER=$!
	wait_for 100 reap_found || fail "reap did not start: $(cat "$T/err")"
}

@test "reap, waiting for GitHub: nimbus-reap(1)'s capabilities, none effective, filtered" {
	local want
	want=$(documented_caps nimbus-reap.1)
	stray_vm nimbus-0badcafe
	gh_runner acme nimbus-0badcafe >/dev/null
	gh_fault hang seconds=20 >/dev/null
	reap_in_background --grace 0
	wait_for 300 asked_github || fail "no request to GitHub: $(cat "$T/err")"
	assert_caps "$REAP" "$want" "$want" "$NONE"
	assert_sandboxed "$REAP"
	wait "$REAP_NSENTER" || fail "reap failed: $(cat "$T/out" "$T/err")"
	grep -qx "deleted netns nimbus-0badcafe" "$T/out"
	grep -q "^deregistered runner [0-9]* in acme$" "$T/out"
	assert_clean
}

@test "reap --dry-run keeps CAP_SYS_PTRACE alone: it sees a VM by its jail, as a run does" {
	local id pid want
	want=$(printf '%016x\n' $((1 << 19 & 0x$(status_of $$ CapBnd))))
	# a Firecracker whose command line says nothing: only its root tells its VM
	echo fc-hide >"$T/fail"
	wboot
	assert_success
	id=$output
	pid=$(jq -r .pid "$RECORDS/$id.json")
	wait_for 50 world sh -c "! tr -d '\\0' </proc/$pid/cmdline | grep -q ." || fail "not blanked"
	nimbus lease release j1 --fence "$FENCE" >/dev/null
	gh_runner acme "$id" >/dev/null
	gh_fault hang seconds=20 >/dev/null
	reap_in_background --grace 0 --dry-run
	wait_for 300 asked_github || fail "no request to GitHub: $(cat "$T/err")"
	assert_caps "$REAP" "$want" "$want" "$NONE"
	assert_sandboxed "$REAP"
	wait "$REAP_NSENTER" || fail "the dry run failed: $(cat "$T/out" "$T/err")"
	grep -qx "killed $id pid $pid" "$T/out" || fail "$(cat "$T/out")"
	reap --grace 0
	assert_success
	[ "$output" = "$(cat "$T/out")" ] || fail "dry run: $(cat "$T/out")"
	assert_clean
}
