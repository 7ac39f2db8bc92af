#!/usr/bin/env bats
# The test doubles of the boot tests hold to what they stand for: the
# jailer's documented arguments and cgroup writes (v1 and v2, on fake
# trees), Firecracker's API as its specification and its pre-boot and
# post-boot rules say.

load lib/common

setup() {
	common_setup
	T=$BATS_TEST_TMPDIR
	JAILER=$NIMBUS_BUILD/t/helpers/jailer-double
	FC=$NIMBUS_BUILD/t/helpers/firecracker-double
	SPEC=$NIMBUS_SRC/../shared/specs/firecracker-api-v1.16.1.json
	[ -f "$SPEC" ] || require "the Firecracker API specification $SPEC is missing"
	head -c 1000 /dev/urandom >"$T/file"
}

teardown() {
	[ -z "${FC_PID:-}" ] || { kill -KILL "$FC_PID" && wait "$FC_PID"; } 2>/dev/null || true
}

jailer() {
	run --separate-stderr "$JAILER" "$@"
}

@test "the jailer double takes its arguments as the jailer documents them" {
	local exe=$T/firecracker
	cp "$FC" "$exe"
	jailer --exec-file "$exe" --uid 1 --gid 1
	assert_status 1
	[[ $stderr == *"Argument 'id' required, but not found."* ]]
	jailer --id "a_b" --exec-file "$exe" --uid 1 --gid 1
	[[ $stderr == *"Invalid instance ID: a_b"* ]]
	jailer --id "$(printf 'a%.0s' {1..65})" --exec-file "$exe" --uid 1 --gid 1
	[[ $stderr == *"Invalid instance ID"* ]]
	jailer --id vm-1 --exec-file "$exe" --uid root --gid 1
	[[ $stderr == *"Invalid uid: root"* ]]
	jailer --id vm-1 --exec-file "$T/nosuch" --uid 1 --gid 1
	[[ $stderr == *"Invalid exec file path"* ]]
	jailer --id vm-1 --exec-file "$exe" --uid 1 --gid 1 --cgroup-version 3
	[[ $stderr == *"Invalid cgroup version: 3"* ]]
	jailer --id vm-1 --exec-file "$exe" --uid 1 --gid 1 --cgroup cpuset.cpus
	[[ $stderr == *"Invalid format for cgroups"* ]]
	jailer --id vm-1 --exec-file "$exe" --uid 1 --gid 1 --cgroup cpu.max=1=2
	[[ $stderr == *"Invalid format for cgroups"* ]]
	jailer --id vm-1 --exec-file "$exe" --uid 1 --gid 1 --cgroup tasks=1
	[[ $stderr == *"Cgroup invalid file: tasks=1"* ]]
	jailer --id vm-1 --exec-file "$exe" --uid 1 --gid 1 --cgroup ../cpu.max=1
	[[ $stderr == *"Cgroup invalid file"* ]]
	cp "$FC" "$T/vmm"
	jailer --id vm-1 --exec-file "$T/vmm" --uid 1 --gid 1
	[[ $stderr == *'must contain "firecracker"'* ]]
	jailer --id vm-1 --exec-file "$exe" --uid 1 --gid 1 --resource-limit cpu=1
	[[ $stderr == *"Invalid resource argument"* ]]
	jailer --id vm-1 --id vm-2 --exec-file "$exe" --uid 1 --gid 1
	[[ $stderr == *"provided more than once"* ]]
	jailer --id vm-1 --exec-file "$exe" --uid 1 --gid 1 --no-seccomp
	[[ $stderr == *"Found argument 'no-seccomp'"* ]]
	jailer --id --exec-file "$exe" --uid 1 --gid 1
	[[ $stderr == *"'id' requires a value"* ]]
	jailer --id vm-1 --exec-file "$exe" --uid 1 --gid 1 --netns "$T/nosuch"
	[[ $stderr == *"network namespace"* ]]
	# valid, stopped once the arguments are checked
	FC_DOUBLE_FAIL=jailer-args jailer --id vm-1 --exec-file "$exe" --uid 1 --gid 1 \
		--cgroup cpuset.cpus=0 --cgroup memory.memsw.limit_in_bytes=1 --resource-limit fsize=10 \
		-- --api-sock /s
	[[ $stderr == *"failing at jailer-args"* ]]
}

