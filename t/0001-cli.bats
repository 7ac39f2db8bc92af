#!/usr/bin/env bats
# The multiplexer: global options, lookup, exit codes, stdout discipline.

load lib/common

@test "no command: usage on stderr, exit 2" {
	run --separate-stderr nimbus
	assert_status 2
	[ -z "$output" ]
	[[ $stderr == usage:* ]]
}

@test "an unknown command exits 2 with a hint" {
	run --separate-stderr nimbus nosuch
	assert_status 2
	[ -z "$output" ]
	[[ $stderr == "nimbus: 'nosuch' is not a nimbus command; see 'nimbus help'" ]]
	run --separate-stderr nimbus confg
	assert_status 2
	[[ $stderr == *"did you mean 'config'?"* ]]
}

@test "lookup is exact: no abbreviations" {
	run nimbus conf list
	assert_status 2
	run nimbus CONFIG list
	assert_status 2
}

@test "an unknown subcommand exits 2 with a hint" {
	run --separate-stderr nimbus config lst
	assert_status 2
	[[ $stderr == *"unknown subcommand 'lst'; did you mean 'list'?"* ]]
	run --separate-stderr nimbus config
	assert_status 2
	[[ $stderr == *"missing subcommand"* ]]
}

@test "--version prints the version alone" {
	run --separate-stderr nimbus --version
	assert_success
	[[ $output =~ ^nimbus\ [0-9]+\.[0-9]+\.[0-9]+ ]]
}

@test "an unknown global option exits 2" {
	run --separate-stderr nimbus --nosuch config list
	assert_status 2
	[[ $stderr == *"unknown option '--nosuch'"* ]]
}

@test "help: the list, one command, and --commands" {
	run nimbus help
	assert_success
	assert_line --partial "config     show the effective configuration"
	run nimbus help config
	assert_success
	assert_line "usage: nimbus config get KEY"
	run nimbus help --commands
	assert_success
	assert_line config
	assert_line serve
	run nimbus help nosuch
	assert_status 2
	run nimbus help config db
	assert_status 2
}

@test "-c with an unknown key exits 7, even before the command runs" {
	run --separate-stderr nimbus -c nosuch.key=1 config list
	assert_status 7
	[ -z "$output" ]
	[[ $stderr == "nimbus: -c nosuch.key: unknown configuration key" ]]
}

@test "-c with a bad value exits 7; without = exits 2" {
	run --separate-stderr nimbus -c serve.timeout=abc config list
	assert_status 7
	[[ $stderr == *"serve.timeout: 'abc' is not a number"* ]]
	run --separate-stderr nimbus -c serve.timeout config list
	assert_status 2
}

@test "configuration precedence: -c over environment over file over default" {
	printf '[serve]\nlisten = 10.0.0.1:1\ntimeout = 11\nthreads = 3\n' > "$NIMBUS_CONFIG"
	export NIMBUS_SERVE_LISTEN=10.0.0.2:2 NIMBUS_SERVE_TIMEOUT=12
	run nimbus -c serve.timeout=13 config get serve.timeout
	assert_output 13
	run nimbus config get serve.listen
	assert_output 10.0.0.2:2
	run nimbus config get serve.threads
	assert_output 3
	run nimbus config get serve.max_connections
	assert_output 1024
	run nimbus -c serve.timeout=13 config list --json
	assert_success
	[ "$(jq -r '.[] | select(.key == "serve.timeout") | .source' <<< "$output")" = "command line" ]
	[ "$(jq -r '.[] | select(.key == "serve.listen") | .source' <<< "$output")" = environment ]
	[ "$(jq -r '.[] | select(.key == "serve.threads") | .source' <<< "$output")" = file ]
	[ "$(jq -r '.[] | select(.key == "serve.max_connections") | .source' <<< "$output")" = default ]
}

@test "a bad configuration file exits 7 naming the file and line" {
	printf '[serve]\nlisten = 1.2.3.4:5\n\nbogus = 1\n' > "$NIMBUS_CONFIG"
	run --separate-stderr nimbus config list
	assert_status 7
	[ -z "$output" ]
	[[ $stderr == "nimbus config: $NIMBUS_CONFIG:4: unknown key 'serve.bogus'" ]]
	printf '[serve]\ntimeout = -3\n' > "$NIMBUS_CONFIG"
	run --separate-stderr nimbus config get serve.listen
	assert_status 7
	[[ $stderr == *"nimbus.conf:2: serve.timeout: '-3' is out of range"* ]]
}

@test "a missing named configuration file exits 7; a missing default is fine" {
	run --separate-stderr nimbus --config "$BATS_TEST_TMPDIR/none.conf" config list
	assert_status 7
	[[ $stderr == *"none.conf"* ]]
	unset NIMBUS_CONFIG
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg
	if [ "$(id -u)" = 0 ] && [ -e /etc/nimbus/nimbus.conf ]; then
		skip "this host has /etc/nimbus/nimbus.conf"
	fi
	run nimbus config list
	assert_success
}

@test "a bad environment value exits 7 naming the variable" {
	NIMBUS_SERVE_MAX_BODY=12X run --separate-stderr nimbus config list
	assert_status 7
	[[ $stderr == *"environment NIMBUS_SERVE_MAX_BODY: '12X' is not a size"* ]]
}

@test "config get: an unknown key exits 4; secrets in URLs are masked" {
	run nimbus config get nosuch.key
	assert_status 4
	export NIMBUS_REDIS_URL='redis://:Tr0ub4dor-and-3@127.0.0.1:6379/0'
	run --separate-stderr nimbus config get redis.url
	assert_success
	assert_output 'redis://:<redacted>@127.0.0.1:6379/0'
	run nimbus config list
	refute_output --partial Tr0ub4dor
}

@test "defaults follow core.state_dir and the user" {
	run nimbus config get store.url
	assert_output "sqlite:$NIMBUS_CORE_STATE_DIR/nimbus.db"
	unset NIMBUS_CORE_STATE_DIR
	if [ "$(id -u)" = 0 ]; then
		run nimbus config get core.state_dir
		assert_output /var/lib/nimbus
	fi
	run nimbus config get keys.dir
	assert_output "$(dirname "$NIMBUS_CONFIG")/keys"
}

@test "--json is accepted after the command" {
	run nimbus config list --json
	assert_success
	jq -e 'type == "array" and length > 5' <<< "$output"
	run nimbus --json config get serve.listen
	assert_output '"127.0.0.1:8480"'
}

@test "a write error on stdout is a failure" {
	[ -w /dev/full ] || skip "no /dev/full"
	run --separate-stderr bash -c '"$NIMBUS" config list > /dev/full'
	assert_status 1
	[[ $stderr == *"write error on stdout"* ]]
	run --separate-stderr bash -c '"$NIMBUS" help --commands > /dev/full'
	assert_status 1
}

@test "control characters in messages are escaped" {
	run --separate-stderr nimbus $'bad\e[31mcmd'
	assert_status 2
	[[ $stderr == *'bad\x1b[31mcmd'* ]]
	[[ $stderr != *$'\e'* ]]
}

@test "-q keeps errors, one line per message" {
	run --separate-stderr nimbus -q -q -q config get nosuch.key
	assert_status 4
	[ "$stderr" = "nimbus config: unknown configuration key 'nosuch.key'" ]
}
