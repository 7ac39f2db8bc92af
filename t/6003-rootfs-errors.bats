#!/usr/bin/env bats
# nimbus rootfs hash: what it refuses, with which exit code, and that a
# failure prints nothing on standard output.

load lib/common

setup() {
	common_setup
	cd "$BATS_TEST_TMPDIR"
	head -c 10000 /dev/urandom > img
}

@test "a missing file is exit 4, for the image and for an overlay" {
	run --separate-stderr nimbus rootfs hash nonexistent
	assert_status 4
	[ -z "$output" ]
	[[ $stderr == "nimbus rootfs: cannot open nonexistent: No such file or directory" ]]
	run --separate-stderr nimbus rootfs hash img --overlay missing.tar
	assert_status 4
	[ -z "$output" ]
	run nimbus rootfs hash img/below
	assert_status 4
}

@test "a directory, a device, a FIFO and a socket are refused with exit 2" {
	mkfifo fifo
	run timeout 10 "$NIMBUS" rootfs hash fifo
	assert_status 2
	assert_output "nimbus rootfs: fifo is a FIFO, not a regular file"
	run nimbus rootfs hash .
	assert_status 2
	assert_output --partial ". is a directory"
	run nimbus rootfs hash /dev/null
	assert_status 2
	assert_output --partial "/dev/null is a character device"
	if [ -S /dev/log ]; then
		run nimbus rootfs hash /dev/log
		assert_status 2
		assert_output --partial "is a socket"
	fi
	run nimbus rootfs hash img --overlay .
	assert_status 2
}

@test "a block device is refused with exit 2" {
	local dev
	dev=$(find /dev -maxdepth 1 -type b -print -quit)
	[ -n "$dev" ] || skip "no block device in /dev"
	run nimbus rootfs hash "$dev"
	assert_status 2
	assert_output --partial "is a block device"
}

@test "an unreadable file is exit 8" {
	chmod 000 img
	if [ "$(id -u)" = 0 ]; then
		require_cmd setpriv
		chmod 755 "$BATS_TEST_TMPDIR"
		run setpriv --reuid=65534 --regid=65534 --clear-groups "$NIMBUS" rootfs hash "$BATS_TEST_TMPDIR/img"
	else
		run nimbus rootfs hash img
	fi
	assert_status 8
	assert_output --partial "Permission denied"
}

@test "usage errors are exit 2" {
	run nimbus rootfs hash
	assert_status 2
	assert_output --partial "missing IMAGE"
	run nimbus rootfs hash img img
	assert_status 2
	run nimbus rootfs hash -j 0 img
	assert_status 2
	run nimbus rootfs hash --type squashfs img
	assert_status 2
	assert_output --partial "'squashfs' is not image or tar"
	run nimbus rootfs frobnicate
	assert_status 2
}

@test "--tree and --verity need an image as the base" {
	mkdir d && echo x > d/x && tar -C d -cf layer.tar .
	run nimbus rootfs hash --tree t layer.tar
	assert_status 2
	assert_output --partial "layer.tar is a tar archive"
	[ ! -e t ]
	run nimbus rootfs hash --verity layer.tar
	assert_status 2
}

@test "--tree into a missing directory is exit 4; a failed run leaves no tree behind" {
	run nimbus rootfs hash --tree nodir/t img
	assert_status 4
	run nimbus rootfs hash --tree t img --overlay missing.tar
	assert_status 4
	[ ! -e t ] && [ -z "$(ls t.tmp* 2>/dev/null)" ]
	run nimbus rootfs hash --tree t img
	assert_success
	[ -f t ] && [ -z "$(ls t.tmp* 2>/dev/null)" ]
}