@test "the jailer double's cgroups: v2 controllers enabled down the tree, v1 values inherited" {
	local v2=$T/v2 v1=$T/v1 leaf exe=$T/firecracker
	require_root
	cp "$FC" "$exe"
	mkdir -p "$v2" "$v1/cpuset/nested" "$v1/pids"
	echo "cpuset cpu io memory pids" >"$v2/cgroup.controllers"
	printf 'cgroup2 %s cgroup2 rw,nsdelegate 0 0\ncgroup %s/cpuset cgroup rw,cpuset 0 0\ncgroup %s/pids cgroup rw,pids 0 0\n' \
		"$v2" "$v1" "$v1" >"$T/mounts"
	FC_DOUBLE_MOUNTS=$T/mounts FC_DOUBLE_FAIL=jailer-cgroup jailer --id vm-1 --exec-file "$exe" \
		--uid 1 --gid 1 --chroot-base-dir "$T/jail" --cgroup-version 2 --parent-cgroup a/b \
		--cgroup cpuset.cpus=0-1 --cgroup "cpu.max=200000 100000" --cgroup memory.max=1024
	[[ $stderr == *"failing at jailer-cgroup"* ]] || fail "$stderr"
	leaf=$v2/a/b/vm-1
	[ "$(cat "$leaf/cpuset.cpus")" = 0-1 ]
	[ "$(cat "$leaf/cpu.max")" = "200000 100000" ]
	[ "$(cat "$leaf/memory.max")" = 1024 ]
	[ -s "$leaf/cgroup.procs" ]
	for d in "$v2" "$v2/a" "$v2/a/b"; do
		grep -qx +cpuset "$d/cgroup.subtree_control"
		grep -qx +cpu "$d/cgroup.subtree_control"
		grep -qx +memory "$d/cgroup.subtree_control"
	done
	[ ! -e "$leaf/cgroup.subtree_control" ]
	# the copy of the exec file, in the jail
	cmp "$exe" "$T/jail/firecracker/vm-1/root/firecracker"
	# v1: the parent's values first (from the top, where they are set), then the value
	echo 0-7 >"$v1/cpuset/cpuset.cpus"
	: >"$v1/cpuset/nested/cpuset.cpus"
	echo max >"$v1/pids/pids.max"
	mkdir -p "$v1/pids/nested"
	echo 100 >"$v1/pids/nested/pids.max"
	FC_DOUBLE_MOUNTS=$T/mounts FC_DOUBLE_FAIL=jailer-cgroup jailer --id vm-2 --exec-file "$exe" \
		--uid 1 --gid 1 --chroot-base-dir "$T/jail" --parent-cgroup nested \
		--cgroup cpuset.cpus=2 --cgroup pids.max=16
	[[ $stderr == *"failing at jailer-cgroup"* ]] || fail "$stderr"
	[ "$(cat "$v1/cpuset/nested/cpuset.cpus")" = 0-7 ]
	[ "$(cat "$v1/cpuset/nested/vm-2/cpuset.cpus" | tr '\n' ' ')" = "0-7 2 " ]
	[ "$(cat "$v1/pids/nested/vm-2/pids.max" | tr '\n' ' ')" = "100 16 " ]
	[ -s "$v1/cpuset/nested/vm-2/tasks" ]
	FC_DOUBLE_MOUNTS=$T/mounts jailer --id vm-3 --exec-file "$exe" --uid 1 --gid 1 \
		--chroot-base-dir "$T/jail" --cgroup memory.limit_in_bytes=1
	[[ $stderr == *"Cgroup controller memory is unavailable"* ]]
}

