#!/usr/bin/env bats
# nimbus serve's least privilege: started as root it becomes serve.user
# once bound, keeps no capability, takes no_new_privs and filters its
# system calls on every thread, and still serves; a forbidden system
# call kills it.

load lib/common

bats_require_minimum_version 1.5.0

setup() {
	common_setup
	require_cmd curl jq
	PORT=$(free_port)
	SERVE_PID=
	# in /tmp itself: nobody must reach it, whatever TMPDIR is
	SANDBOX=$(mktemp -d /tmp/nimbus-sandbox.XXXXXX)
	chmod 755 "$SANDBOX"
	LOG=$SANDBOX/serve.log
	export NIMBUS_CONFIG=$SANDBOX/nimbus.conf
	: > "$NIMBUS_CONFIG"
	export NIMBUS_CORE_STATE_DIR=$SANDBOX/state
	export NIMBUS_KEYS_DIR=$SANDBOX/keys
	export NIMBUS_LOGS_FLUSH_INTERVAL=1
	export NIMBUS_LOGS_URL=http://127.0.0.1:$PORT
}

teardown() {
	if [ -n "$SERVE_PID" ]; then
		kill -KILL "$SERVE_PID" 2>/dev/null || true
		wait "$SERVE_PID" 2>/dev/null || true
	fi
	rm -rf "$SANDBOX"
}

start_serve() {
	"$NIMBUS" serve --listen "127.0.0.1:$PORT" "$@" 2>"$LOG" 3>&- &
	SERVE_PID=$!
	if ! wait_for 100 curl -sf "http://127.0.0.1:$PORT/healthz"; then
		cat "$LOG" >&2
		return 1
	fi
}

# status_of PID FIELD: a field of /proc/PID/status.
status_of() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"
}

