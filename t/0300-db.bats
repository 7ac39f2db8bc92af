#!/usr/bin/env bats
# nimbus db: migrations and status on every store driver; bad URLs and
# unreachable servers.

bats_require_minimum_version 1.5.0
load lib/common
load lib/services

setup_file() {
	pg_start
}

teardown_file() {
	pg_stop
}

# The versions of a driver's migrations, one a line, in order: numbers
# are given out to work in parallel, so there may be gaps until it merges.
versions() {
	ls "$NIMBUS_SRC/lib/sql/$1" | sed -n 's/^0*\([0-9][0-9]*\)-.*\.sql$/\1/p' | sort -n
}

latest_version() {
	versions "$1" | tail -n 1
}

@test "db: -h prints the usage lines, with no configuration at all" {
	run nimbus --config /nonexistent db migrate -h
	assert_success
	assert_line --index 0 "usage: nimbus db migrate [--json]"
	run nimbus --config /nonexistent db status --help
	assert_success
	assert_line --index 0 "usage: nimbus db status [--json]"
	run nimbus db
	assert_status 2
	run nimbus db migrate extra
	assert_status 2
}

@test "db migrate: creates the SQLite file under the state dir and reports the version" {
	local latest
	latest=$(latest_version sqlite)
	run nimbus db migrate
	assert_success
	assert_line "applied 0001-core"
	assert_line "schema version $latest"
	[ "$(stat -c %a "$NIMBUS_CORE_STATE_DIR")" = 700 ]
	[ "$(stat -c %a "$NIMBUS_CORE_STATE_DIR/nimbus.db")" = 600 ]
	run nimbus db status
	assert_success
	assert_output "$latest"
	run nimbus db migrate
	assert_success
	assert_output "schema version $latest is up to date"
}

status_json() {
	local latest
	latest=$(latest_version "$STORE_DRIVER")
	run --separate-stderr nimbus db status
	assert_success
	assert_output 0
	[[ $stderr == *"run 'nimbus db migrate'"* ]]
	run nimbus db migrate --json
	assert_success
	[ "$(jq -c '[.from, .to, [.applied[] | .version], .applied[0].name]' <<<"$output")" = \
	  "[0,$latest,[$(versions "$STORE_DRIVER" | paste -sd,)],\"core\"]" ]
	run --separate-stderr nimbus db status --json
	assert_success
	[ -z "$stderr" ]
	[ "$(jq -r '[.version, .latest, .driver] | join(" ")' <<<"$output")" = \
	  "$latest $latest $STORE_DRIVER" ]
	if [ "$STORE_DRIVER" = postgres ]; then
		[ "$(jq -r .url <<<"$output")" = \
		  "postgres://nimbus:<redacted>@$PG_HOST:$PG_PORT/$PG_DB" ]
	else
		[ "$(jq -r .url <<<"$output")" = "$NIMBUS_STORE_URL" ]
	fi
	refute_output --partial "${PG_PASSWORD:-no password}"
}

@test "db status and migrate --json, on each store" {
	for_each_store status_json
}

migrate_twice() {
	local latest
	latest=$(latest_version "$STORE_DRIVER")
	run nimbus db migrate
	assert_success
	store_dump > "$BATS_TEST_TMPDIR/before"
	run nimbus db migrate --json
	assert_success
	[ "$(jq -c '[.from, .to, .applied]' <<<"$output")" = "[$latest,$latest,[]]" ]
	store_dump > "$BATS_TEST_TMPDIR/after"
	diff -u "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
	grep -q kv_claims "$BATS_TEST_TMPDIR/after"
}

@test "db migrate: running it twice changes nothing, on each store" {
	for_each_store migrate_twice
}

