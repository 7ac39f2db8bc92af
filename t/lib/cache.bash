# Helpers of the cache tests: `load lib/cache` after lib/common.
#
# cache_setup (in setup) makes a signing key and the tokens TOKEN_A
# (pull, push, delete on org a), TOKEN_A_PULL, TOKEN_A_PUSH and TOKEN_B;
# cache_start [GLOBAL-OPTION]... runs `nimbus cache serve` on a free port
# ($URL), cache_stop (in teardown) stops it. req METHOD TOKEN PATH
# [CURL-ARG]... prints the status, leaving the body and the headers in
# $BATS_TEST_TMPDIR/body and headers.

cache_setup() {
	common_setup
	require_cmd curl jq sha256sum
	CACHE_DIR=$BATS_TEST_TMPDIR/state/cache
	CACHE_LOG=$BATS_TEST_TMPDIR/cache.log
	CACHE_PID=
	nimbus key rotate >/dev/null 2>&1
	TOKEN_A=$(nimbus token mint --aud cache --scope pull:a --scope push:a --scope delete:a)
	TOKEN_A_PULL=$(nimbus token mint --aud cache --scope pull:a)
	TOKEN_A_PUSH=$(nimbus token mint --aud cache --scope push:a)
	TOKEN_B=$(nimbus token mint --aud cache --scope pull:b --scope push:b --scope delete:b)
	export CACHE_DIR TOKEN_A TOKEN_A_PULL TOKEN_A_PUSH TOKEN_B
}

cache_start() {
	local port
	port=$(free_port)
	URL=http://127.0.0.1:$port
	"$NIMBUS" "$@" cache serve --listen "127.0.0.1:$port" 2>>"$CACHE_LOG" 3>&- &
	CACHE_PID=$!
	if ! wait_for 100 curl -sf "$URL/healthz"; then
		cat "$CACHE_LOG" >&2
		return 1
	fi
}

# SIGTERM, and wait: the reads' times are written on the way out.
cache_stop() {
	[ -n "${CACHE_PID:-}" ] || return 0
	kill -TERM "$CACHE_PID" 2>/dev/null || true
	wait "$CACHE_PID" 2>/dev/null || true
	CACHE_PID=
}

req() {
	local method=$1 token=$2 path=$3
	local -a args=(-s --path-as-is -o "$BATS_TEST_TMPDIR/body" -D "$BATS_TEST_TMPDIR/headers"
		-w '%{http_code}')
	shift 3
	case $method in
	HEAD) args+=(-I) ;;
	GET) ;;
	*) args+=(-X "$method") ;;
	esac
	[ -z "$token" ] || args+=(-H "Authorization: Bearer $token")
	: > "$BATS_TEST_TMPDIR/body"
	curl "${args[@]}" "$@" "$URL$path"
}

header() {
	sed -n "s/^$1: \(.*\)\r$/\1/Ip" "$BATS_TEST_TMPDIR/headers"
}

# put_text_as TOKEN ORG/KEY TEXT, which must be stored (201).
put_text_as() {
	local code
	code=$(req PUT "$1" "/cache/$2" --data-binary "$3")
	[ "$code" = 201 ] || fail "PUT $2: $code $(cat "$BATS_TEST_TMPDIR/body")"
}

put_text() {
	put_text_as "$TOKEN_A" "$@"
}

# s3rver (npm), installed once per file into $1: s3rver_install DIR sets
# S3RVER to its command. s3rver_start runs it on a free loopback port
# with the bucket "cache" and points the cache at it (S3_DIR holds the
# objects); its only credentials are S3RVER/S3RVER.
s3rver_install() {
	npm_install "$1" s3rver@3 || return 1
	S3RVER="node $1/node_modules/s3rver/bin/s3rver.js"
}

s3rver_start() {
	local port
	port=$(free_port)
	S3_DIR=$BATS_TEST_TMPDIR/s3
	mkdir -p "$S3_DIR"
	$S3RVER -d "$S3_DIR" -a 127.0.0.1 -p "$port" -s --configure-bucket cache \
		>"$BATS_TEST_TMPDIR/s3rver.log" 2>&1 3>&- &
	S3_PID=$!
	wait_for 100 curl -s -o /dev/null "http://127.0.0.1:$port/" || {
		cat "$BATS_TEST_TMPDIR/s3rver.log" >&2
		return 1
	}
	printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' \
		>"$BATS_TEST_TMPDIR/s3.credentials"
	chmod 600 "$BATS_TEST_TMPDIR/s3.credentials"
	export NIMBUS_CACHE_S3_ENDPOINT=http://127.0.0.1:$port NIMBUS_CACHE_S3_BUCKET=cache \
		NIMBUS_CACHE_S3_CREDENTIALS_FILE=$BATS_TEST_TMPDIR/s3.credentials
}

s3rver_stop() {
	[ -n "${S3_PID:-}" ] || return 0
	kill "$S3_PID" 2>/dev/null || true
	wait "$S3_PID" 2>/dev/null || true
	S3_PID=
}
