#!/usr/bin/env bats
# The ClickHouse side: the schema nimbus prints is the one it applies,
# direct SQL access per org (per-org databases on 18.16, row policies
# printed for later versions), and prune dropping old months.

load lib/common
load lib/logs

setup_file() {
	ch_start
}

teardown_file() {
	ch_stop
}

setup() {
	logs_setup
	use_clickhouse
	SINK=clickhouse
	DB=$NIMBUS_LOGS_CLICKHOUSE_DATABASE
	PW=$BATS_TEST_TMPDIR/passwords
}

# as_user USER PASSWORD SQL: run SQL as another ClickHouse user; the answer, or the error.
as_user() {
	curl -s -H "X-ClickHouse-User: $1" -H "X-ClickHouse-Key: $2" --data-binary "$3" "$CH_URL/"
}

@test "the schema printed for ClickHouse is the one migrate applies" {
	run nimbus logs schema --clickhouse
	assert_success
	assert_line --partial "ENGINE = MergeTree"
	assert_line "PARTITION BY toYYYYMM(ts)"
	assert_line "ORDER BY (org_id, repo_id, job_id, ts, seq);"
	assert_line "-- ALTER TABLE \`$DB\`.logs MODIFY TTL ts + INTERVAL 90 DAY;"
	ch_client --multiquery <<< "$output"
	ch_query "SHOW CREATE TABLE $DB.logs" > "$BATS_TEST_TMPDIR/printed"
	ch_query "DROP DATABASE $DB"
	nimbus logs migrate
	nimbus logs migrate
	diff <(ch_query "SHOW CREATE TABLE $DB.logs") "$BATS_TEST_TMPDIR/printed"
	# 18.16 has no TTL: migrate leaves it out there, and prune drops months instead
	run ch_query "SHOW CREATE TABLE $DB.logs"
	refute_output --partial TTL
	NIMBUS_LOGS_RETENTION_DAYS=7 run nimbus logs schema --clickhouse
	assert_line "-- ALTER TABLE \`$DB\`.logs MODIFY TTL ts + INTERVAL 7 DAY;"
}

@test "per-org databases: each org's user reads its own lines and nothing else" {
	logs_serve_start
	seq 1 3 | sed 's/^/acme /' | nimbus logs ingest --job 4242 --token-file "$TOK/acme-push" >/dev/null
	printf 'bravo 1\n' | nimbus logs ingest --job 77 --token-file "$TOK/bravo-push" >/dev/null
	logs_wait_count acme-pull 3
	logs_wait_count bravo-pull 1
	nimbus logs migrate --per-org-databases --password-dir "$PW" acme bravo > "$BATS_TEST_TMPDIR/users.xml"
	[ "$(stat -c %a "$PW/${DB}_org_acme.password")" = 600 ]
	grep -q "<allow_databases><database>${DB}_org_acme</database></allow_databases>" "$BATS_TEST_TMPDIR/users.xml"
	grep -q "<password_sha256_hex>$(tr -d '\n' < "$PW/${DB}_org_acme.password" | sha256sum | cut -c1-64)</password_sha256_hex>" \
		"$BATS_TEST_TMPDIR/users.xml"
	run grep -c "$(tr -d '\n' < "$PW/${DB}_org_acme.password")" "$BATS_TEST_TMPDIR/users.xml"
	assert_output 0
	cp "$BATS_TEST_TMPDIR/users.xml" "$CH_DIR/users.d/nimbus-logs.xml"
	acme_pw=$(cat "$PW/${DB}_org_acme.password")
	bravo_pw=$(cat "$PW/${DB}_org_bravo.password")
	# ClickHouse reads users.d again by itself
	wait_for 300 bash -c "[ \"\$(curl -s -H 'X-ClickHouse-User: ${DB}_org_acme' -H 'X-ClickHouse-Key: $acme_pw' --data-binary 'SELECT 1' '$CH_URL/')\" = 1 ]"

	# the lines stored before, and those after, are in the org's copy
	printf 'acme 4\n' | nimbus logs ingest --job 4242 --seq 3 --token-file "$TOK/acme-push" >/dev/null
	logs_wait_count acme-pull 4
	run as_user "${DB}_org_acme" "$acme_pw" "SELECT line FROM ${DB}_org_acme.logs ORDER BY seq"
	assert_output $'acme 1\nacme 2\nacme 3\nacme 4'
	run as_user "${DB}_org_bravo" "$bravo_pw" "SELECT line FROM ${DB}_org_bravo.logs"
	assert_output 'bravo 1'
	# the shared table, the other org's database, table functions, writes: refused
	run as_user "${DB}_org_acme" "$acme_pw" "SELECT count() FROM $DB.logs"
	assert_output --partial "Access denied to database $DB"
	run as_user "${DB}_org_acme" "$acme_pw" "SELECT count() FROM ${DB}_org_bravo.logs"
	assert_output --partial "Access denied to database ${DB}_org_bravo"
	run as_user "${DB}_org_acme" "$acme_pw" "SELECT * FROM remote('127.0.0.1:$CH_TCP_PORT', $DB.logs)"
	assert_output --partial "Table functions are forbidden in readonly mode"
	run as_user "${DB}_org_acme" "$acme_pw" "INSERT INTO ${DB}_org_acme.logs (line) VALUES ('x')"
	assert_output --partial "readonly"
	run as_user "${DB}_org_acme" "$bravo_pw" "SELECT 1"
	assert_output --partial "Wrong password"
	# again: nothing copied twice, the same passwords
	nimbus logs migrate --per-org-databases --password-dir "$PW" acme > "$BATS_TEST_TMPDIR/users2.xml"
	diff "$BATS_TEST_TMPDIR/users.xml" "$BATS_TEST_TMPDIR/users2.xml"
	[ "$(ch_query "SELECT count() FROM ${DB}_org_acme.logs")" = 4 ]
	chmod 644 "$PW/${DB}_org_acme.password"
	run nimbus logs migrate --per-org-databases --password-dir "$PW" acme
	assert_status 8
}

