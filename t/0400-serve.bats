#!/usr/bin/env bats
# nimbus serve: /healthz, /metrics, errors, the access log, --listen and
# the shutdown. Body limits, streaming and file ranges are exercised
# against lib/http-server directly in t/unit/0400-http-server.c.

load lib/common

bats_require_minimum_version 1.5.0

setup() {
	common_setup
	PORT=$(free_port)
	LOG=$BATS_TEST_TMPDIR/serve.log
	SERVE_PID=
	WRK_PID=
}

teardown() {
	local pid
	for pid in $SERVE_PID $WRK_PID; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# Start the server in the background on $PORT and wait until it answers.
start_serve() {
	"$NIMBUS" serve --listen "127.0.0.1:$PORT" "$@" 2>"$LOG" 3>&- &
	SERVE_PID=$!
	if ! wait_for 50 curl -sf "http://127.0.0.1:$PORT/healthz"; then
		cat "$LOG" >&2
		return 1
	fi
}

# Wait for the server to end (killed after 5 s); sets $status and the
# milliseconds since $t0 in $elapsed_ms.
wait_serve() {
	local dog
	( sleep 5; kill -KILL "$SERVE_PID" ) 2>/dev/null 3>&- &
	dog=$!
	status=0
	wait "$SERVE_PID" || status=$?
	elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
	kill "$dog" 2>/dev/null || true
	wait "$dog" 2>/dev/null || true
	SERVE_PID=
}

# Send signal $1 and wait for the server to end.
stop_serve() {
	t0=$(date +%s%N)
	kill -"$1" "$SERVE_PID"
	wait_serve
}

get() {
	curl -s -o "$BATS_TEST_TMPDIR/body" -D "$BATS_TEST_TMPDIR/headers" -w '%{http_code}' "$@"
}

header() {
	sed -n "s/^$1: \(.*\)\r$/\1/Ip" "$BATS_TEST_TMPDIR/headers"
}

# The text exposition format 0.0.4, checked closely enough to catch a
# broken renderer: TYPE before samples, known types, well-formed samples.
check_prometheus_text() {
	awk '
	/^# HELP / { next }
	/^# TYPE / {
		if ($3 in type) { print "duplicate TYPE: " $0; bad = 1 }
		if ($4 !~ /^(counter|gauge|histogram|summary|untyped)$/) { print "bad type: " $0; bad = 1 }
		type[$3] = $4
		next
	}
	/^#/ || /^$/ { next }
	{
		if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? ([-+]?[0-9.]+([eE][-+]?[0-9]+)?|[-+]Inf|NaN)$/) {
			print "bad sample: " $0; bad = 1; next
		}
		name = $0; sub(/[{ ].*/, "", name)
		base = name; sub(/_(bucket|sum|count)$/, "", base)
		if (!(name in type) && type[base] != "histogram") { print "sample without TYPE: " $0; bad = 1 }
		n++
	}
	END { if (!n) { print "no samples"; bad = 1 } exit bad }'
}

healthz_count() {
	curl -s "http://127.0.0.1:$PORT/metrics" |
		sed -n 's/^nimbus_http_requests_total{route="healthz",status="200"} //p'
}

@test "serve -h: the usage line, before any setup" {
	NIMBUS_SERVE_LISTEN=garbage run nimbus serve -h
	assert_status 0
	assert_line "usage: nimbus serve [--listen HOST:PORT] [--log-format text|json]"
}

@test "/healthz answers 200 with its JSON, GET and HEAD" {
	start_serve
	run get "http://127.0.0.1:$PORT/healthz"
	assert_output 200
	[ "$(cat "$BATS_TEST_TMPDIR/body")" = '{"status":"ok"}' ]
	[ "$(header Content-Type)" = application/json ]
	run get -I "http://127.0.0.1:$PORT/healthz"
	assert_output 200
	[ "$(header Content-Length)" = 15 ]
}

@test "an unknown path is 404 in the JSON error form" {
	start_serve
	run get "http://127.0.0.1:$PORT/nope"
	assert_output 404
	[ "$(header Content-Type)" = application/json ]
	run jq -r '.errors[0].code, (.errors[0].message | type)' "$BATS_TEST_TMPDIR/body"
	assert_output $'NOT_FOUND\nstring'
}

