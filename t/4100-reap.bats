#!/usr/bin/env bats
# nimbus reap on a host of the test's own (lib/reap's world): whatever a
# crash left of a VM, made by hand or by boot with the doubles, goes in
# one run, and the next finds nothing; what is another's, or alive, stays.

load lib/common
load lib/github
load lib/boot
load lib/reap

# The decoys: another's tap, namespace, process, cgroup and runner, and
# a live VM (LIVE), booted for job live whose lease is current.
decoys() {
	local m fence
	world ip tuntap add tap0 mode tap
	mkdir -p "$T/netns"
	touch "$T/netns/other"
	world unshare --net="$T/netns/other" true
	DECOY_PID=$(vm_process other-vm)
	for m in $(cgroup_mounts); do
		mkdir -p "$m/$BOOT_CGROUP/other"
	done
	gh_runner acme ci-runner-1 >/dev/null
	nimbus job add live >/dev/null
	fence=$(nimbus lease acquire live)
	LIVE=$(world "$NIMBUS" boot --job live --fence "$fence")
}

assert_decoys() {
	world ip link show tap0 >/dev/null || fail "tap0 is gone"
	world nsenter --net="$T/netns/other" true || fail "netns other is gone"
	world kill -0 "$DECOY_PID" || fail "the process of other-vm is gone"
	[ "$(ls -d /sys/fs/cgroup/*/"$BOOT_CGROUP"/other | wc -l)" = "$(cgroup_mounts | wc -l)" ] ||
		fail "a cgroup other is gone"
	[ "$(world "$NIMBUS" github runners --org acme --json | jq -r '.[].name')" = ci-runner-1 ] ||
		fail "runners left: $(world "$NIMBUS" github runners --org acme --json)"
	world kill -0 "$(jq -r .pid "$RECORDS/$LIVE.json")" || fail "the live VM's process is gone"
	[ -d "$JAILS/$LIVE" ] && [ -e "$T/netns/$LIVE" ] || fail "the live VM's objects are gone"
	[ "$(leftovers | grep -c "${LIVE#nimbus-}")" -gt 5 ] || fail "the live VM lost objects: $(leftovers)"
}

@test "stale VMs, by hand and booted, go in one run; the next finds nothing; others' stay" {
	local booted bpid deadbeef term runner1 runner2 m
	decoys
	# booted with the doubles, then its job's lease released: stale
	wboot
	assert_success
	booted=$output
	bpid=$(jq -r .pid "$RECORDS/$booted.json")
	nimbus lease release j1 --fence "$FENCE" >/dev/null
	# made by hand: processes (one ignores SIGTERM), a namespace and tap, a
	# host link, cgroups, a jail, a record naming a runner
	stray_vm nimbus-deadbeef
	deadbeef=$(vm_process nimbus-deadbeef)
	term=$(vm_process nimbus-deadbeef jailer TERM)
	runner1=$(gh_runner acme nimbus-deadbeef)
	record nimbus-deadbeef "$(jq -n --argjson pid "$deadbeef" --argjson r "$runner1" \
		'{pid: $pid, runner_scope: "acme", runner_id: $r}')"
	# and one found by its names alone, its runner by its name
	stray_vm nimbus-0badcafe
	runner2=$(gh_runner widgets nimbus-0badcafe)

	reap --dry-run --grace 0
	assert_success
	local planned=$output
	[ "$(leftovers | wc -l)" -gt 20 ] || fail "a dry run changed something: $(leftovers)"
	[ "$(gh_count runner_delete)" = 0 ]

	reap --grace 0
	assert_success
	refute_output --partial "$LIVE"
	# the dry run said what the run did
	[ "$output" = "$planned" ] || fail "the dry run differs: $(diff <(echo "$planned") <(echo "$output"))"
	assert_line "killed $booted pid $bpid"
	assert_line "removed record $booted"
	assert_line "killed nimbus-deadbeef pid $deadbeef"
	assert_line "killed nimbus-deadbeef pid $term"
	assert_line "deleted link nimbusdeadbeefh"
	assert_line "deleted netns nimbus-deadbeef"
	assert_line "removed chroot $JAILS/nimbus-deadbeef"
	for m in $(cgroup_mounts); do
		assert_line "removed cgroup $m/$BOOT_CGROUP/nimbus-deadbeef"
	done
	assert_line "deregistered runner $runner1 in acme"
	assert_line "removed record nimbus-deadbeef"
	assert_line "deleted netns nimbus-0badcafe"
	assert_line "removed chroot $JAILS/nimbus-0badcafe"
	assert_line "deregistered runner $runner2 in widgets"
	refute_line "removed record nimbus-0badcafe"
	refute_output --partial other
	refute_output --partial tap0
	[ -z "$(leftovers | grep -v "${LIVE#nimbus-}")" ] ||
		fail "left behind: $(leftovers | grep -v "${LIVE#nimbus-}")"
	assert_decoys

	reap
	assert_success
	assert_output ""
	reap --grace 0 --json
	assert_success
	assert_output "[]"
}

@test "two reapers at once: one waits for the other, and each action is taken once" {
	local i p1 p2
	for i in 1 2 3 4; do
		stray_vm "nimbus-0badcaf$i"
	done
	world "$NIMBUS" reap --grace 0 >"$T/out.1" 2>"$T/err.1" &
	p1=$!
	world "$NIMBUS" reap --grace 0 >"$T/out.2" 2>"$T/err.2" &
	p2=$!
	wait "$p1" "$p2"
	[ -z "$(cat "$T/err.1" "$T/err.2")" ] || fail "$(cat "$T/err.1" "$T/err.2")"
	[ "$(sort "$T/out.1" "$T/out.2" | uniq -d)" = "" ] || fail "done twice: $(sort "$T"/out.* | uniq -d)"
	[ "$(grep -c '^deleted netns' "$T/out.1" "$T/out.2" | awk -F: '{ n += $2 } END { print n }')" = 4 ]
	assert_clean
}

@test "without root: exit 8 before anything; bad options: exit 2" {
	stray_vm nimbus-0badcafe
	nobody_dir
	run --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env NIMBUS_CONFIG=/dev/null "$NOBODY_NIMBUS" reap --grace 0
	assert_status 8
	[ "$stderr" = "nimbus reap: reaping needs root (processes, namespaces, cgroups, jails)" ]
	[ "$(leftovers | grep -c 0badcafe)" -gt 5 ]
	for a in "--grace -1" "--grace 1x" "--grace 86401" "nimbus-0badcafe"; do
		run --separate-stderr nimbus reap $a
		assert_status 2
		[ -z "$output" ]
	done
	run nimbus reap -h
	assert_success
	assert_line --index 0 "usage: nimbus reap [--dry-run] [--json] [--no-github] [--grace SECONDS]"
}
