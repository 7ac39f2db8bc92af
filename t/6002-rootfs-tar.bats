#!/usr/bin/env bats
# Tar components: the DiffID of the uncompressed stream in every
# compression, recognition by content, and corrupt archives.

load lib/common

setup() {
	common_setup
	require_cmd jq gzip zstd xz tar fsverity
	cd "$BATS_TEST_TMPDIR"
	mkdir -p tree/etc tree/bin
	head -c 100000 /dev/urandom > tree/bin/tool
	echo nameserver 10.0.0.1 > tree/etc/resolv.conf
	head -c 30000 /dev/urandom > tree/etc/blob
	tar -C tree -cf layer.tar .
	gzip -kn layer.tar
	zstd -q layer.tar -o layer.tar.zst
	xz -k layer.tar
}

component() {
	nimbus rootfs hash --json "$@" | jq -c '.manifest.components[0] | [.kind, .digest, .size]'
}

@test "a tar's digest is the SHA-256 of its stream, the same in every compression" {
	local want
	want=$(jq -nc --arg d "sha256:$(sha256sum < layer.tar | cut -d' ' -f1)" \
		--argjson s "$(stat -c %s layer.tar)" '["tar", $d, $s]')
	for f in layer.tar layer.tar.gz layer.tar.zst layer.tar.xz; do
		run component "$f"
		assert_success
		[ "$output" = "$want" ] || fail "$f: $output, want $want"
	done
}

@test "the digest is what zcat FILE | sha256sum prints, padding after the archive included" {
	# GNU tar pads to 10240 bytes; more zero blocks and bytes after them count too
	{ cat layer.tar; head -c 7000 /dev/zero; } | gzip -n > padded.tar.gz
	run component padded.tar.gz
	assert_success
	assert_output "[\"tar\",\"sha256:$(zcat padded.tar.gz | sha256sum | cut -d' ' -f1)\",$(zcat padded.tar.gz | wc -c)]"
}

@test "concatenated gzip members are one stream, as for zcat" {
	head -c 20000 layer.tar | gzip -n > multi.tar.gz
	tail -c +20001 layer.tar | gzip -n >> multi.tar.gz
	run component multi.tar.gz
	assert_success
	assert_output "[\"tar\",\"sha256:$(sha256sum < layer.tar | cut -d' ' -f1)\",$(stat -c %s layer.tar)]"
}

@test "an empty archive is a tar when compressed or with --type tar" {
	tar -cf empty.tar -T /dev/null
	gzip -kn empty.tar
	run component empty.tar.gz
	assert_success
	assert_output --partial '"tar"'
	run component --type tar empty.tar
	assert_success
	assert_output --partial '"tar"'
	# uncompressed zero blocks are an image: ext4 starts with them
	run component empty.tar
	assert_success
	assert_output --partial '"image"'
}

@test "an ext4 image is an image, and so is any file that is not an archive" {
	require_cmd mkfs.ext4
	truncate -s 8M fs.img
	mkfs.ext4 -q -F -d tree fs.img
	run component fs.img
	assert_success
	assert_output --partial '"image"'
	head -c 9000 /dev/urandom > random.img
	run component random.img
	assert_success
	assert_output --partial '"image"'
}

@test "--type image hashes a tar as an image, --type tar refuses an image" {
	run component --type image layer.tar.gz
	assert_success
	assert_output "[\"image\",\"sha256:$(fsverity digest --compact layer.tar.gz)\",$(stat -c %s layer.tar.gz)]"
	head -c 9000 /dev/urandom > random.img
	run nimbus rootfs hash --type tar random.img
	assert_status 3
	assert_output --partial "random.img is not a tar archive"
	run nimbus rootfs hash --type dir random.img
	assert_status 2
}

