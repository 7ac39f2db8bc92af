#!/usr/bin/env bash
# nimbus reap over the host objects of REAP_PERF_VMS (200) stale VMs, as
# a crash leaves them: per VM a network namespace with its tap, a veth
# pair from the host into it, a cgroup in each of the cpuset, cpu, memory
# and pids hierarchies, and a record.
#
# The peer, in the same run: a shell loop over an identical set, what an
# operator would script: ip link del (the veth's host end), ip netns del
# (whose devices, the tap, the kernel removes with it, as it does for
# nimbus), rmdir of the cgroups, rm of the record. Each side's time is
# the median of REAP_PERF_ROUNDS (3) rounds; the ratio compares them
# (target: reap 3 times as fast or more).
#
# The reaper sees every process and link of its host: this runs in a
# world of its own (new pid, network and mount namespaces, a /run of its
# own for ip netns), as the tests do, so that no other VM is touched.
# Needs root; skipped otherwise.
set -euo pipefail

vms=${REAP_PERF_VMS:-200}
rounds=${REAP_PERF_ROUNDS:-3}
src=${NIMBUS_SRC:-.}
NIMBUS_BIN=${NIMBUS_BIN:-$src/nimbus}

[ "$(id -u)" = 0 ] || { echo "reap: needs root; skipped"; exit 0; }
for c in ip unshare; do
	command -v $c >/dev/null || { echo "reap: $c is not installed; skipped"; exit 0; }
done
if [ -z "${REAP_PERF_WORLD:-}" ]; then
	exec unshare --pid --fork --mount-proc --net --mount --propagation private \
		env REAP_PERF_WORLD=1 bash "$0" "$@"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-perf-reap.XXXXXX")
# $$ is 1 in this world: the work directory's name is unique instead
cgroup=${work##*/}
controllers="cpuset cpu memory pids"
cleanup() {
	set +e
	for c in $controllers; do
		find "/sys/fs/cgroup/$c/$cgroup" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
		rmdir "/sys/fs/cgroup/$c/$cgroup" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT

# ip netns wants /run/netns: this world's own
mount -t tmpfs tmpfs /run
mkdir -p /run/netns "$work/run/vms"
for c in $controllers; do
	[ -d "/sys/fs/cgroup/$c" ] || { echo "reap: no cgroup v1 $c hierarchy; skipped"; exit 0; }
	mkdir -p "/sys/fs/cgroup/$c/$cgroup"
done
: >"$work/nimbus.conf"
export NIMBUS_CONFIG=$work/nimbus.conf NIMBUS_CORE_STATE_DIR=$work/state NIMBUS_CORE_RUN_DIR=$work/run
export NIMBUS_FIRECRACKER_NETNS_DIR=/run/netns NIMBUS_FIRECRACKER_PARENT_CGROUP=$cgroup
export NIMBUS_FIRECRACKER_CHROOT_BASE=$work/jail

now_us() {
	echo $(($(date +%s%N) / 1000))
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

hex_of() {
	printf '%08x' "$1"
}

# make FIRST: the objects of VMs FIRST .. FIRST+vms-1, made quickly (ip -batch)
make_set() {
	local i hex id c
	for ((i = $1; i < $1 + vms; i++)); do
		hex=$(hex_of "$i")
		id=nimbus-$hex
		printf 'netns add %s\ntuntap add dev %s mode tap\nlink set dev %s netns %s\n' \
			"$id" "$id" "$id" "$id"
		printf 'link add nimbus%sh type veth peer name nimbus%sn netns %s\n' "$hex" "$hex" "$id"
		for c in $controllers; do
			mkdir "/sys/fs/cgroup/$c/$cgroup/$id"
		done
		printf '{"id": "%s", "state": "running", "created": "2026-01-01T00:00:00Z", ' "$id" \
			>"$work/run/vms/$id.json"
		printf '"netns": "/run/netns/%s", "links": ["nimbus%sh"], "cgroups": [%s]}\n' "$id" "$hex" \
			"$(for c in $controllers; do printf '"/sys/fs/cgroup/%s/%s/%s",' "$c" "$cgroup" "$id"; done |
				sed 's/,$//')" >>"$work/run/vms/$id.json"
	done | ip -batch -
}

# Nothing of any VM is left.
check_clean() {
	local left
	left=$( (ls /run/netns; ls "$work/run/vms"; ip -o link show | grep -o 'nimbus[0-9a-f-]*';
		ls -d "/sys/fs/cgroup/pids/$cgroup"/nimbus-* || true) 2>/dev/null | wc -l)
	[ "$left" = 0 ] || { echo "reap: $1 left $left objects" >&2; exit 1; }
}

peer_loop() {
	local i hex id
	for ((i = $1; i < $1 + vms; i++)); do
		hex=$(hex_of "$i")
		id=nimbus-$hex
		ip link del "nimbus${hex}h"
		ip netns del "$id"
		rmdir "/sys/fs/cgroup/cpuset/$cgroup/$id" "/sys/fs/cgroup/cpu/$cgroup/$id" \
			"/sys/fs/cgroup/memory/$cgroup/$id" "/sys/fs/cgroup/pids/$cgroup/$id"
		rm "$work/run/vms/$id.json"
	done
}

: >"$work/ours"
: >"$work/peer"
for ((r = 0; r < rounds; r++)); do
	make_set $((0x7f000000 + r * vms))
	t0=$(now_us)
	"$NIMBUS_BIN" reap --grace 0 >"$work/actions"
	t1=$(now_us)
	echo $((t1 - t0)) >>"$work/ours"
	check_clean "nimbus reap"
	[ "$(grep -c '^deleted netns' "$work/actions")" = "$vms" ] ||
		{ echo "reap: nimbus reap missed VMs" >&2; exit 1; }

	make_set $((0x7f100000 + r * vms))
	t0=$(now_us)
	peer_loop $((0x7f100000 + r * vms))
	t1=$(now_us)
	echo $((t1 - t0)) >>"$work/peer"
	check_clean "the shell loop"
done

ours=$(median <"$work/ours")
peer=$(median <"$work/peer")
awk -v o="$ours" -v p="$peer" -v n="$vms" -v r="$rounds" 'BEGIN {
	printf "reap: %d stale VMs (netns, tap, veth, 4 cgroups, record each), median of %d rounds\n", n, r
	printf "reap: nimbus reap   %8.1f ms  (%.2f ms per VM)\n", o / 1000, o / 1000 / n
	printf "reap: shell loop    %8.1f ms  (%.2f ms per VM; ip link del, ip netns del, rmdir, rm)\n", p / 1000, p / 1000 / n
	printf "reap: ratio         %8.1fx  (target: 3x or more)\n", p / o
}'
