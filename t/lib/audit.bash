# Helpers of the audit tests: `load lib/audit` after lib/common.
#
# audit_setup (in setup) makes under $R, with fake_host, the proc, sys
# and dev of a host that passes every check of `nimbus audit --root $R`;
# the tests then break one thing at a time and see that `flags` reports
# exactly it. fake_task ROOT PID TID [FIELD=VALUE]... writes the status
# of one thread, fake_process ROOT PID CMDLINE... its command line.

audit_setup() {
	common_setup
	require_cmd jq
	R=$BATS_TEST_TMPDIR/root
	fake_host "$R"
}

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
# (uid and gid 65534, no capability, no_new_privs, seccomp filtering with
# two filters), FIELD=VALUE replacing what is given.
fake_task() {
	local r=$1 pid=$2 tid=$3 kv f
	local -A s=([Uid]=$'65534\t65534\t65534\t65534' [Gid]=$'65534\t65534\t65534\t65534'
		[CapInh]=0000000000000000 [CapPrm]=0000000000000000 [CapEff]=0000000000000000
		[CapBnd]=0000000000000000 [CapAmb]=0000000000000000 [NoNewPrivs]=1 [Seccomp]=2
		[Seccomp_filters]=2)
	shift 3
	for kv in "$@"; do
		s[${kv%%=*}]=${kv#*=}
	done
	mkdir -p "$r/proc/$pid/task/$tid"
	for f in Uid Gid CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs Seccomp Seccomp_filters; do
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

# _field FIELD [SUBJECT] CHECK: a field of a check of $output (audit's
# --json); SUBJECT defaults to the only one there is (--vm), else host.
_field() {
	local field=$1 subject
	shift
	subject=$(jq -r 'map(.subject) | unique | if length == 1 then .[0] else "host" end' <<< "$output")
	[ $# = 1 ] || { subject=$1; shift; }
	jq -r --arg s "$subject" --arg c "$1" --arg f "$field" \
		'.[] | select(.subject == $s and .check == $c) | .[$f]' <<< "$output"
}

check_status() {
	_field status "$@"
}

reason() {
	_field reason "$@"
}

# The checks of $output that did not pass, as SUBJECT/CHECK=STATUS words.
not_passed() {
	jq -r '.[] | select(.status != "pass") | "\(.subject)/\(.check)=\(.status)"' <<< "$output" |
		tr '\n' ' ' | sed 's/ $//'
}

# flags EXPECTED [AUDIT-OPTION]...: `nimbus audit --json --root $R`
# flags exactly EXPECTED (SUBJECT/CHECK=STATUS words), exiting 3 when
# one of them is fail.
flags() {
	local want=$1
	shift
	run --separate-stderr nimbus audit --json --root "$R" "$@"
	[ "$(not_passed)" = "$want" ] || fail "flagged: '$(not_passed)', not '$want': $output"
	if [[ $want == *=fail* ]]; then
		assert_status 3
		[[ $stderr == *"checks failed"* ]]
	else
		assert_success
	fi
}
