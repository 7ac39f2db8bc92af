# Loaded by every bats file: `load lib/common`.
# Each test runs with its own HOME, state and run directories and an empty
# configuration file, so nothing on the host leaks in and nothing is left.

NIMBUS=${NIMBUS_BIN:-$BATS_TEST_DIRNAME/../nimbus}
NIMBUS_BUILD=${NIMBUS_BUILD:-$BATS_TEST_DIRNAME/../build}
NIMBUS_SRC=${NIMBUS_SRC:-$BATS_TEST_DIRNAME/..}
export NIMBUS NIMBUS_BUILD NIMBUS_SRC

bats_require_minimum_version 1.5.0

load /usr/lib/bats/bats-support/load.bash
load /usr/lib/bats/bats-assert/load.bash

nimbus() {
	"$NIMBUS" "$@"
}

# Fresh environment for one test: no NIMBUS_* from the caller.
common_setup() {
	local v
	for v in $(env | sed -n 's/^\(NIMBUS_[A-Z0-9_]*\)=.*/\1/p'); do
		case $v in NIMBUS_BIN|NIMBUS_BUILD|NIMBUS_SRC) ;; *) unset "$v" ;; esac
	done
	export HOME=$BATS_TEST_TMPDIR/home
	mkdir -p "$HOME"
	export NIMBUS_CONFIG=$BATS_TEST_TMPDIR/nimbus.conf
	: > "$NIMBUS_CONFIG"
	export NIMBUS_CORE_STATE_DIR=$BATS_TEST_TMPDIR/state
	export NIMBUS_CORE_RUN_DIR=$BATS_TEST_TMPDIR/run
}

setup() {
	common_setup
}

# A dependency that is missing fails under CI=true and skips elsewhere.
require() {
	if [ "${CI:-}" = true ]; then
		fail "required for this test: $*"
	fi
	skip "$*"
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || require "$c is not installed"
	done
}

require_root() {
	[ "$(id -u)" = 0 ] || skip "needs root"
}

# A free TCP port on 127.0.0.1, below the kernel's range of ephemeral
# ports: one there may be the local end of a client's connection, which
# no connection test sees, and a server could not bind it.
free_port() {
	local port low
	read -r low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
	[ "$low" -gt 11000 ] || low=32768
	while :; do
		port=$(( (RANDOM % (low - 10000)) + 10000 ))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
}

# Wait until a command succeeds, at most $1 tenths of a second.
wait_for() {
	local tenths=$1 i
	shift
	for ((i = 0; i < tenths; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# Assert that the last `run` exited with status $1.
assert_status() {
	[ "$status" -eq "$1" ] || {
		echo "expected exit $1, got $status; output:" >&2
		echo "$output" >&2
		return 1
	}
}
