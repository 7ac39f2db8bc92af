#!/usr/bin/env bats
# nimbus verify: matches, mismatches named by component and by 4 KiB block.

load lib/common

setup() {
	common_setup
	require_cmd jq tar zstd
	cd "$BATS_TEST_TMPDIR"
	# 300 blocks and 100 bytes: the last block is partial
	head -c $((300 * 4096 + 100)) /dev/urandom > base.img
	mkdir -p d && head -c 20000 /dev/urandom > d/f && tar -C d -cf layer.tar . && zstd -q layer.tar
	nimbus rootfs hash --json --tree base.tree base.img --overlay layer.tar.zst > rootfs.json
	ADDRESS=$(jq -r .address rootfs.json)
}

# Overwrite one byte of $1 at offset $2 with a different value.
flip() {
	local old
	old=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf %03o $(( (old + 1) % 256 )))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

@test "unchanged files match: the address is printed, exit 0" {
	run --separate-stderr nimbus verify base.img --overlay layer.tar.zst --expect "$ADDRESS"
	assert_success
	assert_output "$ADDRESS"
	run --separate-stderr nimbus verify base.img --overlay layer.tar.zst --manifest rootfs.json --tree base.tree
	assert_success
	assert_output "$ADDRESS"
	[ -z "$stderr" ]
}

@test "--json on a match prints the address, the files and the manifest" {
	run nimbus verify --json base.img --overlay layer.tar.zst --manifest rootfs.json
	assert_success
	[ "$(jq -c . <<< "$output")" = "$(jq -c . rootfs.json)" ]
}

@test "the manifest may be in any JSON layout, or recompressed overlays" {
	jq .manifest rootfs.json > manifest.json
	zstd -dq layer.tar.zst -o plain.tar
	run nimbus verify base.img --overlay plain.tar --manifest manifest.json
	assert_success
	assert_output "$ADDRESS"
}

@test "a one-byte change anywhere is a mismatch, and --tree names its block" {
	local at
	for at in 0 4095 4096 $((17 * 4096 + 5)) $((128 * 4096)) $((300 * 4096)) $((300 * 4096 + 99)); do
		cp base.img changed.img
		flip changed.img $at
		run --separate-stderr nimbus verify changed.img --overlay layer.tar.zst --manifest rootfs.json --tree base.tree
		assert_status 3
		[ -z "$output" ] || fail "stdout on a mismatch: $output"
		[[ $stderr == *"component 1 (changed.img): sha256:"*", expected $(jq -r '.manifest.components[0].digest' rootfs.json)"* ]] ||
			fail "offset $at: $stderr"
		[[ $stderr == *"changed.img: block $((at / 4096)) differs (offset $((at / 4096 * 4096)))"* ]] ||
			fail "offset $at: $stderr"
		[ "$(grep -c 'differ' <<< "$stderr")" = 1 ] || fail "offset $at: more than one block: $stderr"
		run nimbus verify changed.img --overlay layer.tar.zst --expect "$ADDRESS"
		assert_status 3
		assert_output --partial "address sha256:"
	done
}

@test "with --expect, --tree still names the block" {
	cp base.img changed.img
	flip changed.img $((200 * 4096 + 1))
	run nimbus verify changed.img --overlay layer.tar.zst --expect "$ADDRESS" --tree base.tree
	assert_status 3
	assert_line "nimbus verify: address $(nimbus rootfs hash changed.img --overlay layer.tar.zst), expected $ADDRESS"
	assert_line "nimbus verify: changed.img: block 200 differs (offset 819200)"
	assert_line "nimbus verify: changed.img with its overlays does not match"
}

@test "truncation and growth are detected, and --tree names the blocks" {
	head -c $((150 * 4096)) base.img > short.img
	run nimbus verify short.img --overlay layer.tar.zst --manifest rootfs.json
	assert_status 3
	assert_line "nimbus verify: component 1 (short.img): 614400 bytes, expected 1228900"
	run nimbus verify short.img --overlay layer.tar.zst --manifest rootfs.json --tree base.tree
	assert_status 3
	assert_line "nimbus verify: short.img: blocks 150-300 differ (offsets 614400-1228800)"
	{ cat base.img; head -c 5000 /dev/urandom; } > long.img
	run nimbus verify long.img --overlay layer.tar.zst --manifest rootfs.json --tree base.tree
	assert_status 3
	assert_line "nimbus verify: component 1 (long.img): 1233900 bytes, expected 1228900"
	assert_line "nimbus verify: long.img: blocks 300-301 differ (offsets 1228800-1232896)"
	# one more zero byte keeps every block's hash: only the size tells
	{ cat base.img; printf '\0'; } > plus1.img
	run nimbus verify plus1.img --overlay layer.tar.zst --expect "$ADDRESS" --tree base.tree
	assert_status 3
	refute_output --partial "differs"
}

