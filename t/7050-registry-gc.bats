#!/usr/bin/env bats
# nimbus registry gc, quota and robot from the command line; a registry
# killed in the middle of uploads; gc beside concurrent pushes. The ones
# that race the store run on each store driver.

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
	T=$(tok pull:acme push:acme delete:acme)
	AUTH=(-H "Authorization: Bearer $T")
	BG=
}

teardown() {
	local p
	for p in $BG; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	registry_stop
}

gc_json() {
	nimbus registry gc --json "$@"
}

@test "gc, quota, robot: -h, usage errors" {
	run nimbus registry gc -h
	assert_success
	assert_line "usage: nimbus registry gc [--dry-run] [--grace SECONDS] [--org ORG] [--json]"
	run nimbus registry gc --org Acme
	assert_status 2
	run nimbus registry gc --grace -1
	assert_status 2
	run nimbus registry quota set acme
	assert_status 2
	run nimbus registry quota set acme 10X
	assert_status 2
	run nimbus registry quota set ../x 1G
	assert_status 2
	run nimbus registry robot set acme Bad
	assert_status 2
	run nimbus registry robot set acme ci --allow fly
	assert_status 2
	printf 'short\n' > "$BATS_TEST_TMPDIR/s"
	run nimbus registry robot set acme ci --secret-file "$BATS_TEST_TMPDIR/s"
	assert_status 2
	run nimbus registry robot delete acme nobody
	assert_status 4
}

@test "quota show and robot list: text and JSON" {
	nimbus registry quota set acme 2G
	nimbus registry quota set beta 512M
	run nimbus registry quota show
	assert_success
	assert_line --index 0 --regexp '^ORG +USED +LIMIT +BLOBS$'
	assert_line --index 1 --regexp '^acme +0 +2147483648 +0$'
	run nimbus registry quota show beta --json
	[ "$(jq -c . <<< "$output")" = '{"org":"beta","used":0,"limit":536870912,"blobs":0}' ]
	run nimbus registry quota show gamma --json
	[ "$(jq -r .limit <<< "$output")" = 10737418240 ]
	NIMBUS_REGISTRY_QUOTA=1M run nimbus registry quota show gamma --json
	[ "$(jq -r .limit <<< "$output")" = 1048576 ]
	run nimbus registry robot set acme ci --allow push --allow pull --json
	assert_success
	[ "$(jq -c '[.username, .actions]' <<< "$output")" = '["acme+ci",["pull","push"]]' ]
	[ "$(jq -r '.secret | length' <<< "$output")" = 43 ]
	printf '%s\n' 0123456789abcdef0123 | nimbus registry robot set beta deploy --allow delete --secret-file -
	run nimbus registry robot list --json
	[ "$(jq -c '[.[] | .username]' <<< "$output")" = '["acme+ci","beta+deploy"]' ]
	run nimbus registry robot list beta
	assert_line --index 1 --regexp '^beta +deploy +beta\+deploy +\["delete"\] +20'
	! grep -rq 0123456789abcdef0123 "$NIMBUS_CORE_STATE_DIR"
}

@test "gc: unreferenced blobs go after the grace, with their files; referenced ones stay" {
	local md orphan json
	registry_start
	md=$(push_image acme/app v1 "$T" 4000)
	head -c 3000 /dev/urandom > "$BATS_TEST_TMPDIR/orphan"
	orphan=$(push_blob acme/app "$BATS_TEST_TMPDIR/orphan" "$T")
	[ "$(blob_files)" = 3 ]
	json=$(gc_json)
	[ "$(jq -c . <<< "$json")" = \
	  '{"dry_run":false,"unlinked_blobs":0,"unlinked_bytes":0,"removed_files":0,"freed_bytes":0,"expired_uploads":0}' ]
	json=$(gc_json --grace 0 --dry-run)
	[ "$(jq -c '[.dry_run, .unlinked_blobs, .unlinked_bytes]' <<< "$json")" = '[true,1,3000]' ]
	run api HEAD "/v2/acme/app/blobs/$orphan" "${AUTH[@]}"
	assert_output 200
	json=$(gc_json --grace 0)
	[ "$(jq -c '[.unlinked_blobs, .unlinked_bytes, .removed_files, .freed_bytes]' <<< "$json")" = \
	  '[1,3000,1,3000]' ]
	run api HEAD "/v2/acme/app/blobs/$orphan" "${AUTH[@]}"
	assert_output 404
	[ "$(blob_files)" = 2 ]
	run api GET "/v2/acme/app/manifests/$md" "${AUTH[@]}"
	assert_output 200
	for d in $(jq -r '.config.digest, .layers[].digest' "$BODY"); do
		run api HEAD "/v2/acme/app/blobs/$d" "${AUTH[@]}"
		assert_output 200
	done
	[ "$(nimbus registry quota show acme --json | jq .blobs)" = 2 ]
	# once the manifest goes, its blobs do
	[ "$(api DELETE "/v2/acme/app/manifests/$md" "${AUTH[@]}")" = 202 ]
	json=$(gc_json --grace 0 --org beta)
	[ "$(jq .unlinked_blobs <<< "$json")" = 0 ]
	json=$(gc_json --grace 0 --org acme)
	[ "$(jq -c '[.unlinked_blobs, .removed_files]' <<< "$json")" = '[2,2]' ]
	[ "$(blob_files)" = 0 ]
	[ "$(nimbus registry quota show acme --json | jq .used)" = 0 ]
}

