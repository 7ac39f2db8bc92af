# Reaper tests (41xx): `load lib/reap` after lib/common, lib/github and
# lib/boot. It defines setup_file, setup (reap_setup) and teardown
# (reap_teardown).
#
# The reaper looks at the whole host, every process and link on it, and
# a test must neither see (nor kill) other tests' VMs nor be seen by
# them: each test gets a host of its own, a "world" of new pid, network
# and mount namespaces, where `world CMD...` runs a command. Whatever
# makes or reaps VMs runs there, and so does the GitHub double, on the
# world's loopback (curl goes there too). Killing the world's first
# process ends every process, link and mount in it; boot_teardown then
# removes the cgroups, which are the host's.

reap_setup() {
	common_setup
	require_root
	require_cmd unshare nsenter ip
	unshare --pid --fork --mount-proc --net --mount --propagation private sleep infinity \
		</dev/null >/dev/null 2>&1 3>&- &
	WORLD_UNSHARE=$!
	wait_for 100 world_found || fail "the test's world did not start"
	export WORLD
	world ip link set lo up
	GH_WRAP=world github_setup
	boot_setup
	JAILS=$T/jail/firecracker
	RECORDS=$NIMBUS_CORE_RUN_DIR/vms
	# what a run with the GitHub double must not wait for
	export NIMBUS_GITHUB_MAX_ATTEMPTS=1 NIMBUS_GITHUB_ORGS=acme,widgets
	export JAILS RECORDS
}

reap_teardown() {
	[ -z "${WORLD:-}" ] || kill -KILL "$WORLD" 2>/dev/null
	[ -z "${WORLD_UNSHARE:-}" ] || wait "$WORLD_UNSHARE" 2>/dev/null
	boot_teardown
	true
}

setup_file() {
	github_key
}

setup() {
	reap_setup
}

teardown() {
	reap_teardown
}

# The world's first process, once unshare has made it.
world_found() {
	WORLD=$(cat "/proc/$WORLD_UNSHARE/task/$WORLD_UNSHARE/children" 2>/dev/null)
	WORLD=${WORLD% }
	[ -n "$WORLD" ]
}

world() {
	nsenter -t "$WORLD" -m -n -p -- "$@"
}

curl() {
	world curl "$@"
}

# reap [ARG]...: nimbus reap in the world, through `run`, stdout and stderr
# apart; both are shown when the test fails.
reap() {
	run --separate-stderr world "$NIMBUS" reap "$@"
	printf '# reap %s: exit %s\n%s\n# stderr:\n%s\n' "$*" "$status" "$output" "$stderr"
}

# wboot [ARG]...: lib/boot's boot, in the world.
wboot() {
	BOOTS=$((BOOTS + 1))
	run --separate-stderr world "$NIMBUS" -v boot --job j1 --fence "$FENCE" "$@"
	printf '%s\n' "$stderr" >"$T/stderr.$BOOTS"
}

# vm_process ID [NAME [TRAP]]: a process whose command line says --id ID,
# as NAME (firecracker), in the background, with the signals of TRAP
# ignored; prints its pid in the world.
vm_process() {
	local f=$T/pid.$RANDOM
	world sh -c 'trap "" $1; echo $$ >"$0"; sleep 1000; :' "$f" "${3:-}" "${2:-firecracker}" --id "$1" \
		</dev/null >/dev/null 2>&1 3>&- &
	wait_for 100 test -s "$f" || fail "no process for $1"
	cat "$f"
}

# The cgroup hierarchies, v1 and v2, as the reaper sees them.
cgroup_mounts() {
	awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts
}

# stray_vm ID: what a crash leaves of a VM, made by hand: a namespace with
# its tap, a host link, a cgroup in every hierarchy, a jail with a mount.
stray_vm() {
	local id=$1 hex=${1#nimbus-} m
	mkdir -p "$T/netns" "$JAILS/$id/root"
	touch "$T/netns/$id" "$JAILS/$id/root/vmlinux"
	world unshare --net="$T/netns/$id" true
	world nsenter --net="$T/netns/$id" ip tuntap add "$id" mode tap
	world ip link add "nimbus${hex}h" type veth peer name "nimbus${hex}n" netns "$T/netns/$id"
	world mount --bind "$T/vmlinux" "$JAILS/$id/root/vmlinux"
	for m in $(cgroup_mounts); do
		mkdir -p "$m/$BOOT_CGROUP/$id"
	done
}

# The VM objects of the world, one a line ("netns nimbus-...", ...): none
# when it is clean. Others' (tap0, other-vm ...) are not listed.
leftovers() {
	world sh -c '
		for c in /proc/[0-9]*/cmdline; do
			tr "\0" " " <"$c" 2>/dev/null | grep -o -e "--id[= ]nimbus-[0-9a-f]*" | sed "s/^/process /"
		done
		ip -o link show | grep -o "nimbus[-0-9a-f]*[a-z]*" | sed "s/^/link /"
		grep -o " $0/[^ ]*nimbus-[^ ]*" /proc/self/mountinfo | sed "s/^ /mount /"
	' "$T"
	ls "$T/netns" 2>/dev/null | grep '^nimbus-' | sed 's/^/netns /'
	ls "$JAILS" 2>/dev/null | sed 's/^/jail /'
	ls "$RECORDS" 2>/dev/null | sed 's/^/record /'
	ls -d /sys/fs/cgroup/*/"$BOOT_CGROUP"/nimbus-* 2>/dev/null | sed 's/^/cgroup /'
	true
}

assert_clean() {
	local left
	left=$(leftovers)
	[ -z "$left" ] || fail "left behind: $left"
}

# A record for VM $1 with the JSON fields $2 (an object), made 2 minutes ago.
record() {
	local more=${2:-'{}'}
	mkdir -p "$RECORDS"
	jq -n --arg id "$1" --argjson more "$more" \
		'{id: $id, state: "running", created: (now - 120 | todate)} + $more' >"$RECORDS/$1.json"
}
