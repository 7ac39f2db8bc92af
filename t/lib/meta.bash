# Helpers for the meta tests that keep the commands, their help, their man
# pages and the completions in sync.

# Every command, then every "command subcommand", one per line.
all_commands() {
	local cmd sub
	for cmd in $(nimbus help --commands); do
		echo "$cmd"
		nimbus "$cmd" --completion-helper | while IFS= read -r sub; do
			case $sub in -*) ;; *) echo "$cmd $sub" ;; esac
		done
	done
}

# Normalise a synopsis or usage line: single blanks, "X ..." as "X...".
normalise() {
	sed -e 's/[[:space:]][[:space:]]*/ /g' -e 's/^ //' -e 's/ $//' -e 's/ \.\.\./.../g'
}

# The usage lines of `nimbus ARGS -h`.
usage_lines() {
	nimbus "$@" -h | sed -n -e 's/^usage: //p' -e 's/^   or: //p' | normalise
}

# The SYNOPSIS of a man page, one entry per line.
synopsis_lines() {
	mandoc -Tascii -O width=400 "$1" | col -bx |
		sed -n '/^SYNOPSIS/,/^[A-Z]/{/^ /p}' | normalise
}

# mandoc -Tlint, less what depends on the machine rather than the page:
# whether the pages it refers to (ours, curl(1) ...) are installed where
# mandoc looks, and the state of its database.
man_lint() {
	mandoc -Tlint "$1" 2>&1 | grep -v -e 'referenced manual not found: Xr ' -e 'outdated mandoc.db' || true
}
