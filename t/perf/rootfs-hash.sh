#!/usr/bin/env bash
# nimbus rootfs hash throughput on a page-cached file (2 GiB unless
# ROOTFS_PERF_SIZE says otherwise), beside fsverity digest (the same
# digest on one thread), openssl dgst -sha256 (a serial SHA-256 with the
# CPU's SHA extensions) and sha256sum on the same file in the same run.
# The tools take turns, ROOTFS_PERF_RUNS rounds, and each one's best
# time counts, so that load from elsewhere falls on all of them alike.
# Targets on 2 cores: 2.5x fsverity digest and 1.6x openssl. Not a
# pass/fail test: it fails only when nimbus and fsverity disagree.
set -euo pipefail

NIMBUS_BIN=${NIMBUS_BIN:-./nimbus}
size=${ROOTFS_PERF_SIZE:-2G}
runs=${ROOTFS_PERF_RUNS:-3}

for c in fsverity openssl sha256sum jq; do
	command -v $c >/dev/null || { echo "rootfs-hash: $c is not installed; skipped"; exit 0; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-perf-rootfs-XXXXXX")
trap 'rm -rf "$dir"' EXIT
file=$dir/image
head -c "$size" /dev/urandom > "$file"
cat "$file" > /dev/null	# into the page cache
bytes=$(stat -c %s "$file")

ours=$("$NIMBUS_BIN" rootfs hash --json "$file" | jq -r '.manifest.components[0].digest')
theirs=$(fsverity digest --hash-alg=sha256 --block-size=4096 "$file")
if [ "$ours" != "${theirs%% *}" ]; then
	echo "rootfs-hash: nimbus says $ours, fsverity digest says ${theirs%% *}" >&2
	exit 1
fi

names=("nimbus rootfs hash" "fsverity digest" "openssl dgst -sha256" "sha256sum")
cmds=("$NIMBUS_BIN rootfs hash" "fsverity digest --hash-alg=sha256 --block-size=4096"
      "openssl dgst -sha256" "sha256sum")
targets=("" 2.5 1.6 "")
best=()
for ((r = 0; r < runs; r++)); do
	for i in "${!cmds[@]}"; do
		t0=$(date +%s%N)
		${cmds[$i]} "$file" > /dev/null
		t=$(( $(date +%s%N) - t0 ))
		if [ -z "${best[$i]:-}" ] || [ "$t" -lt "${best[$i]}" ]; then
			best[$i]=$t
		fi
	done
done

echo "rootfs-hash: $((bytes / 1048576)) MiB page-cached file, $(nproc) CPUs, best of $runs rounds," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
for i in "${!cmds[@]}"; do
	awk -v name="${names[$i]}" -v ns="${best[$i]}" -v ours="${best[0]}" -v bytes="$bytes" \
	    -v target="${targets[$i]}" -v first="$((i == 0))" 'BEGIN {
		printf "  %-22s %6.3f s %7.0f MiB/s", name, ns / 1e9, bytes / 1048576 / (ns / 1e9)
		if (!first)
			printf "   nimbus is %.2fx", ns / ours
		if (target != "")
			printf " (target %sx: %s)", target, (ns / ours >= target ? "met" : "missed")
		printf "\n"
	}'
done
