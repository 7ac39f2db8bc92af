#!/usr/bin/env bats
# nimbus audit --vm: a VM's Firecracker as its record describes it. On a
# made-up /proc (--root) every check is broken in turn; as root, against
# a real process set up as the jailer sets Firecracker up (fake-vm: own
# pid and network namespaces, cgroups, chroot, uid, seccomp), then one
# that runs without seccomp or as root.

load lib/common
load lib/audit

bats_require_minimum_version 1.5.0

setup() {
	audit_setup
	VM=nimbus-0123abcd
	VM_PID=
	NETNS=
	CGROUPS=()
	mkdir -p "$NIMBUS_CORE_RUN_DIR/vms" "$BATS_TEST_TMPDIR/jail/root"
	cd "$BATS_TEST_TMPDIR"
	head -c 8192 /dev/urandom > rootfs.img
	nimbus job add j1 >/dev/null
	nimbus rootfs attest j1 --fence "$(nimbus lease acquire j1)" rootfs.img >/dev/null
	nimbus job add j2 >/dev/null
}

teardown() {
	local d
	if [ -n "$VM_PID" ]; then
		kill -TERM "$VM_PID" 2>/dev/null || true
		wait "$VM_PID" 2>/dev/null || true
	fi
	for d in "${CGROUPS[@]}"; do
		# a killed task leaves its memory and pids cgroups a moment later
		wait_for 50 rmdir "$d" || true
		rmdir "${d%/*}" 2>/dev/null || true
	done
	[ -z "$NETNS" ] || ip netns delete "$NETNS" 2>/dev/null || true
}

# record ID PID UID GID JOB [NETNS] [CGROUP...]: the VM record boot writes.
record() {
	local id=$1 pid=$2 uid=$3 gid=$4 job=$5 netns=${6:-}
	shift 5
	shift || true
	jq -n --arg id "$id" --argjson pid "$pid" --argjson uid "$uid" --argjson gid "$gid" \
		--arg job "$job" --arg jail "$BATS_TEST_TMPDIR/jail" --arg netns "$netns" \
		'{id: $id, state: "running", pid: $pid, uid: $uid, gid: $gid, jail: $jail,
		  job: (if $job == "" then null else $job end),
		  netns: (if $netns == "" then null else $netns end),
		  cgroups: $ARGS.positional}' --args "$@" > "$NIMBUS_CORE_RUN_DIR/vms/$id.json"
}

# A cgroup v2 directory with every limit set, outside any hierarchy.
fake_cgroup() {
	local d=$BATS_TEST_TMPDIR/cg/nimbus/$VM
	mkdir -p "$d"
	echo 536870912 > "$d/memory.max"
	echo 64 > "$d/pids.max"
	echo 2-3 > "$d/cpuset.cpus"
	echo 'max 100000' > "$d/cpu.max"
	echo "$d"
}

# The Firecracker of $VM in the made-up /proc, as pid 777.
fake_firecracker() {
	local p=$R/proc/777
	fake_process "$R" 777 firecracker --id "$VM" --start-time-us 1 --api-sock /run/firecracker.socket
	fake_task "$R" 777 777 Uid=$'12345\t12345\t12345\t12345' Gid=$'12345\t12345\t12345\t12345'
	fake_task "$R" 777 778 Uid=$'12345\t12345\t12345\t12345' Gid=$'12345\t12345\t12345\t12345'
	mkdir -p "$p/ns" "$p/net"
	ln -sfn "$BATS_TEST_TMPDIR/jail/root" "$p/root"
	ln -sfn 'pid:[4026532200]' "$p/ns/pid"
	ln -sfn "net:[$(stat -c %i "$BATS_TEST_TMPDIR/netns")]" "$p/ns/net"
	echo "0::/nimbus/$VM" > "$p/cgroup"
	cat > "$p/net/dev" <<-EOF
	Inter-|   Receive                                                |  Transmit
	 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
	    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
	nimbus-0123abcd:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
	nimbus0123abcdh:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
	EOF
}

