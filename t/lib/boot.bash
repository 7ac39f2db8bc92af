# VM boot tests (4xxx): `load lib/boot` after lib/common; call boot_setup
# in setup() and boot_teardown in teardown().
#
# Each test gets a world of its own, so that tests on a shared host see
# only their VMs and leave nothing behind: jails under $T/jail, network
# namespaces under $T/netns, cgroups under a parent of its own
# ($BOOT_CGROUP, in each hierarchy), the jailer and Firecracker doubles
# ($T/bin/jailer runs t/helpers/jailer-double with FC_DOUBLE_DIR=$T/double
# and FC_DOUBLE_FAIL from $T/fail, after the shell commands of
# $T/before-jailer if there are any), a kernel, a rootfs, and a job "j1"
# whose lease's fence is $FENCE. VMs get CPUs 0-1 and one vCPU.

boot_setup() {
	require_root
	T=$BATS_TEST_TMPDIR
	SPEC=$NIMBUS_SRC/../shared/specs/firecracker-api-v1.16.1.json
	[ -f "$SPEC" ] || require "the Firecracker API specification $SPEC is missing"
	mkdir -p "$T/bin" "$T/double" "$T/jail"
	cp "$SPEC" "$T/double/spec.json"
	cat >"$T/bin/jailer" <<EOF
#!/bin/sh
[ ! -f $T/before-jailer ] || sh $T/before-jailer
FC_DOUBLE_DIR=$T/double FC_DOUBLE_FAIL=\$(cat $T/fail 2>/dev/null) exec $NIMBUS_BUILD/t/helpers/jailer-double "\$@"
EOF
	chmod 755 "$T/bin/jailer"
	# the jail is named after the binary: <base>/firecracker/<id>
	ln -s "$NIMBUS_BUILD/t/helpers/firecracker-double" "$T/bin/firecracker"
	head -c 65536 /dev/urandom >"$T/vmlinux"
	head -c 131072 /dev/urandom >"$T/rootfs.img"
	chmod 644 "$T/vmlinux" "$T/rootfs.img"
	BOOT_CGROUP=nimbus-test-$$-${BATS_TEST_NUMBER}
	export NIMBUS_FIRECRACKER_JAILER=$T/bin/jailer
	export NIMBUS_FIRECRACKER_BINARY=$T/bin/firecracker
	export NIMBUS_FIRECRACKER_CHROOT_BASE=$T/jail
	export NIMBUS_FIRECRACKER_NETNS_DIR=$T/netns
	export NIMBUS_FIRECRACKER_PARENT_CGROUP=$BOOT_CGROUP
	export NIMBUS_FIRECRACKER_CPU_POOL=0-1
	export NIMBUS_FIRECRACKER_KERNEL=$T/vmlinux
	export NIMBUS_FIRECRACKER_ROOTFS=$T/rootfs.img
	export NIMBUS_FIRECRACKER_VCPUS=1
	export NIMBUS_FIRECRACKER_MEM_MIB=128
	# a loaded machine starts processes slowly
	export NIMBUS_FIRECRACKER_START_TIMEOUT=30
	export T BOOT_CGROUP
	new_job j1
}

# new_job JOB: queue JOB and take its lease; FENCE is the fence.
new_job() {
	nimbus job add "$1" >/dev/null
	FENCE=$(nimbus lease acquire "$1")
	export FENCE
}

# Make the fence stale while the jailer starts: the lease is taken again.
stale_fence_at_jailer() {
	cat >"$T/before-jailer" <<EOF
NIMBUS_CONFIG=$NIMBUS_CONFIG NIMBUS_CORE_STATE_DIR=$NIMBUS_CORE_STATE_DIR \
	NIMBUS_STORE_URL=${NIMBUS_STORE_URL:-sqlite:$NIMBUS_CORE_STATE_DIR/nimbus.db} \
	$NIMBUS lease acquire j1 >/dev/null
EOF
}

# The VM ids a -v run of nimbus named on stderr, or whose records exist.
seen_ids() {
	{
		grep -ho 'nimbus-[0-9a-f]\{8\}' "$T"/stderr.* 2>/dev/null
		ls "$NIMBUS_CORE_RUN_DIR/vms" 2>/dev/null | sed -n 's/^\(nimbus-[0-9a-f]\{8\}\)\.json$/\1/p'
		ls "$T/jail/firecracker" 2>/dev/null
	} | sort -u
}

