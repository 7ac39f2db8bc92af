#!/usr/bin/env bash
# `nimbus cache serve` beside nginx serving the same files from disk, the
# same loopback load client against both in the same run: the GET of a
# 64 MiB object (MiB/s) and the rate of 4 KiB GETs (requests/s), each
# printed with the ratio nimbus/nginx (target >= 0.7). nimbus checks a
# token on every request and logs each one to a file; nginx does neither.
# A benchmark, not a test: it fails only when something does not start.
#
#   bash t/perf/cache.sh        (make perf runs it)
#   WRK_ARGS="-t2 -c64 -d10s" bash t/perf/cache.sh
set -eu

NIMBUS_SRC=${NIMBUS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NIMBUS=${NIMBUS_BIN:-$NIMBUS_SRC/nimbus}
. "$NIMBUS_SRC/t/lib/shell.bash"
WRK_ARGS=${WRK_ARGS:--t2 -c32 -d5s}
BIG_ARGS=${BIG_ARGS:--t1 -c2 -d5s}
TARGET=0.7

for c in wrk nginx curl; do
	command -v "$c" >/dev/null 2>&1 || { echo "cache: $c is not installed" >&2; exit 1; }
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

export HOME=$tmp/home NIMBUS_CONFIG=$tmp/nimbus.conf NIMBUS_CORE_STATE_DIR=$tmp/state \
	NIMBUS_CORE_RUN_DIR=$tmp/run
mkdir -p "$HOME" "$tmp/www"
: >"$NIMBUS_CONFIG"
"$NIMBUS" key rotate >/dev/null 2>&1
token=$("$NIMBUS" token mint --aud cache --scope pull:bench --scope push:bench)
printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$token" >"$tmp/auth.lua"

head -c $((64 << 20)) /dev/urandom >"$tmp/www/big"
head -c 4096 /dev/urandom >"$tmp/www/small"

nginx_port=$(free_port)
nginx_start "$tmp/nginx" "$nginx_port" "location /cache/bench/ { alias $tmp/www/; }"
pids="$pids $!"

nimbus_port=$(free_port)
"$NIMBUS" cache serve --listen "127.0.0.1:$nimbus_port" 2>"$tmp/nimbus.log" &
pids="$pids $!"

for port in $nginx_port $nimbus_port; do
	wait_for 50 curl -s -o /dev/null "http://127.0.0.1:$port/healthz" || {
		echo "cache: nothing answers on port $port" >&2
		cat "$tmp/nginx/stderr" "$tmp/nimbus.log" >&2
		exit 1
	}
done
for f in big small; do
	curl -sf -H "Authorization: Bearer $token" -T "$tmp/www/$f" \
		"http://127.0.0.1:$nimbus_port/cache/bench/$f" || {
		echo "cache: the upload of $f failed" >&2
		exit 1
	}
done

# One wrk run: requests/s, or transfer in MiB/s with "mib".
measure() {
	wrk $1 -s "$tmp/auth.lua" "$2" >"$tmp/wrk.out" 2>&1
	if [ "${3:-}" = mib ]; then
		awk '/^Transfer\/sec:/ { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v);
			f = u == "GB" ? 1024 : u == "MB" ? 1 : u == "KB" ? 1 / 1024 : 1 / 1048576;
			printf "%d", v * f }' "$tmp/wrk.out"
	else
		awk '/^Requests\/sec:/ { printf "%d", $2 }' "$tmp/wrk.out"
	fi
}

nginx_big=$(measure "$BIG_ARGS" "http://127.0.0.1:$nginx_port/cache/bench/big" mib)
nimbus_big=$(measure "$BIG_ARGS" "http://127.0.0.1:$nimbus_port/cache/bench/big" mib)
nginx_small=$(measure "$WRK_ARGS" "http://127.0.0.1:$nginx_port/cache/bench/small")
nimbus_small=$(measure "$WRK_ARGS" "http://127.0.0.1:$nimbus_port/cache/bench/small")
for v in "$nginx_big" "$nimbus_big" "$nginx_small" "$nimbus_small"; do
	[ -n "$v" ] && [ "$v" -gt 0 ] || {
		echo "cache: wrk did not report a figure" >&2
		cat "$tmp/wrk.out" >&2
		exit 1
	}
done

ratio() {
	awk -v a="$1" -v b="$2" -v t="$TARGET" \
		'BEGIN { printf "  ratio nimbus/nginx %.2f (target >= %s: %s)\n", a / b, t, (a / b >= t ? "met" : "NOT met") }'
}
echo "cache: on $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo " GET 64 MiB, wrk $BIG_ARGS"
printf '  %-34s %8d MiB/s\n' "nimbus cache serve" "$nimbus_big" "nginx (sendfile)" "$nginx_big"
ratio "$nimbus_big" "$nginx_big"
echo " GET 4 KiB, wrk $WRK_ARGS"
printf '  %-34s %8d requests/s\n' "nimbus cache serve" "$nimbus_small" "nginx (sendfile)" "$nginx_small"
ratio "$nimbus_small" "$nginx_small"
