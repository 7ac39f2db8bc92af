#!/usr/bin/env bash
# What the GitHub client costs per request over a bare libcurl request,
# against the GitHub double on loopback: the breaker asked before and
# told after each request (in the store: SQLite, PostgreSQL when there
# is one; in Redis when there is one) and the token found in memory.
# t/helpers/github-bench makes both kinds of request in one process;
# printed: requests per second of each and their ratio.
set -euo pipefail
: "${NIMBUS_BUILD:?}" "${NIMBUS_SRC:?}"
N=${GITHUB_BENCH_N:-2000}
# shellcheck source=../lib/shell.bash
. "$NIMBUS_SRC/t/lib/shell.bash"
tmp=$(mktemp -d)
pids=()
cleanup() {
	[ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/app.pem" 2>/dev/null
chmod 600 "$tmp/app.pem"
openssl pkey -in "$tmp/app.pem" -pubout -out "$tmp/app.pub"
port=$(free_port)
"$NIMBUS_BUILD/t/helpers/github-double" --listen "127.0.0.1:$port" --app-id 1 \
	--public-key "$tmp/app.pub" --installation 7 --org acme 2>/dev/null &
pids+=($!)
wait_for 100 curl -sf "http://127.0.0.1:$port/_double/counts"
curl -sf -X POST "http://127.0.0.1:$port/_double/runner?scope=acme&name=nimbus-00000001" >/dev/null

export NIMBUS_CONFIG=$tmp/nimbus.conf NIMBUS_GITHUB_API_URL=http://127.0.0.1:$port
export NIMBUS_GITHUB_APP_ID=1 NIMBUS_GITHUB_PRIVATE_KEY_FILE=$tmp/app.pem NIMBUS_GITHUB_INSTALLATION_ID=7
: > "$NIMBUS_CONFIG"

run() {
	local kv=$1 rates
	rates=$("$NIMBUS_BUILD/t/helpers/github-bench" "$N")
	awk -v kv="$kv" '{ printf "%-10s %10d %10d %7.2f\n", kv, $1, $2, $1 / $2 }' <<<"$rates"
}

printf '%-10s %10s %10s %7s\n' breaker client_rps curl_rps ratio
NIMBUS_STORE_URL=sqlite:$tmp/nimbus.db run sqlite
if command -v redis-server >/dev/null; then
	rport=$(free_port)
	redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
		--daemonize no >/dev/null 2>&1 &
	pids+=($!)
	wait_for 50 redis-cli -p "$rport" ping
	NIMBUS_STORE_URL=sqlite:$tmp/nimbus.db NIMBUS_REDIS_URL=redis://127.0.0.1:$rport run redis
fi
echo "ratio: requests per second through lib/github over bare libcurl (loopback, one connection)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
