#!/usr/bin/env bats
# Crash recovery: nimbus boot killed with SIGKILL after each of its steps
# (NIMBUS_TEST_BOOT_FAIL=STEP:kill), or with the jailer in the middle of
# its own (the jailer double's STEP:crash); then nimbus reap, and nothing
# of the VM is left. A VM that runs while its job's lease is current is
# live: it goes once the lease does.

load lib/common
load lib/github
load lib/boot
load lib/reap

# crashed_boot JOB: a boot of JOB that dies by SIGKILL.
crashed_boot() {
	new_job "$1"
	run world "$NIMBUS" boot --job "$1" --fence "$FENCE"
	[ "$status" = 137 ] || fail "boot exited $status, not killed: $output"
}

@test "boot killed after each of its steps: reap leaves nothing, and fails the job it held" {
	local s
	for s in fence_check attest allocate network cgroups chroot jailer socket start pinning record; do
		echo "# killed after $s"
		NIMBUS_TEST_BOOT_FAIL=$s:kill crashed_boot "j-$s"
		reap --grace 0
		assert_success
		case $s in
		fence_check | attest)
			# nothing made yet
			assert_output ""
			;;
		jailer | socket | start | pinning | record)
			# Firecracker runs and the lease is current: live, until the lease goes
			assert_output ""
			[ -n "$(leftovers)" ] || fail "the VM is gone"
			nimbus lease release "j-$s" --fence "$FENCE" >/dev/null
			reap --grace 0
			assert_success
			assert_line --index 0 --regexp "^killed nimbus-[0-9a-f]{8} pid [0-9]+$"
			refute_line --partial "finished job"
			;;
		*)
			assert_line --regexp "^removed record nimbus-[0-9a-f]{8}$"
			assert_equal "${lines[${#lines[@]} - 1]}" "finished job j-$s as failed (infrastructure)"
			;;
		esac
		assert_clean
	done
}

@test "the jailer and boot killed in the middle of each of the jailer's steps: reap leaves nothing" {
	local s
	for s in args chroot cgroup jail netns; do
		echo "# killed in jailer-$s"
		echo "jailer-$s:crash" >"$T/fail"
		crashed_boot "j-$s"
		reap --grace 0
		assert_success
		assert_line --regexp "^deleted netns nimbus-[0-9a-f]{8}$"
		assert_line --regexp "^removed chroot $JAILS/nimbus-[0-9a-f]{8}$"
		assert_equal "${lines[${#lines[@]} - 1]}" "finished job j-$s as failed (infrastructure)"
		assert_clean
	done
}
