#!/usr/bin/env bats
# The hash cache of nimbus rootfs hash --cached.

load lib/common

setup_file() {
	cd "$BATS_FILE_TMPDIR"
	head -c $((64 * 4096 + 3)) /dev/urandom > img
	head -c $((64 * 4096)) /dev/urandom > changing.img
	mkdir d && head -c 9000 /dev/urandom > d/f && tar -C d -cf layer.tar . && gzip -n layer.tar
	# files changed less than 2 seconds before hashing are not recorded
	sleep 2.2
}

setup() {
	common_setup
	cd "$BATS_FILE_TMPDIR"
	CACHE=$NIMBUS_CORE_STATE_DIR/rootfs-cache
}

@test "--cached records each component, and the next run takes them from the cache" {
	local first
	run --separate-stderr nimbus -v rootfs hash --cached img --overlay layer.tar.gz
	assert_success
	first=$output
	[ "$(grep -c 'hash cache miss' <<< "$stderr")" = 2 ]
	[ "$(ls "$CACHE" | wc -l)" = 2 ]
	[ "$(stat -c %a "$CACHE")" = 700 ]
	for e in "$CACHE"/*; do
		[ "$(stat -c %a "$e")" = 600 ]
		grep -q '^nimbus-rootfs-cache 1 ' "$e"
	done
	run --separate-stderr nimbus -v rootfs hash --cached img --overlay layer.tar.gz
	assert_success
	assert_output "$first"
	[ "$(grep -c 'hash cache hit' <<< "$stderr")" = 2 ]
	assert_equal "$first" "$(nimbus rootfs hash img --overlay layer.tar.gz)"
}

@test "without --cached the cache is neither read nor written" {
	run nimbus rootfs hash img
	assert_success
	[ ! -e "$CACHE" ]
}

@test "an entry of another kind is not used: --type tar still refuses an image" {
	nimbus rootfs hash --cached img > /dev/null
	run nimbus rootfs hash --cached --type tar img
	assert_status 3
}

@test "a file that was just changed is hashed but not recorded" {
	cp img fresh.img
	run --separate-stderr nimbus -v rootfs hash --cached fresh.img
	assert_success
	[[ $stderr == *"not caching a file changed less than 2 seconds ago"* ]]
	[ ! -e "$CACHE" ] || [ -z "$(ls "$CACHE")" ]
	rm fresh.img
}

@test "an entry that is not ours, or writable by others, is ignored" {
	local e
	nimbus rootfs hash --cached img > /dev/null
	e=$(ls "$CACHE"/*)
	chmod 0620 "$e"
	run --separate-stderr nimbus -v rootfs hash --cached img
	assert_success
	[[ $stderr == *"ignoring $e: not owned by us or writable by others"* ]]
	[[ $stderr != *"hash cache hit"* ]]
}

@test "a corrupt or forged entry is a miss, and is rewritten" {
	local e good
	good=$(nimbus rootfs hash img)
	nimbus rootfs hash --cached img > /dev/null
	e=$(ls "$CACHE"/*)
	sed -i 's/sha256:[0-9a-f]*/sha256:xyz/' "$e"
	run nimbus rootfs hash --cached img
	assert_success
	assert_output "$good"
	grep -q 'sha256:[0-9a-f]\{64\}$' "$e"
	# the same entry for another size, mtime or ctime is not this file's
	sed -i 's/^\(nimbus-rootfs-cache 1 [0-9]* [0-9]* \)[0-9]*/\11/' "$e"
	run --separate-stderr nimbus -v rootfs hash --cached img
	assert_output "$good"
	[[ $stderr == *"hash cache miss"* ]]
}

@test "a change that keeps the size and the mtime still moves ctime: the entry is not used" {
	cp -p changing.img ref
	nimbus rootfs hash --cached changing.img > /dev/null
	[ -n "$(ls "$CACHE")" ]
	printf 'Z' | dd of=changing.img bs=1 seek=5000 conv=notrunc 2>/dev/null
	touch -r ref changing.img
	[ "$(stat -c '%s %Y' changing.img)" = "$(stat -c '%s %Y' ref)" ]
	run --separate-stderr nimbus -v rootfs hash --cached changing.img
	assert_success
	[[ $stderr == *"hash cache miss"* ]]
	assert_output "$(nimbus rootfs hash changing.img)"
}

@test "--tree and --verity bypass the cache for the base image" {
	nimbus rootfs hash --cached img > /dev/null
	run --separate-stderr nimbus -v rootfs hash --cached --verity --tree "$BATS_TEST_TMPDIR/t" img
	assert_success
	[[ $stderr != *"hash cache"* ]]
}

@test "a cache that cannot be written is a warning, not a failure" {
	export NIMBUS_CORE_STATE_DIR=$BATS_TEST_TMPDIR/file
	: > "$NIMBUS_CORE_STATE_DIR"
	run --separate-stderr nimbus rootfs hash --cached img
	assert_success
	assert_output "$(nimbus rootfs hash img)"
	[[ $stderr == *"warning: cannot update the hash cache"* ]]
}