@test "a wrong method is 405 with Allow, in the JSON error form" {
	start_serve
	run get -X POST --data-binary 'x' "http://127.0.0.1:$PORT/healthz"
	assert_output 405
	[ "$(header Allow)" = "GET, HEAD" ]
	run jq -r '.errors[0].code' "$BATS_TEST_TMPDIR/body"
	assert_output METHOD_NOT_ALLOWED
	run get -X DELETE "http://127.0.0.1:$PORT/metrics"
	assert_output 405
	[ "$(header Allow)" = GET ]
}

@test "/metrics is Prometheus text with request counters that grow" {
	start_serve
	curl -s "http://127.0.0.1:$PORT/nope" >/dev/null
	run get "http://127.0.0.1:$PORT/metrics"
	assert_output 200
	[ "$(header Content-Type)" = "text/plain; version=0.0.4; charset=utf-8" ]
	run check_prometheus_text <"$BATS_TEST_TMPDIR/body"
	assert_status 0
	run grep -c -e '^# TYPE nimbus_http_requests_total counter$' \
		-e '^# TYPE nimbus_http_request_duration_seconds histogram$' \
		-e '^nimbus_http_requests_total{route="none",status="404"} 1$' \
		-e '^nimbus_http_request_duration_seconds_bucket{route="healthz",le="+Inf"} ' \
		-e '^# TYPE process_cpu_seconds_total counter$' \
		-e '^process_resident_memory_bytes [1-9]' \
		-e '^process_open_fds [1-9]' \
		-e '^process_start_time_seconds [1-9]' \
		-e '^process_threads [1-9]' "$BATS_TEST_TMPDIR/body"
	assert_output 9
	before=$(healthz_count)
	for i in 1 2 3; do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; done
	after=$(healthz_count)
	[ "$before" -ge 1 ] && [ "$after" -ge $((before + 3)) ]
}

@test "each request is logged on stderr as text" {
	start_serve
	curl -s "http://127.0.0.1:$PORT/nope?token=hunter2secret" >/dev/null
	stop_serve TERM
	run cat "$LOG"
	assert_line --regexp '^[0-9T:.-]+Z info nimbus serve: listening address=127\.0\.0\.1:[0-9]+ services=store,health,jwks,cache,logs,registry$'
	assert_line --regexp '^[0-9T:.-]+Z info nimbus serve: request method=GET path=/healthz status=200 bytes=15 duration=0\.[0-9]{6} remote=127\.0\.0\.1$'
	assert_line --regexp ' request method=GET path=/nope status=404 bytes=[0-9]+ duration=[0-9.]+ remote=127\.0\.0\.1$'
	refute_output --partial hunter2secret
	assert_line --regexp ' info nimbus serve: stopping signal=SIGTERM$'
	assert_line --regexp ' info nimbus serve: stopped$'
}

@test "each request is logged as JSON with --log-format json, or log.format" {
	start_serve --log-format json
	curl -s "http://127.0.0.1:$PORT/nope" >/dev/null
	stop_serve TERM
	run jq -e -s 'all(.[]; .ts and .level and .prog == "nimbus serve") and
		(map(select(.msg == "request" and .path == "/nope"))[0] |
		 .method == "GET" and .status == "404" and .remote == "127.0.0.1" and
		 (.bytes | tonumber > 0) and (.duration | tonumber >= 0))' "$LOG"
	assert_status 0

	NIMBUS_LOG_FORMAT=json start_serve
	stop_serve TERM
	run jq -e -s 'map(select(.msg == "listening")) | length == 1' "$LOG"
	assert_status 0
}

@test "--listen takes an IPv6 address in brackets" {
	ip -6 addr show dev lo 2>/dev/null | grep -q '::1' || skip "no IPv6 loopback"
	"$NIMBUS" serve --listen "[::1]:$PORT" 2>"$LOG" 3>&- &
	SERVE_PID=$!
	wait_for 50 curl -sf "http://[::1]:$PORT/healthz"
	stop_serve TERM
	run cat "$LOG"
	assert_line --partial "listening address=[::1]:$PORT "
	assert_line --regexp ' request method=GET path=/healthz status=200 .* remote=::1$'
}

