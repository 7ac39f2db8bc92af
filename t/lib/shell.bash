# Helpers for bats files and plain scripts (t/perf) alike: nothing here
# may use bats. Sourced by common.bash.

# A free TCP port on 127.0.0.1.
free_port() {
	local port
	while :; do
		port=$(( (RANDOM % 20000) + 30000 ))
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
