#!/usr/bin/env bats
# The children nimbus starts (lib/spawn; `nimbus lease hold` runs the
# operator's command through it): only descriptors 0-2, whatever nimbus
# holds or was given, no nimbus setting in the environment, default
# signal dispositions. t/unit/9000-spawn.c tests the library itself.

load lib/common

bats_require_minimum_version 1.5.0

@test "lease hold's command gets descriptors 0-2 only, and a clean environment" {
	local out=$BATS_TEST_TMPDIR/out
	# descriptor 7 is given to nimbus; it holds its store and a signalfd
	NIMBUS_REDIS_TIMEOUT=9 nimbus lease hold job -- sh -c '
		cd /proc/self/fd && echo *
		env | grep "^NIMBUS_" | cut -d= -f1 | sort | tr "\n" " "; echo
		grep -E "^SigIgn:" /proc/self/status
	' > "$out" 7</dev/null 3>&-
	run sed -n 1p "$out"
	# the shell's glob lists its own descriptors, and its directory's
	[[ $output == "0 1 2" || $output == "0 1 2 3" ]] || fail "descriptors: $output"
	run sed -n 2p "$out"
	assert_output 'NIMBUS_CONFIG NIMBUS_FENCE NIMBUS_JOB NIMBUS_LEASE_EXPIRES '
	# but glibc's two (32, 33)
	run sed -n 3p "$out"
	[[ $output =~ ^SigIgn:.0*(180000000)?$ ]] || fail "ignored signals: $output"
}

@test "a command that cannot run is reported as a shell does, and the lease released" {
	touch "$BATS_TEST_TMPDIR/not-executable"
	run -126 --separate-stderr nimbus lease hold job -- "$BATS_TEST_TMPDIR/not-executable"
	[[ $stderr == *"cannot run $BATS_TEST_TMPDIR/not-executable: Permission denied"* ]]
	[ "$(nimbus lease show job --json | jq -r .state)" = released ]
}
