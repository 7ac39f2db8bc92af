#!/usr/bin/env bash
# /healthz of `nimbus serve` beside nginx's static 204, the same loopback
# load client against both in the same run; prints both rates and the
# ratio nimbus/nginx. A benchmark, not a test: it fails only when
# something does not start.
#
#   bash t/perf/serve-healthz.sh        (make perf runs it)
#   WRK_ARGS="-t2 -c64 -d10s" bash t/perf/serve-healthz.sh
set -eu

NIMBUS_SRC=${NIMBUS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NIMBUS=${NIMBUS_BIN:-$NIMBUS_SRC/nimbus}
. "$NIMBUS_SRC/t/lib/shell.bash"
WRK_ARGS=${WRK_ARGS:--t2 -c64 -d5s}
TARGET=10000

for c in wrk nginx curl; do
	command -v "$c" >/dev/null 2>&1 || { echo "serve-healthz: $c is not installed" >&2; exit 1; }
done

tmp=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

# Requests per second of one wrk run.
rate() {
	wrk $WRK_ARGS "$1" >"$tmp/wrk.out" 2>&1
	awk '/^Requests\/sec:/ { printf "%d", $2 }' "$tmp/wrk.out"
}

nginx_port=$(free_port)
nginx_start "$tmp/nginx" "$nginx_port" 'location = /healthz { return 204; }'
pids="$pids $!"

nimbus_port=$(free_port)
# the access log stays on, written to a file as journald would take it
"$NIMBUS" serve --listen "127.0.0.1:$nimbus_port" 2>"$tmp/nimbus.log" &
pids="$pids $!"

for port in $nginx_port $nimbus_port; do
	wait_for 50 curl -s -o /dev/null "http://127.0.0.1:$port/healthz" || {
		echo "serve-healthz: nothing answers on port $port" >&2
		cat "$tmp/nginx/stderr" "$tmp/nimbus.log" >&2
		exit 1
	}
done

nginx_rate=$(rate "http://127.0.0.1:$nginx_port/healthz")
nimbus_rate=$(rate "http://127.0.0.1:$nimbus_port/healthz")
[ -n "$nginx_rate" ] && [ -n "$nimbus_rate" ] && [ "$nginx_rate" -gt 0 ] || {
	echo "serve-healthz: wrk did not report a rate" >&2
	cat "$tmp/wrk.out" >&2
	exit 1
}

echo "serve-healthz: wrk $WRK_ARGS on $(nproc) CPUs"
printf '  %-32s %8d requests/s\n' "nimbus serve GET /healthz (200)" "$nimbus_rate" \
	"nginx return 204" "$nginx_rate"
awk -v a="$nimbus_rate" -v b="$nginx_rate" 'BEGIN { printf "  ratio nimbus/nginx %.2f\n", a / b }'
if [ "$nimbus_rate" -ge "$TARGET" ]; then
	echo "  target >= $TARGET requests/s: met"
else
	echo "  target >= $TARGET requests/s: NOT met"
fi
