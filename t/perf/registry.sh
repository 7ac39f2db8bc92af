#!/usr/bin/env bash
# The registry beside Debian's docker-registry (distribution 2.8, the
# filesystem driver), both on loopback on this machine, in the same run:
# pushing a 100 MiB blob (POST, then PUT with the body), pulling it, and
# GETs of a small blob per second. nimbus checks a bearer token on every
# request and keeps its metadata in SQLite; docker-registry runs without
# auth, with the in-memory blob descriptor cache of Debian's default
# configuration. Both write their access logs to a file. Prints the figures and
# the ratios nimbus/docker-registry, of the best of several runs taken in
# turns; the targets are push >= 1.0, pull and small GETs >= 1.5. A benchmark, not a test: it fails only when
# something does not start or a transfer fails.
#
# Pulls are timed with two clients. curl copies every byte to user space,
# and on loopback that copy is the bottleneck: nginx with sendfile off,
# the fastest server for a copying client, serves it only 1.1-1.2x
# faster than docker-registry (its row below). t/helpers/http-sink splices
# the body to /dev/null, so that its clock measures the server.
#
#   bash t/perf/registry.sh        (make perf runs it)
#   RUNS=5 WRK_ARGS="-t2 -c64 -d10s" bash t/perf/registry.sh
set -euo pipefail

NIMBUS_SRC=${NIMBUS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NIMBUS=${NIMBUS_BIN:-$NIMBUS_SRC/nimbus}
SINK=${NIMBUS_BUILD:-$NIMBUS_SRC/build}/t/helpers/http-sink
. "$NIMBUS_SRC/t/lib/shell.bash"
RUNS=${RUNS:-5}
WRK_ARGS=${WRK_ARGS:--t2 -c32 -d5s}
MIB=100

[ -x "$SINK" ] || { echo "registry: build $SINK first (make perf does)" >&2; exit 1; }
for c in docker-registry nginx wrk curl jq; do
	command -v "$c" >/dev/null 2>&1 || { echo "registry: $c is not installed" >&2; exit 1; }
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

export NIMBUS_CONFIG=$tmp/nimbus.conf NIMBUS_CORE_STATE_DIR=$tmp/state NIMBUS_CORE_RUN_DIR=$tmp/run
export NIMBUS_KEYS_DIR=$tmp/keys NIMBUS_KEYS_ACTIVATE_AFTER=0
: > "$NIMBUS_CONFIG"
"$NIMBUS" -q key rotate >/dev/null
token=$("$NIMBUS" token mint --aud registry --scope pull:acme --scope push:acme --ttl 3600)

nimbus_port=$(free_port)
"$NIMBUS" registry serve --listen "127.0.0.1:$nimbus_port" 2>"$tmp/nimbus.log" &
pids="$pids $!"
declare -A pid
pid[nimbus]=$!

dr_port=$(free_port)
mkdir -p "$tmp/dr"
cat > "$tmp/dr/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $tmp/dr/data
http:
  addr: 127.0.0.1:$dr_port
EOF
docker-registry serve "$tmp/dr/config.yml" >"$tmp/dr/access.log" 2>"$tmp/dr/log" &
pids="$pids $!"
pid[docker-registry]=$!

# The ceiling for a copying client: nginx without sendfile serves each run's blob.
big=$tmp/big
nginx_port=$(free_port)
nginx_start "$tmp/nginx" "$nginx_port" "sendfile off; location = /big { alias $big; }"
pids="$pids $!"

wait_for 100 curl -sf "http://127.0.0.1:$nimbus_port/healthz" &&
wait_for 100 curl -sf -o /dev/null "http://127.0.0.1:$dr_port/v2/" &&
wait_for 100 curl -s -o /dev/null "http://127.0.0.1:$nginx_port/" || {
	echo "registry: a server does not answer" >&2
	cat "$tmp/nimbus.log" "$tmp/dr/log" "$tmp/nginx/stderr" >&2
	exit 1
}

# registry NAME: the base URL and curl's auth arguments of one of the two
base() {
	case $1 in
	nimbus) echo "http://127.0.0.1:$nimbus_port" ;;
	docker-registry) echo "http://127.0.0.1:$dr_port" ;;
	esac
}

auth() {
	[ "$1" = nimbus ] && printf '%s\n' -H "Authorization: Bearer $token"
	return 0
}

# Seconds to push file $2 to registry $1 as a blob: POST, then PUT with the body.
push() {
	local url loc digest args
	url=$(base "$1")
	mapfile -t args < <(auth "$1")
	digest=sha256:$(sha256sum "$2" | cut -d' ' -f1)
	loc=$(curl -sf -X POST "${args[@]}" -D - -o /dev/null "$url/v2/acme/bench/blobs/uploads/" |
		sed -n 's/^Location: \(.*\)\r$/\1/Ip')
	case $loc in http*) ;; *) loc=$url$loc ;; esac
	case $loc in *\?*) loc="$loc&digest=$digest" ;; *) loc="$loc?digest=$digest" ;; esac
	curl -sf -X PUT "${args[@]}" -H 'Content-Type: application/octet-stream' -T "$2" \
		-o /dev/null -w '%{time_total}\n' "$loc"
}

