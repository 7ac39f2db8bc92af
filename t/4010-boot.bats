#!/usr/bin/env bats
# nimbus boot, vm list and vm stop with the jailer and Firecracker
# doubles: real network namespaces, taps, cgroups, jails and processes.

load lib/common
load lib/services
load lib/boot

setup_file() {
	pg_start
}

teardown_file() {
	pg_stop
}

setup() {
	common_setup
	boot_setup
}

teardown() {
	boot_teardown
}

# The value of a field of the record of VM $1.
rec() {
	jq -r ".$2" "$NIMBUS_CORE_RUN_DIR/vms/$1.json"
}

check_objects() {
	local id hex pid root cpu tid comm dir n
	new_job j1
	boot --json
	assert_success
	id=$(jq -r .id <<<"$output")
	[[ $id =~ ^nimbus-[0-9a-f]{8}$ ]] || fail "VM id $id"
	hex=${id#nimbus-}
	pid=$(rec "$id" pid)
	root=$T/jail/firecracker/$id/root
	[ "$(rec "$id" state)" = running ]
	[ "$(jq -r .timings_us.jailer <<<"$output")" -gt 0 ]
	for n in fence_check attest allocate network cgroups chroot jailer socket start pinning total waiting record; do
		jq -e ".timings_us.$n >= 0" <<<"$output" >/dev/null || fail "no timing $n"
	done

	# the process: its own uid and gid, seccomp, in its jail, its pid namespace and netns
	grep -q "^Uid:	3000000	3000000" "/proc/$pid/status"
	grep -q "^Gid:	3000000	3000000" "/proc/$pid/status"
	grep -q "^Seccomp:	2" "/proc/$pid/status"
	grep -q "^NoNewPrivs:	1" "/proc/$pid/status"
	[ "$(stat -L -c %d:%i "/proc/$pid/root")" = "$(stat -c %d:%i "$root")" ]
	[ "$(readlink "/proc/$pid/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]
	[ "$(readlink "/proc/$pid/ns/net")" = "net:[$(stat -L -c %i "$T/netns/$id")]" ]
	! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- --no-seccomp
	# started as the jailer starts it: reap and audit find it by "--id ID"
	tr '\0' '\n' <"/proc/$pid/cmdline" | grep -A1 -x -- --id | grep -qx "$id"

	# each fc_vcpu thread on its CPU, every thread on the VM's set
	cpu=$(rec "$id" cpus)
	[ "$(rec "$id" vcpus)" = 1 ]
	n=0
	for tid in /proc/$pid/task/*; do
		comm=$(cat "$tid/comm")
		case $comm in "fc_vcpu 0") n=$((n + 1)) ;; firecracker | fc_api) ;; *) fail "thread $comm" ;; esac
		grep -q "^Cpus_allowed_list:	$cpu$" "$tid/status" || fail "$comm: $(grep Cpus_allowed_list "$tid/status")"
	done
	[ "$n" = 1 ]

	# the tap in the namespace, owned by the VM; the veth pair and the bridge
	run nsenter --net="$T/netns/$id" ip -d link show "$id"
	assert_success
	assert_output --partial "tun type tap pi off vnet_hdr on persist on user 3000000 group 3000000"
	assert_output --partial "master nimbus${hex}b"
	run nsenter --net="$T/netns/$id" ip -d link show "nimbus${hex}n"
	assert_output --partial "master nimbus${hex}b"
	# and nothing else in the namespace
	[ "$(nsenter --net="$T/netns/$id" ip -o link show | cut -d: -f2 | cut -d@ -f1 | sort | tr -d ' ' | tr '\n' ' ')" = \
		"lo $id nimbus${hex}b nimbus${hex}n " ]
	run ip -d link show "nimbus${hex}h"
	assert_success
	assert_output --partial "veth"
	assert_output --partial ",UP"
	[ "$(rec "$id" 'links[0]')" = "nimbus${hex}h" ]

	# its cgroups: the values written, the process in them
	[ "$(rec "$id" cgroup_version)" = 1 ]
	[ "$(rec "$id" 'cgroups | length')" = 4 ]
	dir=/sys/fs/cgroup/cpuset/$BOOT_CGROUP/$id
	[ "$(cat "$dir/cpuset.cpus")" = "$cpu" ]
	[ "$(cat "$dir/cpuset.mems")" = 0 ]
	grep -qx "$pid" "$dir/tasks"
	[ "$(cat "/sys/fs/cgroup/cpu/$BOOT_CGROUP/$id/cpu.cfs_quota_us")" = 100000 ]
	[ "$(cat "/sys/fs/cgroup/cpu/$BOOT_CGROUP/$id/cpu.cfs_period_us")" = 100000 ]
	[ "$(cat "/sys/fs/cgroup/memory/$BOOT_CGROUP/$id/memory.limit_in_bytes")" = $(((128 + 64) << 20)) ]
	[ "$(cat "/sys/fs/cgroup/pids/$BOOT_CGROUP/$id/pids.max")" = 128 ]

	# the jail: files bind-mounted read-only, the configuration, devices, logs for the VM
	[ "$(stat -c %d:%i "$root/vmlinux")" = "$(stat -c %d:%i "$T/vmlinux")" ]
	[ "$(stat -c %d:%i "$root/rootfs")" = "$(stat -c %d:%i "$T/rootfs.img")" ]
	grep -q " $root/rootfs ro," /proc/self/mountinfo
	! touch "$root/rootfs" 2>/dev/null
	[ "$(stat -c %a "$T/jail/firecracker/$id")" = 700 ]
	[ "$(stat -c '%u %g %a' "$root/config.json")" = "0 3000000 640" ]
	[ "$(jq -r '.drives[0].is_read_only' "$root/config.json")" = true ]
	[ "$(jq -r '.["network-interfaces"][0].host_dev_name' "$root/config.json")" = "$id" ]
	[ "$(jq -r '.["machine-config"].smt' "$root/config.json")" = false ]
	[ "$(stat -c %u "$root/firecracker.log")" = 3000000 ]
	[ -c "$root/dev/kvm" ] && [ -c "$root/dev/net/tun" ]
	[ -S "$root/api.socket" ]
	[ "$(cat "$root/firecracker.pid")" = "$pid" ]
	grep -q '"event":"config-file"' "$T/double/$id.jsonl"
	grep -q '"seccomp":true' "$T/double/$id.jsonl"

	# the job knows its VM and what it booted
	run nimbus job show j1 --json
	[ "$(jq -r '.meta["vm.id"]' <<<"$output")" = "$id" ]
	[ "$(jq -r '.meta["rootfs.address"]' <<<"$output")" = "$(nimbus rootfs hash "$T/rootfs.img")" ]
	[ "$(rec "$id" rootfs_address)" = "$(nimbus rootfs hash "$T/rootfs.img")" ]

	run nimbus vm list --json
	assert_success
	[ "$(jq -r '.[0].id, .[0].alive' <<<"$output" | tr '\n' ' ')" = "$id true " ]
	run nimbus vm list
	assert_line --regexp "^$id +running +j1 +$pid +$cpu +true "

	# stop: a shutdown through the API, then the teardown in order
	run --separate-stderr nimbus vm stop "$id" --fence "$FENCE"
	assert_success
	assert_line --index 0 "shut down $id pid $pid"
	assert_line --index 1 "deleted link nimbus${hex}h"
	assert_line "deleted netns $id"
	assert_line "removed cgroup /sys/fs/cgroup/cpuset/$BOOT_CGROUP/$id"
	assert_line "removed chroot $T/jail/firecracker/$id"
	assert_line --index $((${#lines[@]} - 1)) "removed record $id"
	grep -q '"action_type":"SendCtrlAltDel"' "$T/double/$id.jsonl"
	assert_no_leftovers
	# stopping a VM leaves its job to its holder
	[ "$(nimbus job show j1 --json | jq -r .state)" = claimed ]
	run nimbus vm list --json
	assert_output "[]"
}

@test "a boot creates the documented objects, with their names and values; vm stop removes them" {
	for_each_store check_objects
}

@test "nimbus audit finds a booted VM as it should be: jailed, its own namespaces and uid, filtered" {
	local id check
	boot
	assert_success
	id=$output
	run --separate-stderr nimbus audit --vm "$id" --json
	for check in user jail pid_ns net_ns no_new_privs seccomp cgroup tap rootfs; do
		[ "$(jq -r --arg c "$check" '.[] | select(.check == $c) | .status' <<<"$output")" = pass ] ||
			fail "$check: $(jq -c --arg c "$check" '.[] | select(.check == $c)' <<<"$output")"
	done
	# no capability held; the jailer leaves the bounding set as nimbus boot passed it on
	[[ $(jq -r '.[] | select(.check == "capabilities") | .status + " " + .reason' <<<"$output") == \
		"warn none held, but bounding set of thread"* ]]
	assert_success
	nimbus vm stop "$id" --fence "$FENCE" >/dev/null
	# a Firecracker without its seccomp filters is caught
	echo fc-seccomp >"$T/fail"
	boot --cpus 0
	assert_success
	id=$output
	run --separate-stderr nimbus audit --vm "$id" --json
	assert_status 3
	# it has none of its own, only the one it inherited from nimbus boot
	[[ $(jq -r '.[] | select(.check == "seccomp") | .status + " " + .reason' <<<"$output") == \
		"fail no filter of its own, only the 1 of nimbus boot, on thread"* ]]
	nimbus vm stop "$id" --fence "$FENCE" >/dev/null
	assert_no_leftovers
}

@test "a Firecracker that blanked its command line is still known by its jail, and stopped" {
	local id pid
	echo fc-hide >"$T/fail"
	boot
	assert_success
	id=$output
	pid=$(rec "$id" pid)
	wait_for 50 sh -c "! tr -d '\\0' </proc/$pid/cmdline | grep -q ."
	[ "$(nimbus vm list --json | jq -r '.[0].alive')" = true ]
	run --separate-stderr nimbus audit --vm "$id" --json
	[ "$(jq -r '.[] | select(.check == "jail") | .status' <<<"$output")" = pass ]
	run --separate-stderr nimbus vm stop "$id" --fence "$FENCE" --timeout 0
	assert_success
	assert_line --index 0 "killed $id pid $pid"
	assert_no_leftovers
}

@test "the VM id alone on stdout; vm stop kills a guest that ignores Ctrl-Alt-Del" {
	local id
	echo fc-ctrl-alt-del >"$T/fail"
	boot
	assert_success
	[[ $output =~ ^nimbus-[0-9a-f]{8}$ ]]
	[ "${#lines[@]}" = 1 ]
	id=$output
	run --separate-stderr nimbus vm stop "$id" --fence "$FENCE" --timeout 1
	assert_success
	assert_line --index 0 --regexp "^killed $id pid [0-9]+$"
	assert_no_leftovers
}

@test "a stale fence boots nothing and changes nothing" {
	local stale=$FENCE id
	FENCE=$(nimbus lease acquire j1)
	run --separate-stderr nimbus boot --job j1 --fence "$stale"
	assert_status 3
	[ -z "$output" ]
	[ ! -e "$T/netns" ] && [ ! -e "$NIMBUS_CORE_RUN_DIR/vms" ]
	[ -z "$(ls -A "$T/jail")" ]
	[ "$(nimbus job show j1 --json | jq -r '.meta | length')" = 0 ]
	assert_no_leftovers
	# and vm stop, with a stale fence, stops nothing
	boot
	assert_success
	id=$output
	run nimbus vm stop "$id" --fence "$stale"
	assert_status 3
	run nimbus vm list --json
	[ "$(jq length <<<"$output")" = 1 ]
	nimbus vm stop "$id" --fence "$FENCE" >/dev/null
	assert_no_leftovers
}

@test "--dry-run prints the plan and changes nothing, without root or KVM" {
	local d id
	export NIMBUS_FIRECRACKER_KVM_DEVICE=$T/no-kvm
	run --separate-stderr nimbus boot --job j1 --fence "$FENCE" --dry-run --json
	assert_success
	id=$(jq -r .id <<<"$output")
	[ "$(jq -r '.jailer[0]' <<<"$output")" = "$T/bin/jailer" ]
	jq -e '.jailer | index("--new-pid-ns") and index("--daemonize") and (index("--no-seccomp") | not)' <<<"$output" >/dev/null
	jq -e --arg id "$id" '.jailer as $a | ($a | index("--id")) as $i | $a[$i + 1] == $id' <<<"$output" >/dev/null
	jq -e '.cgroup_values | index("cpuset.mems=0")' <<<"$output" >/dev/null
	[ "$(jq -r '.config["machine-config"].vcpu_count' <<<"$output")" = 1 ]
	[ "$(jq -r .cpus <<<"$output")" = 0 ]
	[ ! -e "$T/netns" ] && [ ! -e "$NIMBUS_CORE_RUN_DIR/vms" ] && [ -z "$(ls -A "$T/jail")" ]
	run nimbus boot --job j1 --fence "$FENCE" --dry-run
	assert_success
	assert_line --regexp "^jailer +$T/bin/jailer --id nimbus-[0-9a-f]{8} --exec-file "
	assert_line "config"
	# as nobody, with a store and files of its own
	nobody_dir
	d=$NOBODY_DIR
	cp -p "$T/vmlinux" "$T/rootfs.img" "$d/"
	export NIMBUS_STORE_URL=sqlite:$d/nimbus.db
	new_job j1
	: >"$d/nimbus.conf"
	chown -R nobody "$d"
	run --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env HOME="$d" NIMBUS_CONFIG="$d/nimbus.conf" NIMBUS_CORE_STATE_DIR="$d" \
		NIMBUS_CORE_RUN_DIR="$d/run" \
		NIMBUS_FIRECRACKER_KERNEL="$d/vmlinux" NIMBUS_FIRECRACKER_ROOTFS="$d/rootfs.img" \
		"$NOBODY_NIMBUS" boot --job j1 --fence "$FENCE" --dry-run --json
	assert_success
	[ "$(jq -r .uid <<<"$output")" = 3000000 ]
}

@test "cgroup v2 where the unified hierarchy has the controllers: the plan" {
	local unified
	unified=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	[ -n "$unified" ] || skip "no cgroup2 mount"
	# here the unified hierarchy has hugetlb at most, and the controllers
	# cannot move while the v1 hierarchies hold them: in a mount namespace
	# of its own, boot reads that it has all four
	echo "cpuset cpu io memory hugetlb pids" >"$T/controllers"
	run --separate-stderr unshare -m sh -c "mount --bind $T/controllers $unified/cgroup.controllers &&
		exec $NIMBUS boot --job j1 --fence $FENCE --cpu-quota 150 --dry-run --json"
	assert_success
	[ "$(jq -r .cgroup_version <<<"$output")" = 2 ]
	[ "$(jq -r '.cgroups | join(" ")' <<<"$output")" = "$unified/$BOOT_CGROUP/$(jq -r .id <<<"$output")" ]
	[ "$(jq -r '.cgroup_values | join(",")' <<<"$output")" = \
		"cpuset.cpus=0,cpuset.mems=0,cpu.max=150000 100000,memory.max=$(((128 + 64) << 20)),pids.max=128" ]
	jq -e '.jailer | index("--cgroup-version") as $i | .[$i + 1] == "2"' <<<"$output" >/dev/null
	# outside, what this host offers
	run --separate-stderr nimbus boot --job j1 --fence "$FENCE" --dry-run --json
	[ "$(jq -r .cgroup_version <<<"$output")" = "$(nimbus host topology --json | jq -r .cgroup.version)" ]
}

@test "without root: exit 8; without a usable KVM: exit 6; both before anything else" {
	nobody_dir
	run --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env NIMBUS_CONFIG=/dev/null "$NOBODY_NIMBUS" boot --job j1 --fence "$FENCE"
	assert_status 8
	[[ $stderr == "nimbus boot: booting a VM needs root"* ]]
	NIMBUS_FIRECRACKER_KVM_DEVICE=$T/no-kvm run --separate-stderr nimbus boot --job j1 --fence "$FENCE"
	assert_status 6
	[[ $stderr == *"cannot open $T/no-kvm"* ]]
	NIMBUS_FIRECRACKER_KVM_DEVICE=/dev/null run nimbus boot --job j1 --fence "$FENCE"
	assert_status 6
	assert_output --partial "not a usable KVM device"
	[ ! -e "$T/netns" ] && [ ! -e "$NIMBUS_CORE_RUN_DIR/vms" ]
}

@test "bad input: usage errors, missing and unreadable files, bad settings" {
	run nimbus boot --job j1
	assert_status 2
	run nimbus boot --job j1 --fence "$FENCE" --cpus 0 --numa-node 0
	assert_status 2
	run nimbus boot --job j1 --fence "$FENCE" --vcpus 33
	assert_status 2
	run nimbus boot --job j1 --fence "$FENCE" --snapshot "$T" --vcpus 2
	assert_status 2
	run nimbus boot --job j1 --fence "$FENCE" --kernel "$T/missing"
	assert_status 4
	chmod 600 "$T/rootfs.img"
	run nimbus boot --job j1 --fence "$FENCE"
	assert_status 8
	assert_output --partial "chmod o+r"
	chmod 666 "$T/rootfs.img"
	run nimbus boot --job j1 --fence "$FENCE"
	assert_status 8
	chmod 644 "$T/rootfs.img"
	run nimbus boot --job j1 --fence "$FENCE" --cpus 7
	assert_status 2
	NIMBUS_FIRECRACKER_JAILER=$T/missing run nimbus boot --job j1 --fence "$FENCE"
	assert_status 7
	NIMBUS_FIRECRACKER_UID_RANGE=0-10 run nimbus boot --job j1 --fence "$FENCE"
	assert_status 7
	NIMBUS_FIRECRACKER_PARENT_CGROUP=../x run nimbus boot --job j1 --fence "$FENCE"
	assert_status 7
	NIMBUS_FIRECRACKER_BRIDGE=nosuchbridge0 run nimbus boot --job j1 --fence "$FENCE"
	assert_status 7
	run nimbus boot --job nosuch --fence 1
	assert_status 4
	run nimbus vm stop nimbus-00000000 --fence "$FENCE"
	assert_status 4
	run nimbus vm stop not-a-vm --fence "$FENCE"
	assert_status 4
	assert_no_leftovers
}

@test "CPUs: exclusive from the pool until it is exhausted (exit 5), --cpus as given" {
	local a b c
	boot
	assert_success
	a=$output
	boot
	assert_success
	b=$output
	[ "$(rec "$a" cpus) $(rec "$b" cpus)" = "0 1" ]
	[ "$(rec "$a" uid) $(rec "$b" uid)" = "3000000 3000001" ]
	boot
	assert_status 5
	assert_output ""
	[[ $stderr == *"no NUMA node has 1 free CPUs in the pool"* ]]
	boot --cpus 1
	assert_success
	c=$output
	[ "$(rec "$c" cpus)" = 1 ]
	for id in $a $b $c; do
		nimbus vm stop "$id" --fence "$FENCE" >/dev/null
	done
	assert_no_leftovers
}

@test "network none: a tap alone in the namespace" {
	local id
	export NIMBUS_FIRECRACKER_NETWORK=none
	boot
	assert_success
	id=$output
	[ "$(rec "$id" 'links | length')" = 0 ]
	run nsenter --net="$T/netns/$id" ip -o link show
	assert_line --partial ": $id: "
	[ "${#lines[@]}" = 2 ]
	nimbus vm stop "$id" --fence "$FENCE" >/dev/null
	assert_no_leftovers
}
