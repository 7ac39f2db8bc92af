#!/usr/bin/env bats
# The registry's HTTP API against the distribution spec v1.1: auth and
# challenges, blob pushes (monolithic, POST then PUT, chunked), ranges,
# manifests, tags, referrers, deletes and the spec's error codes.

load lib/common
load lib/registry

setup() {
	common_setup
	registry_setup
	registry_start
	T=$(tok pull:acme push:acme delete:acme)
	AUTH=(-H "Authorization: Bearer $T")
	printf 'hello' > "$BATS_TEST_TMPDIR/hello"
	HELLO=sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
}

teardown() {
	registry_stop
}

@test "registry serve -h: the usage line, before any setup" {
	NIMBUS_SERVE_LISTEN=garbage run nimbus registry serve -h
	assert_success
	assert_line "usage: nimbus registry serve [--listen HOST:PORT] [--log-format text|json]"
}

@test "/v2/: 401 with the token flow's challenge, 200 with a registry token" {
	run api GET /v2/
	assert_output 401
	[ "$(err_code)" = UNAUTHORIZED ]
	[ "$(hdr WWW-Authenticate)" = "Bearer realm=\"$REG/token\",service=\"nimbus\"" ]
	[ "$(hdr Docker-Distribution-API-Version)" = registry/2.0 ]
	run api GET /v2/ "${AUTH[@]}"
	assert_output 200
	run api GET /v2 "${AUTH[@]}"
	assert_output 200
	# a token of another audience is no registry token
	run api GET /v2/ -H "Authorization: Bearer $(nimbus token mint --aud cache --scope pull:acme)"
	assert_output 401
	NIMBUS_REGISTRY_REALM=https://reg.example/token
	registry_stop
	NIMBUS_REGISTRY_REALM=https://reg.example/token registry_start
	run api GET /v2/acme/app/tags/list
	assert_output 401
	[ "$(hdr WWW-Authenticate)" = \
	  'Bearer realm="https://reg.example/token",service="nimbus",scope="repository:acme/app:pull"' ]
}

@test "a token without the scope: 401 insufficient_scope, naming what is needed" {
	local pull
	pull=$(tok pull:acme)
	run api POST /v2/acme/app/blobs/uploads/ -H "Authorization: Bearer $pull"
	assert_output 401
	[ "$(hdr WWW-Authenticate)" = \
	  "Bearer realm=\"$REG/token\",service=\"nimbus\",scope=\"repository:acme/app:pull,push\",error=\"insufficient_scope\"" ]
	jq -e '.errors[0].message | contains("push:acme")' "$BODY"
	run api DELETE "/v2/acme/app/manifests/latest" -H "Authorization: Bearer $pull"
	assert_output 401
	[[ $(hdr WWW-Authenticate) == *'scope="repository:acme/app:delete"'* ]]
}

@test "monolithic push, then HEAD and GET with the digest and the size" {
	run api POST "/v2/acme/app/blobs/uploads/?digest=$HELLO" "${AUTH[@]}" --data-binary @"$BATS_TEST_TMPDIR/hello"
	assert_output 201
	[ "$(hdr Location)" = "/v2/acme/app/blobs/$HELLO" ]
	[ "$(hdr Docker-Content-Digest)" = "$HELLO" ]
	run api HEAD "/v2/acme/app/blobs/$HELLO" "${AUTH[@]}"
	assert_output 200
	[ "$(hdr Content-Length)" = 5 ]
	[ "$(hdr Docker-Content-Digest)" = "$HELLO" ]
	run api GET "/v2/acme/other/blobs/$HELLO" "${AUTH[@]}"
	assert_output 200
	[ "$(cat "$BODY")" = hello ]
	# each blob once on disk, by digest
	[ -f "$NIMBUS_REGISTRY_DIR/blobs/sha256/2c/${HELLO#sha256:}" ]
	run api HEAD "/v2/acme/app/blobs/sha256:$(printf '%064d' 0)" "${AUTH[@]}"
	assert_output 404
}