# api METHOD PATH [BODY]: STATUS and BODY of Firecracker double's answer.
api() {
	run curl -s --unix-socket "$T/api.sock" -X "$1" -w '\n%{http_code}' \
		${3:+-H 'Content-Type: application/json' -d "$3"} "http://localhost$2"
	status_line=${lines[${#lines[@]} - 1]}
}

# expect CODE METHOD PATH [BODY]
expect() {
	local code=$1
	shift
	api "$@"
	[ "$status_line" = "$code" ] || fail "$* answered $status_line, not $code: $output"
}

# A process that exited (a zombie of ours counts).
gone() {
	! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status"
}

start_fc() {
	require_cmd curl
	: >"$T/vm-t.jsonl"
	FC_DOUBLE_DIR=$T FC_DOUBLE_SPEC=$SPEC "$FC" --id vm-t --api-sock "$T/api.sock" "$@" &
	FC_PID=$!
	wait_for 100 test -S "$T/api.sock" || fail "no API socket"
}

@test "the Firecracker double checks requests against the specification and the boot rules" {
	start_fc
	expect 200 GET /
	assert_output --partial '"state":"Not started"'
	expect 400 PUT /machine-config '{"vcpu_count": 2}'
	assert_output --partial '.mem_size_mib is required'
	expect 400 PUT /machine-config '{"vcpu_count": 33, "mem_size_mib": 256}'
	assert_output --partial 'above its maximum'
	expect 400 PUT /machine-config '{"vcpu_count": "2", "mem_size_mib": 256}'
	assert_output --partial '.vcpu_count is not an integer'
	expect 400 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256, "balloon": true}'
	assert_output --partial '.balloon is not a known field'
	expect 400 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256, "huge_pages": "1G"}'
	assert_output --partial 'not one of its allowed values'
	expect 400 PUT /machine-config '{"vcpu_count": 2,'
	expect 400 GET /nosuch
	expect 400 DELETE /machine-config
	expect 204 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}'
	expect 400 PUT /drives/rootfs "{\"drive_id\": \"other\", \"is_root_device\": true}"
	expect 204 PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$T/file\", \"is_root_device\": true, \"is_read_only\": true}"
	expect 400 PATCH /vm '{"state": "Paused"}'
	expect 400 PUT /actions '{"action_type": "SendCtrlAltDel"}'
	expect 400 PUT /actions '{"action_type": "InstanceStart"}'
	assert_output --partial 'without kernel configuration'
	expect 204 PUT /boot-source "{\"kernel_image_path\": \"$T/file\"}"
	expect 204 PUT /actions '{"action_type": "InstanceStart"}'
	# the threads, named as Firecracker names them, and seccomp on each
	[ "$(cat /proc/$FC_PID/task/*/comm | sort | tr '\n' ',')" = "fc_api,fc_vcpu 0,fc_vcpu 1,firecracker," ]
	[ "$(grep -h '^Seccomp:' /proc/$FC_PID/task/*/status | sort -u)" = "Seccomp:	2" ]
	expect 400 PUT /boot-source "{\"kernel_image_path\": \"$T/file\"}"
	assert_output --partial 'not supported after starting'
	expect 400 PUT /snapshot/load "{\"snapshot_path\": \"$T/s\"}"
	expect 400 PUT /snapshot/create "{\"snapshot_path\": \"$T/s\", \"mem_file_path\": \"$T/m\"}"
	assert_output --partial 'not paused'
	expect 204 PATCH /vm '{"state": "Paused"}'
	expect 400 PUT /snapshot/create "{\"snapshot_path\": \"$T/s\", \"mem_file_path\": \"$T/m\", \"snapshot_type\": \"Diff\"}"
	expect 204 PUT /snapshot/create "{\"snapshot_path\": \"$T/s\", \"mem_file_path\": \"$T/m\"}"
	[ "$(stat -c %s "$T/m")" = $((256 << 20)) ]
	expect 204 PATCH /vm '{"state": "Resumed"}'
	expect 200 GET /vm/config
	[ "$(jq -r '.["machine-config"].vcpu_count' <<<"${lines[0]}")" = 2 ]
	expect 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
	wait_for 50 gone "$FC_PID"
	# every request in the log, with its answer
	[ "$(grep -c '"event":"request"' "$T/vm-t.jsonl")" = 26 ]
	grep -q '"status":400' "$T/vm-t.jsonl"
	grep -q '"event":"exit","time_ms":[0-9]*,"why":"ctrl-alt-del"' "$T/vm-t.jsonl"
}

@test "the Firecracker double: a snapshot load on a fresh process, network overrides, exits" {
	start_fc
	expect 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}'
	expect 204 PUT /boot-source "{\"kernel_image_path\": \"$T/file\"}"
	expect 204 PUT /actions '{"action_type": "InstanceStart"}'
	expect 204 PATCH /vm '{"state": "Paused"}'
	expect 204 PUT /snapshot/create "{\"snapshot_path\": \"$T/s\", \"mem_file_path\": \"$T/m\"}"
	kill -TERM "$FC_PID"
	wait_for 50 gone "$FC_PID"
	rm "$T/api.sock"
	start_fc
	expect 400 PUT /snapshot/load "{\"snapshot_path\": \"$T/s\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$T/m\"}, \"mem_file_path\": \"$T/m\"}"
	assert_output --partial 'Exactly one'
	expect 400 PUT /snapshot/load "{\"snapshot_path\": \"$T/s\", \"mem_file_path\": \"$T/m\", \"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}]}"
	assert_output --partial 'Invalid network override'
	expect 204 PUT /snapshot/load "{\"snapshot_path\": \"$T/s\", \"mem_file_path\": \"$T/m\"}"
	expect 200 GET /
	assert_output --partial '"state":"Paused"'
	kill -TERM "$FC_PID"
	wait_for 50 gone "$FC_PID"
	grep -q '"why":"Terminated"' "$T/vm-t.jsonl"
	rm "$T/api.sock"
	# configured first, a load is refused
	start_fc --no-seccomp
	[ "$(grep '^Seccomp:' /proc/$FC_PID/status)" = "Seccomp:	0" ]
	expect 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}'
	expect 400 PUT /snapshot/load "{\"snapshot_path\": \"$T/s\", \"mem_file_path\": \"$T/m\"}"
	assert_output --partial 'not allowed after configuring'
}

@test "the Firecracker double: arguments, and a configuration file that does not fit" {
	run "$FC" --bogus
	assert_status 1
	run "$FC" --no-api
	assert_status 1
	assert_output --partial "'config-file' required"
	echo '{"machine-config": {"vcpu_count": 1}}' >"$T/bad.json"
	FC_DOUBLE_SPEC=$SPEC run "$FC" --no-api --config-file "$T/bad.json"
	assert_status 1
	assert_output --partial "mem_size_mib is required"
	nimbus fc config --kernel "$T/file" --rootfs "$T/nosuch" >"$T/good.json"
	FC_DOUBLE_SPEC=$SPEC run "$FC" --no-api --config-file "$T/good.json"
	assert_status 1
	assert_output --partial "Cannot open the block device"
}
