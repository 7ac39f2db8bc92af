#!/usr/bin/env bats
# The build cache over HTTP: tokens and scopes on every request, the
# cross-org matrix, key validation, verified and atomic uploads, ranges
# and validators, the per-org limit with LRU eviction, gc and stats, on
# both stores.

load lib/common
load lib/services
load lib/cache

setup_file() {
	pg_start
}

teardown_file() {
	pg_stop
}

setup() {
	cache_setup
}

teardown() {
	cache_stop
}

@test "cache -h and each subcommand's -h need no setup" {
	NIMBUS_CACHE_BACKEND=bogus run nimbus cache -h
	assert_status 0
	assert_line "usage: nimbus cache serve [--listen HOST:PORT] [--log-format text|json]"
	run nimbus cache gc -h
	assert_status 0
	assert_line "usage: nimbus cache gc [--org ORG] [--json]"
	run nimbus cache gc --org Not_An_Org
	assert_status 2
	run nimbus cache stats extra
	assert_status 2
}

@test "PUT, GET, HEAD and DELETE round trip one object" {
	cache_start
	head -c 100000 /dev/urandom > "$BATS_TEST_TMPDIR/obj"
	run req PUT "$TOKEN_A" /cache/a/dir/obj.o -T "$BATS_TEST_TMPDIR/obj"
	assert_output 201
	run req GET "$TOKEN_A" /cache/a/dir/obj.o
	assert_output 200
	cmp "$BATS_TEST_TMPDIR/obj" "$BATS_TEST_TMPDIR/body"
	[ "$(header Content-Type)" = application/octet-stream ]
	[ "$(header Accept-Ranges)" = bytes ]
	[[ $(header ETag) =~ ^\"[0-9a-f-]+\"$ ]]
	run req HEAD "$TOKEN_A" /cache/a/dir/obj.o
	assert_output 200
	[ "$(header Content-Length)" = 100000 ]
	run req DELETE "$TOKEN_A" /cache/a/dir/obj.o
	assert_output 204
	run req GET "$TOKEN_A" /cache/a/dir/obj.o
	assert_output 404
	run jq -r '.errors[0].code' "$BATS_TEST_TMPDIR/body"
	assert_output NOT_FOUND
	run req DELETE "$TOKEN_A" /cache/a/dir/obj.o
	assert_output 404
	run req HEAD "$TOKEN_A" /cache/a/dir/obj.o
	assert_output 404
}

@test "a replaced object gets a new ETag; If-None-Match answers 304" {
	cache_start
	put_text a/k one
	run req GET "$TOKEN_A" /cache/a/k
	etag=$(header ETag)
	run req GET "$TOKEN_A" /cache/a/k -H "If-None-Match: $etag"
	assert_output 304
	[ ! -s "$BATS_TEST_TMPDIR/body" ]
	run req GET "$TOKEN_A" /cache/a/k -H "If-None-Match: \"other\", W/$etag"
	assert_output 304
	run req GET "$TOKEN_A" /cache/a/k -H 'If-None-Match: *'
	assert_output 304
	put_text a/k two
	run req GET "$TOKEN_A" /cache/a/k -H "If-None-Match: $etag"
	assert_output 200
	[ "$(cat "$BATS_TEST_TMPDIR/body")" = two ]
	[ "$(header ETag)" != "$etag" ]
}

@test "single ranges are 206, past the end 416, several get everything" {
	cache_start
	printf '0123456789' > "$BATS_TEST_TMPDIR/obj"
	req PUT "$TOKEN_A" /cache/a/r -T "$BATS_TEST_TMPDIR/obj" >/dev/null
	run req GET "$TOKEN_A" /cache/a/r -H 'Range: bytes=2-5'
	assert_output 206
	[ "$(cat "$BATS_TEST_TMPDIR/body")" = 2345 ]
	[ "$(header Content-Range)" = "bytes 2-5/10" ]
	run req GET "$TOKEN_A" /cache/a/r -H 'Range: bytes=-3'
	assert_output 206
	[ "$(cat "$BATS_TEST_TMPDIR/body")" = 789 ]
	run req GET "$TOKEN_A" /cache/a/r -H 'Range: bytes=10-'
	assert_output 416
	[ "$(header Content-Range)" = "bytes */10" ]
	run req GET "$TOKEN_A" /cache/a/r -H 'Range: bytes=0-1,4-5'
	assert_output 200
	[ "$(cat "$BATS_TEST_TMPDIR/body")" = 0123456789 ]
}

@test "no token or a bad one is 401; a token without the scope is 403" {
	cache_start
	put_text a/k secret
	run req GET "" /cache/a/k
	assert_output 401
	[ "$(header WWW-Authenticate)" = 'Bearer realm="nimbus-cache"' ]
	run req GET "not.a.jwt" /cache/a/k
	assert_output 401
	run req GET "$(nimbus token mint --aud registry --scope pull:a)" /cache/a/k
	assert_output 401
	run req GET "$TOKEN_A_PUSH" /cache/a/k
	assert_output 403
	# a pull token cannot write or delete in its own org
	run req PUT "$TOKEN_A_PULL" /cache/a/k --data-binary x
	assert_output 403
	run req DELETE "$TOKEN_A_PULL" /cache/a/k
	assert_output 403
	run req GET "$TOKEN_A" /cache/a/k
	[ "$(cat "$BATS_TEST_TMPDIR/body")" = secret ]
	run req GET "$TOKEN_A_PULL" /cache/a/k
	assert_output 200
}

# answers CODE METHOD TOKEN PATH: whether the request gets CODE.
answers() {
	[ "$(req "$2" "$3" "$4")" = "$1" ]
}

@test "a token accepted before its key is retired is refused after (the signature memo goes too)" {
	local old
	old=$(nimbus key list --json | jq -r '.[0].kid')
	nimbus key rotate --activate-after 0 >/dev/null 2>&1
	cache_start
	put_text a/k v
	for i in 1 2 3; do
		run req GET "$TOKEN_A" /cache/a/k
		assert_output 200
	done
	nimbus key retire -- "$old"
	# the server notices keyset.json change within TOKEN_RELOAD_MS
	wait_for 50 answers 401 GET "$TOKEN_A" /cache/a/k || fail "still accepted"
	run req GET "$TOKEN_A" /cache/a/k
	assert_output 401
	run req GET "$(nimbus token mint --aud cache --scope pull:a)" /cache/a/k
	assert_output 200
}

@test "nimbus serve answers /cache/ too" {
	local port
	port=$(free_port)
	"$NIMBUS" serve --listen "127.0.0.1:$port" 2>>"$CACHE_LOG" 3>&- &
	CACHE_PID=$!
	URL=http://127.0.0.1:$port
	wait_for 100 curl -sf "$URL/healthz"
	put_text a/k v
	run req GET "$TOKEN_A" /cache/a/k
	assert_output 200
	grep -q 'services=store,health,jwks,cache' "$CACHE_LOG"
}

# The status and body of METHOD on PATH with TOKEN_A, as one line.
probe() {
	local code
	if [ "$1" = PUT ]; then
		code=$(req PUT "$TOKEN_A" "$2" --data-binary x)
	else
		code=$(req "$1" "$TOKEN_A" "$2")
	fi
	# (HEAD's body is its headers: leave out the Date, which may tick)
	printf '%s %s\n' "$code" "$(grep -iv '^date:' "$BATS_TEST_TMPDIR/body")"
}

@test "cross-org matrix: a token for a reads, writes, HEADs and deletes nothing of b's" {
	cache_start
	put_text_as "$TOKEN_B" b/exists b-secret
	for m in GET HEAD PUT DELETE; do
		there=$(probe "$m" /cache/b/exists)
		absent=$(probe "$m" /cache/b/absent)
		[ "${there%% *}" = 403 ] || fail "$m b/exists: $there"
		# the same answer, whether the key exists or not
		[ "$there" = "${absent//absent/exists}" ] || [ "$there" = "$absent" ] ||
			fail "$m: '$there' and '$absent' tell existence apart"
	done
	for p in /cache/a/../b/exists /cache/a/%2e%2e/b/exists /cache/a/%2E%2E/b/exists \
		/cache/a/..%2fb%2fexists /cache/a/%2fb/exists /cache/a%2fb/exists /cache/a/.%2e/b/exists \
		/cache/a//b/exists '/cache/a/..\b\exists' /cache/a/%5cb /cache/a/%252e%252e/b/exists \
		/cache/a/b/exists/ /cache/a/ /cache/a /cache/a/./exists /cache/a/%00; do
		for m in GET PUT DELETE; do
			run probe "$m" "$p"
			[[ $output =~ ^(400|403)\  ]] || fail "$m $p: $output"
		done
	done
	# an org in the path that the token does not name is 403, whatever follows
	run probe GET /cache/b/../a/k
	[[ $output =~ ^403 ]] || fail "$output"
	# b's object is untouched
	run req GET "$TOKEN_B" /cache/b/exists
	[ "$(cat "$BATS_TEST_TMPDIR/body")" = b-secret ]
}

@test "keys: 1024 bytes decoded are fine, 1025 are not; escapes decode once" {
	cache_start
	long=$(printf 'k%.0s' $(seq 1024))
	run req PUT "$TOKEN_A" "/cache/a/$long" --data-binary x
	assert_output 201
	run req PUT "$TOKEN_A" "/cache/a/${long}k" --data-binary x
	assert_output 400
	# 1024 bytes after decoding, 3072 as sent
	run req GET "$TOKEN_A" "/cache/a/$(sed 's/k/%6b/g' <<< "$long")"
	assert_output 200
	run req PUT "$TOKEN_A" /cache/a/x%2Dy --data-binary z
	assert_output 201
	run req GET "$TOKEN_A" /cache/a/x-y
	assert_output 200
	[ "$(cat "$BATS_TEST_TMPDIR/body")" = z ]
	# "a" and "a/b" are both keys
	put_text a/x-y/sub w
	run req GET "$TOKEN_A" /cache/a/x-y
	[ "$(cat "$BATS_TEST_TMPDIR/body")" = z ]
}

@test "a wrong X-Content-SHA256 or CAS digest is refused and leaves nothing" {
	cache_start
	printf 'content' > "$BATS_TEST_TMPDIR/obj"
	sum=$(sha256sum "$BATS_TEST_TMPDIR/obj" | cut -d' ' -f1)
	bad=$(printf 'other' | sha256sum | cut -d' ' -f1)
	run req PUT "$TOKEN_A" /cache/a/k -T "$BATS_TEST_TMPDIR/obj" -H "X-Content-SHA256: $bad"
	assert_output 400
	run jq -r '.errors[0].code' "$BATS_TEST_TMPDIR/body"
	assert_output DIGEST_INVALID
	run req GET "$TOKEN_A" /cache/a/k
	assert_output 404
	run req PUT "$TOKEN_A" /cache/a/k -T "$BATS_TEST_TMPDIR/obj" -H "X-Content-SHA256: nothex"
	assert_output 400
	run req PUT "$TOKEN_A" /cache/a/k -T "$BATS_TEST_TMPDIR/obj" -H "X-Content-SHA256: ${sum^^}"
	assert_output 201
	# Bazel's layout: cas/ keys are their content's SHA-256, ac/ keys are free
	run req PUT "$TOKEN_A" "/cache/a/cas/$bad" -T "$BATS_TEST_TMPDIR/obj"
	assert_output 400
	run req GET "$TOKEN_A" "/cache/a/cas/$bad"
	assert_output 404
	run req PUT "$TOKEN_A" "/cache/a/cas/$sum" -T "$BATS_TEST_TMPDIR/obj"
	assert_output 201
	run req PUT "$TOKEN_A" "/cache/a/ac/$bad" -T "$BATS_TEST_TMPDIR/obj"
	assert_output 201
	run req PUT "$TOKEN_A" "/cache/a/instance/cas/$bad" -T "$BATS_TEST_TMPDIR/obj"
	assert_output 400
	[ -z "$(ls "$CACHE_DIR/tmp")" ]
}

@test "uploads need a Content-Length; a body over the limits is refused before it is read" {
	cache_start -c cache.max_object_size=1K
	run req PUT "$TOKEN_A" /cache/a/k -H 'Transfer-Encoding: chunked' --data-binary x
	assert_output 411
	head -c 2048 /dev/zero > "$BATS_TEST_TMPDIR/big"
	run req PUT "$TOKEN_A" /cache/a/k -T "$BATS_TEST_TMPDIR/big"
	assert_output 413
	run req GET "$TOKEN_A" /cache/a/k
	assert_output 404
}

uploads_in_flight() {
	[ -n "$(ls "$CACHE_DIR/tmp")" ]
}

not() {
	! "$@"
}

@test "an upload cut off in the middle never becomes visible" {
	cache_start
	put_text a/k before
	head -c $((8 << 20)) /dev/urandom > "$BATS_TEST_TMPDIR/big"
	curl -s -o /dev/null --limit-rate 256K -H "Authorization: Bearer $TOKEN_A" \
		-T "$BATS_TEST_TMPDIR/big" "$URL/cache/a/k" 3>&- &
	client=$!
	wait_for 100 uploads_in_flight || fail "no upload in flight"
	sleep 0.5
	kill -KILL "$client"
	wait "$client" || true
	# the server drops the temporary file once it sees the connection go
	# (generous: on a loaded machine the server may see the reset late)
	wait_for 300 not uploads_in_flight || fail "left: $(ls "$CACHE_DIR/tmp")"
	run req GET "$TOKEN_A" /cache/a/k
	assert_output 200
	[ "$(cat "$BATS_TEST_TMPDIR/body")" = before ]
	run req GET "$TOKEN_A" /cache/a/other
	assert_output 404
}

@test "concurrent PUTs of one key leave one complete object" {
	cache_start
	local pids=() i
	for i in 1 2 3 4 5 6; do
		head -c $((1 << 20)) /dev/urandom > "$BATS_TEST_TMPDIR/in$i"
		sha256sum < "$BATS_TEST_TMPDIR/in$i" | cut -d' ' -f1 >> "$BATS_TEST_TMPDIR/sums"
	done
	for i in 1 2 3 4 5 6; do
		curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $TOKEN_A" \
			-T "$BATS_TEST_TMPDIR/in$i" "$URL/cache/a/race" > "$BATS_TEST_TMPDIR/code$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	[ "$(cat "$BATS_TEST_TMPDIR"/code* | sort -u)" = 201 ] || fail "$(cat "$BATS_TEST_TMPDIR"/code*; cat "$CACHE_LOG")"
	run req GET "$TOKEN_A" /cache/a/race
	assert_output 200
	grep -qx "$(sha256sum < "$BATS_TEST_TMPDIR/body" | cut -d' ' -f1)" "$BATS_TEST_TMPDIR/sums"
	run nimbus cache stats --json
	[ "$(jq -c '.[] | select(.org == "a") | [.entries, .bytes]' <<< "$output")" = "[1,1048576]" ]
}

evicts_lru() {
	cache_start -c cache.max_bytes_per_org=10K
	head -c 3072 /dev/urandom > "$BATS_TEST_TMPDIR/3k"
	for k in k1 k2 k3; do
		req PUT "$TOKEN_A" "/cache/a/$k" -T "$BATS_TEST_TMPDIR/3k" >/dev/null
		req PUT "$TOKEN_B" "/cache/b/$k" -T "$BATS_TEST_TMPDIR/3k" >/dev/null
		sleep 0.02
	done
	# k1 is read, so k2 is the least recently used
	run req GET "$TOKEN_A" /cache/a/k1
	assert_output 200
	sleep 0.02
	run req PUT "$TOKEN_A" /cache/a/k4 -T "$BATS_TEST_TMPDIR/3k"
	assert_output 201
	for k in k1 k3 k4; do
		run req HEAD "$TOKEN_A" "/cache/a/$k"
		assert_output 200
	done
	run req HEAD "$TOKEN_A" /cache/a/k2
	assert_output 404
	# b has its own limit: untouched
	for k in k1 k2 k3; do
		run req HEAD "$TOKEN_B" "/cache/b/$k"
		assert_output 200
	done
	run nimbus -c cache.max_bytes_per_org=10K cache stats --json
	[ "$(jq -c '[.[] | [.org, .entries, .bytes, .limit]]' <<< "$output")" = \
		'[["a",3,9216,10240],["b",3,9216,10240]]' ]
	# a bigger object evicts as many as it needs, oldest first
	head -c 7000 /dev/urandom > "$BATS_TEST_TMPDIR/7k"
	run req PUT "$TOKEN_A" /cache/a/k5 -T "$BATS_TEST_TMPDIR/7k"
	assert_output 201
	for k in k1 k3; do
		run req HEAD "$TOKEN_A" "/cache/a/$k"
		assert_output 404
	done
	run req HEAD "$TOKEN_A" /cache/a/k4
	assert_output 200
	curl -s "$URL/metrics" > "$BATS_TEST_TMPDIR/metrics"
	grep -qx 'nimbus_cache_bytes{org="a"} 10072' "$BATS_TEST_TMPDIR/metrics"
	grep -qx 'nimbus_cache_evictions_total{org="a"} 3' "$BATS_TEST_TMPDIR/metrics"
	grep -qx 'nimbus_cache_requests_total{org="a",op="put",status="201"} 5' "$BATS_TEST_TMPDIR/metrics"
	# an object larger than the limit would evict everything: refused up front
	head -c 11000 /dev/zero > "$BATS_TEST_TMPDIR/11k"
	run req PUT "$TOKEN_A" /cache/a/huge -T "$BATS_TEST_TMPDIR/11k"
	assert_output 400
	run req HEAD "$TOKEN_A" /cache/a/k5
	assert_output 200
	cache_stop
}

@test "the per-org limit evicts least recently used objects first, on both stores" {
	for_each_store evicts_lru
}

collects() {
	cache_start
	put_text a/keep kept
	put_text a/gone gone
	cache_stop
	# an object whose entry was lost, an upload a crash left, an entry without its object
	mkdir -p "$CACHE_DIR/objects/a/00" "$CACHE_DIR/objects/c/ff"
	printf 'orphan' > "$CACHE_DIR/objects/a/00/$(printf x | sha256sum | cut -d' ' -f1)"
	printf 'other org' > "$CACHE_DIR/objects/c/ff/$(printf y | sha256sum | cut -d' ' -f1)"
	printf 'half' > "$CACHE_DIR/tmp/a-0123456789abcdef01234567"
	printf 'fresh' > "$CACHE_DIR/tmp/a-fresh"
	touch -d '2 hours ago' "$CACHE_DIR/objects/a/00/"* "$CACHE_DIR/objects/c/ff/"* \
		"$CACHE_DIR/tmp/a-0123456789abcdef01234567"
	rm "$CACHE_DIR/objects/a/$(printf gone | sha256sum | cut -c1-2)/$(printf gone | sha256sum | cut -d' ' -f1)"
	run nimbus cache gc --json
	assert_success
	[ "$(jq -c '[.[] | [.org, .entries, .bytes, .orphans, .orphan_bytes, .missing, .evicted]]' <<< "$output")" = \
		'[["a",1,4,2,10,1,0],["c",0,0,1,9,0,0]]' ]
	[ "$(ls "$CACHE_DIR/tmp")" = a-fresh ]
	# a lower limit: gc evicts
	cache_start
	put_text a/more 0123456789
	cache_stop
	run nimbus -c cache.max_bytes_per_org=10 cache gc --org a
	assert_success
	assert_line --regexp '^a +1 +10 +1 +4 '
	run nimbus cache stats
	assert_success
	assert_line --regexp '^a +1 +10 +'
}

@test "gc clears orphans, crashed uploads and entries without objects, on both stores" {
	for_each_store collects
}

@test "the S3 backend is refused without its settings or with a readable credentials file" {
	run nimbus -c cache.backend=s3 cache stats
	assert_status 7
	printf 'aws_access_key_id = AK\naws_secret_access_key = supersecretvalue\n' > "$BATS_TEST_TMPDIR/creds"
	chmod 644 "$BATS_TEST_TMPDIR/creds"
	run nimbus -c cache.s3_endpoint=http://127.0.0.1:1 -c cache.s3_bucket=b \
		-c cache.s3_credentials_file="$BATS_TEST_TMPDIR/creds" cache stats
	assert_status 8
	refute_output --partial supersecretvalue
	run nimbus -c cache.s3_endpoint=ftp://x cache stats
	assert_status 7
}
