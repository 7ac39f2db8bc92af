#!/usr/bin/env bats
# 2xx means stored or in the spool on disk: lines survive a crash of the
# service and an outage of the sink, and come out exactly once. A full
# spool answers 503 with Retry-After.

load lib/common
load lib/logs

teardown() {
	logs_serve_stop
	# an outage test that failed half-way leaves the servers up for the next one
	[ -z "${CH_DIR:-}" ] || ch_ping || ch_up
	[ -z "${PG_DIR:-}" ] || [ -f "$PG_DIR/data/postmaster.pid" ] || pg_up
}

crash() {
	logs_serve_stop
	export NIMBUS_LOGS_FLUSH_INTERVAL=3600
	logs_serve_start
	seq 1 10 | nimbus logs ingest --job 4242 --token-file "$TOK/acme-push" >/dev/null
	seq 11 20 | nimbus logs ingest --job 4242 --seq 10 --token-file "$TOK/acme-push" >/dev/null
	logs_serve_kill
	# a record torn by the crash: half of one, after the whole ones
	seg=$(ls "$NIMBUS_LOGS_SPOOL_DIR"/*.seg)
	head -c 30 "$seg" >> "$seg"
	export NIMBUS_LOGS_FLUSH_INTERVAL=1
	logs_serve_start
	logs_wait_count acme-pull 20
	[ "$(logs_lines acme-pull | jq -r .line | tr '\n' ' ')" = "$(seq 1 20 | tr '\n' ' ')" ]
	wait_for 50 bash -c "! ls '$NIMBUS_LOGS_SPOOL_DIR'/*.seg"
	grep -q 'are not a whole record (torn by a crash?); dropped' "$SERVE_LOG"
}

@test "lines answered 2xx survive a crash of the service, on every sink" {
	for_each_sink crash
}

# outage DOWN UP: the sink goes down while lines come in, until the spool is full.
outage() {
	local seq=0 accepted=0 status body=$BATS_TEST_TMPDIR/body100
	for i in $(seq 1 100); do printf 'line %03d of a batch that fills the spool while the sink is away\n' "$i"; done > "$body"
	export NIMBUS_LOGS_SPOOL_MAX=200K NIMBUS_LOGS_BATCH_BYTES=16K
	logs_serve_start
	"$1"
	for i in $(seq 1 100); do
		status=$(logs_post acme-push "seq=$seq" < "$body")
		[ "$status" = 200 ] || break
		seq=$((seq + 100))
		accepted=$((accepted + 100))
	done
	[ "$status" = 503 ] || fail "the spool never filled: $status"
	[ "$accepted" -ge 1000 ]
	[ "$(sed -n 's/^Retry-After: \([0-9]*\)\r$/\1/Ip' "$BATS_TEST_TMPDIR/headers")" -ge 1 ]
	[ "$(jq -r '.errors[0].code' "$BATS_TEST_TMPDIR/body")" = UNAVAILABLE ]
	# a request that was answered 2xx is retried anyway: it adds nothing
	[ "$(logs_post acme-push "seq=0" < "$body")" = 503 ]
	"$2"
	# the refused request, retried as Retry-After says, goes in
	for i in $(seq 1 60); do
		status=$(logs_post acme-push "seq=$seq" < "$body")
		[ "$status" = 200 ] && break
		sleep 1
	done
	[ "$status" = 200 ]
	accepted=$((accepted + 100))
	[ "$(logs_post acme-push "seq=0" < "$body")" = 200 ]
	logs_wait_count acme-pull "$accepted"
	sleep 2
	[ "$(sink_count "1 = 1")" = "$accepted" ]
	run logs_lines acme-pull
	[ "$(jq -r .seq <<< "$output" | sort -n | uniq | wc -l)" = "$accepted" ]
	[ "$(jq -r .seq <<< "$output" | tail -n 1)" = "$((accepted - 1))" ]
	grep -q 'cannot store log lines, retrying' "$SERVE_LOG"
	grep -q 'log sink is back' "$SERVE_LOG"
	logs_serve_stop
	unset NIMBUS_LOGS_SPOOL_DIR NIMBUS_LOGS_SPOOL_MAX NIMBUS_LOGS_BATCH_BYTES
}

@test "ClickHouse stopped during ingest: 503 once the spool is full, then every line once" {
	use_clickhouse
	SINK=clickhouse
	nimbus logs migrate
	outage ch_down ch_up
}

@test "PostgreSQL stopped during ingest: 503 once the spool is full, then every line once" {
	_store_postgres
	SINK=postgres
	outage pg_down pg_up
}

@test "one service owns a spool" {
	_store_sqlite
	SINK=sqlite
	logs_serve_start
	run "$NIMBUS" logs serve --listen "127.0.0.1:$(free_port)"
	assert_status 5
	assert_output --partial "is in use by another process"
}
