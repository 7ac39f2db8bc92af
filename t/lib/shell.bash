# Helpers for bats files and plain scripts (t/perf) alike: nothing here
# may use bats. Sourced by common.bash.

# A free TCP port on 127.0.0.1, below the ephemeral range: a port that a
# client holds for its end of a connection cannot be bound, even though
# nothing listens on it.
free_port() {
	local low port
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
	((low > 11000)) || low=65536
	while :; do
		port=$((RANDOM % (low - 10000) + 10000))
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
