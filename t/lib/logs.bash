# Helpers for the log service tests: `load lib/logs` after lib/common;
# it loads lib/services and lib/clickhouse. By default a file starts
# PostgreSQL and ClickHouse once, and each test gets keys, tokens and a
# port; a file redefines what it needs otherwise.
#
# for_each_sink FUNC runs FUNC against a fresh `nimbus logs serve` on
# SQLite, on PostgreSQL and on ClickHouse (SINK names which one).

load lib/services
load lib/clickhouse

setup_file() {
	pg_start
	ch_start
}

teardown_file() {
	ch_stop
	pg_stop
}

setup() {
	logs_setup
}

teardown() {
	logs_serve_stop
}

# Keys and tokens: org acme writes as runner r-acme of acme/widgets job
# 4242, org bravo as r-bravo of bravo/app job 77; each org may read its own.
logs_setup() {
	common_setup
	require_cmd curl jq
	PORT=$(free_port)
	SERVE_PID=
	export NIMBUS_LOGS_URL=http://127.0.0.1:$PORT
	export NIMBUS_LOGS_FLUSH_INTERVAL=1
	nimbus key rotate >/dev/null
	TOK=$BATS_TEST_TMPDIR/tokens
	mkdir -p "$TOK"
	nimbus token mint --aud logs --scope push:acme --repo acme/widgets --job 4242 \
		--runner r-acme >"$TOK/acme-push"
	nimbus token mint --aud logs --scope pull:acme >"$TOK/acme-pull"
	nimbus token mint --aud logs --scope push:bravo --repo bravo/app --job 77 \
		--runner r-bravo >"$TOK/bravo-push"
	nimbus token mint --aud logs --scope pull:bravo >"$TOK/bravo-pull"
	chmod 600 "$TOK"/*
}

# Start `nimbus logs serve` on $PORT with a spool of its own; wait until it answers.
logs_serve_start() {
	SERVE_LOG=$BATS_TEST_TMPDIR/serve-${SINK:-x}.log
	[ -n "${NIMBUS_LOGS_SPOOL_DIR:-}" ] || export NIMBUS_LOGS_SPOOL_DIR=$(mktemp -d "$BATS_TEST_TMPDIR/spool.XXXXXX")
	"$NIMBUS" logs serve --listen "127.0.0.1:$PORT" 2>>"$SERVE_LOG" 3>&- &
	SERVE_PID=$!
	if ! wait_for 100 curl -sf "http://127.0.0.1:$PORT/healthz"; then
		cat "$SERVE_LOG" >&2
		return 1
	fi
}

logs_serve_stop() {
	[ -n "${SERVE_PID:-}" ] || return 0
	kill -TERM "$SERVE_PID" 2>/dev/null || true
	wait "$SERVE_PID" 2>/dev/null || true
	SERVE_PID=
}

# A crash: nothing is flushed on the way out.
logs_serve_kill() {
	kill -KILL "$SERVE_PID" 2>/dev/null || true
	wait "$SERVE_PID" 2>/dev/null || true
	SERVE_PID=
}

# logs_post TOKEN QUERY [CURL ARG]...: POST stdin to /logs?QUERY; prints
# the status, the body is in $BATS_TEST_TMPDIR/body.
logs_post() {
	local token=$1 query=$2
	shift 2
	curl -s -o "$BATS_TEST_TMPDIR/body" -D "$BATS_TEST_TMPDIR/headers" -w '%{http_code}' \
		-H "Authorization: Bearer $(cat "$TOK/$token")" --data-binary @- "$@" \
		"http://127.0.0.1:$PORT/logs?$query"
}

# logs_get TOKEN QUERY: GET /logs?QUERY; the status, then the body in $BATS_TEST_TMPDIR/body.
logs_get() {
	curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' -H "Authorization: Bearer $(cat "$TOK/$1")" \
		"http://127.0.0.1:$PORT/logs?$2"
}

# The lines TOKEN sees with QUERY, one JSON object each (all pages).
logs_lines() {
	nimbus --json logs query --token-file "$TOK/$1" "${@:2}"
}

# Wait until TOKEN sees N lines (with logs query ARGS); the flusher stores every second.
logs_wait_count() {
	local token=$1 n=$2 i got
	shift 2
	for ((i = 0; i < 300; i++)); do
		got=$(logs_lines "$token" "$@" | wc -l)
		[ "$got" -eq "$n" ] && return 0
		sleep 0.1
	done
	echo "expected $n lines, $token sees $got" >&2
	return 1
}

_sink_store() {
	SINK=$STORE_DRIVER
	unset NIMBUS_LOGS_CLICKHOUSE_URL NIMBUS_LOGS_CLICKHOUSE_CREDENTIALS_FILE NIMBUS_LOGS_SPOOL_DIR
	logs_serve_start
	"$@"
	logs_serve_stop
}

# for_each_sink FUNC [ARG]...: FUNC against each sink, with a server started for it.
for_each_sink() {
	for_each_store _sink_store "$@"
	use_clickhouse
	SINK=clickhouse
	echo "# logs sink: clickhouse"
	unset NIMBUS_LOGS_SPOOL_DIR
	logs_serve_start
	"$@"
	logs_serve_stop
}

# sink_count SQL_WHERE: lines in the sink's table itself, past the service.
sink_count() {
	case $SINK in
	clickhouse) ch_query "SELECT count() FROM $NIMBUS_LOGS_CLICKHOUSE_DATABASE.logs WHERE $1" ;;
	*) store_sql "SELECT count(*) FROM logs WHERE $1" ;;
	esac
}

# sink_lines SQL_WHERE: the stored text of the lines, in seq order.
sink_lines() {
	case $SINK in
	clickhouse) ch_query "SELECT line FROM $NIMBUS_LOGS_CLICKHOUSE_DATABASE.logs WHERE $1 ORDER BY seq FORMAT TSVRaw" ;;
	*) store_sql "SELECT line FROM logs WHERE $1 ORDER BY seq" ;;
	esac
}
