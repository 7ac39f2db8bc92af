#!/usr/bin/env bats
# The completions know what boot, fc config, vm and snapshot take: files
# for the images, the words of a choice, and this host's VMs.

load lib/common

setup() {
	common_setup
	cd "$BATS_TEST_TMPDIR"
	touch vmlinux rootfs.img
	mkdir -p "$NIMBUS_CORE_RUN_DIR/vms"
	echo '{"id": "nimbus-0a1b2c3d", "state": "running", "job": "j1", "pid": 0}' \
		>"$NIMBUS_CORE_RUN_DIR/vms/nimbus-0a1b2c3d.json"
	# shellcheck source=/dev/null
	source "$NIMBUS_SRC/completions/nimbus.bash"
}

# complete WORD...: what bash offers for the last word.
complete_words() {
	COMP_WORDS=("$NIMBUS" "$@")
	COMP_CWORD=$#
	COMPREPLY=()
	_nimbus
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}

@test "bash: files for the kernel, rootfs and overlays, the I/O engines" {
	[ "$(complete_words boot --kernel vm)" = "vmlinux " ]
	[ "$(complete_words boot --rootfs root)" = "rootfs.img " ]
	[ "$(complete_words boot --overlay ro)" = "rootfs.img " ]
	[ "$(complete_words fc config --kernel vm)" = "vmlinux " ]
	[ "$(complete_words fc config --io-engine "")" = "Async Sync " ]
	# numbers and forms are not guessed
	[ "$(complete_words boot --vcpus "")" = " " ]
	[ "$(complete_words boot --sna)" = "--snapshot " ]
}

@test "bash: this host's VMs where a VM is asked for" {
	[ "$(complete_words vm stop "")" = "nimbus-0a1b2c3d " ]
	[ "$(complete_words snapshot create nim)" = "nimbus-0a1b2c3d " ]
	[ "$(complete_words audit --vm "")" = "nimbus-0a1b2c3d " ]
	[ "$(complete_words vm stop --fe)" = "--fence " ]
	[ "$(complete_words snapshot create nimbus-0a1b2c3d --out roo)" = "rootfs.img " ]
}