@test "overlays: each is a component in order, and the order changes the address" {
	local ab ba
	head -c 50000 /dev/urandom > base.img
	run nimbus rootfs hash --json base.img --overlay layer.tar.zst --overlay layer.tar.xz
	assert_success
	[ "$(jq -r '[.manifest.components[].kind] | join(",")' <<< "$output")" = image,tar,tar ]
	[ "$(jq -c .files <<< "$output")" = '["base.img","layer.tar.zst","layer.tar.xz"]' ]
	tar -C tree -cf other.tar etc
	ab=$(nimbus rootfs hash base.img --overlay layer.tar --overlay other.tar)
	ba=$(nimbus rootfs hash base.img --overlay other.tar --overlay layer.tar)
	[ "$ab" != "$ba" ]
	# the compression does not change the address
	[ "$ab" = "$(nimbus rootfs hash base.img --overlay layer.tar.zst --overlay other.tar)" ]
}

@test "the address is the SHA-256 of the manifest as jq -cjS prints it" {
	head -c 50000 /dev/urandom > base.img
	run nimbus rootfs hash --json base.img --overlay layer.tar.gz
	assert_success
	[ "$(jq -r .address <<< "$output")" = "sha256:$(jq -cjS .manifest <<< "$output" | sha256sum | cut -d' ' -f1)" ]
}

@test "a damaged tar header is refused, naming its offset" {
	local at
	at=$(tar -tvf layer.tar --block-number | sed -n 's/^block \([0-9]*\):.*resolv.conf$/\1/p')
	cp layer.tar bad.tar
	printf 'XXXX' | dd of=bad.tar bs=1 seek=$((at * 512 + 10)) conv=notrunc 2>/dev/null
	run nimbus rootfs hash bad.tar
	assert_status 3
	assert_output --partial "bad.tar: corrupt tar archive at byte $((at * 512))"
	gzip -n < bad.tar > bad.tar.gz
	run nimbus rootfs hash bad.tar.gz
	assert_status 3
	assert_output --partial "bad.tar.gz: corrupt tar archive at byte $((at * 512))"
}

@test "a truncated archive is refused in every compression" {
	head -c 60000 layer.tar > cut.tar
	run nimbus rootfs hash cut.tar
	assert_status 3
	assert_output --partial "cut.tar: corrupt tar archive at byte"
	for z in gz zst xz; do
		head -c $(( $(stat -c %s layer.tar.$z) - 20 )) layer.tar.$z > cut.tar.$z
		run nimbus rootfs hash cut.tar.$z
		assert_status 3
		assert_output --regexp "cut.tar.$z: corrupt .* at byte [0-9]+"
	done
}

@test "a flipped byte in gzip data fails its CRC, as it does for zcat" {
	local size
	size=$(stat -c %s layer.tar.gz)
	for at in $((size / 2)) $((size - 6)); do
		cp layer.tar.gz flip.tar.gz
		printf '\x55' | dd of=flip.tar.gz bs=1 seek=$at conv=notrunc 2>/dev/null
		run zcat flip.tar.gz
		[ "$status" -ne 0 ] || continue
		run nimbus rootfs hash flip.tar.gz
		assert_status 3
		assert_output --regexp "flip.tar.gz: corrupt gzip data at byte [0-9]+ of the uncompressed stream"
	done
}

@test "garbage after the last gzip member is refused; zero padding is not" {
	{ cat layer.tar.gz; head -c 100 /dev/zero; } > zpad.tar.gz
	run component zpad.tar.gz
	assert_success
	{ cat layer.tar.gz; echo garbage; } > junk.tar.gz
	run nimbus rootfs hash junk.tar.gz
	assert_status 3
	assert_output --partial "garbage after the last member"
}

@test "compressed data that is not a tar is refused" {
	head -c 9000 /dev/urandom > data
	gzip -kn data
	zstd -q data -o data.zst
	for f in data.gz data.zst; do
		run nimbus rootfs hash "$f"
		assert_status 3
		assert_output --partial "compressed data that is not a tar archive"
	done
	run component --type image data.gz
	assert_success
}