# Each thread of $SERVE_PID: no capability (but in the bounding set with
# "bounding", which only root can empty), no_new_privs, seccomp filtering.
assert_sandboxed_threads() {
	local t n=0
	for t in /proc/"$SERVE_PID"/task/*; do
		n=$((n + 1))
		grep -qx $'CapEff:\t0000000000000000' "$t/status" || fail "$t: CapEff"
		grep -qx $'CapPrm:\t0000000000000000' "$t/status" || fail "$t: CapPrm"
		[ "${1:-}" = bounding ] || grep -qx $'CapBnd:\t0000000000000000' "$t/status" ||
			fail "$t: CapBnd"
		grep -qx $'CapAmb:\t0000000000000000' "$t/status" || fail "$t: CapAmb"
		grep -qx $'NoNewPrivs:\t1' "$t/status" || fail "$t: NoNewPrivs"
		grep -qx $'Seccomp:\t2' "$t/status" || fail "$t: Seccomp"
	done
	# the workers and the flushers
	[ "$n" -ge 3 ] || fail "only $n threads"
}

@test "started as root, serve becomes serve.user without capabilities, filtered, and serves" {
	require_root
	local tok push pull
	export NIMBUS_SERVE_USER=nobody
	nimbus key rotate >/dev/null
	# the public keys for the service's group; the private ones stay root's
	chgrp "$(id -gn nobody)" "$NIMBUS_KEYS_DIR"
	chmod 750 "$NIMBUS_KEYS_DIR"
	tok=$(nimbus token mint --aud cache --scope pull:acme --scope push:acme)
	push=$(nimbus token mint --aud logs --scope push:acme --repo acme/widgets --job 42 --runner r1)
	pull=$(nimbus token mint --aud logs --scope pull:acme)
	start_serve

	[ "$(status_of "$SERVE_PID" Uid)" = "$(printf '65534\t65534\t65534\t65534')" ]
	[ "$(status_of "$SERVE_PID" Gid | cut -f1)" = "$(id -g nobody)" ]
	[ "$(status_of "$SERVE_PID" CapEff)" = 0000000000000000 ]
	[ "$(status_of "$SERVE_PID" NoNewPrivs)" = 1 ]
	[ "$(status_of "$SERVE_PID" Seccomp)" = 2 ]
	assert_sandboxed_threads
	grep -q "privileges dropped uid=65534" "$LOG"
	! grep -q "cannot read keys.dir" "$LOG"

	# its HTTP: the keys, the metrics, the cache, the logs
	run curl -sf "http://127.0.0.1:$PORT/.well-known/jwks.json"
	assert_success
	[ "$(jq '.keys | length' <<< "$output")" -ge 1 ]
	curl -sf "http://127.0.0.1:$PORT/metrics" | grep -q '^process_open_fds '
	echo hello > "$SANDBOX/blob"
	run curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $tok" \
		--data-binary @"$SANDBOX/blob" "http://127.0.0.1:$PORT/cache/acme/k1"
	assert_output 201
	run curl -sf -H "Authorization: Bearer $tok" "http://127.0.0.1:$PORT/cache/acme/k1"
	assert_output hello
	run curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $push" \
		-H 'Content-Type: text/plain' --data-binary $'one\ntwo\n' "http://127.0.0.1:$PORT/logs?seq=0"
	assert_output 200
	printf '%s\n' "$pull" > "$SANDBOX/pull"
	chmod 600 "$SANDBOX/pull"
	wait_for 100 sh -c '[ "$("$NIMBUS" --json logs query --token-file "$1" | wc -l)" -eq 2 ]' \
		sh "$SANDBOX/pull"

	# what it wrote is its own
	run find "$NIMBUS_CORE_STATE_DIR" ! -user nobody
	assert_output ''
	[ -n "$(find "$NIMBUS_CORE_STATE_DIR/cache" -type f)" ]

	# and audit sees it so
	run --separate-stderr nimbus audit --json
	[ "$(jq -r --arg s "serve:$SERVE_PID" '[.[] | select(.subject == $s) | .status] | unique | join(",")' \
		<<< "$output")" = pass ]

	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID"
	SERVE_PID=
	grep -q "stopped" "$LOG"
}

@test "serve refuses to stay root when serve.user does not exist" {
	require_root
	export NIMBUS_SERVE_USER=no-such-user-9000
	run --separate-stderr nimbus serve --listen "127.0.0.1:$PORT"
	assert_status 8
	[[ $stderr == *"refusing to run as root: no user no-such-user-9000 to become"* ]]
}

@test "what root made for it is handed over; what is open to others, or someone else's, is refused" {
	require_root
	export NIMBUS_SERVE_USER=nobody
	# as nimbus commands run as root make them: private to root
	nimbus db migrate >/dev/null
	nimbus key rotate >/dev/null
	[ "$(stat -c %U "$NIMBUS_CORE_STATE_DIR/nimbus.db")" = root ]
	start_serve
	run find "$NIMBUS_CORE_STATE_DIR" ! -user nobody
	assert_output ''
	grep -q "handed over path=$NIMBUS_CORE_STATE_DIR user=nobody" "$LOG"
	# keys.dir is not the service's to take: it says what will not work
	grep -q "cannot read keys.dir $NIMBUS_KEYS_DIR as uid 65534: Permission denied; no token will verify" "$LOG"
	[ "$(stat -c %U "$NIMBUS_KEYS_DIR")" = root ]
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID"
	SERVE_PID=

	mkdir -m 755 "$SANDBOX/open"
	NIMBUS_CACHE_DIR=$SANDBOX/open run --separate-stderr nimbus serve --listen "127.0.0.1:$PORT"
	assert_status 8
	[[ $stderr == *"$SANDBOX/open belongs to uid 0 (mode 0755), not to nobody: chown -R nobody: $SANDBOX/open"* ]]
	mkdir -m 700 "$SANDBOX/other"
	chown daemon "$SANDBOX/other"
	NIMBUS_LOGS_SPOOL_DIR=$SANDBOX/other run --separate-stderr nimbus serve --listen "127.0.0.1:$PORT"
	assert_status 8
	[[ $stderr == *"$SANDBOX/other belongs to uid $(id -u daemon) (mode 0700), not to nobody"* ]]
	[ "$(stat -c %U "$SANDBOX/other")" = daemon ]
}

@test "serve.user=root stays root, without capabilities, filtered" {
	require_root
	export NIMBUS_SERVE_USER=root
	start_serve
	[ "$(status_of "$SERVE_PID" Uid | cut -f1)" = 0 ]
	assert_sandboxed_threads
	run --separate-stderr nimbus audit --json
	[ "$(jq -r --arg s "serve:$SERVE_PID" '.[] | select(.subject == $s and .check == "user") | .status' \
		<<< "$output")" = fail ]
}

@test "started as another user, serve stays that user, filtered" {
	require_root
	require_cmd setpriv
	unset NIMBUS_SERVE_USER
	install -d -o nobody -m 700 "$NIMBUS_CORE_STATE_DIR"
	setpriv --reuid nobody --regid "$(id -g nobody)" --clear-groups \
		"$NIMBUS" serve --listen "127.0.0.1:$PORT" 2>"$LOG" 3>&- &
	SERVE_PID=$!
	wait_for 100 curl -sf "http://127.0.0.1:$PORT/healthz" || { cat "$LOG" >&2; false; }
	# setpriv execs: the pid is the server's
	[ "$(status_of "$SERVE_PID" Uid | cut -f1)" = 65534 ]
	assert_sandboxed_threads bounding
}

@test "under the services' filter, a forbidden system call kills the process" {
	local probe=$NIMBUS_BUILD/t/helpers/seccomp-probe a forbidden
	run "$probe" getpid thread clone3
	assert_success
	assert_line 'getpid ok'
	assert_line 'thread ok'
	assert_line 'clone3 Function not implemented'
	forbidden="execve fork unshare packet"
	# the sanitizer build lets its leak checker fork and ptrace
	[[ $NIMBUS_BUILD != *build-san ]] || forbidden="execve unshare packet"
	for a in $forbidden; do
		run -159 "$probe" getpid "$a"
		assert_line 'getpid ok'
		# killed by SIGSYS in the call: nothing after its name
		assert_line --index 1 "$a "
	done
}
