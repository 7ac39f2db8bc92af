# Real services for the tests: `load lib/services` after lib/common.
#
# PostgreSQL and Redis run on free ports of 127.0.0.1, each in its own
# temporary directory. Start them once per file and always stop them:
#
#	setup_file() { services_start; }
#	teardown_file() { services_stop; }
#
# (or pg_start and redis_start "$(random_secret)" for one of them).
#
# A service whose binaries are missing is not started; the tests that
# need it call need_pg / need_redis, which fail under CI=true and skip
# elsewhere (`require`). for_each_store and for_each_kv run a test body
# once per driver.

PG_BINDIR=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

random_secret() {
	printf 'pw-%s\n' "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
}

# PostgreSQL refuses to run as root: the cluster belongs to nobody then.
_pg_owner_run() {
	if [ "$(id -u)" = 0 ]; then
		(cd "$PG_DIR" && runuser -u nobody -- "$@")
	else
		(cd "$PG_DIR" && "$@")
	fi
}

# Start a cluster (superuser nimbus, scram password, database nimbus).
# Exports PG_URL, PG_HOST, PG_PORT, PG_PASSWORD.
pg_start() {
	PG_MISSING=
	if [ ! -x "$PG_BINDIR/initdb" ] || [ ! -x "$PG_BINDIR/psql" ]; then
		PG_MISSING="PostgreSQL (initdb, psql) is not installed"
		return 0
	fi
	# In /tmp itself: nobody must reach it, whatever TMPDIR is.
	PG_DIR=$(mktemp -d /tmp/nimbus-pg.XXXXXX)
	PG_HOST=127.0.0.1
	PG_PORT=$(free_port)
	PG_PASSWORD=$(random_secret)
	printf '%s\n' "$PG_PASSWORD" > "$PG_DIR/pwfile"
	[ "$(id -u)" != 0 ] || chown -R nobody: "$PG_DIR"
	if ! _pg_owner_run "$PG_BINDIR/initdb" -D "$PG_DIR/data" -U nimbus --pwfile="$PG_DIR/pwfile" \
		--auth=scram-sha-256 --encoding=UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1; then
		cat "$PG_DIR/initdb.log" >&2
		pg_stop
		return 1
	fi
	rm -f "$PG_DIR/pwfile"
	pg_up || { pg_stop; return 1; }
	pg_psql postgres "CREATE DATABASE nimbus" || { pg_stop; return 1; }
	PG_URL=postgres://nimbus:$PG_PASSWORD@$PG_HOST:$PG_PORT/nimbus
	export PG_URL PG_HOST PG_PORT PG_PASSWORD PG_DIR
}

# Start the cluster of pg_start again (after pg_down), on the same port.
pg_up() {
	_pg_owner_run "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
		-o "-c listen_addresses=$PG_HOST -c port=$PG_PORT -c unix_socket_directories=$PG_DIR \
		    -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
		    -c max_connections=100" \
		start >/dev/null 3>&- || { tail -n 20 "$PG_DIR/server.log" >&2; return 1; }
}

# Stop the server, keeping the cluster (outage tests).
pg_down() {
	kill -CONT "$(pg_pid)" 2>/dev/null
	_pg_owner_run "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null
}

# The postmaster's pid (for SIGSTOP: a server that accepts and never answers).
pg_pid() {
	head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null
}

# Stop the server and remove the cluster; safe to call more than once.
pg_stop() {
	[ -n "${PG_DIR:-}" ] || return 0
	if [ -f "$PG_DIR/data/postmaster.pid" ]; then
		kill -CONT "$(pg_pid)" 2>/dev/null
		_pg_owner_run "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 60 stop \
			>/dev/null 2>&1
	fi
	rm -rf "$PG_DIR"
	unset PG_DIR PG_URL
}

# pg_psql DB SQL: run SQL as nimbus in database DB.
pg_psql() {
	PGPASSWORD=$PG_PASSWORD "$PG_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
		-h "$PG_HOST" -p "$PG_PORT" -U nimbus -d "$1" -c "$2"
}

# A new, empty database; prints its name.
pg_createdb() {
	local db=t${BATS_TEST_NUMBER:-0}_$RANDOM$RANDOM
	pg_psql postgres "CREATE DATABASE $db" && echo "$db"
}

need_pg() {
	[ -z "${PG_MISSING:-}" ] || require "$PG_MISSING"
	[ -n "${PG_URL:-}" ] || fail "PostgreSQL was not started (pg_start in setup_file)"
}

