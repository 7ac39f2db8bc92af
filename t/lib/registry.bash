# Helpers for the registry tests: `load lib/registry` after lib/common.
#
#	registry_setup         keys, a registry.dir, no server yet (call in setup)
#	registry_start         nimbus registry serve on a free port: $REG, $REG_PID
#	fresh_registry         start again on a new registry.dir (for_each_store)
#	registry_stop          SIGTERM and wait (teardown calls it)
#	blob_files             how many blob files registry.dir holds
#	tok SCOPE...           a registry token for the scopes (pull:acme ...)
#	api METHOD PATH [ARG]...   curl $REG PATH; the status on stdout, the body in
#	                       $BODY, the headers in $HEADERS; ARGs go to curl
#	hdr NAME               a header of the last api call
#	err_code               the first error code of the last api call's body
#	push_blob ORG/REPO FILE TOKEN   a monolithic push; prints the digest
#	push_image ORG/REPO TAG TOKEN [SIZE]   a random layer, a config and a
#	                       manifest; prints the manifest's digest

registry_setup() {
	require_cmd curl jq
	export NIMBUS_KEYS_ACTIVATE_AFTER=0
	export NIMBUS_REGISTRY_DIR=$BATS_TEST_TMPDIR/registry
	REG_PID=
	REG_LOG=$BATS_TEST_TMPDIR/registry.log
	BODY=$BATS_TEST_TMPDIR/body
	HEADERS=$BATS_TEST_TMPDIR/headers
	nimbus key rotate >/dev/null
}

registry_start() {
	local port
	port=$(free_port)
	REG=http://127.0.0.1:$port
	"$NIMBUS" registry serve --listen "127.0.0.1:$port" 2>>"$REG_LOG" 3>&- &
	REG_PID=$!
	if ! wait_for 100 curl -sf "$REG/healthz"; then
		cat "$REG_LOG" >&2
		return 1
	fi
}

# Restart on a registry.dir of its own, and the store of NIMBUS_STORE_URL.
fresh_registry() {
	registry_stop
	NIMBUS_REGISTRY_DIR=$(mktemp -d "$BATS_TEST_TMPDIR/registry.XXXXXX")
	export NIMBUS_REGISTRY_DIR
	registry_start
}

blob_files() {
	find "$NIMBUS_REGISTRY_DIR/blobs" -type f | wc -l
}

registry_stop() {
	[ -n "${REG_PID:-}" ] || return 0
	kill -TERM "$REG_PID" 2>/dev/null || true
	wait "$REG_PID" 2>/dev/null || true
	REG_PID=
}

tok() {
	local args=() s
	for s in "$@"; do
		args+=(--scope "$s")
	done
	nimbus token mint --aud registry "${args[@]}"
}

api() {
	local method=$1 path=$2
	shift 2
	if [ "$method" = HEAD ]; then
		set -- -I "$@"
	else
		set -- -X "$method" "$@"
	fi
	: > "$BODY"
	curl -s -o "$BODY" -D "$HEADERS" -w '%{http_code}' "$@" "$REG$path"
}

hdr() {
	sed -n "s/^$1: \(.*\)\r$/\1/Ip" "$HEADERS" | tail -n 1
}

err_code() {
	jq -r '.errors[0].code' "$BODY"
}

sha() {
	printf 'sha256:%s\n' "$(sha256sum "$1" | cut -d' ' -f1)"
}

push_blob() {
	local repo=$1 file=$2 token=$3 digest
	digest=$(sha "$file")
	[ "$(api POST "/v2/$repo/blobs/uploads/?digest=$digest" -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/octet-stream' --data-binary "@$file")" = 201 ] || {
		echo "push_blob $repo $file: $(cat "$BODY")" >&2
		return 1
	}
	echo "$digest"
}

push_image() {
	local repo=$1 tag=$2 token=$3 size=${4:-1000} dir layer config manifest
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/image.XXXXXX")
	head -c "$size" /dev/urandom > "$dir/layer"
	printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}' \
		"$(sha "$dir/layer")" > "$dir/config"
	layer=$(push_blob "$repo" "$dir/layer" "$token") || return 1
	config=$(push_blob "$repo" "$dir/config" "$token") || return 1
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}' \
		"$config" "$(stat -c %s "$dir/config")" "$layer" "$size" > "$dir/manifest"
	[ "$(api PUT "/v2/$repo/manifests/$tag" -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
		--data-binary "@$dir/manifest")" = 201 ] || {
		echo "push_image $repo:$tag: $(cat "$BODY")" >&2
		return 1
	}
	sha "$dir/manifest"
}

# oci_layout DIR: an OCI image layout with two images (amd64 and arm64,
# one gzipped layer of a random file each) and an image index of both,
# tagged "multi"; the amd64 image alone is tagged "v1". Prints the index's
# digest.
oci_layout() {
	local dir=$1 arch m v1 v1_size index entries=()
	mkdir -p "$dir/blobs/sha256" "$dir/src"
	for arch in amd64 arm64; do
		rm -rf "$dir/src/root"
		mkdir -p "$dir/src/root/opt"
		head -c 300000 /dev/urandom > "$dir/src/root/opt/$arch.bin"
		tar -C "$dir/src/root" --owner=0 --group=0 --mtime=@0 -cf "$dir/src/layer.tar" .
		gzip -n -c "$dir/src/layer.tar" > "$dir/src/layer.tgz"
		printf '{"architecture":"%s","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]},"config":{}}' \
			"$arch" "$(sha "$dir/src/layer.tar")" > "$dir/src/config"
		printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
			"$(_layout_add "$dir" "$dir/src/config" application/vnd.oci.image.config.v1+json)" \
			"$(_layout_add "$dir" "$dir/src/layer.tgz" application/vnd.oci.image.layer.v1.tar+gzip)" \
			> "$dir/src/manifest"
		m=$(_layout_add "$dir" "$dir/src/manifest" application/vnd.oci.image.manifest.v1+json)
		[ "$arch" = amd64 ] && v1=$m
		entries+=("${m%\}},\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"}}")
	done
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' \
		"$(IFS=,; echo "${entries[*]}")" > "$dir/src/index"
	index=$(_layout_add "$dir" "$dir/src/index" application/vnd.oci.image.index.v1+json)
	printf '{"schemaVersion":2,"manifests":[%s,%s]}' \
		"${index%\}},\"annotations\":{\"org.opencontainers.image.ref.name\":\"multi\"}}" \
		"${v1%\}},\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}}" > "$dir/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
	rm -rf "$dir/src"
	jq -r '.manifests[0].digest' "$dir/index.json"
}

# Add a file to a layout's blobs; prints its descriptor (of media type $3).
_layout_add() {
	local d
	d=$(sha "$2")
	cp "$2" "$1/blobs/sha256/${d#sha256:}"
	printf '{"mediaType":"%s","digest":"%s","size":%d}' "$3" "$d" "$(stat -c %s "$2")"
}
