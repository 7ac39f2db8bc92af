#!/usr/bin/env bats
# No key material and no token reaches standard error: every command of
# issue 4 runs with -v -v (debug and trace logging), through its success
# and its failure paths, and stderr is searched for every private key (the
# PEM text and each line of its base64 body) and every token.
# No command here takes an HMAC secret; the HS256 forgery's key is public.

load lib/common
load lib/jwt

setup() {
	keys_setup
	LOG=$BATS_TEST_TMPDIR/stderr.log
	SECRETS=$BATS_TEST_TMPDIR/secrets
	: > "$LOG"
	: > "$SECRETS"
}

# Run nimbus -v -v with stderr appended to the log; keep stdout.
vv() {
	nimbus -v -v "$@" 2>>"$LOG"
}

# Record the secrets of a PEM private key file: its body lines and the body as one line.
pem_secrets() {
	grep -v -- '-----' "$1" >> "$SECRETS"
	grep -v -- '-----' "$1" | tr -d '\n' >> "$SECRETS"
	echo >> "$SECRETS"
}

# Record a token and its signature.
token_secrets() {
	printf '%s\n%s\n' "$1" "${1##*.}" >> "$SECRETS"
}

@test "no private key, no token in stderr of any key or token command at -v -v" {
	local kid a b token forged now hdr
	for alg in EdDSA ES256 RS256; do
		kid=$(vv key rotate --alg "$alg" --activate-after 0)
		pem_secrets "$KEYS/$kid.pem"
		token=$(vv token mint --scope pull:acme --aud cache --repo acme/widgets --job 1 --runner r1)
		token_secrets "$token"
		vv token verify --aud cache --scope pull:acme <<< "$token" >/dev/null
		vv token verify "$token" --scope push:acme >/dev/null || true
		vv token verify "$token" --aud logs >/dev/null || true
		vv token verify "${token%?}A" >/dev/null || true
		vv --json token mint --scope push:acme > "$BATS_TEST_TMPDIR/minted.json"
		token_secrets "$(jq -r .token "$BATS_TEST_TMPDIR/minted.json")"
	done
	vv key list >/dev/null
	vv key list --json >/dev/null
	vv key jwks >/dev/null

	openssl genpkey -algorithm ed25519 -out "$BATS_TEST_TMPDIR/imported.pem" 2>/dev/null
	pem_secrets "$BATS_TEST_TMPDIR/imported.pem"
	a=$(vv key import "$BATS_TEST_TMPDIR/imported.pem" --activate-after 0)
	vv key import - < "$BATS_TEST_TMPDIR/imported.pem" || true
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$BATS_TEST_TMPDIR/p384.pem" 2>/dev/null
	pem_secrets "$BATS_TEST_TMPDIR/p384.pem"
	vv key import "$BATS_TEST_TMPDIR/p384.pem" || true
	head -c 200 "$BATS_TEST_TMPDIR/imported.pem" > "$BATS_TEST_TMPDIR/truncated.pem"
	vv key import "$BATS_TEST_TMPDIR/truncated.pem" || true

	# forgeries: expired, alg none, HS256 keyed with the public key
	now=$(date +%s)
	hdr="{\"alg\":\"EdDSA\",\"kid\":\"$a\"}"
	forged=$(jwt_sign_ed25519 "$KEYS/$a.pem" "$hdr" "{\"iss\":\"nimbus\",\"exp\":$((now - 100))}")
	token_secrets "$forged"
	vv token verify "$forged" || true
	forged="$(jwt_input "{\"alg\":\"none\",\"kid\":\"$a\"}" "$(claims)").AAAA"
	token_secrets "$forged"
	vv token verify - <<< "$forged" || true
	forged=$(jwt_sign_hs256 "$(openssl pkey -in "$KEYS/$a.pem" -pubout)" "{\"alg\":\"HS256\",\"kid\":\"$a\"}" "$(claims)")
	token_secrets "$forged"
	vv token verify "$forged" || true

	# loose mode, retirement, pruning
	token=$(vv token mint --scope pull:acme)
	token_secrets "$token"
	chmod 644 "$KEYS/$a.pem"
	vv token mint --scope pull:acme || true
	chmod 600 "$KEYS/$a.pem"
	b=$(vv key rotate --activate-after 0)
	pem_secrets "$KEYS/$b.pem"
	vv key retire -- "$a"
	vv token verify "$token" || true
	vv key prune --older-than 0 >/dev/null

	# the log has content to search: the commands did log at -v -v
	grep -q 'debug\|loaded\|saved\|minted' "$LOG" || fail "no debug lines at -v -v: $(cat "$LOG")"
	[ "$(wc -l < "$SECRETS")" -gt 40 ]
	while IFS= read -r secret; do
		[ ${#secret} -ge 16 ] || continue
		if grep -qF -- "$secret" "$LOG"; then
			fail "a secret reached stderr: ${secret:0:12}..."
		fi
	done < "$SECRETS"
	! grep -q -- '-----BEGIN' "$LOG"
	! grep -qE 'eyJ[A-Za-z0-9_-]+\.eyJ' "$LOG"
}
