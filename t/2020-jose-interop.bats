#!/usr/bin/env bats
# Interoperability with the npm package jose: tokens minted by nimbus pass
# jwtVerify against nimbus' JWKS, JWTs signed by jose with a key imported
# into nimbus pass nimbus, and the key ids are jose's JWK thumbprints.

load lib/common
load lib/jwt
load lib/jose

setup_file() {
	# one install for the whole file; the outcome is read by setup()
	jose_install "$BATS_FILE_TMPDIR/jose" && touch "$BATS_FILE_TMPDIR/jose-ok"
}

setup() {
	common_setup
	require_cmd jq
	[ -e "$BATS_FILE_TMPDIR/jose-ok" ] ||
		require "the npm package jose (npm install failed: $(tail -3 "$BATS_FILE_TMPDIR/jose/npm.log" 2>/dev/null))"
	jose_install "$BATS_FILE_TMPDIR/jose"
}

@test "tokens minted by nimbus pass jose's jwtVerify against nimbus' JWKS, for every algorithm" {
	local alg kid token
	for alg in EdDSA ES256 RS256; do
		kid=$(nimbus key rotate --alg "$alg" --activate-after 0 2>/dev/null)
		token=$(nimbus token mint --scope pull:acme --aud cache --repo acme/widgets)
		nimbus key jwks > "$BATS_TEST_TMPDIR/jwks.json"
		run $JOSE verify "$BATS_TEST_TMPDIR/jwks.json" "$token"
		assert_success
		[ "$(jq -r '[.alg, .kid, .scope, .repo] | join(" ")' <<< "$output")" = "$alg $kid pull:acme acme/widgets" ] ||
			fail "$alg: $output"
	done
}

@test "jose refuses a nimbus token once its key is retired" {
	local a token
	a=$(nimbus key rotate)
	token=$(nimbus token mint --scope pull:acme --aud cache)
	nimbus key rotate --activate-after 0 >/dev/null 2>&1
	nimbus key retire -- "$a"
	nimbus key jwks > "$BATS_TEST_TMPDIR/jwks.json"
	run $JOSE verify "$BATS_TEST_TMPDIR/jwks.json" "$token"
	assert_failure
}

@test "JWTs signed by jose with a key imported into nimbus pass nimbus, for every algorithm" {
	local alg kid token
	for alg in EdDSA ES256 RS256; do
		mkdir -p "$BATS_TEST_TMPDIR/$alg"
		{ read -r kid; read -r token; } < <($JOSE sign "$alg" "$BATS_TEST_TMPDIR/$alg")
		run --separate-stderr nimbus key import --activate-after 0 "$BATS_TEST_TMPDIR/$alg/key.pem"
		assert_success
		[ "$output" = "$kid" ] || fail "$alg: nimbus kid $output, jose thumbprint $kid"
		run nimbus token verify --aud cache --scope pull:acme --json <<< "$token"
		assert_success
		[ "$(jq -r .sub <<< "$output")" = jose ]
	done
}

@test "the JWKS key ids are jose's JWK thumbprints" {
	local kid tp
	nimbus key rotate --alg RS256 >/dev/null
	nimbus key rotate --alg ES256 --activate-after 0 >/dev/null 2>&1
	nimbus key rotate --alg EdDSA >/dev/null 2>&1
	nimbus key jwks > "$BATS_TEST_TMPDIR/jwks.json"
	run $JOSE thumbprints "$BATS_TEST_TMPDIR/jwks.json"
	assert_success
	[ "${#lines[@]}" -eq 3 ]
	while read -r kid tp; do
		[ "$kid" = "$tp" ] || fail "kid $kid, jose thumbprint $tp"
	done <<< "$output"
}