@test "a VM's checks on a made-up /proc: a good one passes, each broken one is flagged alone" {
	local cg
	touch "$BATS_TEST_TMPDIR/netns"
	cg=$(fake_cgroup)
	fake_firecracker
	record "$VM" 777 12345 12345 j1 "$BATS_TEST_TMPDIR/netns" "$cg"
	flags "" --vm "$VM"
	# --vm: that VM's checks alone
	[ "$(jq -r '[.[].subject] | unique | join(",")' <<< "$output")" = "$VM" ]
	[ "$(jq -r "map(.check) | join(\" \")" <<< "$output")" = "user jail pid_ns net_ns capabilities no_new_privs seccomp cgroup tap rootfs" ]
	[ "$(reason jail)" = "chrooted in $BATS_TEST_TMPDIR/jail/root" ]
	[[ $(reason rootfs) == "job j1 booted sha256:"* ]]

	ln -sfn / "$R/proc/777/root"
	flags "$VM/jail=fail" --vm "$VM"
	ln -sfn "$BATS_TEST_TMPDIR/jail/root" "$R/proc/777/root"

	ln -sfn 'pid:[4026531836]' "$R/proc/777/ns/pid"
	flags "$VM/pid_ns=fail" --vm "$VM"
	ln -sfn 'pid:[4026532200]' "$R/proc/777/ns/pid"
	ln -sfn 'net:[4026531840]' "$R/proc/777/ns/net"
	flags "$VM/net_ns=fail" --vm "$VM"
	ln -sfn 'net:[1]' "$R/proc/777/ns/net"
	flags "$VM/net_ns=fail" --vm "$VM"
	[ "$(reason net_ns)" = "net:[1], not $BATS_TEST_TMPDIR/netns" ]
	ln -sfn "net:[$(stat -c %i "$BATS_TEST_TMPDIR/netns")]" "$R/proc/777/ns/net"

	fake_task "$R" 777 777 Uid=$'0\t0\t0\t0' Gid=$'12345\t12345\t12345\t12345'
	flags "$VM/user=fail" --vm "$VM"
	fake_task "$R" 777 777 Uid=$'12346\t12346\t12346\t12346' Gid=$'12345\t12345\t12345\t12345'
	flags "$VM/user=fail" --vm "$VM"
	[ "$(reason user)" = "uid 12346 gid 12345, not its own 12345:12345" ]
	fake_task "$R" 777 777 Uid=$'12345\t12345\t12345\t12345' Gid=$'12345\t12345\t12345\t12345'
	# another VM with the same uid
	record nimbus-0000beef 0 12345 20000 ""
	flags "$VM/user=fail" --vm "$VM"
	[ "$(reason user)" = "uid 12345 gid 12345, shared with nimbus-0000beef" ]
	rm "$NIMBUS_CORE_RUN_DIR/vms/nimbus-0000beef.json"

	fake_task "$R" 777 778 Uid=$'12345\t12345\t12345\t12345' Gid=$'12345\t12345\t12345\t12345' Seccomp=0
	flags "$VM/seccomp=fail" --vm "$VM"
	[ "$(reason seccomp)" = "not filtering on thread 778:0" ]
	# the bounding set nimbus boot passed on, of no use to a process without uid 0 or new privileges
	fake_task "$R" 777 778 Uid=$'12345\t12345\t12345\t12345' Gid=$'12345\t12345\t12345\t12345' \
		CapBnd=000001ffffffffff
	flags "$VM/capabilities=warn" --vm "$VM"
	[ "$(reason capabilities)" = "none held, but bounding set of thread 778:CapBnd=000001ffffffffff (the \
jailer leaves it as nimbus boot passed it on; with no_new_privs and no uid 0 it is of no use)" ]
	fake_task "$R" 777 778 Uid=$'12345\t12345\t12345\t12345' Gid=$'12345\t12345\t12345\t12345' \
		CapPrm=0000000000000400 CapBnd=000001ffffffffff
	flags "$VM/capabilities=fail" --vm "$VM"
	# nimbus boot's filter, inherited: Firecracker's own must come on top of it
	jq '.inherited_seccomp_filters = 1' "$NIMBUS_CORE_RUN_DIR/vms/$VM.json" > "$BATS_TEST_TMPDIR/rec"
	mv "$BATS_TEST_TMPDIR/rec" "$NIMBUS_CORE_RUN_DIR/vms/$VM.json"
	fake_task "$R" 777 778 Uid=$'12345\t12345\t12345\t12345' Gid=$'12345\t12345\t12345\t12345' \
		Seccomp_filters=1
	flags "$VM/seccomp=fail" --vm "$VM"
	[ "$(reason seccomp)" = "no filter of its own, only the 1 of nimbus boot, on thread 778" ]
	fake_task "$R" 777 778 Uid=$'12345\t12345\t12345\t12345' Gid=$'12345\t12345\t12345\t12345' NoNewPrivs=0
	flags "$VM/no_new_privs=fail" --vm "$VM"
	fake_task "$R" 777 778 Uid=$'12345\t12345\t12345\t12345' Gid=$'12345\t12345\t12345\t12345'

	echo max > "$cg/memory.max"
	echo max > "$cg/pids.max"
	flags "$VM/cgroup=fail" --vm "$VM"
	[ "$(reason cgroup)" = "no limit on: memory pids" ]
	echo 536870912 > "$cg/memory.max"
	echo 64 > "$cg/pids.max"
	echo "0::/elsewhere" > "$R/proc/777/cgroup"
	flags "$VM/cgroup=fail" --vm "$VM"
	echo "0::/nimbus/$VM" > "$R/proc/777/cgroup"

	cp "$R/proc/777/net/dev" "$BATS_TEST_TMPDIR/dev"
	grep -v "^nimbus-0123abcd:" "$BATS_TEST_TMPDIR/dev" > "$R/proc/777/net/dev"
	flags "$VM/tap=fail" --vm "$VM"
	[ "$(reason tap)" = "no tap $VM in its namespace" ]
	{ cat "$BATS_TEST_TMPDIR/dev"; echo '  eth0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0'; } > "$R/proc/777/net/dev"
	flags "$VM/tap=fail" --vm "$VM"
	[ "$(reason tap)" = "links not named for it: eth0" ]
	cp "$BATS_TEST_TMPDIR/dev" "$R/proc/777/net/dev"

	record "$VM" 777 12345 12345 j2 "$BATS_TEST_TMPDIR/netns" "$cg"
	flags "$VM/rootfs=fail" --vm "$VM"
	[ "$(reason rootfs)" = "nothing attested for job j2" ]
	record "$VM" 777 12345 12345 "" "$BATS_TEST_TMPDIR/netns" "$cg"
	flags "$VM/rootfs=warn" --vm "$VM"

	# its command line rewritten, as a Firecracker taken over could: still it, in its jail
	record "$VM" 777 12345 12345 j1 "$BATS_TEST_TMPDIR/netns" "$cg"
	fake_process "$R" 777 ""
	flags "" --vm "$VM"
	# its pid taken by another process since: reap's business
	ln -sfn / "$R/proc/777/root"
	fake_process "$R" 777 sleep 600
	flags "$VM/process=warn" --vm "$VM"
	[ "$(reason process)" = "pid 777 is gone: reap it" ]
}

@test "without --vm, every VM; an unknown VM is not found" {
	record nimbus-0000beef 0 20000 20000 ""
	run --separate-stderr nimbus audit --json --root "$R"
	[ "$(check_status nimbus-0000beef process)" = warn ]
	[ "$(check_status nimbus-0000beef rootfs)" = warn ]
	[ -n "$(check_status kvm)" ]
	run --separate-stderr nimbus audit --vm nimbus-ffffffff
	assert_status 4
	[[ $stderr == *"no VM nimbus-ffffffff on this host"* ]]
	run --separate-stderr nimbus audit --vm ../etc/passwd
	assert_status 4
	[ -z "$output" ]
	echo '{"id": 1}' > "$NIMBUS_CORE_RUN_DIR/vms/nimbus-00000bad.json"
	run --separate-stderr nimbus audit --json --root "$R"
	[[ $stderr == *"skipping $NIMBUS_CORE_RUN_DIR/vms/nimbus-00000bad.json: no valid VM id"* ]]
}

# A cgroup of each of memory, pids and cpuset with limits, on cgroup v1
# or v2; their directories in CGROUPS.
real_cgroups() {
	local base=nimbus-audit-$$-$RANDOM c d
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		for c in memory pids cpuset; do
			grep -qw "$c" /sys/fs/cgroup/cgroup.subtree_control || skip "cgroup v2 without $c"
		done
		d=/sys/fs/cgroup/$base/$VM
		mkdir -p "$d"
		CGROUPS=("$d")
		echo 268435456 > "$d/memory.max"
		echo 64 > "$d/pids.max"
		cat /sys/fs/cgroup/cpuset.cpus.effective > "$d/cpuset.cpus"
		return
	fi
	for c in memory pids cpuset; do
		[ -d "/sys/fs/cgroup/$c" ] || skip "no cgroup v1 hierarchy for $c"
		d=/sys/fs/cgroup/$c/$base/$VM
		mkdir -p "$d"
		CGROUPS+=("$d")
	done
	echo 268435456 > "/sys/fs/cgroup/memory/$base/$VM/memory.limit_in_bytes"
	echo 64 > "/sys/fs/cgroup/pids/$base/$VM/pids.max"
	for d in "/sys/fs/cgroup/cpuset/$base" "/sys/fs/cgroup/cpuset/$base/$VM"; do
		cat /sys/fs/cgroup/cpuset/cpuset.cpus > "$d/cpuset.cpus"
		cat /sys/fs/cgroup/cpuset/cpuset.mems > "$d/cpuset.mems"
	done
}

# start_vm [FAKE-VM-OPTION]...: the process of $VM, in netns $NETNS and CGROUPS.
start_vm() {
	local args=() d
	rm -f "$BATS_TEST_TMPDIR/vm.pid"
	for d in "${CGROUPS[@]}"; do
		args+=(--cgroup "$d")
	done
	"$NIMBUS_BUILD/t/helpers/fake-vm" --id "$VM" --jail "$BATS_TEST_TMPDIR/jail" --uid 40123 \
		--gid 40123 --netns "/run/netns/$NETNS" "${args[@]}" "$@" > "$BATS_TEST_TMPDIR/vm.pid" 3>&- &
	VM_PID=$!
	wait_for 50 test -s "$BATS_TEST_TMPDIR/vm.pid"
	record "$VM" "$(cat "$BATS_TEST_TMPDIR/vm.pid")" 40123 40123 j1 "/run/netns/$NETNS" "${CGROUPS[@]}"
}

stop_vm() {
	kill -TERM "$VM_PID"
	wait "$VM_PID" || true
	VM_PID=
}

@test "a real process set up as the jailer does passes; without seccomp or as root, those are flagged" {
	require_root
	require_cmd ip
	VM=nimbus-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
	NETNS=$VM
	ip netns add "$NETNS"
	ip -n "$NETNS" tuntap add dev "$VM" mode tap
	ip -n "$NETNS" link add "nimbus${VM#nimbus-}h" type veth peer name "nimbus${VM#nimbus-}p"
	real_cgroups

	start_vm
	run --separate-stderr nimbus audit --json --vm "$VM"
	[ "$(not_passed)" = "" ] || fail "not passed: $(not_passed); $output"
	assert_success
	[ "$(reason seccomp)" = "filtering on 2 threads" ]
	stop_vm

	start_vm --seccomp main
	run --separate-stderr nimbus audit --json --vm "$VM"
	[ "$(not_passed)" = "$VM/seccomp=fail" ] || fail "flagged: $(not_passed)"
	assert_status 3
	stop_vm

	start_vm --as-root
	run --separate-stderr nimbus audit --json --vm "$VM"
	[ "$(not_passed)" = "$VM/user=fail" ] || fail "flagged: $(not_passed)"
	stop_vm

	# its own uid keeps no capability but the bounding set: a warning
	start_vm --keep-caps --no-nnp --seccomp none
	run --separate-stderr nimbus audit --json --vm "$VM"
	[ "$(not_passed)" = "$VM/capabilities=warn $VM/no_new_privs=fail $VM/seccomp=fail" ] ||
		fail "flagged: $(not_passed)"
	stop_vm

	start_vm --as-root --keep-caps
	run --separate-stderr nimbus audit --json --vm "$VM"
	[ "$(not_passed)" = "$VM/user=fail $VM/capabilities=fail" ] || fail "flagged: $(not_passed)"
	stop_vm
}