# boot [ARG]...: nimbus -v boot --job j1 --fence $FENCE ARG..., through `run`,
# keeping stderr in $T/stderr.N for seen_ids.
BOOTS=0
boot() {
	BOOTS=$((BOOTS + 1))
	run --separate-stderr "$NIMBUS" -v boot --job j1 --fence "$FENCE" "$@"
	printf '%s\n' "$stderr" >"$T/stderr.$BOOTS"
}

# killed_boot STEP: nimbus boot dies with SIGKILL once STEP is done, as in
# a crash; KILLED is the id of the VM it left, from its record.
killed_boot() {
	NIMBUS_TEST_BOOT_FAIL=$1:kill run "$NIMBUS" boot --job j1 --fence "$FENCE"
	[ "$status" -eq 137 ] || fail "boot was not killed after $1: $status $output"
	KILLED=$(ls "$NIMBUS_CORE_RUN_DIR/vms" | sed -n 's/\.json$//p')
	[[ $KILLED =~ ^nimbus-[0-9a-f]{8}$ ]] || fail "no record left: '$KILLED'"
}

# Processes of this test's VMs: in its cgroups (a jail's root is not
# a path the host can read back).
jailed_pids() {
	grep -l "/$BOOT_CGROUP/" /proc/[0-9]*/cgroup 2>/dev/null | sed 's|^/proc/\([0-9]*\)/cgroup$|\1|'
}

# Nothing of any VM of this test is left on the host.
assert_no_leftovers() {
	local id hex left=
	[ -z "$(jailed_pids)" ] || left="$left processes: $(jailed_pids);"
	[ -z "$(ls -A "$T/netns" 2>/dev/null)" ] || left="$left netns: $(ls "$T/netns");"
	[ -z "$(ls -A "$T/jail/firecracker" 2>/dev/null)" ] || left="$left jails: $(ls "$T/jail/firecracker");"
	[ -z "$(ls "$NIMBUS_CORE_RUN_DIR/vms" 2>/dev/null)" ] ||
		left="$left records: $(ls "$NIMBUS_CORE_RUN_DIR/vms");"
	[ -z "$(ls -d /sys/fs/cgroup/*/"$BOOT_CGROUP"/nimbus-* 2>/dev/null)" ] ||
		left="$left cgroups: $(ls -d /sys/fs/cgroup/*/"$BOOT_CGROUP"/nimbus-* 2>/dev/null);"
	for id in $(seen_ids); do
		hex=${id#nimbus-}
		! ip link show "nimbus${hex}h" >/dev/null 2>&1 || left="$left link nimbus${hex}h;"
		! grep -q "$id" /proc/self/mountinfo || left="$left mounts of $id;"
	done
	[ -z "$left" ] || fail "left behind:$left"
}

rm_cgroup() {
	find "$1" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
	rmdir "$1" 2>/dev/null
}

# NOBODY_DIR: a directory nobody may use, in /tmp itself (bats' and
# TMPDIR may be private), with NOBODY_NIMBUS, a copy of nimbus that
# nobody can run wherever the tree is (a clone under mktemp -d is 0700);
# boot_teardown removes it.
nobody_dir() {
	NOBODY_DIR=$(mktemp -d /tmp/nimbus-nobody.XXXXXX)
	chmod 755 "$NOBODY_DIR"
	NOBODY_NIMBUS=$NOBODY_DIR/bin/nimbus
	mkdir "$NOBODY_DIR/bin"
	cp "$NIMBUS" "$NOBODY_NIMBUS"
}

# Remove whatever a failed test left: processes, links, namespaces, mounts, cgroups.
boot_teardown() {
	local pid id m c
	[ -n "${T:-}" ] || return 0
	[ -z "${NOBODY_DIR:-}" ] || rm -rf "$NOBODY_DIR"
	for pid in $(jailed_pids); do
		kill -KILL "$pid" 2>/dev/null
	done
	for id in $(seen_ids); do
		ip link del "nimbus${id#nimbus-}h" 2>/dev/null
	done
	grep -o " $T/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	for c in /sys/fs/cgroup/*/"$BOOT_CGROUP"; do
		[ -d "$c" ] || continue
		# killed tasks leave their cgroups a moment later
		wait_for 50 rm_cgroup "$c"
	done
	true
}