@test "POST then PUT, and a session's status" {
	local loc
	run api POST /v2/acme/app/blobs/uploads/ "${AUTH[@]}"
	assert_output 202
	loc=$(hdr Location)
	[[ $loc == /v2/acme/app/blobs/uploads/* ]]
	[ "$(hdr Range)" = 0-0 ]
	[ "$(hdr Docker-Upload-UUID)" = "${loc##*/}" ]
	run api GET "$loc" "${AUTH[@]}"
	assert_output 204
	run api PUT "$loc?digest=$HELLO" "${AUTH[@]}" --data-binary @"$BATS_TEST_TMPDIR/hello"
	assert_output 201
	run api GET "$loc" "${AUTH[@]}"
	assert_output 404
	[ "$(err_code)" = BLOB_UPLOAD_UNKNOWN ]
	run api GET "/v2/acme/app/blobs/$HELLO" "${AUTH[@]}"
	[ "$(cat "$BODY")" = hello ]
}

@test "chunks: in order 202 with Range; out of order 416; the status; a closing PUT" {
	local loc
	printf 'hel' > "$BATS_TEST_TMPDIR/c1"
	printf 'lo' > "$BATS_TEST_TMPDIR/c2"
	run api POST /v2/acme/app/blobs/uploads/ "${AUTH[@]}" -H 'Content-Length: 0'
	loc=$(hdr Location)
	run api PATCH "$loc" "${AUTH[@]}" -H 'Content-Range: 3-4' --data-binary @"$BATS_TEST_TMPDIR/c2"
	assert_output 416
	[ "$(err_code)" = BLOB_UPLOAD_INVALID ]
	run api PATCH "$loc" "${AUTH[@]}" -H 'Content-Range: 0-2' -H 'Content-Type: application/octet-stream' \
		--data-binary @"$BATS_TEST_TMPDIR/c1"
	assert_output 202
	[ "$(hdr Range)" = 0-2 ]
	loc=$(hdr Location)
	# the same chunk again is out of order too
	run api PATCH "$loc" "${AUTH[@]}" -H 'Content-Range: 0-2' --data-binary @"$BATS_TEST_TMPDIR/c1"
	assert_output 416
	run api GET "$loc" "${AUTH[@]}"
	assert_output 204
	[ "$(hdr Range)" = 0-2 ]
	# a Content-Range that disagrees with the length
	run api PATCH "$loc" "${AUTH[@]}" -H 'Content-Range: 3-9' --data-binary @"$BATS_TEST_TMPDIR/c2"
	assert_output 416
	run api PUT "$loc?digest=$HELLO" "${AUTH[@]}" -H 'Content-Range: 3-4' --data-binary @"$BATS_TEST_TMPDIR/c2"
	assert_output 201
	run api GET "/v2/acme/app/blobs/$HELLO" "${AUTH[@]}"
	[ "$(cat "$BODY")" = hello ]
}

@test "a chunk without Content-Range is appended, as Docker clients send it" {
	local loc
	run api POST /v2/acme/app/blobs/uploads/ "${AUTH[@]}"
	loc=$(hdr Location)
	run api PATCH "$loc" "${AUTH[@]}" --data-binary @"$BATS_TEST_TMPDIR/hello"
	assert_output 202
	[ "$(hdr Range)" = 0-4 ]
	run api PUT "$(hdr Location)?digest=$HELLO" "${AUTH[@]}"
	assert_output 201
}

@test "cancel an upload; a wrong digest ends one with DIGEST_INVALID and links nothing" {
	local loc
	run api POST /v2/acme/app/blobs/uploads/ "${AUTH[@]}"
	loc=$(hdr Location)
	run api DELETE "$loc" "${AUTH[@]}"
	assert_output 204
	run api PATCH "$loc" "${AUTH[@]}" --data-binary @"$BATS_TEST_TMPDIR/hello"
	assert_output 404
	[ "$(err_code)" = BLOB_UPLOAD_UNKNOWN ]
	run api POST /v2/acme/app/blobs/uploads/ "${AUTH[@]}"
	loc=$(hdr Location)
	run api PUT "$loc?digest=sha256:$(printf '%064d' 1)" "${AUTH[@]}" --data-binary @"$BATS_TEST_TMPDIR/hello"
	assert_output 400
	[ "$(err_code)" = DIGEST_INVALID ]
	run api GET "$loc" "${AUTH[@]}"
	assert_output 404
	run api HEAD "/v2/acme/app/blobs/$HELLO" "${AUTH[@]}"
	assert_output 404
	[ -z "$(ls "$NIMBUS_REGISTRY_DIR/uploads")" ]
	run api POST "/v2/acme/app/blobs/uploads/?digest=sha256:$(printf '%064d' 1)" "${AUTH[@]}" \
		--data-binary @"$BATS_TEST_TMPDIR/hello"
	assert_output 400
	[ "$(err_code)" = DIGEST_INVALID ]
	[ -z "$(ls "$NIMBUS_REGISTRY_DIR/uploads")" ]
}

@test "digests of the wrong algorithm or length, upload ids of the wrong form" {
	local d
	for d in "sha512:$(printf '%0128d' 0)" "sha256:$(printf '%063d' 0)" "sha256:$(printf '%065d' 0)" \
		 "md5:d41d8cd98f00b204e9800998ecf8427e" "sha256:$(printf '%064d' 0 | tr 0 A)" latest; do
		run api HEAD "/v2/acme/app/blobs/$d" "${AUTH[@]}"
		assert_output 400
		run api GET "/v2/acme/app/blobs/$d" "${AUTH[@]}"
		[ "$(err_code)" = DIGEST_INVALID ]
		run api POST "/v2/acme/app/blobs/uploads/?digest=$d" "${AUTH[@]}" --data-binary x
		assert_output 400
		[ "$(err_code)" = DIGEST_INVALID ]
	done
	run api GET /v2/acme/app/manifests/sha256:abc "${AUTH[@]}"
	assert_output 400
	[ "$(err_code)" = DIGEST_INVALID ]
	run api PATCH /v2/acme/app/blobs/uploads/nope "${AUTH[@]}" --data-binary x
	assert_output 404
	[ "$(err_code)" = BLOB_UPLOAD_UNKNOWN ]
}

@test "blob ranges: 206 for first-last, open and suffix ranges; 416 past the end" {
	head -c 1000 /dev/urandom > "$BATS_TEST_TMPDIR/data"
	d=$(push_blob acme/app "$BATS_TEST_TMPDIR/data" "$T")
	run api GET "/v2/acme/app/blobs/$d" "${AUTH[@]}" -H 'Range: bytes=10-19'
	assert_output 206
	[ "$(hdr Content-Range)" = "bytes 10-19/1000" ]
	[ "$(hdr Accept-Ranges)" = bytes ]
	cmp "$BODY" <(tail -c +11 "$BATS_TEST_TMPDIR/data" | head -c 10)
	run api GET "/v2/acme/app/blobs/$d" "${AUTH[@]}" -H 'Range: bytes=990-'
	assert_output 206
	cmp "$BODY" <(tail -c 10 "$BATS_TEST_TMPDIR/data")
	run api GET "/v2/acme/app/blobs/$d" "${AUTH[@]}" -H 'Range: bytes=-5'
	assert_output 206
	[ "$(hdr Content-Range)" = "bytes 995-999/1000" ]
	cmp "$BODY" <(tail -c 5 "$BATS_TEST_TMPDIR/data")
	run api GET "/v2/acme/app/blobs/$d" "${AUTH[@]}" -H 'Range: bytes=1000-'
	assert_output 416
	[ "$(hdr Content-Range)" = "bytes */1000" ]
	run api GET "/v2/acme/app/blobs/$d" "${AUTH[@]}" -H 'Range: bytes=0-9,20-29'
	assert_output 200
	cmp "$BODY" "$BATS_TEST_TMPDIR/data"
}

# A manifest of the blob hello as config and layer, in $BATS_TEST_TMPDIR/m.
hello_manifest() {
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":5},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":5}]%s}' \
		"$HELLO" "$HELLO" "${1:-}" > "$BATS_TEST_TMPDIR/m"
}