# Clock ticks of CPU a process has had, its threads gone included.
cpu_ticks() {
	awk '{ print $14 + $15 }' /proc/"$1"/stat
}

# Pull blob $2 from registry $1 with curl, then three times with
# http-sink: the seconds each took, and the server's CPU ticks for them.
# On two CPUs the scheduler often puts a loopback client on its server's
# CPU, which doubles a pull's time; the best of several is the other case.
pull() {
	local args before url
	mapfile -t args < <(auth "$1")
	url=$(base "$1")/v2/acme/bench/blobs/$2
	before=$(cpu_ticks "${pid[$1]}")
	curl -sf "${args[@]}" -o /dev/null -w '%{time_total}\n' "$url" >> "$tmp/pull.$1"
	for _ in 1 2 3; do
		"$SINK" "${args[@]}" "$url" >> "$tmp/sink.$1"
	done
	echo "$(($(cpu_ticks "${pid[$1]}") - before))" >> "$tmp/pullcpu.$1"
}

# The best of a file of figures: the least time, or the highest rate.
least() {
	sort -g | head -n 1
}

most() {
	sort -g | tail -n 1
}

# The two take turns, so that the load of the machine falls on both alike.
for ((i = 0; i < RUNS; i++)); do
	head -c $((MIB << 20)) /dev/urandom > "$big"
	digest=sha256:$(sha256sum "$big" | cut -d' ' -f1)
	for r in nimbus docker-registry; do
		push "$r" "$big" >> "$tmp/push.$r"
	done
	sync # no writeback of the pushes under the pulls
	for r in nimbus docker-registry; do
		pull "$r" "$digest"
	done
	curl -sf -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$nginx_port/big" >> "$tmp/pull.nginx"
done

head -c 1024 /dev/urandom > "$tmp/small"
small=sha256:$(sha256sum "$tmp/small" | cut -d' ' -f1)
for r in nimbus docker-registry; do
	push "$r" "$tmp/small" > /dev/null
done
for ((i = 0; i < 2; i++)); do
	for r in nimbus docker-registry; do
		mapfile -t args < <(auth "$r")
		# shellcheck disable=SC2086
		wrk $WRK_ARGS "${args[@]}" "$(base "$r")/v2/acme/bench/blobs/$small" > "$tmp/wrk.$r" 2>&1
		if grep -q 'Non-2xx' "$tmp/wrk.$r"; then
			echo "registry: $r answered errors" >&2
			cat "$tmp/wrk.$r" >&2
			exit 1
		fi
		awk '/^Requests\/sec:/ { printf "%d\n", $2 }' "$tmp/wrk.$r" >> "$tmp/gets.$r"
	done
done

declare -A push_s pull_s sink_s pull_cpu gets
for r in nimbus docker-registry; do
	push_s[$r]=$(least < "$tmp/push.$r")
	sink_s[$r]=$(least < "$tmp/sink.$r")
	# ticks are coarse: the CPU seconds a pull, over all of them
	pull_cpu[$r]=$(awk -v hz="$(getconf CLK_TCK)" '{ n += $1 } END { print n / hz / (4 * NR) }' "$tmp/pullcpu.$r")
	gets[$r]=$(most < "$tmp/gets.$r")
done
for r in nimbus docker-registry nginx; do
	pull_s[$r]=$(least < "$tmp/pull.$r")
done

mbs() {
	awk -v s="$1" -v m="$MIB" 'BEGIN { printf "%.0f", m / s }'
}

echo "registry: $MIB MiB blob, best of $RUNS; small GETs: 1 KiB blob, wrk $WRK_ARGS; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
row() {
	printf '  %-22s %11s %13s %11s %14s %13s\n' "$@"
}
row "MiB/s, or requests/s" push "pull (sink)" "pull (curl)" "pull/CPU s" "small GETs"
for r in nimbus docker-registry; do
	row "$r" "$(mbs "${push_s[$r]}")" "$(mbs "${sink_s[$r]}")" "$(mbs "${pull_s[$r]}")" \
		"$(mbs "${pull_cpu[$r]}")" "${gets[$r]}"
done
row "nginx, sendfile off" - - "$(mbs "${pull_s[nginx]}")" - -
awk -v pn="${push_s[nimbus]}" -v pd="${push_s[docker-registry]}" -v sn="${sink_s[nimbus]}" \
    -v sd="${sink_s[docker-registry]}" -v cn="${pull_cpu[nimbus]}" -v cd="${pull_cpu[docker-registry]}" \
    -v ln="${pull_s[nimbus]}" -v ld="${pull_s[docker-registry]}" -v lx="${pull_s[nginx]}" \
    -v gn="${gets[nimbus]}" -v gd="${gets[docker-registry]}" 'BEGIN {
	printf "  ratio nimbus/docker-registry: push %.2f (target >= 1.0); pull %.2f (>= 1.5), %.2f per server CPU second; small GETs %.2f (>= 1.5)\n",
		pd / pn, sd / sn, cd / cn, gn / gd
	printf "  pull through curl, bound by its copy: nimbus %.2f, nginx %.2f of docker-registry\n", ld / ln, ld / lx
}'