@test "a changed overlay is named; so are a swapped order and a missing overlay" {
	echo more > d/g && tar -C d -cf other.tar .
	run nimbus verify base.img --overlay other.tar --manifest rootfs.json
	assert_status 3
	assert_output --partial "component 2 (other.tar):"
	refute_output --partial "component 1"
	run nimbus verify base.img --manifest rootfs.json
	assert_status 3
	assert_output --partial "the manifest lists 2 components, and 1 file is given"
	nimbus rootfs hash --json base.img --overlay layer.tar --overlay other.tar > two.json
	run nimbus verify base.img --overlay other.tar --overlay layer.tar --manifest two.json
	assert_status 3
	assert_output --partial "component 2 (other.tar)"
	assert_output --partial "component 3 (layer.tar)"
}

@test "a component of another kind than the manifest's" {
	cp base.img fake.tar.zst
	run nimbus verify base.img --overlay fake.tar.zst --manifest rootfs.json
	assert_status 3
	assert_output --partial "fake.tar.zst is not a tar archive"
}

@test "a manifest that is not one, or whose address was edited, is refused with exit 3" {
	echo '{"components":[],"version":1}' > empty.json
	run nimbus verify base.img --manifest empty.json
	assert_status 3
	assert_output --partial "empty.json is not a rootfs manifest"
	echo 'not json' > junk.json
	run nimbus verify base.img --manifest junk.json
	assert_status 3
	head -c 1100000 /dev/zero | tr '\0' ' ' > huge.json
	run nimbus verify base.img --manifest huge.json
	assert_status 3
	assert_output --partial "larger than 1 MiB"
	run nimbus verify base.img --manifest .
	assert_status 2
	jq '.address = "sha256:0000000000000000000000000000000000000000000000000000000000000000"' rootfs.json > edited.json
	run nimbus verify base.img --overlay layer.tar.zst --manifest edited.json
	assert_status 3
	assert_output --partial "its address is not the address of its manifest"
	jq '.manifest.components[0].size += 1 | del(.address)' rootfs.json > bigger.json
	run nimbus verify base.img --overlay layer.tar.zst --manifest bigger.json
	assert_status 3
	assert_output --partial "1228900 bytes, expected 1228901"
}

@test "a tree of another image, or a corrupt one, is refused with exit 3" {
	head -c $((300 * 4096 + 100)) /dev/urandom > other.img
	nimbus rootfs hash --tree other.tree other.img > /dev/null
	run nimbus verify base.img --overlay layer.tar.zst --manifest rootfs.json --tree other.tree
	assert_status 3
	assert_output --partial "other.tree is not the Merkle tree of the manifest's base image"
	cp base.tree bad.tree
	flip bad.tree $((3 * 4096 + 77))
	run nimbus verify base.img --overlay layer.tar.zst --expect "$ADDRESS" --tree bad.tree
	assert_status 3
	assert_output --partial "bad.tree is corrupt"
	head -c 4000 base.tree > odd.tree
	run nimbus verify base.img --overlay layer.tar.zst --expect "$ADDRESS" --tree odd.tree
	assert_status 3
	assert_output --partial "not a multiple of 4096"
}

@test "usage: one of --expect and --manifest, a well-formed address" {
	run nimbus verify base.img
	assert_status 2
	assert_output --partial "give one of --expect and --manifest"
	run nimbus verify base.img --expect "$ADDRESS" --manifest rootfs.json
	assert_status 2
	run nimbus verify base.img --expect "${ADDRESS^^}"
	assert_status 2
	run nimbus verify base.img --expect "${ADDRESS#sha256:}"
	assert_status 2
	run nimbus verify --expect "$ADDRESS"
	assert_status 2
}

@test "missing files are exit 4: the image, an overlay, the manifest, the tree" {
	run nimbus verify nothere.img --overlay layer.tar.zst --expect "$ADDRESS"
	assert_status 4
	run nimbus verify base.img --overlay nothere.tar --expect "$ADDRESS"
	assert_status 4
	run nimbus verify base.img --overlay layer.tar.zst --manifest nothere.json
	assert_status 4
	run nimbus verify base.img --overlay layer.tar.zst --manifest rootfs.json --tree nothere.tree
	assert_status 4
}

@test "an image of one block has an empty tree and still verifies" {
	head -c 4096 /dev/urandom > one.img
	nimbus rootfs hash --json --tree one.tree one.img > one.json
	[ ! -s one.tree ]
	run nimbus verify one.img --manifest one.json --tree one.tree
	assert_success
	flip one.img 7
	run nimbus verify one.img --manifest one.json --tree one.tree
	assert_status 3
}

@test "a totally different image lists runs of blocks, at most 100 lines" {
	head -c $((300 * 4096 + 100)) /dev/urandom > other.img
	run nimbus verify other.img --overlay layer.tar.zst --manifest rootfs.json --tree base.tree
	assert_status 3
	assert_line "nimbus verify: other.img: blocks 0-300 differ (offsets 0-1228800)"
	cp base.img every2.img
	for ((b = 0; b < 300; b += 2)); do flip every2.img $((b * 4096)); done
	run nimbus verify every2.img --overlay layer.tar.zst --manifest rootfs.json --tree base.tree
	assert_status 3
	[ "$(grep -c ': block ' <<< "$output")" = 100 ]
	assert_line "nimbus verify: every2.img: and 50 more differing blocks"
}