@test "serve.listen is the default address; bad addresses are refused" {
	NIMBUS_SERVE_LISTEN=127.0.0.1:$PORT NIMBUS_SERVE_THREADS=1 "$NIMBUS" serve 2>"$LOG" 3>&- &
	SERVE_PID=$!
	wait_for 50 curl -sf "http://127.0.0.1:$PORT/healthz"
	stop_serve TERM
	assert_status 0
	# one worker thread is fine too, and says nothing about it
	run ! grep -E ' (warning|error) ' "$LOG"

	run nimbus serve --listen localhost:8480
	assert_status 2
	assert_line "nimbus serve: option '--listen': 'localhost:8480' is not HOST:PORT with a numeric host, e.g. 127.0.0.1:8480 or [::1]:8480"
	run nimbus serve --listen ::1:8480
	assert_status 2
	run nimbus serve --listen 127.0.0.1:65536
	assert_status 2
	assert_line --partial "port out of range"
	run nimbus serve --log-format xml
	assert_status 2
	run nimbus serve extra
	assert_status 2
	NIMBUS_SERVE_LISTEN=8480 run nimbus serve
	assert_status 7
	assert_line --partial "NIMBUS_SERVE_LISTEN"
}

@test "an address in use exits 6" {
	start_serve
	run nimbus serve --listen "127.0.0.1:$PORT"
	assert_status 6
	assert_line --regexp "nimbus serve: cannot listen on 127\.0\.0\.1:$PORT: Address already in use$"
}

@test "a privileged port without the right exits 8" {
	[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" -gt 80 ] ||
		skip "unprivileged processes may bind port 80 here"
	if [ "$(id -u)" = 0 ]; then
		# a state directory nobody can write: bats' own are private
		# and a copy of the binary it can run: the checkout may be private
		local state
		state=$(mktemp -d /tmp/nimbus-priv.XXXXXX)
		chmod 755 "$state"
		install -m 755 "$NIMBUS" "$state/nimbus"
		mkdir "$state/state"
		chown 65534:65534 "$state/state"
		run setpriv --reuid=65534 --regid=65534 --clear-groups \
			env -u NIMBUS_CONFIG HOME=/ NIMBUS_CORE_STATE_DIR="$state/state" \
			"$state/nimbus" serve --listen 127.0.0.1:80
		rm -rf "$state"
	else
		run nimbus serve --listen 127.0.0.1:80
	fi
	assert_status 8
	assert_line --regexp 'nimbus serve: cannot listen on 127\.0\.0\.1:80: Permission denied$'
}

@test "the defaults answer on 127.0.0.1:8480 with no config file and no database" {
	if (exec 3<>/dev/tcp/127.0.0.1/8480) 2>/dev/null; then
		skip "something listens on 8480 already"
	fi
	mkdir -p "$BATS_TEST_TMPDIR/empty"
	# The state directory stays the test's own: as root the default is
	# /var/lib/nimbus, which a test must not write.
	env -u NIMBUS_CONFIG -u NIMBUS_CORE_RUN_DIR \
		HOME="$BATS_TEST_TMPDIR/empty" XDG_CONFIG_HOME= "$NIMBUS" serve 2>"$LOG" 3>&- &
	SERVE_PID=$!
	wait_for 50 curl -sf http://127.0.0.1:8480/healthz
	stop_serve TERM
	assert_status 0
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/empty")" ]
	# the embedded store was created, migrated, under the state directory
	[ -f "$NIMBUS_CORE_STATE_DIR/nimbus.db" ]
	run nimbus db status
	assert_success
	[ "$output" = "$(nimbus db status --json | jq .latest)" ]
}

@test "a store that cannot be reached stops serve before it listens: exit 6" {
	NIMBUS_STORE_URL=postgres://nimbus@127.0.0.1:$(free_port)/x run --separate-stderr \
		nimbus serve --listen "127.0.0.1:$PORT"
	assert_status 6
	[[ $stderr == *"127.0.0.1"* ]]
}