migrate_concurrently() {
	local latest i pids=() dir=$BATS_TEST_TMPDIR/$STORE_DRIVER
	latest=$(latest_version "$STORE_DRIVER")
	mkdir -p "$dir"
	for i in 1 2 3 4 5 6 7 8; do
		nimbus db migrate --json >"$dir/out.$i" 2>"$dir/err.$i" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { cat "$dir/err.$((i + 1))"; return 1; }
	done
	# Every version applied by exactly one of them; all end at the latest.
	[ "$(jq -s -c '[.[].applied[].version] | sort' "$dir"/out.*)" = \
	  "[$(versions "$STORE_DRIVER" | paste -sd,)]" ]
	[ "$(jq -s -c '[.[].to] | unique' "$dir"/out.*)" = "[$latest]" ]
	[ "$(store_sql 'SELECT count(*), min(version), max(version) FROM schema_migrations' | tr '|' ' ')" = \
	  "$(versions "$STORE_DRIVER" | wc -l) 1 $latest" ]
}

@test "db migrate: 8 at once end consistent, on each store" {
	for_each_store migrate_concurrently
}

newer_schema() {
	run nimbus db migrate
	assert_success
	store_sql "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', '2030-01-01T00:00:00Z')"
	store_dump > "$BATS_TEST_TMPDIR/before"
	run nimbus db migrate
	assert_status 1
	assert_output --partial "schema is at version 9999, newer than this nimbus knows"
	store_dump > "$BATS_TEST_TMPDIR/after"
	diff -u "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
	# Commands that migrate on their own refuse too (the kv opens the store so).
	run kv_tool claim k 60
	assert_status 1
	assert_output --partial "newer than this nimbus knows"
	run --separate-stderr nimbus db status
	assert_success
	assert_output 9999
	[[ $stderr == *"newer than this nimbus knows"* ]]
}

@test "db migrate: a schema newer than this binary is refused and left alone, on each store" {
	for_each_store newer_schema
}

@test "db: bad store URLs exit 7" {
	local url
	for url in sqlite: sqlite 'postgres://[bad' 'postgresql://u:pw@host:port/db' 'mysql://u:pw@h/db'; do
		run nimbus -c "store.url=$url" db status
		[ "$status" -eq 7 ] || { echo "$url: exit $status: $output"; return 1; }
	done
	NIMBUS_STORE_URL='postgres://u:secret-in-env@[bad' run nimbus db migrate
	assert_status 7
	refute_output --partial secret-in-env
}

@test "db: a PostgreSQL port where nothing listens exits 6 quickly, password masked" {
	local pw=Distinctive-Pass-$RANDOM$RANDOM port start=$SECONDS
	port=$(free_port)
	run nimbus -c store.connect_timeout=3 -c "store.url=postgres://nimbus:$pw@127.0.0.1:$port/nimbus" db status
	[ $((SECONDS - start)) -lt 3 ]
	assert_status 6
	assert_output --partial "cannot connect to postgres://nimbus:<redacted>@127.0.0.1:$port/nimbus"
	refute_output --partial "$pw"
	[ "${#lines[@]}" -eq 1 ]
}

@test "db: a stopped PostgreSQL exits 6; after a restart it works" {
	need_pg
	pg_down
	NIMBUS_STORE_URL=$PG_URL run nimbus -c store.connect_timeout=2 db migrate
	pg_up
	assert_status 6
	refute_output --partial "$PG_PASSWORD"
	NIMBUS_STORE_URL=$PG_URL run nimbus db migrate
	assert_success
}

@test "db: a PostgreSQL that accepts and never answers exits 6 within the connect timeout" {
	local start elapsed
	need_pg
	start=$(date +%s%N)
	kill -STOP "$(pg_pid)"
	NIMBUS_STORE_URL=$PG_URL run nimbus -c store.connect_timeout=2 db status
	kill -CONT "$(pg_pid)"
	elapsed=$((($(date +%s%N) - start) / 1000000))
	assert_status 6
	assert_output --partial timeout
	refute_output --partial "$PG_PASSWORD"
	[ "$elapsed" -ge 1900 ] && [ "$elapsed" -lt 5000 ] || { echo "took $elapsed ms"; return 1; }
}

store_library() {
	NIMBUS_TEST_STORE_URL=$NIMBUS_STORE_URL run "$NIMBUS_BUILD/t/unit/0310-store.t"
	assert_success
	assert_line "# driver $STORE_DRIVER"
	refute_line --regexp '^not ok'
}

@test "the store library's unit test (transactions, clock, overflow), on each store" {
	for_each_store store_library
}
