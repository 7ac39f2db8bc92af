#!/usr/bin/env bats
# The cache's S3 backend against s3rver (npm) on loopback. s3rver checks
# the access key id but not Signature Version 4 signatures (its own
# documentation says so): t/unit/8000-cache.c checks the signing against
# AWS's test-suite vectors instead.

load lib/common
load lib/cache

setup_file() {
	# one install for the whole file; the outcome is read by setup()
	s3rver_install "$BATS_FILE_TMPDIR/s3rver" && touch "$BATS_FILE_TMPDIR/s3rver-ok"
}

setup() {
	cache_setup
	[ -e "$BATS_FILE_TMPDIR/s3rver-ok" ] ||
		require "the npm package s3rver (npm install failed: $(tail -3 "$BATS_FILE_TMPDIR/s3rver/npm.log" 2>/dev/null))"
	s3rver_install "$BATS_FILE_TMPDIR/s3rver"
	s3rver_start
}

teardown() {
	cache_stop
	s3rver_stop
}

@test "objects go to the bucket as ORG/KEY and come back, ranges and validators included" {
	cache_start -v -v
	head -c 300000 /dev/urandom > "$BATS_TEST_TMPDIR/obj"
	run req PUT "$TOKEN_A" /cache/a/dir/obj.o -T "$BATS_TEST_TMPDIR/obj"
	assert_output 201
	cmp "$BATS_TEST_TMPDIR/obj" "$S3_DIR/cache/a/dir/obj.o._S3rver_object"
	run req GET "$TOKEN_A" /cache/a/dir/obj.o
	assert_output 200
	cmp "$BATS_TEST_TMPDIR/obj" "$BATS_TEST_TMPDIR/body"
	etag=$(header ETag)
	[ "$etag" = "\"$(md5sum < "$BATS_TEST_TMPDIR/obj" | cut -d' ' -f1)\"" ]
	run req HEAD "$TOKEN_A" /cache/a/dir/obj.o
	assert_output 200
	[ "$(header Content-Length)" = 300000 ]
	run req GET "$TOKEN_A" /cache/a/dir/obj.o -H "If-None-Match: $etag"
	assert_output 304
	run req GET "$TOKEN_A" /cache/a/dir/obj.o -H 'Range: bytes=100-199'
	assert_output 206
	cmp <(tail -c +101 "$BATS_TEST_TMPDIR/obj" | head -c 100) "$BATS_TEST_TMPDIR/body"
	run nimbus cache stats --json
	[ "$(jq -c '.[] | [.org, .entries, .bytes]' <<< "$output")" = '["a",1,300000]' ]
	run req DELETE "$TOKEN_A" /cache/a/dir/obj.o
	assert_output 204
	[ ! -e "$S3_DIR/cache/a/dir/obj.o._S3rver_object" ]
	run req GET "$TOKEN_A" /cache/a/dir/obj.o
	assert_output 404
	# the requests were signed, and the secret stayed out of the trace
	grep -q '> Authorization: AWS4-HMAC-SHA256 <redacted>' "$CACHE_LOG"
	grep -q '> x-amz-content-sha256: ' "$CACHE_LOG"
	! grep -q S3RVER "$CACHE_LOG"
}

@test "a refused upload leaves nothing in the bucket; the token is checked first" {
	cache_start
	printf 'content' > "$BATS_TEST_TMPDIR/obj"
	bad=$(printf 'other' | sha256sum | cut -d' ' -f1)
	run req PUT "$TOKEN_A" /cache/a/k -T "$BATS_TEST_TMPDIR/obj" -H "X-Content-SHA256: $bad"
	assert_output 400
	run req PUT "$TOKEN_A" "/cache/a/cas/$bad" -T "$BATS_TEST_TMPDIR/obj"
	assert_output 400
	run req PUT "$TOKEN_B" /cache/a/k -T "$BATS_TEST_TMPDIR/obj"
	assert_output 403
	[ -z "$(find "$S3_DIR/cache" -type f)" ]
	[ -z "$(ls "$CACHE_DIR/tmp")" ]
}

@test "credentials S3 does not know are a 503, not the client's fault" {
	printf 'aws_access_key_id = NOBODY\naws_secret_access_key = not-the-secret\n' \
		> "$BATS_TEST_TMPDIR/s3.credentials"
	cache_start
	run req PUT "$TOKEN_A" /cache/a/k --data-binary x
	assert_output 503
	run req GET "$TOKEN_A" /cache/a/k
	assert_output 503
	! grep -q not-the-secret "$CACHE_LOG"
}

@test "eviction removes the least recently used objects from the bucket" {
	cache_start -c cache.max_bytes_per_org=5K
	head -c 2048 /dev/urandom > "$BATS_TEST_TMPDIR/2k"
	for k in k1 k2; do
		run req PUT "$TOKEN_A" "/cache/a/$k" -T "$BATS_TEST_TMPDIR/2k"
		assert_output 201
		sleep 0.02
	done
	run req GET "$TOKEN_A" /cache/a/k1
	sleep 0.02
	run req PUT "$TOKEN_A" /cache/a/k3 -T "$BATS_TEST_TMPDIR/2k"
	assert_output 201
	[ ! -e "$S3_DIR/cache/a/k2._S3rver_object" ]
	[ -e "$S3_DIR/cache/a/k1._S3rver_object" ]
	[ -e "$S3_DIR/cache/a/k3._S3rver_object" ]
}