@test "/.well-known/jwks.json: 404 without keys, then the public keys with max-age" {
	export NIMBUS_KEYS_DIR=$BATS_TEST_TMPDIR/keys
	start_serve
	[ "$(get "http://127.0.0.1:$PORT/.well-known/jwks.json")" = 404 ]
	jq -e '.errors[0].code == "NOT_FOUND"' "$BATS_TEST_TMPDIR/body"
	kid=$(nimbus key rotate)
	[ "$(get "http://127.0.0.1:$PORT/.well-known/jwks.json")" = 200 ]
	[ "$(header Cache-Control)" = "public, max-age=300" ]
	jq -e --arg kid "$kid" '.keys | length == 1 and .[0].kid == $kid and (.[0] | has("d") | not)' \
		"$BATS_TEST_TMPDIR/body"
	diff <(jq -S . "$BATS_TEST_TMPDIR/body") <(nimbus key jwks | jq -S .)
	next=$(nimbus -q key rotate --activate-after 300)
	sleep 0.2 # the verifier looks at keyset.json at most every 100 ms
	[ "$(get "http://127.0.0.1:$PORT/.well-known/jwks.json")" = 200 ]
	jq -e --arg kid "$next" '[.keys[].kid] | index($kid) != null' "$BATS_TEST_TMPDIR/body"
}

@test "SIGTERM lets a request in flight finish, then exits 0 within 2 s" {
	start_serve
	exec 4<>"/dev/tcp/127.0.0.1/$PORT"
	# the request line is in, the headers are not: the request is in flight
	printf 'GET /healthz HTTP/1.1\r\nHost: t\r\n' >&4
	sleep 0.2
	t0=$(date +%s%N)
	kill -TERM "$SERVE_PID"
	sleep 0.5
	kill -0 "$SERVE_PID"
	# the listener is closed already
	run ! curl -s --max-time 1 "http://127.0.0.1:$PORT/healthz"
	printf 'User-Agent: slow\r\n\r\n' >&4
	response=$(timeout 3 cat <&4)
	exec 4<&-
	wait_serve
	assert_status 0
	[ "$elapsed_ms" -lt 2000 ]
	[[ $response == "HTTP/1.1 200 OK"* ]]
	[[ $response == *$'\r\nConnection: close\r\n'* ]]
	[[ $response == *'{"status":"ok"}' ]]
}

@test "an idle keep-alive connection does not hold up SIGINT" {
	start_serve
	exec 4<>"/dev/tcp/127.0.0.1/$PORT"
	printf 'GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n' >&4
	while IFS= read -r -t 2 line <&4 && [ "$line" != $'\r' ]; do :; done
	read -r -N 15 -t 2 body <&4
	[ "$body" = '{"status":"ok"}' ]
	stop_serve INT
	assert_status 0
	[ "$elapsed_ms" -lt 1000 ]
	# and the server closed it: end of file, not a timeout
	rc=0
	read -r -t 1 line <&4 || rc=$?
	exec 4<&-
	[ "$rc" -eq 1 ]
}

@test "SIGTERM under load: exit 0 within 2 s, every request taken is answered" {
	require_cmd wrk
	start_serve
	before=$(grep -c ' request .* status=200 ' "$LOG")
	wrk -t2 -c64 -d3s "http://127.0.0.1:$PORT/healthz" >"$BATS_TEST_TMPDIR/wrk.out" 2>&1 3>&- &
	WRK_PID=$!
	sleep 1
	stop_serve TERM
	wait "$WRK_PID"
	WRK_PID=
	cat "$BATS_TEST_TMPDIR/wrk.out"
	assert_status 0
	[ "$elapsed_ms" -lt 2000 ]
	completed=$(awk '/ requests in / { print $1 }' "$BATS_TEST_TMPDIR/wrk.out")
	taken=$(($(grep -c ' request .* status=200 ' "$LOG") - before))
	echo "wrk completed $completed, server answered $taken"
	[ "$completed" -gt 1000 ]
	[ "$completed" -eq "$taken" ]
	# Once the listener is gone, wrk's reconnects are refused; it counts
	# those as write or read errors, depending on which event it sees
	# first, so only its timeouts tell of a request left hanging.
	run ! grep -E 'Socket errors:.* timeout [1-9]' "$BATS_TEST_TMPDIR/wrk.out"
	run ! grep 'Non-2xx' "$BATS_TEST_TMPDIR/wrk.out"
	run ! grep -E ' (error|warning) ' "$LOG"
}