put_manifest() {
	api PUT "/v2/acme/app/manifests/$1" "${AUTH[@]}" \
		-H "Content-Type: ${3:-application/vnd.oci.image.manifest.v1+json}" --data-binary "@${2:-$BATS_TEST_TMPDIR/m}"
}

@test "manifests: blobs must be there first (MANIFEST_BLOB_UNKNOWN), then by tag and by digest" {
	local md
	hello_manifest
	md=$(sha "$BATS_TEST_TMPDIR/m")
	run put_manifest v1
	assert_output 400
	[ "$(err_code)" = MANIFEST_BLOB_UNKNOWN ]
	jq -e ".errors[0].message | contains(\"$HELLO\")" "$BODY"
	push_blob acme/app "$BATS_TEST_TMPDIR/hello" "$T"
	run put_manifest v1
	assert_output 201
	[ "$(hdr Location)" = "/v2/acme/app/manifests/$md" ]
	[ "$(hdr Docker-Content-Digest)" = "$md" ]
	run put_manifest "$md"
	assert_output 201
	run put_manifest "sha256:$(printf '%064d' 0)"
	assert_output 400
	[ "$(err_code)" = DIGEST_INVALID ]
	for ref in v1 "$md"; do
		run api GET "/v2/acme/app/manifests/$ref" "${AUTH[@]}"
		assert_output 200
		cmp "$BODY" "$BATS_TEST_TMPDIR/m"
		[ "$(hdr Content-Type)" = application/vnd.oci.image.manifest.v1+json ]
		[ "$(hdr Docker-Content-Digest)" = "$md" ]
		run api HEAD "/v2/acme/app/manifests/$ref" "${AUTH[@]}"
		assert_output 200
		[ "$(hdr Content-Length)" = "$(stat -c %s "$BATS_TEST_TMPDIR/m")" ]
	done
	run api GET /v2/acme/app/manifests/v2 "${AUTH[@]}"
	assert_output 404
	[ "$(err_code)" = MANIFEST_UNKNOWN ]
	run api GET /v2/acme/other/manifests/v1 "${AUTH[@]}"
	assert_output 404
}

