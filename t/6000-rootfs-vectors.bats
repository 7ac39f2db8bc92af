#!/usr/bin/env bats
# nimbus rootfs hash on the public test vectors, ../shared/vectors/rootfs.json.

load lib/common

setup() {
	common_setup
	require_cmd jq perl
	VECTORS=$(vector_file rootfs.json)
	cd "$BATS_TEST_TMPDIR"
	# known.img: 300 blocks of 4096 bytes, byte i = (7*i+3) mod 251
	perl -e 'print pack("C*", map { (7 * $_ + 3) % 251 } 0 .. 300 * 4096 - 1)' > known.img
	: > empty.img
	printf x > one.img
}

vector() {
	jq -r --arg n "$1" ".images[] | select(.name == \$n) | .$2" "$VECTORS"
}

@test "the recipes give the sizes of the vectors" {
	for img in known.img empty.img one.img; do
		[ "$(stat -c %s $img)" = "$(vector $img size)" ] || fail "$img"
	done
}

@test "each image's component digest is its fs-verity digest from the vectors" {
	for img in known.img empty.img one.img; do
		run nimbus rootfs hash --json "$img"
		assert_success
		[ "$(jq -r '.manifest.components[0].digest' <<< "$output")" = "$(vector $img fsverity_digest)" ] ||
			fail "$img: $output"
		[ "$(jq -r '.manifest.components[0].kind' <<< "$output")" = image ] || fail "$img is not an image"
	done
}

@test "--verity prints the dm-verity root hash (empty salt) from the vectors" {
	run --separate-stderr nimbus rootfs hash --verity --json known.img
	assert_success
	[ "$(jq -r .verity_root <<< "$output")" = "$(vector known.img dm_verity_root_empty_salt)" ]
	[ -z "$stderr" ]
}

@test "the address of a vector is the SHA-256 of its canonical manifest" {
	local digest
	digest=$(vector known.img fsverity_digest)
	run nimbus rootfs hash known.img
	assert_success
	assert_output "sha256:$(printf '{"components":[{"digest":"%s","kind":"image","size":1228800}],"version":1}' \
		"$digest" | sha256sum | cut -d' ' -f1)"
}
