# The npm package jose, installed once per test file (or per benchmark)
# into a temporary directory: jose_install DIR sets JOSE to a command
# that runs t/lib/jose-interop.mjs beside it.

jose_install() {
	local dir=$1
	command -v node >/dev/null && command -v npm >/dev/null || return 1
	if [ ! -d "$dir/node_modules/jose" ]; then
		mkdir -p "$dir"
		npm install --prefix "$dir" --no-audit --no-fund --silent jose@6 >"$dir/npm.log" 2>&1 ||
			return 1
	fi
	cp "$NIMBUS_SRC/t/lib/jose-interop.mjs" "$dir/"
	JOSE="node $dir/jose-interop.mjs"
}
