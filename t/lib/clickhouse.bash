# ClickHouse for the tests and benchmarks: source after lib/common (or
# lib/shell.bash in t/perf). Nothing here may use bats.
#
# The server (Debian's clickhouse-server) runs in a temporary directory,
# on free ports of 127.0.0.1 (HTTP, native TCP, interserver), with a user
# `nimbus` whose password is in $CH_DIR/credentials (USER:PASSWORD, 0600,
# what logs.clickhouse_credentials_file wants). Start it once per file and
# always stop it:
#
#	setup_file() { ch_start; }
#	teardown_file() { ch_stop; }
#
# ch_down and ch_up stop and start the same server again (outage tests).
# When clickhouse-server is missing, ch_start sets CH_MISSING and the
# tests that call need_clickhouse fail under CI=true and skip elsewhere.

_ch_password() {
	printf 'pw-%s\n' "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
}

# Exports CH_URL, CH_DIR, CH_HTTP_PORT, CH_TCP_PORT, CH_PASSWORD, CH_CREDENTIALS.
ch_start() {
	CH_MISSING=
	if ! command -v clickhouse-server >/dev/null || ! command -v clickhouse-client >/dev/null; then
		CH_MISSING="clickhouse-server and clickhouse-client are not installed"
		return 0
	fi
	CH_DIR=$(mktemp -d /tmp/nimbus-ch.XXXXXX)
	CH_HTTP_PORT=$(free_port)
	CH_TCP_PORT=$(free_port)
	CH_INTERSERVER_PORT=$(free_port)
	CH_PASSWORD=$(_ch_password)
	mkdir -p "$CH_DIR/data" "$CH_DIR/tmp" "$CH_DIR/user_files" "$CH_DIR/format_schemas" \
		"$CH_DIR/users.d"
	cat >"$CH_DIR/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>$CH_DIR/server.log</log>
    <errorlog>$CH_DIR/server.err.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$CH_HTTP_PORT</http_port>
  <tcp_port>$CH_TCP_PORT</tcp_port>
  <interserver_http_port>$CH_INTERSERVER_PORT</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>$CH_DIR/data/</path>
  <tmp_path>$CH_DIR/tmp/</tmp_path>
  <user_files_path>$CH_DIR/user_files/</user_files_path>
  <format_schema_path>$CH_DIR/format_schemas/</format_schema_path>
  <users_config>$CH_DIR/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
EOF
	# the password only as its hash in the server's files
	cat >"$CH_DIR/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default><max_memory_usage>2000000000</max_memory_usage></default>
  </profiles>
  <users>
    <nimbus>
      <password_sha256_hex>$(printf '%s' "$CH_PASSWORD" | sha256sum | cut -c1-64)</password_sha256_hex>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </nimbus>
  </users>
  <quotas>
    <default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
      <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
    </interval></default>
  </quotas>
</yandex>
EOF
	(umask 077 && printf 'nimbus:%s\n' "$CH_PASSWORD" >"$CH_DIR/credentials" &&
		printf 'X-ClickHouse-User: nimbus\nX-ClickHouse-Key: %s\n' "$CH_PASSWORD" >"$CH_DIR/headers")
	# clickhouse-client takes the password from a file too, not from argv
	cat >"$CH_DIR/client.xml" <<EOF
<config><user>nimbus</user><password>$CH_PASSWORD</password></config>
EOF
	chmod 600 "$CH_DIR/client.xml"
	CH_URL=http://127.0.0.1:$CH_HTTP_PORT
	CH_CREDENTIALS=$CH_DIR/credentials
	export CH_URL CH_DIR CH_HTTP_PORT CH_TCP_PORT CH_PASSWORD CH_CREDENTIALS
	ch_up || { ch_stop; return 1; }
}

ch_pid() {
	cat "$CH_DIR/clickhouse.pid" 2>/dev/null
}

ch_ping() {
	[ "$(curl -s --max-time 2 "$CH_URL/ping")" = Ok. ]
}

# Start the server of ch_start (again); it writes stdout and stderr in its cwd.
ch_up() {
	(cd "$CH_DIR" && clickhouse-server --config-file="$CH_DIR/config.xml" \
		--pid-file="$CH_DIR/clickhouse.pid" --daemon </dev/null >/dev/null 2>&1 3>&-) || return 1
	wait_for 600 ch_ping || { tail -n 20 "$CH_DIR/server.err.log" >&2; return 1; }
}

# Stop the server and wait until it is gone (killed after 30 s).
ch_down() {
	local pid i
	pid=$(ch_pid)
	[ -n "$pid" ] || return 0
	kill -CONT "$pid" 2>/dev/null || true
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$CH_DIR/clickhouse.pid"
}

# Stop the server and remove its directory; safe to call more than once.
ch_stop() {
	[ -n "${CH_DIR:-}" ] || return 0
	ch_down
	rm -rf "$CH_DIR"
	unset CH_DIR CH_URL
}

# ch_query SQL: run SQL as nimbus over HTTP, print the answer (TSV).
ch_query() {
	curl -sS --fail-with-body -H "@$CH_DIR/headers" --data-binary "$1" "$CH_URL/"
}

# ch_client ARG...: clickhouse-client as nimbus.
ch_client() {
	clickhouse-client --config-file "$CH_DIR/client.xml" --host 127.0.0.1 --port "$CH_TCP_PORT" "$@"
}

need_clickhouse() {
	[ -z "${CH_MISSING:-}" ] || require "$CH_MISSING"
	[ -n "${CH_URL:-}" ] || fail "ClickHouse was not started (ch_start in setup_file)"
}

# Point nimbus at the server, with a database of its own for this test.
use_clickhouse() {
	need_clickhouse
	export NIMBUS_LOGS_CLICKHOUSE_URL=$CH_URL
	export NIMBUS_LOGS_CLICKHOUSE_CREDENTIALS_FILE=$CH_CREDENTIALS
	export NIMBUS_LOGS_CLICKHOUSE_DATABASE=t${BATS_TEST_NUMBER:-0}_$RANDOM
}
