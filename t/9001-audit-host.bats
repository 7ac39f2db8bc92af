#!/usr/bin/env bats
# nimbus audit: the host's checks and the services', on made-up proc, sys
# and dev trees (--root): a good host passes, and each broken check is
# flagged, and only it.

load lib/common
load lib/audit

bats_require_minimum_version 1.5.0

setup() {
	audit_setup
	chmod 600 "$NIMBUS_CONFIG"
	export NIMBUS_KEYS_DIR=$BATS_TEST_TMPDIR/keys
	nimbus key rotate >/dev/null
}

@test "a host set up as Firecracker's production setup asks passes every check" {
	require_root
	flags ""
	[ "$(check_status kvm)" = pass ]
	[ "$(check_status serve running)" = pass ]
	[ -z "$stderr" ]
	# the text form: a table, one line per check
	run nimbus audit --root "$R"
	assert_success
	assert_line --regexp '^SUBJECT +CHECK +STATUS +REASON$'
	assert_line --regexp '^host +kvm +pass +/dev/kvm is root:[a-z0-9]+ 0660$'
	assert_line --regexp '^host +ksm +pass +off$'
}

@test "each broken host check is flagged, and only it" {
	local sys=$R/sys/devices/system/cpu
	if [ "$(id -u)" = 0 ]; then
		chmod 666 "$R/dev/kvm"
		flags "host/kvm=warn"
		[[ $(reason kvm) == *"any local user may create VMs"* ]]
		chown 1 "$R/dev/kvm"
		flags "host/kvm=fail"
		rm "$R/dev/kvm"
	fi
	touch "$R/dev/kvm"
	flags "host/kvm=fail"
	rm "$R/dev/kvm"
	flags "host/kvm=warn"
	[ "$(id -u)" != 0 ] || mknod -m 660 "$R/dev/kvm" c 10 232

	echo on > "$sys/smt/control"
	flags "host/smt=warn"
	echo off > "$sys/smt/control"
	flags "host/smt=warn"
	echo forceoff > "$sys/smt/control"

	echo 1 > "$R/sys/kernel/mm/ksm/run"
	flags "host/ksm=fail"
	echo 2 > "$R/sys/kernel/mm/ksm/run"
	flags "host/ksm=warn"
	rm "$R/sys/kernel/mm/ksm/run"
	flags ""

	cp "$R/proc/swaps" "$R/swaps"
	printf '/dev/sda2\tpartition\t1048572\t0\t-2\n' >> "$R/proc/swaps"
	flags "host/swap=warn"
	[[ $(reason swap) == "on (/dev/sda2): "* ]]
	mv "$R/swaps" "$R/proc/swaps"

	cp "$R/proc/self/mounts" "$R/mounts"
	echo 'cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0' >> "$R/proc/self/mounts"
	flags "host/cgroup=warn"
	grep -v cgroup "$R/mounts" > "$R/proc/self/mounts"
	flags "host/cgroup=fail"
	mv "$R/mounts" "$R/proc/self/mounts"

	cp "$R/proc/cmdline" "$R/cmdline"
	echo 'root=/dev/sda1 nosmt=force mitigations=off nopti' > "$R/proc/cmdline"
	flags "host/cmdline=fail"
	[ "$(reason cmdline)" = \
		"mitigations turned off: mitigations=off nopti" ]
	echo 'root=/dev/sda1' > "$R/proc/cmdline"
	echo on > "$sys/smt/control"
	echo 'Mitigation: PTE Inversion; VMX: conditional cache flushes, SMT vulnerable' \
		> "$sys/vulnerabilities/l1tf"
	flags "host/smt=warn host/cmdline=warn"
	[ "$(reason cmdline)" = \
		"Firecracker's production setup adds: nosmt=force l1tf=full,force" ]
	echo 'root=/dev/sda1 nosmt=force l1tf=full,force' > "$R/proc/cmdline"
	flags "host/smt=warn"
	echo forceoff > "$sys/smt/control"
	echo 'Not affected' > "$sys/vulnerabilities/l1tf"
	mv "$R/cmdline" "$R/proc/cmdline"

	echo 'Vulnerable' > "$sys/vulnerabilities/meltdown"
	echo 'Vulnerable: no microcode' > "$sys/vulnerabilities/mds"
	flags "host/vulnerabilities=fail"
	[ "$(reason vulnerabilities)" = \
		"vulnerable: mds meltdown" ]
	echo 'Mitigation: PTI' > "$sys/vulnerabilities/meltdown"
	echo 'Unknown: Dependent on hypervisor status' > "$sys/vulnerabilities/mds"
	flags "host/vulnerabilities=warn"
	echo 'Not affected' > "$sys/vulnerabilities/mds"
	flags ""
}

