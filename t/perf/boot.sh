#!/usr/bin/env bash
# nimbus boot's own overhead per VM: the wall time of `nimbus boot` less
# the time it waits for the jailer and Firecracker (its timings_us.waiting),
# with the doubles of t/helpers, over BOOT_PERF_BOOTS (50) boots one after
# the other, each stopped before the next; median and p95. Target: a
# median under 20 ms. Then 20 boots at once: their wall time and mean
# overhead.
#
# The peer, in the same run: the same host objects (a network namespace
# with a tap, a veth pair and a bridge, a jail with three read-only bind
# mounts) made and removed by a shell with ip(8), mkdir and mount, what
# an operator would script; the ratio compares the medians.
#
# Where /dev/kvm works and Firecracker and its jailer are installed, with
# BOOT_PERF_KERNEL and BOOT_PERF_ROOTFS naming a guest, it also times a
# cold boot and a snapshot restore to a running VM (the target from a
# snapshot: under 100 ms). Needs root; skipped otherwise.
set -euo pipefail

boots=${BOOT_PERF_BOOTS:-50}
src=${NIMBUS_SRC:-.}
build=${NIMBUS_BUILD:-$src/build}
NIMBUS_BIN=${NIMBUS_BIN:-$src/nimbus}
spec=$src/../shared/specs/firecracker-api-v1.16.1.json

[ "$(id -u)" = 0 ] || { echo "boot: needs root; skipped"; exit 0; }
for c in jq ip; do
	command -v $c >/dev/null || { echo "boot: $c is not installed; skipped"; exit 0; }
done
[ -f "$spec" ] || { echo "boot: $spec is missing; skipped"; exit 0; }

