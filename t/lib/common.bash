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
# free_port, wait_for: shared with the scripts in t/perf
. "${BASH_SOURCE[0]%/*}/shell.bash"

nimbus() {
	"$NIMBUS" "$@"
}

# Fresh environment for one test: no NIMBUS_* from the caller.
common_setup() {
	local v
	for v in $(env | sed -n 's/^\(NIMBUS_[A-Z0-9_]*\)=.*/\1/p'); do
		case $v in NIMBUS_BIN|NIMBUS_BUILD|NIMBUS_SRC|NIMBUS_SERVE_USER) ;; *) unset "$v" ;; esac
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

# Assert that the last `run` exited with status $1.
assert_status() {
	[ "$status" -eq "$1" ] || {
		echo "expected exit $1, got $status; output:" >&2
		echo "$output" >&2
		return 1
	}
}

# The path of a public test vector file from ../shared/vectors (next to
# the checkout, as in CI); a missing one fails under CI=true.
vector_file() {
	local f=$NIMBUS_SRC/../shared/vectors/$1
	[ -f "$f" ] || require "test vectors $f are missing"
	echo "$f"
}
