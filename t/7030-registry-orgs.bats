#!/usr/bin/env bats
# The org boundary: no org reads, writes or detects another org's blobs,
# even by exact digest; repository names cannot smuggle one org into
# another; quotas; one file for a blob of two orgs, charged to both;
# mounts. The ones that exercise the store's transactions run on each
# store driver.

load lib/common
load lib/services
load lib/registry

setup_file() {
	pg_start
}

teardown_file() {
	pg_stop
}

setup() {
	common_setup
	registry_setup
	A=$(tok pull:a push:a delete:a)
	B=$(tok pull:b push:b delete:b)
}

teardown() {
	registry_stop
}

usage_of() {
	nimbus registry quota show "$1" --json | jq -r "$2"
}

@test "a token of org b can neither pull, push, mount, list, delete nor HEAD anything of org a" {
	local md layer loc
	registry_start
	md=$(push_image a/app v1 "$A")
	layer=$(jq -r '.layers[0].digest' "$BATS_TEST_TMPDIR"/image.*/manifest)
	api GET /v2/a/app/referrers/"$md" -H "Authorization: Bearer $A" >/dev/null
	run api POST /v2/a/app/blobs/uploads/ -H "Authorization: Bearer $A"
	loc=$(hdr Location)
	for req in "HEAD /v2/a/app/blobs/$layer" "GET /v2/a/app/blobs/$layer" \
		   "HEAD /v2/a/app/manifests/v1" "GET /v2/a/app/manifests/$md" "GET /v2/a/app/tags/list" \
		   "GET /v2/a/app/referrers/$md" "POST /v2/a/app/blobs/uploads/" \
		   "POST /v2/a/app/blobs/uploads/?mount=$layer&from=a/app" "PATCH $loc" "PUT $loc?digest=$layer" \
		   "GET $loc" "DELETE $loc" "PUT /v2/a/app/manifests/v2" "DELETE /v2/a/app/manifests/v1" \
		   "DELETE /v2/a/app/blobs/$layer"; do
		# shellcheck disable=SC2086
		run api $req -H "Authorization: Bearer $B"
		[ "$output" = 401 ] || fail "$req with b's token: $output $(cat "$BODY")"
		[[ $(hdr WWW-Authenticate) == *'error="insufficient_scope"'* ]] || fail "$req: no insufficient_scope"
	done
	# through b's own repositories, a's digests are unknown, exactly as digests never pushed
	for req in "HEAD /v2/b/app/blobs/$layer" "GET /v2/b/app/blobs/$layer" "GET /v2/b/app/manifests/$md" \
		   "DELETE /v2/b/app/blobs/$layer"; do
		# shellcheck disable=SC2086
		run api $req -H "Authorization: Bearer $B"
		[ "$output" = 404 ] || fail "$req: $output"
	done
	[ "$(err_code)" = BLOB_UNKNOWN ]
	run api HEAD "/v2/b/app/blobs/sha256:$(printf '%064d' 7)" -H "Authorization: Bearer $B"
	assert_output 404
	# a's upload session through b's repository is no session at all
	run api PATCH "/v2/b/app/blobs/uploads/${loc##*/}" -H "Authorization: Bearer $B" --data-binary x
	assert_output 404
	[ "$(err_code)" = BLOB_UPLOAD_UNKNOWN ]
	# a mount from a with b's token starts an upload instead: nothing said, nothing linked
	run api POST "/v2/b/app/blobs/uploads/?mount=$layer&from=a/app" -H "Authorization: Bearer $B"
	assert_output 202
	run api HEAD "/v2/b/app/blobs/$layer" -H "Authorization: Bearer $B"
	assert_output 404
	# a manifest of b cannot reference a's blobs by digest
	sed 's/"mediaType":"application\/vnd.oci.image.manifest.v1+json",//' "$BATS_TEST_TMPDIR"/image.*/manifest \
		> "$BATS_TEST_TMPDIR/m"
	run api PUT /v2/b/app/manifests/v1 -H "Authorization: Bearer $B" \
		-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$BATS_TEST_TMPDIR/m"
	assert_output 400
	[ "$(err_code)" = MANIFEST_BLOB_UNKNOWN ]
	# a still has everything
	run api GET "/v2/a/app/blobs/$layer" -H "Authorization: Bearer $A"
	assert_output 200
}

