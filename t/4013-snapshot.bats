#!/usr/bin/env bats
# nimbus snapshot create and boot --snapshot: a full snapshot taken from
# a paused VM, restored with the new VM's tap in place of the old one.

load lib/common
load lib/boot

setup() {
	common_setup
	boot_setup
}

teardown() {
	boot_teardown
}

# requests VM: the requests the Firecracker double of VM logged.
requests() {
	jq -c 'select(.event == "request") | [.method, .path, .body]' "$T/double/$1.jsonl"
}

@test "snapshot create --resume, then a boot from the snapshot maps its interface to the new tap" {
	local a b
	export NIMBUS_FIRECRACKER_VCPUS=2
	boot
	assert_success
	a=$output
	run --separate-stderr nimbus snapshot create "$a" --out "$T/snap" --fence "$FENCE" --resume --json
	assert_success
	[ "$(jq -r '.vm, .vcpus, .mem_mib, .iface_id, .dir' <<<"$output" | tr '\n' ' ')" = "$a 2 128 eth0 $T/snap " ]
	[ "$(stat -c %a "$T/snap")" = 700 ]
	[ "$(stat -c '%u %a' "$T/snap/vmstate")" = "0 644" ]
	[ "$(stat -c %s "$T/snap/memory")" = $((128 << 20)) ]
	jq -e . "$T/snap/snapshot.json" >/dev/null
	run requests "$a"
	assert_line '["PATCH","/vm",{"state":"Paused"}]'
	assert_line '["PUT","/snapshot/create",{"mem_file_path":"/snapshot.out.mem","snapshot_path":"/snapshot.out.vmstate","snapshot_type":"Full"}]'
	assert_line '["PATCH","/vm",{"state":"Resumed"}]'
	[ "$(nimbus vm list --json | jq -r '.[0].alive')" = true ]

	unset NIMBUS_FIRECRACKER_VCPUS
	# the first VM has the pool's two CPUs: share them
	boot --snapshot "$T/snap" --cpus 0-1 --json
	assert_success
	b=$(jq -r .id <<<"$output")
	[ "$b" != "$a" ]
	[ "$(jq -r .vcpus <<<"$output")" = 2 ]
	[ "$(jq -r .snapshot <<<"$output")" = "$T/snap" ]
	jq -e '.timings_us.snapshot_load > 0' <<<"$output" >/dev/null
	run requests "$b"
	assert_line "[\"PUT\",\"/snapshot/load\",{\"mem_backend\":{\"backend_path\":\"/snapshot.mem\",\"backend_type\":\"File\"},\"network_overrides\":[{\"host_dev_name\":\"$b\",\"iface_id\":\"eth0\"}],\"resume_vm\":true,\"snapshot_path\":\"/snapshot.vmstate\"}]"
	! grep -q '"event":"config-file"' "$T/double/$b.jsonl"
	# both vCPUs pinned, each to a CPU of its own
	pid=$(jq -r .pid "$NIMBUS_CORE_RUN_DIR/vms/$b.json")
	[ "$(grep -h Cpus_allowed_list /proc/"$pid"/task/*/status | sort -u | wc -l)" -ge 2 ]
	nimbus vm stop "$a" --fence "$FENCE" >/dev/null
	nimbus vm stop "$b" --fence "$FENCE" >/dev/null
	assert_no_leftovers
	# the snapshot stays
	[ -f "$T/snap/memory" ]
}

@test "snapshot create without --resume stops the VM" {
	local a stale
	boot
	a=$output
	run --separate-stderr nimbus snapshot create "$a" --out "$T/snap" --fence "$FENCE"
	assert_success
	assert_output "$T/snap"
	[ -f "$T/snap/vmstate" ] && [ -f "$T/snap/memory" ]
	assert_no_leftovers
	# a directory that is not empty is not written to
	boot
	a=$output
	run nimbus snapshot create "$a" --out "$T/snap" --fence "$FENCE"
	assert_status 5
	stale=$FENCE
	FENCE=$(nimbus lease acquire j1)
	run nimbus snapshot create "$a" --out "$T/other" --fence "$stale"
	assert_status 3
	[ ! -e "$T/other" ]
	nimbus vm stop "$a" --fence "$FENCE" >/dev/null
	assert_no_leftovers
}

@test "a snapshot boot that fails, or whose fence is lost before the load, leaves nothing" {
	local a
	boot
	a=$output
	nimbus snapshot create "$a" --out "$T/snap" --fence "$FENCE" >/dev/null
	echo fc-snapshot-load >"$T/fail"
	boot --snapshot "$T/snap"
	assert_status 1
	[[ $stderr == *"Loading the snapshot failed"* ]]
	assert_no_leftovers
	rm "$T/fail"
	stale_fence_at_jailer
	boot --snapshot "$T/snap"
	assert_status 3
	assert_no_leftovers
	run nimbus boot --job j1 --fence "$FENCE" --snapshot "$T/nosuch"
	assert_status 4
}
