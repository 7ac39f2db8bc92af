#!/usr/bin/env bats
# lib/http-client through t/helpers/http-get: the trace at -v -v goes
# through the logger's redaction, and failures map to exit codes.

load lib/common

setup() {
	common_setup
	PORT=$(free_port)
	HTTP_GET=$NIMBUS_BUILD/t/helpers/http-get
	"$NIMBUS" serve --listen "127.0.0.1:$PORT" 2>"$BATS_TEST_TMPDIR/serve.log" 3>&- &
	SERVE_PID=$!
	wait_for 50 curl -sf "http://127.0.0.1:$PORT/healthz"
}

teardown() {
	kill -KILL "$SERVE_PID" 2>/dev/null || true
	wait "$SERVE_PID" 2>/dev/null || true
}

@test "GET prints the status and the body" {
	run "$HTTP_GET" "http://127.0.0.1:$PORT/healthz"
	assert_status 0
	assert_output $'200\n{"status":"ok"}'
}

@test "the -v -v trace shows headers with Authorization masked, no body" {
	token="s3cr3t-$RANDOM$RANDOM-token"
	run "$HTTP_GET" -v -v -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/healthz"
	assert_status 0
	assert_line "http-get: trace: > GET /healthz HTTP/1.1"
	assert_line "http-get: trace: > Authorization: Bearer <redacted>"
	assert_line "http-get: trace: < HTTP/1.1 200 OK"
	assert_line "http-get: trace: < Content-Length: 15"
	refute_output --partial "$token"
	# the body is on stdout once, never in the trace
	[ "$(grep -c '"status":"ok"' <<<"$output")" -eq 1 ]
}

@test "without -v -v there is no trace" {
	run "$HTTP_GET" -v -H "Authorization: Bearer abcdefgh" "http://127.0.0.1:$PORT/healthz"
	assert_status 0
	refute_output --partial "trace:"
}

@test "no server: exit 6; a bad URL: exit 7" {
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID" || true
	run "$HTTP_GET" "http://127.0.0.1:$PORT/healthz"
	assert_status 6
	assert_output --partial "http-get: GET http://127.0.0.1:$PORT/healthz: "
	run "$HTTP_GET" "ftp://127.0.0.1:$PORT/"
	assert_status 7
	run "$HTTP_GET" "http://user:pa55word@127.0.0.1:$PORT/"
	assert_status 6
	refute_output --partial pa55word
}