@test "name tricks: ../, encoded slashes, upper case, overlong, no org: 400 NAME_INVALID" {
	local long
	registry_start
	long=b/$(printf '%0260d' 0 | tr 0 x)
	for path in "/v2/b/../a/app/tags/list" "/v2/b/..%2Fa/app/tags/list" "/v2/b%2F..%2Fa%2Fapp/tags/list" \
		    "/v2/a%2Fapp/tags/list" "/v2/B/app/tags/list" "/v2/b/App/tags/list" "/v2/$long/tags/list" \
		    "/v2/b/tags/list" "/v2/b//app/tags/list" "/v2/b/./app/tags/list" "/v2/.b/app/tags/list" \
		    "/v2/b/app%00/tags/list" "/v2/b/app%252F..%252Fa/tags/list" \
		    "/v2/b/../a/app/blobs/sha256:$(printf '%064d' 0)"; do
		run api GET "$path" --path-as-is -H "Authorization: Bearer $B"
		[ "$output" = 400 ] || fail "$path: $output $(cat "$BODY")"
		[ "$(err_code)" = NAME_INVALID ] || fail "$path: $(cat "$BODY")"
	done
}

quota_exceeded() {
	local md before loc
	fresh_registry
	nimbus registry quota set a 3K
	head -c 2048 /dev/urandom > "$BATS_TEST_TMPDIR/big"
	head -c 1500 /dev/urandom > "$BATS_TEST_TMPDIR/more"
	md=$(push_image a/app v1 "$A" 1024)
	before=$(usage_of a .used)
	[ "$before" -gt 1024 ] && [ "$before" -lt 2048 ]
	run api POST "/v2/a/app/blobs/uploads/?digest=$(sha "$BATS_TEST_TMPDIR/big")" \
		-H "Authorization: Bearer $A" --data-binary @"$BATS_TEST_TMPDIR/big"
	assert_output 403
	[ "$(err_code)" = DENIED ]
	jq -e ".errors[0].message | contains(\"$before bytes used of 3072\") and contains(\"2048 more\")" "$BODY"
	[ "$(usage_of a .used)" = "$before" ]
	run api HEAD "/v2/a/app/blobs/$(sha "$BATS_TEST_TMPDIR/big")" -H "Authorization: Bearer $A"
	assert_output 404
	[ "$(blob_files)" = 2 ]
	[ -z "$(ls "$NIMBUS_REGISTRY_DIR/uploads")" ]
	# a chunk that says it will not fit is refused before it comes
	run api POST /v2/a/app/blobs/uploads/ -H "Authorization: Bearer $A"
	loc=$(hdr Location)
	run api PATCH "$loc" -H "Authorization: Bearer $A" --data-binary @"$BATS_TEST_TMPDIR/big"
	assert_output 403
	[ "$(err_code)" = DENIED ]
	# one that does not say so is refused when the upload ends
	run api PATCH "$loc" -H "Authorization: Bearer $A" -H 'Transfer-Encoding: chunked' \
		--data-binary @"$BATS_TEST_TMPDIR/big"
	assert_output 202
	run api PUT "$(hdr Location)?digest=$(sha "$BATS_TEST_TMPDIR/big")" -H "Authorization: Bearer $A"
	assert_output 403
	jq -e ".errors[0].message | contains(\"$before bytes used of 3072\")" "$BODY"
	[ "$(blob_files)" = 2 ]
	[ -z "$(ls "$NIMBUS_REGISTRY_DIR/uploads")" ]
	# nothing lost: what was there is whole
	run api GET "/v2/a/app/manifests/$md" -H "Authorization: Bearer $A"
	assert_output 200
	# more room, and it fits
	nimbus registry quota set a 10K
	push_blob a/app "$BATS_TEST_TMPDIR/big" "$A"
	[ "$(usage_of a .used)" = $((before + 2048)) ]
	[ "$(usage_of a .limit)" = 10240 ]
	[ "$(usage_of a .blobs)" = 3 ]
	# a full org may push again what it has: it costs nothing
	nimbus registry quota set a $((before + 2048))
	push_blob a/app "$BATS_TEST_TMPDIR/big" "$A"
	[ "$(usage_of a .used)" = $((before + 2048)) ]
}