@test "malformed manifests and manifests over the limit: MANIFEST_INVALID" {
	local m=$BATS_TEST_TMPDIR/bad
	push_blob acme/app "$BATS_TEST_TMPDIR/hello" "$T"
	for text in '' '[' '[]' '{"schemaVersion":2}' \
		'{"schemaVersion":1,"mediaType":"application/vnd.oci.image.manifest.v1+json"}' \
		'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}' \
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"x\",\"digest\":\"$HELLO\",\"size\":\"5\"},\"layers\":[]}" \
		'{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}'; do
		printf '%s' "$text" > "$m"
		run put_manifest v1 "$m"
		assert_output 400
		[ "$(err_code)" = MANIFEST_INVALID ] || fail "$text: $(cat "$BODY")"
	done
	hello_manifest
	run put_manifest v1 "$BATS_TEST_TMPDIR/m" application/vnd.oci.image.index.v1+json
	assert_output 400
	[ "$(err_code)" = MANIFEST_INVALID ]
	# a size that is not the blob's
	sed 's/"size":5}]/"size":6}]/' "$BATS_TEST_TMPDIR/m" > "$m"
	run put_manifest v1 "$m"
	assert_output 400
	[ "$(err_code)" = MANIFEST_INVALID ]
	registry_stop
	NIMBUS_REGISTRY_MAX_MANIFEST=100 registry_start
	run put_manifest v1
	assert_output 413
	[ "$(err_code)" = MANIFEST_INVALID ]
	# chunked, without a Content-Length to refuse it by
	run put_manifest v1 "$BATS_TEST_TMPDIR/m" application/vnd.oci.image.manifest.v1+json -H 'Transfer-Encoding: chunked'
	assert_output 413
}

