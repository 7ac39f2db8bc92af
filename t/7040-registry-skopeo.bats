#!/usr/bin/env bats
# A real client: skopeo pushes and pulls images over plain HTTP, with a
# registry token and through the token flow (a nimbus token, a robot
# account); the digests are equal after the round trip.

load lib/common
load lib/registry

setup() {
	common_setup
	require_cmd skopeo
	registry_setup
	registry_start
	LAYOUT=$BATS_TEST_TMPDIR/layout
	INDEX=$(oci_layout "$LAYOUT")
	V1=$(jq -r '.manifests[1].digest' "$LAYOUT/index.json")
	# skopeo keeps its auth and blob-info caches under HOME
	export XDG_RUNTIME_DIR=$BATS_TEST_TMPDIR/xdg
	mkdir -p "$XDG_RUNTIME_DIR"
	HOSTPORT=${REG#http://}
}

teardown() {
	registry_stop
}

# The digest of what a layout's index.json tags $2.
layout_digest() {
	jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
		"$1/index.json"
}

# Every blob of a layout, as sorted digests.
layout_blobs() {
	(cd "$1/blobs/sha256" && ls | sort)
}

@test "skopeo: push and pull with a registry token; the digests survive the round trip" {
	local t back=$BATS_TEST_TMPDIR/back
	t=$(tok pull:acme push:acme)
	run skopeo copy --dest-tls-verify=false --dest-registry-token "$t" "oci:$LAYOUT:v1" \
		"docker://$HOSTPORT/acme/app:v1"
	assert_success
	run skopeo inspect --raw --tls-verify=false --registry-token "$t" "docker://$HOSTPORT/acme/app:v1"
	assert_success
	[ "sha256:$(printf '%s' "$output" | sha256sum | cut -d' ' -f1)" = "$V1" ]
	run skopeo copy --src-tls-verify=false --src-registry-token "$t" "docker://$HOSTPORT/acme/app:v1" \
		"oci:$back:v1"
	assert_success
	[ "$(layout_digest "$back" v1)" = "$V1" ]
	# an image index with both of its images
	run skopeo copy --all --dest-tls-verify=false --dest-registry-token "$t" "oci:$LAYOUT:multi" \
		"docker://$HOSTPORT/acme/app:multi"
	assert_success
	rm -rf "$back"
	run skopeo copy --all --src-tls-verify=false --src-registry-token "$t" \
		"docker://$HOSTPORT/acme/app:multi" "oci:$back:multi"
	assert_success
	[ "$(layout_digest "$back" multi)" = "$INDEX" ]
	diff <(layout_blobs "$LAYOUT") <(layout_blobs "$back")
	run skopeo list-tags --tls-verify=false --registry-token "$t" "docker://$HOSTPORT/acme/app"
	assert_success
	[ "$(jq -c .Tags <<< "$output")" = '["multi","v1"]' ]
}

@test "skopeo: --creds through the token flow, with a nimbus token or a robot's secret" {
	local t secret back=$BATS_TEST_TMPDIR/back
	t=$(tok pull:acme push:acme delete:acme)
	run skopeo copy --dest-tls-verify=false --dest-creds "ci:$t" "oci:$LAYOUT:v1" \
		"docker://$HOSTPORT/acme/app:v1"
	assert_success
	secret=$(nimbus registry robot set acme puller)
	run skopeo copy --src-tls-verify=false --src-creds "acme+puller:$secret" \
		"docker://$HOSTPORT/acme/app:v1" "oci:$back:v1"
	assert_success
	[ "$(layout_digest "$back" v1)" = "$V1" ]
	# a robot that may only pull cannot push, even to its org
	run skopeo copy --dest-tls-verify=false --dest-creds "acme+puller:$secret" "oci:$LAYOUT:v1" \
		"docker://$HOSTPORT/acme/other:v1"
	assert_failure
	# nor may a token for acme pull from beta
	run skopeo inspect --tls-verify=false --creds "ci:$t" "docker://$HOSTPORT/beta/app:v1"
	assert_failure
	run skopeo delete --tls-verify=false --creds "ci:$t" "docker://$HOSTPORT/acme/app:v1"
	assert_success
	run skopeo inspect --tls-verify=false --creds "ci:$t" "docker://$HOSTPORT/acme/app:v1"
	assert_failure
}
