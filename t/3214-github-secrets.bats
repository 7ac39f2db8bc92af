#!/usr/bin/env bats
# No installation token, App JWT, JIT configuration or private-key
# material in any output at -v -v, but github token's (and jitconfig's)
# own stdout.

load lib/common
load lib/github

# The base64 lines of the App's key, the JWT header prefix every App
# JWT starts with, and the given secrets: none may appear in $1.
refute_secrets() {
	local f=$1 s
	shift
	while read -r s; do
		case $s in -----*|'') continue ;; esac
		! grep -qF -- "$s" "$f" || fail "a line of the private key is in $f"
	done <"$GH_KEY"
	# {"alg":"RS256","typ":"JWT"}, base64url: the App's JWTs
	! grep -q 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9' "$f" || fail "an App JWT is in $f"
	# github token's stdout is the one place for a token
	[[ $f == */token.out ]] || ! grep -q 'ghs_' "$f" || fail "an installation token is in $f"
	for s in "$@"; do
		! grep -qF -- "$s" "$f" || fail "a secret is in $f"
	done
}

@test "at -v -v no token, JWT, JIT configuration or key material leaks" {
	local d=$BATS_TEST_TMPDIR/out token jit
	mkdir -p "$d"
	gh_runner acme nimbus-00000001 >/dev/null
	gh_runner acme nimbus-00000002 busy=1 >/dev/null
	nimbus -v -v github token >"$d/token.out" 2>"$d/token.err"
	token=$(cat "$d/token.out")
	[[ $token == ghs_* ]]
	nimbus -v -v github jitconfig --name nimbus-0000000a >"$d/jit.out" 2>"$d/jit.err"
	jit=$(cat "$d/jit.out")
	[ -n "$jit" ]
	nimbus -v -v github jitconfig --name nimbus-0000000b --json >"$d/jitjson.out" 2>"$d/jitjson.err"
	nimbus -v -v github runners --json >"$d/runners.out" 2>"$d/runners.err"
	nimbus -v -v github deregister --name nimbus-00000001 >"$d/dereg.out" 2>"$d/dereg.err"
	nimbus -v -v github deregister --name nimbus-00000002 >"$d/busy.out" 2>"$d/busy.err" || true
	nimbus -v -v github breaker >"$d/breaker.out" 2>"$d/breaker.err"
	# failures: retried, refused, revoked, rate limited
	gh_fault 500 endpoint=runners
	gh_fault status status=401 endpoint=runners
	nimbus -v -v github runners >"$d/retry.out" 2>"$d/retry.err"
	curl -sf -X POST "$GH/_double/revoke"
	nimbus -v -v github runners >"$d/revoked.out" 2>"$d/revoked.err"
	gh_fault 429 seconds=600
	nimbus -v -v -c github.max_wait=1 github runners >"$d/limited.out" 2>"$d/limited.err" || true
	chmod 644 "$GH_KEY"
	nimbus -v -v github token --installation 78 >"$d/loose.out" 2>"$d/loose.err" || true
	chmod 600 "$GH_KEY"
	NIMBUS_GITHUB_APP_ID=1 nimbus -v -v github runners --org widgets \
		>"$d/badjwt.out" 2>"$d/badjwt.err" || true
	# the trace is there, masked
	grep -q 'trace: > Authorization: Bearer <redacted>' "$d/token.err"
	grep -q 'trace: > Authorization: Bearer <redacted>' "$d/runners.err"
	for f in "$d"/*.err "$d"/*.out; do
		case $f in
		*/token.out) refute_secrets "$f" "$jit" ;;
		*/jit.out) refute_secrets "$f" "$token" ;;
		*/jitjson.out) refute_secrets "$f" "$token" ;;
		*) refute_secrets "$f" "$token" "$jit" ;;
		esac
	done
	# the jitconfig --json output holds its own configuration only
	jq -e '.encoded_jit_config | length > 0' "$d/jitjson.out"
}

@test "nothing of the key or a token is written outside the store" {
	nimbus github token >/dev/null
	nimbus github runners >/dev/null
	run grep -rl ghs_ "$HOME" "$NIMBUS_CORE_RUN_DIR" "$BATS_TEST_TMPDIR/double.log"
	assert_failure
}