# Start Redis without persistence, with an optional password.
# Exports REDIS_URL, REDIS_PORT, REDIS_PASSWORD.
redis_start() {
	REDIS_MISSING=
	if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
		REDIS_MISSING="redis-server is not installed"
		return 0
	fi
	REDIS_DIR=$(mktemp -d /tmp/nimbus-redis.XXXXXX)
	REDIS_PORT=$(free_port)
	REDIS_PASSWORD=${1-}
	# The password goes in the file, not in argv.
	{
		echo "bind 127.0.0.1"
		echo "port $REDIS_PORT"
		echo 'save ""'
		echo "appendonly no"
		echo "daemonize yes"
		echo "dir $REDIS_DIR"
		echo "pidfile $REDIS_DIR/redis.pid"
		echo "logfile $REDIS_DIR/redis.log"
		[ -z "$REDIS_PASSWORD" ] || echo "requirepass $REDIS_PASSWORD"
	} > "$REDIS_DIR/redis.conf"
	redis_up || { redis_stop; return 1; }
	REDIS_URL=redis://${REDIS_PASSWORD:+:$REDIS_PASSWORD@}127.0.0.1:$REDIS_PORT
	export REDIS_URL REDIS_PORT REDIS_PASSWORD REDIS_DIR
}

redis_cli() {
	REDISCLI_AUTH=$REDIS_PASSWORD redis-cli --no-auth-warning -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

redis_up() {
	redis-server "$REDIS_DIR/redis.conf" </dev/null >/dev/null 2>&1 3>&- || return 1
	wait_for 100 redis_ping || { tail -n 20 "$REDIS_DIR/redis.log" >&2; return 1; }
}

redis_ping() {
	[ "$(redis_cli ping 2>/dev/null)" = PONG ]
}

redis_pid() {
	cat "$REDIS_DIR/redis.pid" 2>/dev/null
}

# Stop the server and wait until it is gone.
redis_down() {
	local pid i
	pid=$(redis_pid)
	[ -n "$pid" ] || return 0
	kill -CONT "$pid" 2>/dev/null
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
}

redis_stop() {
	[ -n "${REDIS_DIR:-}" ] || return 0
	redis_down
	rm -rf "$REDIS_DIR"
	unset REDIS_DIR REDIS_URL
}

# Both, Redis with a password.
services_start() {
	pg_start
	redis_start "$(random_secret)"
}

services_stop() {
	redis_stop
	pg_stop
}

# The helpers that drive the kv and the leases straight through lib/.
kv_tool() {
	"$NIMBUS_BUILD/t/helpers/kv-tool" "$@"
}

lease_tool() {
	"$NIMBUS_BUILD/t/helpers/lease-tool" "$@"
}

need_redis() {
	[ -z "${REDIS_MISSING:-}" ] || require "$REDIS_MISSING"
	[ -n "${REDIS_URL:-}" ] || fail "Redis was not started (redis_start in setup_file)"
}

# for_each_store FUNC [ARG]...: run FUNC with NIMBUS_STORE_URL on a new
# SQLite file, then on a new PostgreSQL database. STORE_DRIVER names the
# driver; it is printed first, so that a failure says which one failed.
# FUNC runs in this shell: an assertion that fails in it fails the test.
for_each_store() {
	_store_sqlite
	echo "# store driver: sqlite"
	"$@"
	_store_postgres
	echo "# store driver: postgres"
	"$@"
}

_store_sqlite() {
	STORE_DRIVER=sqlite
	STORE_DIR=$(mktemp -d "$BATS_TEST_TMPDIR/store.XXXXXX")
	NIMBUS_STORE_URL=sqlite:$STORE_DIR/nimbus.db
	export STORE_DRIVER NIMBUS_STORE_URL
}

_store_postgres() {
	need_pg
	STORE_DRIVER=postgres
	PG_DB=$(pg_createdb)
	NIMBUS_STORE_URL=postgres://nimbus:$PG_PASSWORD@$PG_HOST:$PG_PORT/$PG_DB
	export STORE_DRIVER NIMBUS_STORE_URL PG_DB
}

# for_each_kv FUNC [ARG]...: as for_each_store, and once more on Redis
# (emptied first) with KV_DRIVER=redis, and a new PostgreSQL database.
for_each_kv() {
	unset NIMBUS_REDIS_URL
	KV_DRIVER=store
	export KV_DRIVER
	for_each_store "$@"
	need_redis
	redis_cli flushall >/dev/null
	_store_postgres
	KV_DRIVER=redis
	NIMBUS_REDIS_URL=$REDIS_URL
	export NIMBUS_REDIS_URL
	echo "# kv driver: redis"
	"$@"
}

# store_sql SQL: run SQL on the store of NIMBUS_STORE_URL, one row a line.
store_sql() {
	command -v sqlite3 >/dev/null || require "sqlite3 is not installed"
	case $STORE_DRIVER in
	sqlite) sqlite3 -bail "${NIMBUS_STORE_URL#sqlite:}" "$1" ;;
	postgres) pg_psql "$PG_DB" "$1" ;;
	esac
}

# The schema and the migration records of the store, for comparisons.
store_dump() {
	case $STORE_DRIVER in
	sqlite) sqlite3 -bail "${NIMBUS_STORE_URL#sqlite:}" .schema ;;
	# Without the random \restrict keys of newer pg_dumps.
	postgres) PGPASSWORD=$PG_PASSWORD "$PG_BINDIR/pg_dump" --schema-only -h "$PG_HOST" \
		-p "$PG_PORT" -U nimbus "$PG_DB" | grep -v '^\\\(un\)\{0,1\}restrict ' ;;
	esac
	store_sql "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
}
