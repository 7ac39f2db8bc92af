#!/usr/bin/env bats
# nimbus redact: the redaction function as a filter.

load lib/common

@test "Authorization keeps its scheme, the token is masked" {
	run nimbus redact <<< 'Authorization: Bearer abc.def.ghi'
	assert_success
	assert_output 'Authorization: Bearer <redacted>'
}

@test "a PEM private-key block, a ghs_ token and a whsec_ secret are masked" {
	local key
	key=$(openssl genpkey -algorithm ed25519 2>/dev/null)
	run nimbus redact <<< "before
$key
token ghs_16C7e42F292c6912E7710c838347Ae178B4a and whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
after"
	assert_success
	assert_line --index 0 before
	assert_line --index 1 -- '-----BEGIN PRIVATE KEY-----'
	assert_line --index 2 '<redacted>'
	assert_line --index 3 -- '-----END PRIVATE KEY-----'
	assert_line --index 4 'token ghs_<redacted> and whsec_<redacted>'
	assert_line --index 5 after
	refute_output --partial "$(sed -n 2p <<< "$key")"
}

@test "input is copied byte for byte where there is nothing to mask" {
	head -c 200000 /dev/urandom | base64 -w 100 > "$BATS_TEST_TMPDIR/in"
	printf 'no newline at the end' >> "$BATS_TEST_TMPDIR/in"
	nimbus redact < "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/out"
	cmp "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out"
}

@test "--secret-file masks each of its lines" {
	printf 'first-secret-value\nsecond-one\n' > "$BATS_TEST_TMPDIR/secrets"
	run nimbus redact --secret-file "$BATS_TEST_TMPDIR/secrets" <<< 'a first-secret-value b second-one c'
	assert_success
	assert_output 'a <redacted> b <redacted> c'
	run nimbus redact --secret-file "$BATS_TEST_TMPDIR/none"
	assert_status 4
}

@test "a secret registered at run time is masked in log lines" {
	# The Redis URL's password is registered when the configuration is
	# read; an error that quotes it must not show it.
	export NIMBUS_REDIS_URL='redis://:Hex4-unguessable@127.0.0.1:6379/0'
	printf '[serve]\nbogus = Hex4-unguessable\n' > "$NIMBUS_CONFIG"
	run --separate-stderr nimbus config list
	assert_status 7
	[[ $stderr != *Hex4-unguessable* ]]
}

@test "too many arguments exit 2" {
	run nimbus redact extra
	assert_status 2
}