@test "an index lists manifests the repository has; a subject gets OCI-Subject and referrers" {
	local md idx sig sbom
	push_blob acme/app "$BATS_TEST_TMPDIR/hello" "$T"
	hello_manifest
	md=$(sha "$BATS_TEST_TMPDIR/m")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d}]}' \
		"$md" "$(stat -c %s "$BATS_TEST_TMPDIR/m")" > "$BATS_TEST_TMPDIR/idx"
	run put_manifest multi "$BATS_TEST_TMPDIR/idx" application/vnd.oci.image.index.v1+json
	assert_output 400
	[ "$(err_code)" = MANIFEST_BLOB_UNKNOWN ]
	run put_manifest v1
	assert_output 201
	run put_manifest multi "$BATS_TEST_TMPDIR/idx" application/vnd.oci.image.index.v1+json
	assert_output 201
	# referrers of a subject that need not exist yet
	run api GET "/v2/acme/app/referrers/$md" "${AUTH[@]}"
	assert_output 200
	[ "$(hdr Content-Type)" = application/vnd.oci.image.index.v1+json ]
	[ "$(jq -c .manifests "$BODY")" = '[]' ]
	hello_manifest ",\"artifactType\":\"application/x-sig\",\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$md\",\"size\":1},\"annotations\":{\"k\":\"v\"}}"
	sed -i 's/}}$/}/' "$BATS_TEST_TMPDIR/m"
	sig=$(sha "$BATS_TEST_TMPDIR/m")
	run put_manifest "$sig"
	assert_output 201
	[ "$(hdr OCI-Subject)" = "$md" ]
	hello_manifest ",\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$md\",\"size\":1}}"
	sed -i 's/}}$/}/' "$BATS_TEST_TMPDIR/m"
	sbom=$(sha "$BATS_TEST_TMPDIR/m")
	run put_manifest "$sbom"
	assert_output 201
	run api GET "/v2/acme/app/referrers/$md" "${AUTH[@]}"
	assert_output 200
	[ "$(jq '.manifests | length' "$BODY")" = 2 ]
	[ "$(jq -r ".manifests[] | select(.digest == \"$sig\") | .artifactType + \" \" + .annotations.k" "$BODY")" = \
	  "application/x-sig v" ]
	# without artifactType, an image manifest's is its config's media type
	[ "$(jq -r ".manifests[] | select(.digest == \"$sbom\") | .artifactType" "$BODY")" = \
	  application/vnd.oci.image.config.v1+json ]
	[ -z "$(hdr OCI-Filters-Applied)" ]
	run api GET "/v2/acme/app/referrers/$md?artifactType=application%2Fx-sig" "${AUTH[@]}"
	assert_output 200
	[ "$(hdr OCI-Filters-Applied)" = artifactType ]
	[ "$(jq -r '[.manifests[].digest] | join(" ")' "$BODY")" = "$sig" ]
	run api GET "/v2/acme/app/referrers/sha256:abc" "${AUTH[@]}"
	assert_output 400
}

@test "tags: lexical order, n and last, a Link to the next page; NAME_UNKNOWN" {
	local t
	push_blob acme/app "$BATS_TEST_TMPDIR/hello" "$T"
	hello_manifest
	for t in b A c a1 D; do
		run put_manifest "$t"
		assert_output 201
	done
	run api GET /v2/acme/app/tags/list "${AUTH[@]}"
	assert_output 200
	[ "$(jq -c . "$BODY")" = '{"name":"acme/app","tags":["A","a1","b","c","D"]}' ]
	[ -z "$(hdr Link)" ]
	run api GET '/v2/acme/app/tags/list?n=2' "${AUTH[@]}"
	[ "$(jq -c .tags "$BODY")" = '["A","a1"]' ]
	[ "$(hdr Link)" = '</v2/acme/app/tags/list?n=2&last=a1>; rel="next"' ]
	run api GET '/v2/acme/app/tags/list?n=2&last=a1' "${AUTH[@]}"
	[ "$(jq -c .tags "$BODY")" = '["b","c"]' ]
	run api GET '/v2/acme/app/tags/list?n=2&last=c' "${AUTH[@]}"
	[ "$(jq -c .tags "$BODY")" = '["D"]' ]
	[ -z "$(hdr Link)" ]
	run api GET '/v2/acme/app/tags/list?last=b' "${AUTH[@]}"
	[ "$(jq -c .tags "$BODY")" = '["c","D"]' ]
	run api GET '/v2/acme/app/tags/list?n=0' "${AUTH[@]}"
	assert_output 200
	[ "$(jq -c .tags "$BODY")" = '[]' ]
	[ -z "$(hdr Link)" ]
	run api GET '/v2/acme/app/tags/list?n=x' "${AUTH[@]}"
	assert_output 400
	run api GET /v2/acme/nothing/tags/list "${AUTH[@]}"
	assert_output 404
	[ "$(err_code)" = NAME_UNKNOWN ]
}

@test "deletes: a tag, a manifest with its tags, a blob once nothing references it" {
	local md
	push_blob acme/app "$BATS_TEST_TMPDIR/hello" "$T"
	hello_manifest
	md=$(sha "$BATS_TEST_TMPDIR/m")
	put_manifest v1
	put_manifest v2
	run api DELETE /v2/acme/app/manifests/v1 "${AUTH[@]}"
	assert_output 202
	run api GET /v2/acme/app/manifests/v1 "${AUTH[@]}"
	assert_output 404
	run api GET /v2/acme/app/manifests/v2 "${AUTH[@]}"
	assert_output 200
	run api DELETE "/v2/acme/app/blobs/$HELLO" "${AUTH[@]}"
	assert_output 409
	[ "$(err_code)" = DENIED ]
	run api DELETE "/v2/acme/app/manifests/$md" "${AUTH[@]}"
	assert_output 202
	run api GET /v2/acme/app/manifests/v2 "${AUTH[@]}"
	assert_output 404
	run api DELETE "/v2/acme/app/manifests/$md" "${AUTH[@]}"
	assert_output 404
	[ "$(err_code)" = MANIFEST_UNKNOWN ]
	run api DELETE "/v2/acme/app/blobs/$HELLO" "${AUTH[@]}"
	assert_output 202
	run api HEAD "/v2/acme/app/blobs/$HELLO" "${AUTH[@]}"
	assert_output 404
	run api DELETE "/v2/acme/app/blobs/$HELLO" "${AUTH[@]}"
	assert_output 404
	[ "$(err_code)" = BLOB_UNKNOWN ]
}

@test "bodies: over registry.max_blob 413 SIZE_INVALID, and none where none belongs" {
	registry_stop
	NIMBUS_REGISTRY_MAX_BLOB=4 registry_start
	run api POST "/v2/acme/app/blobs/uploads/?digest=$HELLO" "${AUTH[@]}" --data-binary @"$BATS_TEST_TMPDIR/hello"
	assert_output 413
	[ "$(err_code)" = SIZE_INVALID ]
	run api POST /v2/acme/app/blobs/uploads/ "${AUTH[@]}"
	loc=$(hdr Location)
	run api PATCH "$loc" "${AUTH[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$BATS_TEST_TMPDIR/hello"
	assert_output 413
	[ "$(err_code)" = SIZE_INVALID ]
	run api GET "/v2/acme/app/blobs/$HELLO" "${AUTH[@]}" --data-binary @"$BATS_TEST_TMPDIR/hello"
	assert_output 413
	run api HEAD "/v2/acme/app/blobs/$HELLO" "${AUTH[@]}"
	assert_output 404
}

@test "methods an endpoint does not take: 405 with Allow; no such endpoint: 404" {
	run api POST /v2/acme/app/manifests/v1 "${AUTH[@]}"
	assert_output 405
	[ "$(hdr Allow)" = "GET, HEAD, PUT, DELETE" ]
	[ "$(err_code)" = UNSUPPORTED ]
	run api GET /v2/acme/app/other "${AUTH[@]}"
	assert_output 404
	run api OPTIONS /v2/acme/app/tags/list "${AUTH[@]}"
	assert_output 405
}

token_get() {
	curl -s -o "$BODY" -w '%{http_code}' "$@"
}

@test "/token: Basic credentials with a nimbus token give the intersection of asked and granted" {
	local both
	both=$(tok pull:acme push:acme pull:beta)
	run token_get -u "ci:$both" "$REG/token?service=nimbus&scope=repository:acme/app:pull,push,delete&scope=repository:beta/x:push,pull&scope=repository:gamma/y:pull"
	assert_output 200
	jq -e '.expires_in == 300 and .token == .access_token and (.issued_at | test("Z$"))' "$BODY"
	run nimbus token verify --aud registry --json "$(jq -r .token "$BODY")"
	assert_success
	[ "$(jq -r .scope <<< "$output")" = "pull:acme push:acme pull:beta" ]
	# docker login asks for no scope
	run token_get -u "ci:$both" "$REG/token?service=nimbus"
	assert_output 200
	run nimbus token verify --aud registry --json "$(jq -r .token "$BODY")"
	[ "$(jq -r .scope <<< "$output")" = "" ]
	run token_get "$REG/token?scope=repository:acme/app:pull"
	assert_output 401
	run token_get -u "ci:garbage" "$REG/token?scope=repository:acme/app:pull"
	assert_output 401
	run token_get -u "ci:$(nimbus token mint --aud cache --scope pull:acme)" "$REG/token"
	assert_output 401
	# the OAuth2 password grant, as containerd posts it
	run token_get --data-urlencode grant_type=password --data-urlencode username=ci \
		--data-urlencode "password=$both" --data-urlencode service=nimbus \
		--data-urlencode 'scope=repository:acme/app:pull repository:beta/x:pull' "$REG/token"
	assert_output 200
	run nimbus token verify --aud registry --json "$(jq -r .access_token "$BODY")"
	[ "$(jq -r .scope <<< "$output")" = "pull:acme pull:beta" ]
	run token_get --data-urlencode grant_type=refresh_token --data-urlencode refresh_token=x "$REG/token"
	assert_output 400
}

@test "/token: a robot account's secret, hashed in the store, never shown again" {
	local secret
	secret=$(nimbus registry robot set acme ci --allow pull --allow push)
	[ "${#secret}" -ge 40 ]
	run token_get -u "acme+ci:$secret" "$REG/token?scope=repository:acme/app:pull,push,delete&scope=repository:beta/app:pull"
	assert_output 200
	run nimbus token verify --aud registry --json "$(jq -r .token "$BODY")"
	[ "$(jq -r '.scope + " " + .sub' <<< "$output")" = "pull:acme push:acme acme+ci" ]
	run token_get -u "acme+ci:${secret}x" "$REG/token"
	assert_output 401
	run token_get -u "beta+ci:$secret" "$REG/token"
	assert_output 401
	run token_get -u "Acme+ci:$secret" "$REG/token"
	assert_output 401
	! grep -rq "$secret" "$NIMBUS_CORE_STATE_DIR"
	printf 'a-secret-of-the-operators-own\n' | nimbus registry robot set acme ci --secret-file -
	run token_get -u "acme+ci:$secret" "$REG/token"
	assert_output 401
	run token_get -u "acme+ci:a-secret-of-the-operators-own" "$REG/token"
	assert_output 200
	nimbus registry robot delete acme ci
	run token_get -u "acme+ci:a-secret-of-the-operators-own" "$REG/token"
	assert_output 401
}

@test "/token: an org's mints are rate-limited, a robot's before its slow hash is checked" {
	local secret t
	secret=$(nimbus registry robot set acme ci)
	t=$(tok pull:beta)
	registry_stop
	NIMBUS_TOKEN_MINT_RATE=1/h NIMBUS_TOKEN_MINT_BURST=2 registry_start
	run token_get -u "acme+ci:wrong-secret-1" "$REG/token"
	assert_output 401
	run token_get -u "acme+ci:$secret" "$REG/token"
	assert_output 200
	run token_get -u "acme+ci:$secret" "$REG/token"
	assert_output 429
	[ "$(err_code)" = TOOMANYREQUESTS ]
	# an unknown robot costs nothing, and counts for nothing
	run token_get -u "acme+nobody:x" "$REG/token"
	assert_output 401
	# another org's budget is its own (the command line's mint took from it too,
	# unless its tenth of a second had passed)
	run token_get -u "x:$t" "$REG/token?scope=repository:beta/app:pull"
	assert_output 200
	token_get -u "x:$t" "$REG/token?scope=repository:beta/app:pull" >/dev/null
	run token_get -u "x:$t" "$REG/token?scope=repository:beta/app:pull"
	assert_output 429
}
