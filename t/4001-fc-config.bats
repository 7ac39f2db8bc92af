#!/usr/bin/env bats
# nimbus fc config: Firecracker's configuration file with performance
# defaults (t/unit/4001-fc-config.c checks it against the API's
# specification).

load lib/common

conf() {
	run --separate-stderr nimbus fc config --kernel /boot/vmlinux --rootfs /img/rootfs.ext4 "$@"
}

@test "the defaults: no SMT, no dirty pages, no balloon, no console, quiet, read-only drives" {
	conf
	assert_success
	jq -e . <<<"$output" >/dev/null
	[ "$(jq -c '.["machine-config"]' <<<"$output")" = \
		'{"huge_pages":"None","mem_size_mib":1024,"smt":false,"track_dirty_pages":false,"vcpu_count":2}' ]
	[ "$(jq -r 'has("balloon"), has("network-interfaces")' <<<"$output" | tr '\n' ' ')" = "false false " ]
	[ "$(jq -r '.["boot-source"].boot_args' <<<"$output")" = \
		"reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd quiet loglevel=1 8250.nr_uarts=0" ]
	[ "$(jq -c '.drives' <<<"$output")" = \
		'[{"drive_id":"rootfs","io_engine":"Sync","is_read_only":true,"is_root_device":true,"path_on_host":"/img/rootfs.ext4"}]' ]
	[ "$(jq -r '.logger.log_path, .logger.level, .metrics.metrics_path' <<<"$output" | tr '\n' ' ')" = \
		"firecracker.log Warning firecracker.metrics " ]
	# the same document with --json
	[ "$(nimbus fc config --kernel /boot/vmlinux --rootfs /img/rootfs.ext4 --json | jq -S .)" = \
		"$(jq -S . <<<"$output")" ]
}

@test "options: overlays, machine, network, console, huge pages, the I/O engine, more kernel arguments" {
	conf --overlay /o/a --overlay /o/b --vcpus 4 --mem 2048 --tap nimbus-0a1b2c3d \
		--mac 06:00:0a:1b:2c:3d --boot-args "init=/init" --huge-pages --io-engine Async --console
	assert_success
	[ "$(jq -r '[.drives[] | .drive_id + "=" + .path_on_host + "," + (.is_root_device | tostring) + "," + (.is_read_only | tostring) + "," + .io_engine] | join(" ")' <<<"$output")" = \
		"rootfs=/img/rootfs.ext4,true,true,Async overlay1=/o/a,false,true,Async overlay2=/o/b,false,true,Async" ]
	[ "$(jq -r '.["machine-config"] | [.vcpu_count, .mem_size_mib, .huge_pages] | join(" ")' <<<"$output")" = "4 2048 2M" ]
	[ "$(jq -c '.["network-interfaces"]' <<<"$output")" = \
		'[{"guest_mac":"06:00:0a:1b:2c:3d","host_dev_name":"nimbus-0a1b2c3d","iface_id":"eth0"}]' ]
	[ "$(jq -r '.["boot-source"].boot_args' <<<"$output")" = \
		"reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd quiet loglevel=1 console=ttyS0 init=/init" ]
	# the settings are the defaults of the options
	NIMBUS_FIRECRACKER_VCPUS=8 NIMBUS_FIRECRACKER_MEM_MIB=256 NIMBUS_FIRECRACKER_IO_ENGINE=Async \
		NIMBUS_FIRECRACKER_BOOT_ARGS=init=/sbin/init NIMBUS_FIRECRACKER_HUGE_PAGES=true conf
	[ "$(jq -r '.["machine-config"].vcpu_count, .["machine-config"].mem_size_mib, .drives[0].io_engine' <<<"$output" | tr '\n' ' ')" = "8 256 Async " ]
	[ "$(jq -r '.["machine-config"].huge_pages' <<<"$output")" = 2M ]
	[[ $(jq -r '.["boot-source"].boot_args' <<<"$output") == *" 8250.nr_uarts=0 init=/sbin/init" ]]
	NIMBUS_FIRECRACKER_BOOT_ARGS=init=/sbin/init conf --boot-args init=/init
	[[ $(jq -r '.["boot-source"].boot_args' <<<"$output") == *" init=/init" ]]
}

@test "bad options: exit 2 and nothing on stdout" {
	run --separate-stderr nimbus fc config --rootfs /r
	assert_status 2
	[ -z "$output" ]
	[[ $stderr == *"--kernel and --rootfs are required"* ]]
	conf --vcpus 0
	assert_status 2
	conf --vcpus 33
	assert_status 2
	conf --mem 16
	assert_status 2
	conf --io-engine async
	assert_status 2
	conf --mac 06:00:0a:1b:2c
	assert_status 2
	conf --tap this-name-is-too-long
	assert_status 2
	conf extra
	assert_status 2
}
