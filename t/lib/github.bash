# The GitHub double for the tests: `load lib/github` after lib/common.
#
# It defines setup_file (github_key), setup (github_setup) and teardown
# (github_teardown); a file that needs more defines its own and calls them.
# github_setup starts t/helpers/github-double for the App 4242 with
# installation 77, orgs acme and widgets and the repository acme/app
# (more arguments go to the double), and points nimbus at it with the
# App's key; each test gets a fresh double and a fresh store. With GH_WRAP
# set, the double runs as "$GH_WRAP double ARG..." (lib/reap: in the
# test's own namespaces).

# The App's key pair, once per file: RSA keys take a while to make.
github_key() {
	command -v openssl >/dev/null || return 0
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
		-out "$BATS_FILE_TMPDIR/app.pem" 2>/dev/null
	chmod 600 "$BATS_FILE_TMPDIR/app.pem"
	openssl pkey -in "$BATS_FILE_TMPDIR/app.pem" -pubout -out "$BATS_FILE_TMPDIR/app.pub"
}

github_setup() {
	common_setup
	require_cmd openssl jq curl
	GH_KEY=$BATS_TEST_TMPDIR/app.pem
	install -m 600 "$BATS_FILE_TMPDIR/app.pem" "$GH_KEY"
	github_double_start "$@"
	export NIMBUS_GITHUB_APP_ID=4242
	export NIMBUS_GITHUB_PRIVATE_KEY_FILE=$GH_KEY
	export NIMBUS_GITHUB_INSTALLATION_ID=77
	export NIMBUS_GITHUB_ORGS=acme
}

github_double_start() {
	GH_PORT=$(free_port)
	${GH_WRAP:-} "$NIMBUS_BUILD/t/helpers/github-double" --listen "127.0.0.1:$GH_PORT" --app-id 4242 \
		--public-key "$BATS_FILE_TMPDIR/app.pub" --installation 77 --org acme \
		--org widgets --repo acme/app "$@" 2>>"$BATS_TEST_TMPDIR/double.log" 3>&- &
	GH_PID=$!
	GH=http://127.0.0.1:$GH_PORT
	wait_for 100 curl -sf "$GH/_double/counts" || fail "the GitHub double did not start"
	export NIMBUS_GITHUB_API_URL=$GH
}

github_teardown() {
	[ -z "${GH_PID:-}" ] || { kill "$GH_PID" 2>/dev/null; wait "$GH_PID" 2>/dev/null; } || true
}

setup_file() {
	github_key
}

setup() {
	github_setup
}

teardown() {
	github_teardown
}

# Requests the double has seen at an endpoint (access_tokens, installation,
# runners, runner, runner_delete, jitconfig, total).
gh_count() {
	curl -sf "$GH/_double/counts" | jq ".$1 // 0"
}

# gh_fault KIND [PARAM=VALUE]...: the double's next answers go wrong.
gh_fault() {
	local q="kind=$1" p
	shift
	for p in "$@"; do
		q="$q&$p"
	done
	curl -sf -X POST "$GH/_double/fault?$q"
}

# gh_runner SCOPE NAME [PARAM=VALUE]...: register runners; prints their ids.
gh_runner() {
	local q="scope=$1&name=$2" p
	shift 2
	for p in "$@"; do
		q="$q&$p"
	done
	curl -sf -X POST "$GH/_double/runner?$q"
}

# Milliseconds since the epoch, for waits that must have happened.
ms() {
	date +%s%3N
}
