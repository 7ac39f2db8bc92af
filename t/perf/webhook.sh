#!/usr/bin/env bash
# Verified, distinct webhooks per second through `nimbus serve`, with
# Redis as the nonce store, beside GET /healthz of the same server, both
# driven by the same loopback load client (wrk with t/perf/webhook.lua)
# in the same run. Each delivery is fresh and validly signed, generated
# ahead by t/helpers/webhook-gen; the rate limit is set out of the way.
# Two kinds: in_progress (checked, limited, claimed, then ignored: 204)
# and queued (the same, and a job added to the store and the Redis
# queue: 202). Prints the rates and their ratios to /healthz; the target
# is 5,000 verified webhooks per second on 2 cores.
#
#   bash t/perf/webhook.sh        (make perf runs it)
#   WRK_ARGS="-t2 -c32 -d10s" bash t/perf/webhook.sh
set -euo pipefail
: "${NIMBUS_BUILD:?}" "${NIMBUS_SRC:?}"
NIMBUS=${NIMBUS_BIN:-$NIMBUS_SRC/nimbus}
WRK_ARGS=${WRK_ARGS:--t2 -c32 -d5s}
# enough deliveries for the run at twice the target's rate
N=${WEBHOOK_BENCH_N:-100000}
TARGET=5000
# shellcheck source=../lib/shell.bash
. "$NIMBUS_SRC/t/lib/shell.bash"

for c in wrk redis-server redis-cli curl; do
	command -v "$c" >/dev/null 2>&1 || { echo "webhook.sh: $c is not installed" >&2; exit 1; }
done
threads=$(sed -n 's/.*-t *\([0-9]*\).*/\1/p' <<< "$WRK_ARGS")

tmp=$(mktemp -d)
pids=()
cleanup() {
	[ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
	>/dev/null 2>&1 &
pids+=($!)
wait_for 50 redis-cli -p "$rport" ping

printf 'bench-%s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" > "$tmp/secrets"
chmod 600 "$tmp/secrets"
export NIMBUS_CONFIG=$tmp/nimbus.conf
cat > "$NIMBUS_CONFIG" <<CONF
[core]
state_dir = $tmp/state
run_dir = $tmp/run
[redis]
url = redis://127.0.0.1:$rport
[webhook]
secret_file = $tmp/secrets
[ratelimit]
webhook = 100000000/s
webhook_burst = 1000000000
CONF

port=$(free_port)
# the access log stays on, written to a file as journald would take it
"$NIMBUS" serve --listen "127.0.0.1:$port" 2>"$tmp/nimbus.log" &
pids+=($!)
wait_for 100 curl -sf "http://127.0.0.1:$port/healthz" || {
	echo "webhook.sh: nimbus serve did not start" >&2
	cat "$tmp/nimbus.log" >&2
	exit 1
}

# run NAME ARGS...: wrk with webhook.lua; "STATUS COUNT" and "seconds S" lines in $tmp/NAME
run() {
	local name=$1
	shift
	# shellcheck disable=SC2086
	wrk $WRK_ARGS -s "$NIMBUS_SRC/t/perf/webhook.lua" "http://127.0.0.1:$port/" -- "$@" \
		> "$tmp/$name.wrk" 2>&1
	sed -n '/^[0-9]* [0-9]*$/p; /^seconds /p' "$tmp/$name.wrk" > "$tmp/$name"
}

# rate NAME STATUS: answers of STATUS per second
rate() {
	awk -v s="$2" '$1 == s { n = $2 } $1 == "seconds" { t = $2 }
		END { printf "%d", (t > 0 ? n / t : 0) }' "$tmp/$1"
}

# other NAME STATUS: the answers of other statuses, as "STATUS xCOUNT ...", or "none"
other() {
	awk -v s="$2" '$1 != s && $1 != "seconds" { o = o sprintf(" %s x%d", $1, $2) }
		END { print o == "" ? "none" : substr(o, 2) }' "$tmp/$1"
}

run healthz healthz
for action in in_progress queued; do
	"$NIMBUS_BUILD/t/helpers/webhook-gen" "$tmp/secrets" "$N" "$action" > "$tmp/$action.txt"
	run "$action" "$tmp/$action.txt" "$threads"
done

healthz=$(rate healthz 200)
ignored=$(rate in_progress 204)
queued=$(rate queued 202)
[ "$healthz" -gt 0 ] || { echo "webhook.sh: no rate for /healthz" >&2; cat "$tmp/healthz.wrk" >&2; exit 1; }
echo "webhook: wrk $WRK_ARGS on $(nproc) CPUs, nonces in Redis, bodies of $(head -n 1 \
	"$tmp/queued.txt" | cut -f3 | wc -c) bytes"
printf '  %-44s %8d requests/s\n' "GET /healthz (200)" "$healthz"
printf '  %-44s %8d webhooks/s  ratio %.2f  (other answers: %s)\n' \
	"POST /webhook in_progress, verified (204)" "$ignored" "$(awk -v a="$ignored" \
	-v b="$healthz" 'BEGIN { print a / b }')" "$(other in_progress 204)"
printf '  %-44s %8d webhooks/s  ratio %.2f  (other answers: %s)\n' \
	"POST /webhook queued, verified and queued (202)" "$queued" "$(awk -v a="$queued" \
	-v b="$healthz" 'BEGIN { print a / b }')" "$(other queued 202)"
for r in "$ignored" "$queued"; do
	[ "$r" -ge "$TARGET" ] && verdict=met || verdict="NOT met"
	echo "  target >= $TARGET verified webhooks/s at $r: $verdict"
done
echo "  load: $(cut -d' ' -f1-3 /proc/loadavg)"
