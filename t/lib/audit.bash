# Helpers of the audit tests: `load lib/audit` after lib/common.
#
# fake_host ROOT makes under ROOT the proc, sys and dev of a host that
# passes every check of `nimbus audit --root ROOT`; the tests then break
# one thing at a time. fake_task ROOT PID TID [FIELD=VALUE]... writes the
# status of one thread, fake_process ROOT PID CMDLINE... its command line.
# check_status [SUBJECT] CHECK prints the status of a check in $output
# (audit's --json).

fake_host() {
	local r=$1 v
	mkdir -p "$r/proc/self" "$r/proc/1/ns" "$r/dev" "$r/sys/kernel/mm/ksm" \
		"$r/sys/devices/system/cpu/smt" "$r/sys/devices/system/cpu/vulnerabilities"
	echo 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro nosmt=force' > "$r/proc/cmdline"
	printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' > "$r/proc/swaps"
	cat > "$r/proc/self/mounts" <<-EOF
	sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
	cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0
	EOF
	ln -s 'pid:[4026531836]' "$r/proc/1/ns/pid"
	ln -s 'net:[4026531840]' "$r/proc/1/ns/net"
	echo forceoff > "$r/sys/devices/system/cpu/smt/control"
	echo 0 > "$r/sys/kernel/mm/ksm/run"
	for v in meltdown mds l1tf spec_store_bypass; do
		echo 'Not affected' > "$r/sys/devices/system/cpu/vulnerabilities/$v"
	done
	echo 'Mitigation: Retpolines; IBPB: conditional; IBRS_FW' \
		> "$r/sys/devices/system/cpu/vulnerabilities/spectre_v2"
	if [ "$(id -u)" = 0 ]; then
		mknod -m 660 "$r/dev/kvm" c 10 232
	fi
}

# fake_task ROOT PID TID [FIELD=VALUE]...: a thread of a sandboxed process
# (uid and gid 65534, no capability, no_new_privs, seccomp filtering),
# FIELD=VALUE replacing what is given.
fake_task() {
	local r=$1 pid=$2 tid=$3 kv f
	local -A s=([Uid]=$'65534\t65534\t65534\t65534' [Gid]=$'65534\t65534\t65534\t65534'
		[CapInh]=0000000000000000 [CapPrm]=0000000000000000 [CapEff]=0000000000000000
		[CapBnd]=0000000000000000 [CapAmb]=0000000000000000 [NoNewPrivs]=1 [Seccomp]=2)
	shift 3
	for kv in "$@"; do
		s[${kv%%=*}]=${kv#*=}
	done
	mkdir -p "$r/proc/$pid/task/$tid"
	for f in Uid Gid CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs Seccomp; do
		printf '%s:\t%s\n' "$f" "${s[$f]}"
	done > "$r/proc/$pid/task/$tid/status"
	[ "$pid" != "$tid" ] || cp "$r/proc/$pid/task/$tid/status" "$r/proc/$pid/status"
}

# fake_process ROOT PID ARG...: its command line.
fake_process() {
	local r=$1 pid=$2
	shift 2
	mkdir -p "$r/proc/$pid"
	printf '%s\0' "$@" > "$r/proc/$pid/cmdline"
}

# check_status [SUBJECT] CHECK: the status of a check of $output.
check_status() {
	local subject=host
	[ $# = 1 ] || { subject=$1; shift; }
	jq -r --arg s "$subject" --arg c "$1" '.[] | select(.subject == $s and .check == $c) | .status' \
		<<< "$output"
}

# The checks of $output that did not pass, as SUBJECT/CHECK=STATUS words.
not_passed() {
	jq -r '.[] | select(.status != "pass") | "\(.subject)/\(.check)=\(.status)"' <<< "$output" |
		tr '\n' ' ' | sed 's/ $//'
}
