#!/usr/bin/env bats
# nimbus host topology, and where boot places VMs on a two-node host
# with SMT: fake sysfs trees (--sysfs, firecracker.sysfs) and the host.

load lib/common

setup() {
	common_setup
	SYSFS=$BATS_TEST_TMPDIR/sys
	fake_sysfs "$SYSFS"
}

# Two NUMA nodes of two cores of two threads: node 0 has CPUs 0-3, node 1 4-7.
fake_sysfs() {
	local d=$1 cpu node
	mkdir -p "$d/devices/system/cpu/smt" "$d/devices/system/node" "$d/kernel/mm/ksm"
	echo 0-7 >"$d/devices/system/cpu/online"
	echo >"$d/devices/system/cpu/isolated"
	echo on >"$d/devices/system/cpu/smt/control"
	echo 1 >"$d/devices/system/cpu/smt/active"
	echo 0 >"$d/kernel/mm/ksm/run"
	for cpu in 0 1 2 3 4 5 6 7; do
		mkdir -p "$d/devices/system/cpu/cpu$cpu/topology"
		echo "$((cpu / 2 * 2))-$((cpu / 2 * 2 + 1))" >"$d/devices/system/cpu/cpu$cpu/topology/thread_siblings_list"
	done
	echo 0-1 >"$d/devices/system/node/online"
	for node in 0 1; do
		mkdir -p "$d/devices/system/node/node$node"
		echo "$((node * 4))-$((node * 4 + 3))" >"$d/devices/system/node/node$node/cpulist"
		printf 'Node %d MemTotal:       %d kB\nNode %d MemFree:        %d kB\n' \
			"$node" $((16 << 20)) "$node" $((node ? 8 << 20 : 4 << 20)) \
			>"$d/devices/system/node/node$node/meminfo"
	done
}

@test "a two-node SMT tree: CPUs, cores, nodes and their memory" {
	run --separate-stderr nimbus host topology --sysfs "$SYSFS" --json
	assert_success
	[ "$(jq -r '.cpus, .nr_cpus, .threads_per_core, .smt, .smt_active, .ksm, .isolated' <<<"$output" | tr '\n' ' ')" = \
		"0-7 8 2 on true off  " ]
	[ "$(jq -c .cores <<<"$output")" = '["0-1","2-3","4-5","6-7"]' ]
	[ "$(jq -c '[.nodes[] | [.node, .cpus, .memory_bytes, .free_bytes]]' <<<"$output")" = \
		"[[0,\"0-3\",$((16 << 30)),$((4 << 30))],[1,\"4-7\",$((16 << 30)),$((8 << 30))]]" ]
	jq -e '.kvm.device and (.cgroup.mounts | type == "array") and (.swap_bytes | type == "number")' <<<"$output" >/dev/null
	run nimbus host topology --sysfs "$SYSFS"
	assert_success
	assert_line "cpus       0-7"
	assert_line "cores      0-1 2-3 4-5 6-7"
	assert_line "smt        on (2 threads per core)"
	assert_line "node 0     cpus 0-3, 16384 MiB, 4096 MiB free"
	assert_line "node 1     cpus 4-7, 16384 MiB, 8192 MiB free"
}

@test "a kernel without NUMA or topology files: one node with every CPU, one thread per core" {
	rm -r "$SYSFS/devices/system/node" "$SYSFS"/devices/system/cpu/cpu*/topology
	echo 0-3 >"$SYSFS/devices/system/cpu/online"
	run nimbus host topology --sysfs "$SYSFS" --json
	assert_success
	[ "$(jq -c '[.nodes[] | [.node, .cpus]], .cores, .threads_per_core' <<<"$output" | tr '\n' ' ')" = \
		'[[0,"0-3"]] ["0","1","2","3"] 1 ' ]
	rm "$SYSFS/devices/system/cpu/online"
	run nimbus host topology --sysfs "$SYSFS"
	assert_status 1
	echo 'x-y' >"$SYSFS/devices/system/cpu/online"
	run nimbus host topology --sysfs "$SYSFS"
	assert_status 1
	assert_output --partial "is not a CPU list"
}