work=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-perf-boot.XXXXXX")
cgroup=nimbus-perf-$$
cleanup() {
	set +e
	grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -ru | while read -r m; do umount -l "$m"; done
	rmdir /sys/fs/cgroup/*/"$cgroup" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/bin" "$work/double" "$work/jail"
cp "$spec" "$work/double/spec.json"
printf '#!/bin/sh\nFC_DOUBLE_DIR=%s exec %s/t/helpers/jailer-double "$@"\n' "$work/double" "$build" >"$work/bin/jailer"
chmod 755 "$work/bin/jailer"
ln -s "$build/t/helpers/firecracker-double" "$work/bin/firecracker"
head -c 8M /dev/urandom >"$work/vmlinux"
head -c 64M /dev/urandom >"$work/rootfs.img"
chmod 644 "$work/vmlinux" "$work/rootfs.img"
: >"$work/nimbus.conf"
export NIMBUS_CONFIG=$work/nimbus.conf NIMBUS_CORE_STATE_DIR=$work/state NIMBUS_CORE_RUN_DIR=$work/run
export NIMBUS_FIRECRACKER_JAILER=$work/bin/jailer NIMBUS_FIRECRACKER_BINARY=$work/bin/firecracker
export NIMBUS_FIRECRACKER_CHROOT_BASE=$work/jail NIMBUS_FIRECRACKER_NETNS_DIR=$work/netns
export NIMBUS_FIRECRACKER_PARENT_CGROUP=$cgroup NIMBUS_FIRECRACKER_CPU_POOL=0-1
export NIMBUS_FIRECRACKER_KERNEL=$work/vmlinux NIMBUS_FIRECRACKER_ROOTFS=$work/rootfs.img
export NIMBUS_FIRECRACKER_VCPUS=1 NIMBUS_FIRECRACKER_MEM_MIB=128 NIMBUS_FIRECRACKER_START_TIMEOUT=60
"$NIMBUS_BIN" job add perf >/dev/null
fence=$("$NIMBUS_BIN" lease acquire perf --ttl 3600)

now_us() {
	echo $(($(date +%s%N) / 1000))
}

# median and p95 of the numbers on stdin, microseconds in, milliseconds out
stats() {
	sort -n | awk '{ v[NR] = $1 } END {
		p95 = int(NR * 0.95 + 0.999); if (p95 < 1) p95 = 1
		printf "%.1f %.1f\n", v[int((NR + 1) / 2)] / 1000, v[p95] / 1000 }'
}

# One boot: its overhead in microseconds.
boot_once() {
	local t0 t1 out
	t0=$(now_us)
	out=$("$NIMBUS_BIN" boot --job perf --fence "$fence" "$@" --json)
	t1=$(now_us)
	echo "$(jq -r .id <<<"$out") $((t1 - t0 - $(jq -r .timings_us.waiting <<<"$out")))"
}

# the hash of the rootfs, cached from now on, as on a host that boots it often
boot_once >/dev/null
"$NIMBUS_BIN" vm stop "$(ls "$work/run/vms" | sed 's/\.json$//')" --fence "$fence" >/dev/null

: >"$work/ours"
for ((i = 0; i < boots; i++)); do
	read -r id us < <(boot_once)
	echo "$us" >>"$work/ours"
	"$NIMBUS_BIN" vm stop "$id" --fence "$fence" --timeout 5 >/dev/null
done

# The peer: the same objects by a shell, created then removed, timed for the creation.
peer_once() {
	local id=p$1 hex t0 t1 j=$work/jail/peer/$1
	hex=$(printf '%08x' "$1")
	t0=$(now_us)
	ip netns add "nimbus-$hex"
	ip -n "nimbus-$hex" tuntap add dev "nimbus-$hex" mode tap user 3000000 group 3000000 vnet_hdr
	ip link add "nimbus${hex}h" type veth peer name "nimbus${hex}n" netns "nimbus-$hex"
	ip -n "nimbus-$hex" link add "nimbus${hex}b" type bridge
	ip -n "nimbus-$hex" link set "nimbus${hex}n" master "nimbus${hex}b" up
	ip -n "nimbus-$hex" link set "nimbus-$hex" master "nimbus${hex}b" up
	ip -n "nimbus-$hex" link set "nimbus${hex}b" up
	ip link set "nimbus${hex}h" up
	mkdir -p "$j/root"
	for f in vmlinux rootfs.img; do
		: >"$j/root/$f"
		mount --bind -o ro "$work/$f" "$j/root/$f"
	done
	t1=$(now_us)
	echo $((t1 - t0))
	umount "$j/root/vmlinux" "$j/root/rootfs.img"
	rm -rf "$j"
	ip link del "nimbus${hex}h"
	ip netns del "nimbus-$hex"
}
: >"$work/peer"
for ((i = 0; i < boots; i++)); do
	peer_once "$((0x7e000000 + i))" >>"$work/peer"
done

read -r ours_med ours_p95 < <(stats <"$work/ours")
read -r peer_med peer_p95 < <(stats <"$work/peer")

# 20 at once, on shared CPUs
t0=$(now_us)
for ((i = 0; i < 20; i++)); do
	boot_once --cpus 0-1 >"$work/par.$i" &
done
wait
t1=$(now_us)
par_mean=$(cat "$work"/par.* | awk '{ s += $2 } END { printf "%.1f", s / NR / 1000 }')
for id in $(cut -d' ' -f1 "$work"/par.*); do
	"$NIMBUS_BIN" vm stop "$id" --fence "$fence" --timeout 5 >/dev/null
done

echo "boot: nimbus' own overhead per VM (wall time less waiting for the jailer and Firecracker)," \
	"$boots boots, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v m="$ours_med" -v p="$ours_p95" -v pm="$peer_med" -v pp="$peer_p95" 'BEGIN {
	printf "  nimbus boot          median %6.1f ms  p95 %6.1f ms   %.2f of the target (median < 20 ms): %s\n",
		m, p, m / 20, m < 20 ? "met" : "missed"
	printf "  the same by ip(8)    median %6.1f ms  p95 %6.1f ms   nimbus is %.1fx\n", pm, pp, pm / m
}'
echo "  20 boots at once     $(( (t1 - t0) / 1000 )) ms in all, $(( (t1 - t0) / 20000 )) ms per VM;" \
	"each one's overhead, sharing $(nproc) CPUs with the others: mean $par_mean ms"

# With the real Firecracker: cold boot and snapshot restore, to a running VM.
if [ -n "${BOOT_PERF_KERNEL:-}" ] && [ -n "${BOOT_PERF_ROOTFS:-}" ] &&
   command -v firecracker >/dev/null && command -v jailer >/dev/null &&
   "$NIMBUS_BIN" host topology --json | jq -e .kvm.usable >/dev/null; then
	export NIMBUS_FIRECRACKER_JAILER=$(command -v jailer) NIMBUS_FIRECRACKER_BINARY=$(command -v firecracker)
	export NIMBUS_FIRECRACKER_KERNEL=$BOOT_PERF_KERNEL NIMBUS_FIRECRACKER_ROOTFS=$BOOT_PERF_ROOTFS
	t0=$(now_us)
	id=$("$NIMBUS_BIN" boot --job perf --fence "$fence")
	t1=$(now_us)
	echo "  firecracker: cold boot to a running VM $(( (t1 - t0) / 1000 )) ms"
	sleep 2
	"$NIMBUS_BIN" snapshot create "$id" --out "$work/snap" --fence "$fence" >/dev/null
	t0=$(now_us)
	id=$("$NIMBUS_BIN" boot --job perf --fence "$fence" --snapshot "$work/snap")
	t1=$(now_us)
	echo "  firecracker: snapshot restore to a running VM $(( (t1 - t0) / 1000 )) ms (target < 100 ms)"
	"$NIMBUS_BIN" vm stop "$id" --fence "$fence" >/dev/null
else
	echo "  firecracker: cold boot and snapshot restore not measured (needs /dev/kvm, firecracker," \
		"jailer, BOOT_PERF_KERNEL and BOOT_PERF_ROOTFS)"
fi
