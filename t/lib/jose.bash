# The npm package jose, installed once per test file (or per benchmark)
# into a temporary directory: jose_install DIR sets JOSE to a command
# that runs t/lib/jose-interop.mjs beside it.

jose_install() {
	local dir=$1
	npm_install "$dir" jose@6 || return 1
	cp "$NIMBUS_SRC/t/lib/jose-interop.mjs" "$dir/"
	JOSE="node $dir/jose-interop.mjs"
}