@test "this host: its CPUs, KVM and cgroup hierarchies" {
	run nimbus host topology --json
	assert_success
	[ "$(jq -r .cpus <<<"$output")" = "$(cat /sys/devices/system/cpu/online)" ]
	if [ -r /dev/kvm ] && [ "$(id -u)" = 0 ]; then
		[ "$(jq -r .kvm.usable <<<"$output")" = true ]
	fi
	NIMBUS_FIRECRACKER_KVM_DEVICE=/nonexistent run nimbus host topology --json
	[ "$(jq -r '.kvm.usable, .kvm.error' <<<"$output" | head -2 | tr '\n' ' ')" = \
		"false cannot open /nonexistent: No such file or directory " ]
	run nimbus host topology
	assert_line --regexp "^cgroup +(v1|v2) for VMs$|^cgroup +none fits VMs$"
	run nimbus host topology extra
	assert_status 2
}

# NUMA-local allocation, planned with boot --dry-run on the fake tree.
plan() {
	run --separate-stderr nimbus boot --job j1 --fence "$FENCE" --dry-run --json "$@"
}

# A VM record holding CPUS, as a running VM's would.
vm_on() {
	mkdir -p "$NIMBUS_CORE_RUN_DIR/vms"
	printf '{"id": "%s", "cpus": "%s", "uid": 3000000}\n' "$1" "$2" >"$NIMBUS_CORE_RUN_DIR/vms/$1.json"
}

@test "placement: whole cores on one node, the freest node by default, exit 5 when full" {
	head -c 4096 /dev/urandom >"$BATS_TEST_TMPDIR/k"
	chmod 644 "$BATS_TEST_TMPDIR/k"
	export NIMBUS_FIRECRACKER_SYSFS=$SYSFS NIMBUS_FIRECRACKER_CPU_POOL=0-7
	export NIMBUS_FIRECRACKER_KERNEL=$BATS_TEST_TMPDIR/k NIMBUS_FIRECRACKER_ROOTFS=$BATS_TEST_TMPDIR/k
	nimbus job add j1 >/dev/null
	FENCE=$(nimbus lease acquire j1)
	plan --vcpus 2
	assert_success
	[ "$(jq -r '.cpus, .node, .mems' <<<"$output" | tr '\n' ' ')" = "0-1 0 0 " ]
	jq -e '.cgroup_values | index("cpuset.cpus=0-1") and index("cpuset.mems=0")' <<<"$output" >/dev/null
	# one vCPU still takes a whole core: no two VMs share one
	plan --vcpus 1
	[ "$(jq -r .cpus <<<"$output")" = 0-1 ]
	plan --vcpus 3
	[ "$(jq -r .cpus <<<"$output")" = 0-3 ]
	plan --vcpus 2 --numa-node 1
	[ "$(jq -r '.cpus, .mems' <<<"$output" | tr '\n' ' ')" = "4-5 1 " ]
	# a VM on core 0-1: node 1 is the freest now, and a core with a taken thread is not free
	vm_on nimbus-0000000a 1
	plan --vcpus 2
	[ "$(jq -r '.cpus, .node' <<<"$output" | tr '\n' ' ')" = "4-5 1 " ]
	plan --vcpus 2 --numa-node 0
	[ "$(jq -r .cpus <<<"$output")" = 2-3 ]
	plan --vcpus 4 --numa-node 0
	assert_status 5
	[[ $stderr == *"NUMA node 0 has 2 free CPUs in the pool, not 4"* ]]
	# a VM stays on one node
	plan --vcpus 5
	assert_status 5
	plan --numa-node 7
	assert_status 4
	# the pool holds only some threads of a core
	NIMBUS_FIRECRACKER_CPU_POOL=4,6-7 plan --vcpus 2 --numa-node 1
	[ "$(jq -r .cpus <<<"$output")" = 4,6-7 ]
	# --cpus: as given; their nodes' memory
	plan --cpus 2-5
	[ "$(jq -r '.cpus, .mems' <<<"$output" | tr '\n' ' ')" = "2-5 0-1 " ]
	# the isolated CPUs are the default pool
	echo 6-7 >"$SYSFS/devices/system/cpu/isolated"
	NIMBUS_FIRECRACKER_CPU_POOL= plan --vcpus 2
	[ "$(jq -r .cpus <<<"$output")" = 6-7 ]
}
