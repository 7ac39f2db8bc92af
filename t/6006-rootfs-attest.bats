#!/usr/bin/env bats
# nimbus rootfs attest and nimbus verify --job: the address a job booted,
# recorded through its fence, on both store drivers.

load lib/common
load lib/services

setup_file() {
	pg_start
}

teardown_file() {
	pg_stop
}

setup() {
	common_setup
	cd "$BATS_TEST_TMPDIR"
	head -c 12345 /dev/urandom > rootfs.img
	head -c 5000 /dev/urandom > extra.img
}

attest() {
	local fence addr want
	nimbus job add j1 >/dev/null
	fence=$(nimbus lease acquire j1)
	want=$(nimbus rootfs hash rootfs.img --overlay extra.img)
	run --separate-stderr nimbus rootfs attest j1 --fence "$fence" rootfs.img --overlay extra.img
	assert_success
	assert_output "$want"
	# job show carries it; the manifest re-derives the address
	run nimbus job show j1 --json
	assert_success
	[ "$(jq -r '.meta["rootfs.address"]' <<< "$output")" = "$want" ]
	[ "sha256:$(jq -j '.meta["rootfs.manifest"]' <<< "$output" | sha256sum | cut -d' ' -f1)" = "$want" ]
	run nimbus verify --job j1 --expect "$want"
	assert_success
	assert_output "$want"
	run --separate-stderr nimbus verify --job j1 --expect "sha256:$(printf '0%.0s' {1..64})"
	assert_status 3
	[ -z "$output" ]
	[[ $stderr == *"job j1 booted $want, not sha256:000"* ]]
	# a new owner's fence makes the old one stale: refused, nothing written
	nimbus lease release j1 --fence "$fence"
	nimbus lease acquire j1 >/dev/null
	run --separate-stderr nimbus rootfs attest j1 --fence "$fence" extra.img
	assert_status 3
	[ -z "$output" ]
	run nimbus verify --job j1 --expect "$want"
	assert_success
}

@test "attest records the address through the fence; verify --job compares it" {
	for_each_store attest
}

missing() {
	run nimbus verify --job nosuch --expect "sha256:$(printf 'a%.0s' {1..64})"
	assert_status 4
	nimbus job add j2 >/dev/null
	run --separate-stderr nimbus verify --job j2 --expect "sha256:$(printf 'a%.0s' {1..64})"
	assert_status 4
	[[ $stderr == *"no rootfs was attested for job j2"* ]]
	run nimbus rootfs attest nosuch --fence 1 rootfs.img
	assert_status 4
	fence=$(nimbus lease acquire j2)
	run nimbus rootfs attest j2 --fence "$fence" missing.img
	assert_status 4
}

@test "unknown jobs, jobs without an attestation and missing images" {
	for_each_store missing
}

@test "bad input: the documented exit codes" {
	run nimbus rootfs attest j1 rootfs.img
	assert_status 2
	assert_output --partial "--fence is required"
	run nimbus rootfs attest j1 --fence 0 rootfs.img
	assert_status 2
	run nimbus rootfs attest j1 --fence x rootfs.img
	assert_status 2
	run nimbus rootfs attest --fence 1 rootfs.img
	assert_status 2
	run nimbus verify --job j1
	assert_status 2
	run nimbus verify --job j1 --expect sha256:abc
	assert_status 2
	run nimbus verify --job j1 --expect "sha256:$(printf 'a%.0s' {1..64})" rootfs.img
	assert_status 2
	run nimbus rootfs attest 'bad job' --fence 1 rootfs.img
	assert_status 2
}
