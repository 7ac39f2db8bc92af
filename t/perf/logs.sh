#!/usr/bin/env bash
# Lines per second into ClickHouse: through nimbus (nimbus logs ingest
# -> nimbus logs serve -> spool -> INSERT ... FORMAT JSONEachRow), from
# the first byte sent until the last line is in the table, beside
# clickhouse-client inserting the same rows as JSONEachRow straight into
# a table of the same schema, in the same run against the same server.
# They take turns, LOGS_PERF_RUNS rounds, and each one's best counts.
# Prints both rates and the ratio nimbus/clickhouse-client (target
# >= 0.7). Not a test: it fails only when something does not start or
# a line goes missing.
#
#   bash t/perf/logs.sh                  (make perf runs it)
#   LOGS_PERF_LINES=2000000 bash t/perf/logs.sh
set -euo pipefail

NIMBUS_SRC=${NIMBUS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NIMBUS=${NIMBUS_BIN:-$NIMBUS_SRC/nimbus}
N=${LOGS_PERF_LINES:-1000000}
runs=${LOGS_PERF_RUNS:-3}
TARGET=0.7
. "$NIMBUS_SRC/t/lib/shell.bash"
. "$NIMBUS_SRC/t/lib/clickhouse.bash"

for c in clickhouse-server clickhouse-client curl jq; do
	command -v "$c" >/dev/null 2>&1 || { echo "logs: $c is not installed" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-perf-logs-XXXXXX")
serve_pid=
cleanup() {
	[ -z "$serve_pid" ] || { kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; } || true
	ch_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

export HOME=$tmp/home NIMBUS_CONFIG=$tmp/nimbus.conf NIMBUS_CORE_STATE_DIR=$tmp/state
export NIMBUS_CORE_RUN_DIR=$tmp/run
mkdir -p "$HOME"
: > "$NIMBUS_CONFIG"
ch_start
port=$(free_port)
export NIMBUS_LOGS_URL=http://127.0.0.1:$port NIMBUS_LOGS_CLICKHOUSE_URL=$CH_URL
export NIMBUS_LOGS_CLICKHOUSE_CREDENTIALS_FILE=$CH_CREDENTIALS NIMBUS_LOGS_CLICKHOUSE_DATABASE=bench
"$NIMBUS" key rotate >/dev/null
"$NIMBUS" token mint --ttl 3600 --aud logs --scope push:acme --repo acme/widgets --job 4242 \
	--runner r-acme > "$tmp/token"
chmod 600 "$tmp/token"

# the lines of a build, and the rows nimbus makes of them, for clickhouse-client
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++)
	printf "step %d: compiling src/module_%d.c with -O2 -Wall, %d warnings\n", i % 40, i, i % 3 }' \
	> "$tmp/lines"
ts=$(date +%s)
awk -v ts="$ts" '{ printf "{\"org_id\":\"acme\",\"repo_id\":\"acme/widgets\",\"job_id\":\"4242\",\"runner_id\":\"r-acme\",\"ts\":%d,\"seq\":%d,\"stream\":\"stdout\",\"line\":\"%s\"}\n", ts, NR - 1, $0 }' \
	"$tmp/lines" > "$tmp/rows"
cat "$tmp/lines" "$tmp/rows" > /dev/null

"$NIMBUS" logs migrate 2>/dev/null
"$NIMBUS" logs schema --clickhouse | sed 's/`bench`/`direct`/' | ch_client --multiquery
"$NIMBUS" logs serve --listen "127.0.0.1:$port" 2>"$tmp/serve.log" &
serve_pid=$!
wait_for 100 curl -sf "http://127.0.0.1:$port/healthz" || { cat "$tmp/serve.log" >&2; exit 1; }

now() {
	date +%s.%N
}

count() {
	ch_query "SELECT count() FROM $1.logs"
}

# seconds from the first line sent to the last one stored
through_nimbus() {
	local t0 i
	ch_query "TRUNCATE TABLE bench.logs"
	t0=$(now)
	"$NIMBUS" logs ingest --job 4242 --token-file "$tmp/token" < "$tmp/lines" >/dev/null
	for ((i = 0; i < 6000; i++)); do
		[ "$(count bench)" = "$N" ] && break
		sleep 0.02
	done
	[ "$(count bench)" = "$N" ] || { echo "logs: nimbus stored $(count bench) lines of $N" >&2; exit 1; }
	awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'
}

direct() {
	local t0
	ch_query "TRUNCATE TABLE direct.logs"
	t0=$(now)
	ch_client --query "INSERT INTO direct.logs FORMAT JSONEachRow" < "$tmp/rows"
	[ "$(count direct)" = "$N" ] || { echo "logs: clickhouse-client stored $(count direct) of $N" >&2; exit 1; }
	awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'
}

best_nimbus=
best_direct=
for ((r = 0; r < runs; r++)); do
	t=$(through_nimbus)
	best_nimbus=$(awk -v a="$t" -v b="${best_nimbus:-1e9}" 'BEGIN { print (a < b ? a : b) }')
	t=$(direct)
	best_direct=$(awk -v a="$t" -v b="${best_direct:-1e9}" 'BEGIN { print (a < b ? a : b) }')
done

echo "logs: $N lines into ClickHouse $(ch_query 'SELECT version()'), best of $runs, on $(nproc) CPUs (load $(cut -d' ' -f1 /proc/loadavg))"
awk -v n="$N" -v a="$best_nimbus" -v b="$best_direct" -v target="$TARGET" 'BEGIN {
	printf "  %-44s %10d lines/s (%.2f s)\n", "nimbus logs ingest -> serve -> ClickHouse", n / a, a
	printf "  %-44s %10d lines/s (%.2f s)\n", "clickhouse-client INSERT FORMAT JSONEachRow", n / b, b
	printf "  ratio nimbus/clickhouse-client %.2f (target >= %.1f: %s)\n", b / a, target,
		(b / a >= target) ? "met" : "NOT met"
}'
