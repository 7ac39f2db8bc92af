#!/usr/bin/env bats
# A boot that fails at any step undoes every step taken before it, in
# reverse, and exits with the failed step's code: no process, link,
# namespace, cgroup, jail, mount or record is left.

load lib/common
load lib/boot

setup() {
	common_setup
	boot_setup
	# failures that wait for Firecracker give up sooner
	export NIMBUS_FIRECRACKER_START_TIMEOUT=2
}

teardown() {
	boot_teardown
}

# fails_at STATUS: a boot fails with STATUS, nothing left, and the next boot works.
fails_at() {
	boot
	[ "$status" -eq "$1" ] || fail "expected exit $1, got $status: $stderr"
	[ -z "$output" ] || fail "output of a failed boot: $output"
	assert_no_leftovers
	rm -f "$T/fail"
	unset NIMBUS_TEST_BOOT_FAIL
}

@test "a failure after each of nimbus' steps leaves nothing behind" {
	local s
	for s in fence_check attest allocate network cgroups chroot jailer socket start pinning record; do
		echo "# after $s"
		export NIMBUS_TEST_BOOT_FAIL=$s
		fails_at 1
		[[ $stderr == *"injected failure at $s"* ]] || fail "$stderr"
	done
	boot
	assert_success
}

@test "a failure of the jailer at each of its steps leaves nothing behind" {
	local s
	for s in args chroot cgroup jail netns exec; do
		echo "# jailer-$s"
		echo "jailer-$s" >"$T/fail"
		fails_at 1
		[[ $stderr == *"the jailer exited with status 1"* || $stderr == *"Firecracker"* ]] ||
			fail "$stderr"
	done
}

@test "Firecracker failing to open its socket, to start, or to name its vCPUs: nothing left" {
	echo fc-socket >"$T/fail"
	fails_at 6
	[[ $stderr == *"did not open in time"* ]]
	echo fc-vcpus >"$T/fail"
	fails_at 6
	[[ $stderr == *"0 of the 1 vCPU threads"* ]]
	# Firecracker exits on a configuration it cannot use, while nimbus waits for it
	echo fc-config >"$T/fail"
	boot
	assert_failure
	assert_no_leftovers
	echo fc-start >"$T/fail"
	boot
	assert_failure
	assert_no_leftovers
	grep -q 'Building the microVM failed' "$T"/double/*.jsonl
}

@test "a fence lost while the VM starts: exit 3, nothing left" {
	stale_fence_at_jailer
	fails_at 3
	[[ $stderr == *"j1"* ]]
	[ "$(nimbus job show j1 --json | jq -r '.meta["vm.id"]')" = null ]
}

@test "a boot asked to stop (SIGTERM, SIGINT, SIGHUP) while the jailer runs undoes what it did" {
	local sig
	for sig in TERM INT HUP; do
		# from the jailer's wrapper: its parent is nimbus
		echo "kill -$sig \$(cut -d' ' -f4 /proc/\$PPID/stat)" >"$T/before-jailer"
		fails_at 1
		[[ $stderr == *"interrupted by SIG$sig before socket"* ]] || fail "$stderr"
	done
	rm "$T/before-jailer"
	boot
	assert_success
}

@test "a boot killed after a step leaves what it made for the reaper" {
	killed_boot network
	[ -e "$T/netns/$KILLED" ]
	[ "$(jq -r .state "$NIMBUS_CORE_RUN_DIR/vms/$KILLED.json")" = booting ]
}
