#!/usr/bin/env bats
# nimbus logs: the configuration, the store's schema, migrate and prune
# on the store, the credentials file, and the clients' own checks.

load lib/common
load lib/logs

teardown() {
	logs_serve_stop
	[ -z "${INGEST_PID:-}" ] || kill "$INGEST_PID" 2>/dev/null || true
}

@test "logs.sink follows logs.clickhouse_url unless set; bad values are exit 7" {
	run nimbus config get logs.sink
	assert_output store
	NIMBUS_LOGS_CLICKHOUSE_URL=http://127.0.0.1:8123 run nimbus config get logs.sink
	assert_output clickhouse
	NIMBUS_LOGS_CLICKHOUSE_URL=http://127.0.0.1:8123 NIMBUS_LOGS_SINK=store run nimbus config get logs.sink
	assert_output store
	for kv in logs.clickhouse_url=ftp://x logs.clickhouse_database=a-b 'logs.clickhouse_database=x`y' \
		logs.spool_max=1K logs.batch_bytes=100 logs.sink=kafka logs.retention_days=0 \
		logs.clickhouse_credentials_file=relative logs.spool_dir=relative; do
		run nimbus -c "$kv" config list
		assert_status 7
	done
	run nimbus config get logs.spool_dir
	assert_output "$NIMBUS_CORE_STATE_DIR/logs-spool"
}

@test "schema prints the store's table for the driver of store.url" {
	run nimbus logs schema
	assert_success
	assert_line --partial "CREATE TABLE logs ("
	assert_line "	PRIMARY KEY (org_id, repo_id, job_id, seq)"
	assert_line ") STRICT;"
	NIMBUS_STORE_URL=postgres://nobody@127.0.0.1:1/none run nimbus logs schema
	assert_success
	assert_line '	org_id text COLLATE "C" NOT NULL,'
	for args in "--clickhouse --row-policy acme" "--row-policy --per-org-databases acme" "acme" \
		"--password-dir /tmp --per-org-databases acme" "--per-org-databases" "--per-org-databases Acme"; do
		# shellcheck disable=SC2086
		run nimbus logs schema $args
		assert_status 2
	done
}

migrate_prune() {
	nimbus logs migrate
	[ "$(store_sql "SELECT name FROM schema_migrations WHERE version = 7")" = logs ]
	logs_serve_start
	printf '{"line":"old","ts":"2020-01-15T00:00:00Z"}\n{"line":"older","ts":1000}\n{"line":"new"}\n' |
		logs_post acme-push 'seq=0' -H 'Content-Type: application/x-ndjson' >/dev/null
	logs_wait_count acme-pull 3
	run nimbus --json logs prune --before 2021-01-01T00:00:00Z
	assert_success
	[ "$(jq -r '[.sink, .deleted] | join(" ")' <<< "$output")" = "store 2" ]
	run nimbus logs prune
	assert_line --regexp '^deleted +0$'
	[ "$(logs_lines acme-pull | jq -r .line)" = new ]
	logs_serve_stop
}

@test "migrate and prune on the store" {
	for_each_store migrate_prune
}

@test "the ClickHouse credentials file is checked and its password masked" {
	local creds=$BATS_TEST_TMPDIR/ch-credentials
	export NIMBUS_LOGS_CLICKHOUSE_URL=http://127.0.0.1:$(free_port)
	export NIMBUS_LOGS_CLICKHOUSE_CREDENTIALS_FILE=$creds
	run nimbus logs migrate
	assert_status 7
	printf 'nimbus:pw-never-shown-1234\n' > "$creds"
	chmod 644 "$creds"
	run nimbus logs migrate
	assert_status 8
	assert_output --partial "chmod 600"
	chmod 600 "$creds"
	run nimbus logs migrate
	assert_status 6
	# something that answers HTTP, so that the request goes out (and gets a 404)
	_store_sqlite
	SINK=sqlite
	NIMBUS_LOGS_SINK=store logs_serve_start
	NIMBUS_LOGS_CLICKHOUSE_URL=$NIMBUS_LOGS_URL run --separate-stderr nimbus -v -v logs migrate
	assert_status 4
	[[ $stderr == *"X-ClickHouse-Key: <redacted>"* ]] || fail "no masked key in the trace: $stderr"
	[[ $stderr != *pw-never-shown* ]] || fail "the password leaked: $stderr"
	printf 'no colon\n' > "$creds"
	run nimbus logs migrate
	assert_status 7
}

