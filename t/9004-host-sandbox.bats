#!/usr/bin/env bats
# The host commands' least privilege: read from /proc while each waits
# inside its work, boot and vm stop keep the capabilities their pages
# document (CAPABILITIES), none effective, with no_new_privs and their
# seccomp filter; the filter kills the process at a forbidden call. The
# jailer gets boot's set, and Firecracker keeps it as its bounding set.

load lib/common
load lib/boot
load lib/sandbox

teardown() {
	[ -z "${T:-}" ] || touch "$T/go"
	boot_teardown
}

@test "boot, waiting for the jailer: nimbus-boot(1)'s capabilities, none effective, filtered" {
	local pid jailer fc id want
	boot_setup
	want=$(documented_caps nimbus-boot.1)
	# until told to go, or the test is over
	cat >"$T/before-jailer" <<-EOF
	echo \$PPID >"$T/jailer.pid"
	while [ ! -e "$T/go" ] && [ -d "$T" ]; do sleep 0.05; done
	EOF
	"$NIMBUS" boot --job j1 --fence "$FENCE" >"$T/out" 2>"$T/err" 3>&- &
	pid=$!
	wait_for 300 test -s "$T/jailer.pid" || fail "the jailer did not start: $(cat "$T/err")"
	assert_caps "$pid" "$want" "$want" "$NONE"
	assert_sandboxed "$pid"
	# root exec'ing the jailer gives it the bounding set, with no_new_privs no more
	jailer=$(cat "$T/jailer.pid")
	assert_caps "$jailer" "$want" "$want" "$want"
	assert_sandboxed "$jailer"
	touch "$T/go"
	wait "$pid" || fail "boot failed: $(cat "$T/err")"
	id=$(cat "$T/out")
	# Firecracker, as the VM's uid, holds nothing; its bounding set is boot's
	fc=$(jq -r .pid "$NIMBUS_CORE_RUN_DIR/vms/$id.json")
	assert_caps "$fc" "$want" "$NONE" "$NONE"
	assert_sandboxed "$fc"
	nimbus vm stop "$id" --fence "$FENCE" >/dev/null
	assert_no_leftovers
}

@test "vm stop, waiting for the guest: nimbus-vm(1)'s capabilities, none effective, filtered" {
	local pid id want
	boot_setup
	want=$(documented_caps nimbus-vm.1)
	echo fc-ctrl-alt-del >"$T/fail"
	boot
	assert_success
	id=$output
	"$NIMBUS" vm stop "$id" --fence "$FENCE" --timeout 600 >"$T/out" 2>"$T/err" 3>&- &
	pid=$!
	wait_for 300 grep -q SendCtrlAltDel "$T/double/$id.jsonl" || fail "no Ctrl-Alt-Del: $(cat "$T/err")"
	# the answer read, its socket's capability lowered
	wait_for 100 none_effective "$pid"
	assert_caps "$pid" "$want" "$want" "$NONE"
	assert_sandboxed "$pid"
	# the guest goes: the teardown follows
	kill -KILL "$(jq -r .pid "$NIMBUS_CORE_RUN_DIR/vms/$id.json")"
	wait "$pid" || fail "vm stop failed: $(cat "$T/err")"
	grep -qx "shut down $id pid [0-9]*" "$T/out"
	assert_no_leftovers
}

# probe FILTER ACTION: seccomp-probe under the host command FILTER's filter
# allows ACTION ("ok" or the kernel's refusal after its name), or kills it.
probe() {
	run "$NIMBUS_BUILD/t/helpers/seccomp-probe" --host "$1" getpid "$2"
	assert_line --index 0 'getpid ok'
}

allowed() {
	probe "$@"
	assert_success
	assert_line --index 1 --regexp "^$2 .+"
}

killed() {
	probe "$@"
	# killed by SIGSYS in the call: nothing after its name
	[ "$status" = 159 ] || fail "$1: $2: exit $status, $output"
	assert_line --index 1 "$2 "
}

@test "under the host commands' filters, a forbidden system call kills the process" {
	local a forbidden
	# the sanitizer build lets its leak checker fork and ptrace
	forbidden="userns packet bpf keyctl perf kexec module"
	[[ $NIMBUS_BUILD == *build-san ]] || forbidden="$forbidden ptrace"
	for a in $forbidden execve unshare; do
		killed vm-stop "$a"
	done
	[[ $NIMBUS_BUILD == *build-san ]] || killed vm-stop fork
	for a in $forbidden; do
		killed boot "$a"
	done
	allowed vm-stop thread
	allowed vm-stop clone3
	assert_line --index 1 'clone3 Function not implemented'
	# what the jailer does: the filter lets it, the kernel wants the capability effective
	allowed boot fork
	allowed boot unshare
	assert_line --index 1 'unshare Operation not permitted'
	run "$NIMBUS_BUILD/t/helpers/seccomp-probe" --host boot execve
	assert_success
	assert_output 'execve '
}
