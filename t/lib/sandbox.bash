# The host commands' privileges, as /proc shows them: `load lib/sandbox`
# after lib/common.

# status_of PID FIELD: a field of /proc/PID/status.
status_of() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"
}

# documented_caps PAGE: the capabilities the CAPABILITIES section of
# man/PAGE lists (".It Dv CAP_A , CAP_B"), as /proc shows a set, less
# those that this test does not hold itself: no one can keep those.
documented_caps() {
	local cap n mask=0
	for cap in $(sed -n '/^\.Sh CAPABILITIES$/,/^\.Sh /p' "$NIMBUS_SRC/man/$1" |
		sed -n '/^\.It Dv /p' | grep -o 'CAP_[A-Z_]*'); do
		n=$(sed -n "s/^#define $cap[[:space:]]*\([0-9][0-9]*\)$/\1/p" /usr/include/linux/capability.h)
		[ -n "$n" ] || fail "$1 documents $cap, which is no capability"
		mask=$((mask | 1 << n))
	done
	[ "$mask" != 0 ] || fail "$1 documents no capability"
	printf '%016x\n' $((mask & 0x$(status_of $$ CapBnd)))
}

# assert_caps PID BOUNDING PERMITTED EFFECTIVE: its sets, none inheritable or ambient.
assert_caps() {
	local pid=$1
	[ "$(status_of "$pid" CapBnd)" = "$2" ] || fail "pid $pid: CapBnd $(status_of "$pid" CapBnd), not $2"
	[ "$(status_of "$pid" CapPrm)" = "$3" ] || fail "pid $pid: CapPrm $(status_of "$pid" CapPrm), not $3"
	[ "$(status_of "$pid" CapEff)" = "$4" ] || fail "pid $pid: CapEff $(status_of "$pid" CapEff), not $4"
	[ "$(status_of "$pid" CapInh)" = 0000000000000000 ] || fail "pid $pid: CapInh"
	[ "$(status_of "$pid" CapAmb)" = 0000000000000000 ] || fail "pid $pid: CapAmb"
}

# assert_sandboxed PID: no_new_privs and seccomp filtering.
assert_sandboxed() {
	[ "$(status_of "$1" NoNewPrivs)" = 1 ] || fail "pid $1: NoNewPrivs $(status_of "$1" NoNewPrivs)"
	[ "$(status_of "$1" Seccomp)" = 2 ] || fail "pid $1: Seccomp $(status_of "$1" Seccomp)"
}

# none_effective PID: its effective set is empty.
none_effective() {
	[ "$(status_of "$1" CapEff)" = 0000000000000000 ]
}

# An empty set.
NONE=0000000000000000
