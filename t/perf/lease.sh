#!/usr/bin/env bash
# Lease operations per second (acquire and release, alternating, one
# process per client) against PostgreSQL, beside pgbench running one
# single-statement UPDATE of a lease row per transaction on the same
# server with as many clients; then on SQLite. A lease operation should
# cost one round trip, like the bare UPDATE: the ratio should be near 1.
#
# Run by `make perf` (NIMBUS_BUILD, NIMBUS_SRC). Each figure is the best
# of LEASE_PERF_ROUNDS (3) measurements of LEASE_PERF_SECONDS (3), the
# two sides taking turns, so that load from elsewhere on the machine
# weighs on both alike.
set -euo pipefail

secs=${LEASE_PERF_SECONDS:-3}
rounds=${LEASE_PERF_ROUNDS:-3}
tool=$NIMBUS_BUILD/t/helpers/lease-tool
work=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-perf-lease.XXXXXX")

# What t/lib/services.bash needs from t/lib/common.bash, which needs bats.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# shellcheck source=../lib/services.bash
. "$NIMBUS_SRC/t/lib/services.bash"

cleanup() {
	pg_stop
	rm -rf "$work"
}
trap cleanup EXIT

: > "$work/nimbus.conf"
export NIMBUS_CONFIG=$work/nimbus.conf
pg_start
[ -z "$PG_MISSING" ] || { echo "lease: skipped: $PG_MISSING" >&2; exit 0; }

# clients N: lease operations per second of N lease-tool processes, summed.
clients() {
	local n=$1 i
	for ((i = 0; i < n; i++)); do
		"$tool" bench "bench-$i" "$secs" > "$work/ops.$i" &
	done
	wait
	cat "$work"/ops.* | awk '{ n += $1 } END { printf "%.0f\n", n }'
	rm -f "$work"/ops.*
}

# pgbench_tps N: transactions per second of pgbench with N clients, each
# updating its own lease row as an acquisition does: a new fence from
# the sequence, the holder and the times.
pgbench_tps() {
	PGPASSWORD=$PG_PASSWORD "$PG_BINDIR/pgbench" -n -M prepared -c "$1" -j "$1" -T "$secs" \
		-h "$PG_HOST" -p "$PG_PORT" -U nimbus -f "$work/update.sql" nimbus 2>/dev/null |
		sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' |
		awk '{ printf "%.0f\n", $1 }'
}

export NIMBUS_STORE_URL=$PG_URL
"$NIMBUS_BIN" db migrate >/dev/null
pg_psql nimbus "INSERT INTO leases (job, holder, fence, acquired_at, renewed_at, expires_at)
	SELECT 'pgbench-' || i, 'pgbench', nextval('lease_fences'), now(), now(), now()
	FROM generate_series(1, 8) i"
cat > "$work/update.sql" <<'SQL'
UPDATE leases SET holder = 'pgbench', fence = nextval('lease_fences'), acquired_at = statement_timestamp(), renewed_at = statement_timestamp(), expires_at = statement_timestamp() + interval '60 seconds', released_at = NULL WHERE job = 'pgbench-' || :client_id + 1;
SQL

max() {
	[ "$1" -gt "$2" ] && echo "$1" || echo "$2"
}

for n in 1 8; do
	ops=0 tps=0
	for ((r = 0; r < rounds; r++)); do
		ops=$(max "$ops" "$(clients "$n")")
		tps=$(max "$tps" "$(pgbench_tps "$n")")
	done
	awk -v n="$n" -v ops="$ops" -v tps="$tps" 'BEGIN {
		printf "lease on PostgreSQL, %d client(s): %d lease ops/s, pgbench UPDATE %d tps, ratio %.2f\n",
			n, ops, tps, ops / tps }'
done

# One host's store: one client (writers take turns for SQLite's lock).
export NIMBUS_STORE_URL=sqlite:$work/nimbus.db
echo "lease on SQLite, 1 client: $(clients 1) lease ops/s"
