#!/usr/bin/env bats
# The man pages, the exit-code table, the configuration keys and the
# completions agree with the code.

load lib/common
load lib/meta

setup() {
	common_setup
	require_cmd mandoc col
}

@test "every command has a man page whose SYNOPSIS matches its -h" {
	local cmd page
	for cmd in $(nimbus help --commands); do
		page=$NIMBUS_SRC/man/nimbus-$cmd.1
		[ -f "$page" ] || fail "no man page for '$cmd'"
		diff -u <(usage_lines "$cmd" | sort) <(synopsis_lines "$page" | sort) ||
			fail "SYNOPSIS of $page differs from 'nimbus $cmd -h' (- usage, + man)"
	done
}

@test "nimbus.1's SYNOPSIS matches nimbus -h" {
	diff -u <(nimbus -h | sed -n -e 's/^usage: //p' -e 's/^   or: //p' | normalise | sort) \
		<(synopsis_lines "$NIMBUS_SRC/man/nimbus.1" | sort)
}

@test "nimbus.1 lists every command and refers to its page" {
	local cmd
	for cmd in $(nimbus help --commands); do
		grep -q "^\\.It Cm $cmd\$" "$NIMBUS_SRC/man/nimbus.1" || fail "nimbus.1 does not list '$cmd'"
		grep -q "^\\.Xr nimbus-$cmd 1" "$NIMBUS_SRC/man/nimbus.1" || fail "nimbus.1 has no Xr nimbus-$cmd"
	done
}

@test "every man page is clean under mandoc -Tlint" {
	local page out
	for page in "$NIMBUS_SRC"/man/*.[15]; do
		out=$(man_lint "$page")
		[ -z "$out" ] || fail "$out"
	done
}

@test "the EXIT STATUS table of nimbus.1 matches lib/exit-codes.h" {
	local header man code desc
	header=$(sed -n 's/^[[:space:]]*X(\([0-9]*\), [A-Z]*, "\(.*\)").*/\1 \2/p' "$NIMBUS_SRC/lib/exit-codes.h")
	# ".It N" and the line after it, from the EXIT STATUS section
	man=$(sed -n '/^\.Sh EXIT STATUS/,/^\.Sh [^E]/p' "$NIMBUS_SRC/man/nimbus.1" |
		awk '/^\.It [0-9]+$/ { code = $2; next } code != "" { print code " " $0; code = "" }')
	[ -n "$header" ] && [ -n "$man" ]
	diff -u <(cut -d' ' -f1 <<< "$header") <(cut -d' ' -f1 <<< "$man")
	while read -r code desc; do
		grep -q "^$code $desc" <<< "$man" || fail "nimbus.1 does not describe exit $code as '$desc'"
	done <<< "$header"
}

@test "nimbus.conf.5 documents every configuration key, and no other" {
	diff -u <(nimbus config list --json | jq -r '.[].key' | sort) \
		<(sed -n 's/^\.It Cm \([a-z0-9_]*\.[a-z0-9_]*\)$/\1/p' "$NIMBUS_SRC/man/nimbus.conf.5" | sort)
}

@test "the bash completion offers every command and a command's words" {
	local words
	# shellcheck source=/dev/null
	source "$NIMBUS_SRC/completions/nimbus.bash"
	nimbus() { "$NIMBUS" "$@"; }
	COMP_WORDS=(nimbus "")
	COMP_CWORD=1
	_nimbus
	for c in $(nimbus help --commands); do
		printf '%s\n' "${COMPREPLY[@]}" | grep -qx "$c" || fail "bash completion does not offer '$c'"
	done
	COMP_WORDS=(nimbus config "")
	COMP_CWORD=2
	_nimbus
	words=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
	[ "$words" = "get list " ] || fail "config subcommands: '$words'"
	COMP_WORDS=(nimbus config list --j)
	COMP_CWORD=3
	_nimbus
	[ "${COMPREPLY[*]}" = --json ] || fail "config list --j: '${COMPREPLY[*]}'"
	COMP_WORDS=(nimbus -c)
	COMP_CWORD=1
	_nimbus
	[ "${#COMPREPLY[@]}" -eq 0 ] || [ "${COMPREPLY[0]}" = -c ] || fail "-c: '${COMPREPLY[*]}'"
}

@test "the zsh completion is valid zsh and asks nimbus for its words" {
	grep -q 'help --commands' "$NIMBUS_SRC/completions/_nimbus"
	grep -q -- '--completion-helper' "$NIMBUS_SRC/completions/_nimbus"
	if command -v zsh >/dev/null; then
		zsh -n "$NIMBUS_SRC/completions/_nimbus"
	fi
}

@test "every command is in the README" {
	local cmd
	for cmd in $(nimbus help --commands); do
		grep -q "nimbus $cmd" "$NIMBUS_SRC/README.md" || fail "README.md does not mention 'nimbus $cmd'"
	done
}
