#!/usr/bin/env bats
# Every command and subcommand answers -h, before any setup.

load lib/common
load lib/meta

@test "every command and subcommand answers -h and --help with exit 0" {
	local c
	# A configuration that would fail: -h must not read it.
	printf '[bogus]\nkey = 1\n' > "$NIMBUS_CONFIG"
	export NIMBUS_STORE_URL=postgres://nobody@127.0.0.1:1/none
	while IFS= read -r c; do
		# shellcheck disable=SC2086
		run --separate-stderr nimbus $c -h
		[ "$status" -eq 0 ] || fail "nimbus $c -h exited $status: $stderr"
		[ -z "$stderr" ] || fail "nimbus $c -h wrote to stderr: $stderr"
		[[ $output == usage:* ]] || fail "nimbus $c -h printed no usage: $output"
		# shellcheck disable=SC2086
		run --separate-stderr nimbus $c --help
		[ "$status" -eq 0 ] || fail "nimbus $c --help exited $status"
	done < <(all_commands)
}

@test "the usage of each command names the command" {
	local c
	while IFS= read -r c; do
		# shellcheck disable=SC2086
		usage_lines $c | grep -q "^nimbus $c\\b" || fail "usage of '$c' does not start with 'nimbus $c'"
	done < <(all_commands)
}

@test "every option of every table appears in its usage lines" {
	local c opt short rest usage
	while IFS= read -r c; do
		# shellcheck disable=SC2086
		usage=$(usage_lines $c)
		# shellcheck disable=SC2086
		while IFS=$'\t' read -r opt rest short; do
			[[ $opt == --* ]] || continue
			grep -q -- "$opt\\b" <<< "$usage" && continue
			[ -n "$short" ] && grep -q -- "$short\\b" <<< "$usage" && continue
			[ "$c" = help ] && [ "$opt" = --help ] && continue
			fail "'nimbus $c' accepts $opt but its usage does not show it: $usage"
		done < <(nimbus $c --completion-helper)
	done < <(all_commands)
}

@test "nimbus -h lists every command" {
	run nimbus -h
	assert_success
	for c in $(nimbus help --commands); do
		assert_line --regexp "^    $c +[a-z]"
	done
}