@test "over the quota: 403 DENIED naming used, limit and size; nothing linked, nothing kept" {
	for_each_store quota_exceeded
}

dedupe() {
	local d
	fresh_registry
	head -c 5000 /dev/urandom > "$BATS_TEST_TMPDIR/shared"
	d=$(push_blob a/app "$BATS_TEST_TMPDIR/shared" "$A")
	# b knows the digest; until it uploads the bytes, the blob is not there for b
	run api HEAD "/v2/b/app/blobs/$d" -H "Authorization: Bearer $B"
	assert_output 404
	[ "$(usage_of b .used)" = 0 ]
	push_blob b/app "$BATS_TEST_TMPDIR/shared" "$B"
	run api GET "/v2/b/app/blobs/$d" -H "Authorization: Bearer $B"
	assert_output 200
	cmp "$BODY" "$BATS_TEST_TMPDIR/shared"
	[ "$(blob_files)" = 1 ]
	[ "$(usage_of a .used)" = 5000 ]
	[ "$(usage_of b .used)" = 5000 ]
	# a gives it up; b keeps it, and the file
	run api DELETE "/v2/a/app/blobs/$d" -H "Authorization: Bearer $A"
	assert_output 202
	[ "$(usage_of a .used)" = 0 ]
	nimbus registry gc --grace 0 --org a >/dev/null
	[ "$(blob_files)" = 1 ]
	run api GET "/v2/b/app/blobs/$d" -H "Authorization: Bearer $B"
	assert_output 200
}

@test "dedupe: one file for a blob of two orgs, charged to both, shown to each only after it uploads" {
	for_each_store dedupe
}

@test "mounts: within an org from another repository; across orgs with pull on the source" {
	local d both
	registry_start
	head -c 3000 /dev/urandom > "$BATS_TEST_TMPDIR/layer"
	d=$(push_blob a/one "$BATS_TEST_TMPDIR/layer" "$A")
	run api POST "/v2/a/two/blobs/uploads/?mount=$d&from=a/one" -H "Authorization: Bearer $A"
	assert_output 201
	[ "$(hdr Location)" = "/v2/a/two/blobs/$d" ]
	run api POST "/v2/a/two/blobs/uploads/?mount=sha256:$(printf '%064d' 3)&from=a/one" -H "Authorization: Bearer $A"
	assert_output 202
	run api POST "/v2/a/two/blobs/uploads/?mount=sha256:abc&from=a/one" -H "Authorization: Bearer $A"
	assert_output 400
	[ "$(err_code)" = DIGEST_INVALID ]
	# push on the org but no pull: no mount
	run api POST "/v2/a/two/blobs/uploads/?mount=$d&from=a/one" -H "Authorization: Bearer $(tok push:a)"
	assert_output 202
	both=$(tok pull:a pull:b push:b)
	run api POST "/v2/b/app/blobs/uploads/?mount=$d&from=a/one" -H "Authorization: Bearer $both"
	assert_output 201
	run api GET "/v2/b/app/blobs/$d" -H "Authorization: Bearer $B"
	assert_output 200
	[ "$(usage_of b .used)" = 3000 ]
	[ "$(blob_files)" = 1 ]
}