# Wait until an upload file holds some data, at most 10 s.
upload_started() {
	[ -n "$(find "$NIMBUS_REGISTRY_DIR/uploads" -type f -size +0)" ]
}

killed_mid_upload() {
	local big d loc
	fresh_registry
	big=$BATS_TEST_TMPDIR/big
	head -c 4000000 /dev/urandom > "$big"
	d=$(sha "$big")
	# a whole blob in one request, and a chunk of a session, both slowed down
	curl -s -o /dev/null --limit-rate 200k -X POST "${AUTH[@]}" --data-binary @"$big" \
		"$REG/v2/acme/app/blobs/uploads/?digest=$d" 3>&- &
	BG="$BG $!"
	run api POST /v2/acme/app/blobs/uploads/ "${AUTH[@]}"
	loc=$(hdr Location)
	curl -s -o /dev/null --limit-rate 200k -X PATCH "${AUTH[@]}" --data-binary @"$big" "$REG$loc" 3>&- &
	BG="$BG $!"
	wait_for 100 upload_started
	sleep 0.3
	kill -KILL "$REG_PID"
	wait "$REG_PID" 2>/dev/null || true
	REG_PID=
	registry_start
	# no partial blob, under the digest or anywhere
	run api HEAD "/v2/acme/app/blobs/$d" "${AUTH[@]}"
	assert_output 404
	[ "$(blob_files)" = 0 ]
	[ "$(find "$NIMBUS_REGISTRY_DIR/uploads" -type f | wc -l)" = 2 ]
	# the session survives the restart, with what had arrived
	run api GET "$loc" "${AUTH[@]}"
	assert_output 204
	[[ $(hdr Range) == 0-* ]]
	[ "$(nimbus registry quota show acme --json | jq .used)" = 0 ]
	[ "$(gc_json --grace 0 | jq .expired_uploads)" = 2 ]
	[ -z "$(ls "$NIMBUS_REGISTRY_DIR/uploads")" ]
	run api GET "$loc" "${AUTH[@]}"
	assert_output 404
	# and the blob can be pushed whole
	push_blob acme/app "$big" "$T"
	run api GET "/v2/acme/app/blobs/$d" "${AUTH[@]}"
	cmp "$BODY" "$big"
}

@test "SIGKILL in the middle of uploads: no partial blob afterwards; gc removes the leftovers" {
	for_each_store killed_mid_upload
}

# Push an image into acme/r$1; on success, record its manifest digest in $2.
push_one() {
	local dir
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/push.XXXXXX")
	BODY=$dir/body HEADERS=$dir/headers
	push_image "acme/r$1" v1 "$T" 20000 > "$dir/digest" 2>/dev/null && echo "r$1 $(cat "$dir/digest")" >> "$2"
}

# Every manifest that was pushed is whole: its config and layers are
# there with the right digests.
all_whole() {
	local repo md d n=0
	while read -r repo md; do
		[ "$(api GET "/v2/acme/$repo/manifests/v1" "${AUTH[@]}")" = 200 ] || fail "$repo:v1 is gone"
		[ "$(sha "$BODY")" = "$md" ] || fail "$repo:v1 changed"
		for d in $(jq -r '.config.digest, .layers[].digest' "$BODY"); do
			[ "$(api GET "/v2/acme/$repo/blobs/$d" "${AUTH[@]}")" = 200 ] || fail "$repo: $d is gone"
			[ "$(sha "$BODY")" = "$d" ] || fail "$repo: $d is damaged"
		done
		n=$((n + 1))
	done < "$1"
	echo "# $n images whole" >&3
}

# gc in a loop until the file $1 exists.
gc_loop() {
	while [ ! -e "$1" ]; do
		nimbus -q registry gc "${@:2}" >/dev/null || echo "gc failed" >> "$BATS_TEST_TMPDIR/gc-failed"
	done
}

# 20 pushes at once while gc runs in a loop with the options given.
pushes_beside_gc() {
	local i pids= gc done=$BATS_TEST_TMPDIR/done.$RANDOM
	gc_loop "$done" "$@" 3>&- &
	gc=$!
	BG="$BG $gc"
	for i in $(seq 1 20); do
		push_one "$((i + n))" "$pushed" 3>&- &
		pids="$pids $!"
	done
	n=$((n + 20))
	# a push may fail: it is what it left behind that counts
	wait $pids || true
	touch "$done"
	wait "$gc"
	[ ! -e "$BATS_TEST_TMPDIR/gc-failed" ]
}

gc_during_pushes() {
	local pushed=$BATS_TEST_TMPDIR/pushed.$RANDOM n=0
	fresh_registry
	: > "$pushed"
	# with the default grace, every push succeeds while gc runs
	pushes_beside_gc
	[ "$(wc -l < "$pushed")" = 20 ]
	# with a grace of a second, pushes race its end and some fail: nothing referenced is lost
	pushes_beside_gc --grace 1
	nimbus registry gc --grace 0 >/dev/null
	all_whole "$pushed"
	# what is left on disk is exactly what the manifests reference
	[ "$(blob_files)" = $(($(wc -l < "$pushed") * 2)) ]
	[ -z "$(ls "$NIMBUS_REGISTRY_DIR/uploads")" ]
}

@test "gc running during 20 concurrent pushes loses nothing that is referenced when it finishes" {
	for_each_store gc_during_pushes
}