@test "nimbus' own files: the configuration, keys.dir and the files of secrets" {
	local pem
	chmod 644 "$NIMBUS_CONFIG"
	flags "host/config=warn"
	chmod 664 "$NIMBUS_CONFIG"
	flags "host/config=fail"
	chmod 600 "$NIMBUS_CONFIG"

	chmod 755 "$NIMBUS_KEYS_DIR"
	flags "host/keys=fail"
	[[ $(reason keys) == *"open to anyone" ]]
	# a group that may read the public keys: the service's
	chmod 750 "$NIMBUS_KEYS_DIR"
	flags ""
	chmod 770 "$NIMBUS_KEYS_DIR"
	flags "host/keys=fail"
	chmod 700 "$NIMBUS_KEYS_DIR"
	pem=$(ls "$NIMBUS_KEYS_DIR"/*.pem | head -n 1)
	chmod 640 "$pem"
	flags "host/keys=fail"
	[[ $(reason keys) == *"${pem##*/} has mode 0640" ]]
	chmod 600 "$pem"
	chmod 666 "$NIMBUS_KEYS_DIR/keyset.json"
	flags "host/keys=fail"
	chmod 644 "$NIMBUS_KEYS_DIR/keyset.json"
	flags ""

	export NIMBUS_GITHUB_PRIVATE_KEY_FILE=$BATS_TEST_TMPDIR/app.pem
	flags "host/secret_files=warn"
	echo key > "$NIMBUS_GITHUB_PRIVATE_KEY_FILE"
	chmod 644 "$NIMBUS_GITHUB_PRIVATE_KEY_FILE"
	flags "host/secret_files=fail"
	[[ $(reason secret_files) == \
		"$NIMBUS_GITHUB_PRIVATE_KEY_FILE has mode 0644" ]]
	chmod 600 "$NIMBUS_GITHUB_PRIVATE_KEY_FILE"
	flags ""
	[ "$(reason secret_files)" = \
		"1 configured, each private" ]
}

@test "nimbus' services: each serve process, on every thread" {
	# a sandboxed one, with global options before the command
	fake_process "$R" 4242 /usr/local/bin/nimbus -c serve.threads=2 --config /etc/nimbus/x.conf serve
	fake_task "$R" 4242 4242
	fake_task "$R" 4242 4243
	# `nimbus cache serve`, as root, with a thread that is not filtered
	fake_process "$R" 5353 nimbus -q cache serve --listen 127.0.0.1:1
	fake_task "$R" 5353 5353 Uid=$'0\t0\t0\t0'
	fake_task "$R" 5353 5354 Uid=$'0\t0\t0\t0' Seccomp=0 NoNewPrivs=0 CapEff=0000000000000400
	# not services
	fake_process "$R" 6464 nimbus help serve
	fake_task "$R" 6464 6464 Seccomp=0
	fake_process "$R" 7575 /usr/bin/serve nimbus
	fake_task "$R" 7575 7575 Seccomp=0
	flags "serve:5353/user=fail serve:5353/capabilities=fail serve:5353/no_new_privs=fail serve:5353/seccomp=fail"
	[ "$(check_status serve:4242 user)" = pass ]
	[ "$(check_status serve:4242 seccomp)" = pass ]
	[ "$(reason serve:4242 seccomp)" = \
		"filtering on 2 threads" ]
	[ "$(reason serve:5353 seccomp)" = \
		"not filtering on thread 5354:0" ]
	[ "$(reason serve:5353 capabilities)" = \
		"held by thread 5354:CapEff=0000000000000400" ]
	# the bounding set of a service started unprivileged: only root can empty it
	rm -r "$R/proc/5353"
	fake_task "$R" 4242 4243 CapBnd=000001ffffffffff
	flags "serve:4242/capabilities=warn"
	# mixed uids: it could switch back
	fake_task "$R" 4242 4242 Uid=$'65534\t65534\t0\t65534'
	flags "serve:4242/user=fail serve:4242/capabilities=warn"
}

@test "audit takes no arguments; -h before anything" {
	run nimbus audit extra
	assert_status 2
	run nimbus audit -h
	assert_success
	assert_line 'usage: nimbus audit [--json] [--vm VM] [--root DIR]'
}
