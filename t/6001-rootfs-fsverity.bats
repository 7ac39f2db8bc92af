#!/usr/bin/env bats
# nimbus rootfs hash against fsverity digest and veritysetup on random
# files of the sizes where the tree changes shape.

load lib/common

SIZES="0 1 4095 4096 4097 $((128 * 4096)) $((128 * 4096 + 1)) $((16385 * 4096))"

setup_file() {
	# tmpfs keeps the large files quick to write and read
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		SCRATCH=$(mktemp -d /dev/shm/nimbus-6001-XXXXXX)
	else
		SCRATCH=$(mktemp -d "$BATS_FILE_TMPDIR/scratch-XXXXXX")
	fi
	export SCRATCH
}

teardown_file() {
	rm -rf "$SCRATCH"
}

setup() {
	common_setup
	require_cmd fsverity veritysetup jq
}

# A random file of $1 bytes, made once.
random_file() {
	local f=$SCRATCH/r$1
	[ -f "$f" ] || head -c "$1" /dev/urandom > "$f"
	echo "$f"
}

image_digest() {
	nimbus rootfs hash --json "$@" | jq -r '.manifest.components[0].digest'
}

# veritysetup's root hash with an empty salt; the hash device in $2.
veritysetup_root() {
	veritysetup format --no-superblock --hash=sha256 --data-block-size=4096 \
		--hash-block-size=4096 --salt=- "$1" "$2" | sed -n 's/^Root hash:[[:space:]]*//p'
}

@test "an image's digest is fsverity digest's, and --tree its Merkle tree, at every size" {
	local n f want
	for n in $SIZES; do
		f=$(random_file "$n")
		want=$(fsverity digest --hash-alg=sha256 --block-size=4096 --out-merkle-tree="$SCRATCH/want.tree" "$f")
		run image_digest --tree "$SCRATCH/got.tree" "$f"
		assert_success
		[ "$output" = "${want%% *}" ] || fail "$n bytes: $output, fsverity says ${want%% *}"
		cmp "$SCRATCH/got.tree" "$SCRATCH/want.tree" || fail "$n bytes: the trees differ"
	done
}

@test "--verity is veritysetup's root hash, and --tree its hash device for whole blocks" {
	local n f want
	for n in $SIZES; do
		[ "$n" -ge 4096 ] || continue
		f=$(random_file "$n")
		want=$(veritysetup_root "$f" "$SCRATCH/vs.tree")
		run --separate-stderr nimbus rootfs hash --verity --json --tree "$SCRATCH/got.tree" "$f"
		assert_success
		[ "$(jq -r .verity_root <<< "$output")" = "$want" ] || fail "$n bytes: $output, veritysetup says $want"
		if [ $((n % 4096)) = 0 ]; then
			cmp "$SCRATCH/got.tree" "$SCRATCH/vs.tree" || fail "$n bytes: the hash devices differ"
			[ -z "$stderr" ] || fail "$n bytes: $stderr"
		else
			[[ $stderr == *"not its last $((n % 4096)) bytes"* ]] || fail "$n bytes: no warning: $stderr"
		fi
	done
}

@test "--verity refuses an image smaller than one block" {
	run nimbus rootfs hash --verity "$(random_file 4095)"
	assert_status 1
	assert_output --partial "smaller than one 4096-byte block"
}

@test "a 300 MiB image: fsverity digest, its tree and veritysetup's root agree" {
	local f want root
	f=$(random_file $((300 * 1024 * 1024)))
	want=$(fsverity digest --hash-alg=sha256 --block-size=4096 --out-merkle-tree="$SCRATCH/want.tree" "$f")
	root=$(veritysetup_root "$f" "$SCRATCH/vs.tree")
	run nimbus rootfs hash --verity --json --tree "$SCRATCH/got.tree" "$f"
	assert_success
	[ "$(jq -r '.manifest.components[0].digest' <<< "$output")" = "${want%% *}" ]
	[ "$(jq -r .verity_root <<< "$output")" = "$root" ]
	cmp "$SCRATCH/got.tree" "$SCRATCH/want.tree"
	cmp "$SCRATCH/got.tree" "$SCRATCH/vs.tree"
	rm -f "$f"
}

@test "-j 1 and -j N give the same digest and tree" {
	local f one j
	f=$SCRATCH/odd
	head -c $((16385 * 4096 + 5)) /dev/urandom > "$f"
	one=$(image_digest -j 1 --tree "$SCRATCH/one.tree" "$f")
	for j in 2 3 7 64; do
		run image_digest -j $j --tree "$SCRATCH/n.tree" "$f"
		assert_success
		[ "$output" = "$one" ] || fail "-j $j: $output, -j 1: $one"
		cmp "$SCRATCH/one.tree" "$SCRATCH/n.tree"
	done
}

@test "--no-cache gives the same digest" {
	local f
	f=$(random_file $((128 * 4096 + 1)))
	run image_digest --no-cache "$f"
	assert_success
	assert_output "$(image_digest "$f")"
}

@test "a file with fs-verity enabled is measured by the kernel" {
	local dir=$BATS_TEST_TMPDIR/mnt dev f want
	require_root
	require_cmd mkfs.ext4 losetup
	truncate -s 64M "$BATS_TEST_TMPDIR/fs.img"
	mkfs.ext4 -q -O verity -b 4096 "$BATS_TEST_TMPDIR/fs.img" || skip "mkfs.ext4 cannot make verity filesystems"
	dev=$(losetup --find --show "$BATS_TEST_TMPDIR/fs.img") || skip "no loop device"
	mkdir -p "$dir"
	if ! mount "$dev" "$dir"; then
		losetup -d "$dev"
		skip "cannot mount ext4 from a loop device"
	fi
	f=$dir/img
	head -c $((300 * 4096 + 7)) /dev/urandom > "$f"
	want=$(fsverity digest --hash-alg=sha256 --block-size=4096 "$f")
	if ! fsverity enable --hash-alg=sha256 --block-size=4096 "$f"; then
		umount "$dir"; losetup -d "$dev"
		skip "this kernel cannot enable fs-verity"
	fi
	run image_digest "$f"
	umount "$dir"
	losetup -d "$dev"
	assert_success
	assert_output "${want%% *}"
}