@test "row policies are printed for the versions that have them" {
	run nimbus logs schema --row-policy --password-dir "$PW" acme my-org
	assert_success
	hash=$(tr -d '\n' < "$PW/${DB}_org_acme.password" | sha256sum | cut -c1-64)
	assert_line "CREATE USER IF NOT EXISTS \`${DB}_org_acme\` IDENTIFIED WITH sha256_hash BY '$hash' SETTINGS readonly = 1;"
	assert_line "GRANT SELECT ON \`$DB\`.logs TO \`${DB}_org_acme\`;"
	assert_line "CREATE ROW POLICY IF NOT EXISTS \`${DB}_org_acme\` ON \`$DB\`.logs FOR SELECT USING org_id = 'acme' TO \`${DB}_org_acme\`;"
	assert_line "CREATE ROW POLICY IF NOT EXISTS \`${DB}_org_my_org\` ON \`$DB\`.logs FOR SELECT USING org_id = 'my-org' TO \`${DB}_org_my_org\`;"
	run nimbus logs schema --row-policy --password-dir "$PW" "acme'"
	assert_status 2
	run nimbus logs schema --row-policy
	assert_status 2
	# 18.16 does not know them: the statements are for later versions only
	run ch_query "CREATE ROW POLICY p ON $DB.logs FOR SELECT USING 1 TO nimbus"
	assert_failure
}

@test "prune drops the months that ended before the retention" {
	nimbus logs migrate
	logs_serve_start
	printf '{"line":"old","ts":"2020-01-15T00:00:00Z"}\n{"line":"older","ts":"2019-12-31T23:59:59Z"}\n{"line":"new"}\n' |
		logs_post acme-push 'seq=0' -H 'Content-Type: application/x-ndjson' >/dev/null
	logs_wait_count acme-pull 3
	run nimbus --json logs prune --before 2020-02-01T00:00:00Z
	assert_success
	[ "$(jq -r '[.sink, .deleted, .before] | join(" ")' <<< "$output")" = "clickhouse 2 2020-02-01T00:00:00Z" ]
	[ "$(logs_lines acme-pull | jq -r .line)" = new ]
	# a month that has not ended before the cutoff stays whole
	run nimbus --json logs prune
	[ "$(jq -r .deleted <<< "$output")" = 0 ]
}