away_then_back() {
	# nothing listens yet: the client waits for the service
	logs_serve_stop
	seq 1 5 | "$NIMBUS" logs ingest --job 4242 --token-file "$TOK/acme-push" > "$BATS_TEST_TMPDIR/out" &
	INGEST_PID=$!
	sleep 1
	logs_serve_start
	wait "$INGEST_PID"
	INGEST_PID=
	[ "$(awk '{ print $2 }' "$BATS_TEST_TMPDIR/out" | tr '\n' ' ')" = "5 5 " ]
	logs_wait_count acme-pull 5
	# a last line without a newline is a line; the next call goes on from --seq
	printf 'six\nseven' | nimbus logs ingest --job 4242 --seq 5 --token-file "$TOK/acme-push" --json > "$BATS_TEST_TMPDIR/out"
	[ "$(jq -c . "$BATS_TEST_TMPDIR/out")" = '{"lines":2,"next_seq":7}' ]
	logs_wait_count acme-pull 7
	[ "$(logs_lines acme-pull | jq -r .line | tail -n 2 | tr '\n' ' ')" = "six seven " ]
}

@test "ingest checks its arguments, and retries while the service is away, on every sink" {
	run nimbus logs ingest --token-file "$TOK/acme-push"
	assert_status 2
	run nimbus logs ingest --job 4242 --token-file - <<< x
	assert_status 2
	run nimbus logs ingest --job 4242 --token-file "$TOK/acme-push" --stream stdin
	assert_status 2
	run nimbus logs ingest --job 4242 --token-file "$BATS_TEST_TMPDIR/none" <<< x
	assert_status 4
	run nimbus logs ingest --job 4242 --token-file "$TOK/acme-push" --timeout 1 <<< x
	assert_status 6
	for_each_sink away_then_back
}

long_lines() {
	{
		head -c 1500000 /dev/zero | tr '\0' a
		echo
		for i in $(seq 1 30000); do printf 'line %d with some text to fill a batch\n' "$i"; done
	} | nimbus logs ingest --job 4242 --token-file "$TOK/acme-push" --json > "$BATS_TEST_TMPDIR/out"
	[ "$(jq -r .lines "$BATS_TEST_TMPDIR/out")" = 30001 ]
	logs_wait_count acme-pull 30001
	logs_lines acme-pull > "$BATS_TEST_TMPDIR/lines"
	[ "$(head -n 1 "$BATS_TEST_TMPDIR/lines" | jq -r '.line | length')" = 1500000 ]
	[ "$(tail -n 1 "$BATS_TEST_TMPDIR/lines" | jq -r '[.seq, .line] | join(" ")')" = \
		"30000 line 30000 with some text to fill a batch" ]
}

@test "a line longer than a batch goes whole, and batches split at line ends, on every sink" {
	for_each_sink long_lines
}

following() {
	printf 'before\n' | nimbus logs ingest --job 4242 --token-file "$TOK/acme-push" >/dev/null
	# not the nimbus function: $! must be the process itself
	"$NIMBUS" logs query --token-file "$TOK/acme-pull" --follow > "$BATS_TEST_TMPDIR/follow" &
	INGEST_PID=$!
	wait_for 100 grep -q before "$BATS_TEST_TMPDIR/follow"
	printf 'after\n' | nimbus logs ingest --job 4242 --seq 1 --token-file "$TOK/acme-push" >/dev/null
	wait_for 100 grep -q after "$BATS_TEST_TMPDIR/follow"
	kill "$INGEST_PID"
	wait "$INGEST_PID" || true
	INGEST_PID=
	run awk "{ print \$NF }" "$BATS_TEST_TMPDIR/follow"
	assert_output $'before\nafter'
}

@test "query --follow prints lines as they come, on every sink" {
	for_each_sink following
}
