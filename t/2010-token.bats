#!/usr/bin/env bats
# nimbus token: minting, verifying, rotation and every attack of issue 4,
# each refused with exit 3.

load lib/common
load lib/jwt

setup() {
	keys_setup
}

# The header or payload of a JWT, decoded.
jwt_part() {
	local s
	s=$(cut -d. -f"$2" <<< "$1" | tr '_-' '/+')
	while (( ${#s} % 4 )); do s+='='; done
	base64 -d <<< "$s"
}

@test "mint prints a JWT with the current kid and the claims of DESIGN §4" {
	local kid token
	kid=$(nimbus key rotate)
	run --separate-stderr nimbus token mint --scope pull:acme --scope push:acme --aud registry \
		--ttl 600 --sub ci --repo acme/widgets --job 4242 --runner nimbus-0a1b2c3d
	assert_success
	token=$output
	[ "$(jwt_part "$token" 1 | jq -c .)" = "{\"alg\":\"EdDSA\",\"kid\":\"$kid\",\"typ\":\"JWT\"}" ]
	jwt_part "$token" 2 > "$BATS_TEST_TMPDIR/claims"
	[ "$(jq -r '[.iss, .aud, .sub, .scope, .repo, .job, .runner] | join("|")' "$BATS_TEST_TMPDIR/claims")" = \
		"nimbus|registry|ci|pull:acme push:acme|acme/widgets|4242|nimbus-0a1b2c3d" ]
	[ "$(jq '.exp - .iat' "$BATS_TEST_TMPDIR/claims")" = 600 ]
	[ "$(jq '.nbf == .iat' "$BATS_TEST_TMPDIR/claims")" = true ]
	[[ $(jq -r .jti "$BATS_TEST_TMPDIR/claims") =~ ^[A-Za-z0-9_-]{22}$ ]]
	run nimbus token verify --aud registry --scope push:acme "$token"
	assert_success
	assert_line --regexp '^scope +pull:acme push:acme$'
	run nimbus token verify --json - <<< "$token"
	assert_success
	[ "$(jq -c . <<< "$output")" = "$(jq -c . "$BATS_TEST_TMPDIR/claims")" ]
	run nimbus --json token mint --scope delete:acme
	assert_success
	[ "$(jq -r .kid <<< "$output")" = "$kid" ]
	nimbus token verify --scope delete:acme <<< "$(jq -r .token <<< "$output")" >/dev/null
}

@test "every algorithm mints and verifies" {
	local alg token
	for alg in EdDSA ES256 RS256; do
		nimbus key rotate --alg "$alg" --activate-after 0 >/dev/null 2>&1
		token=$(nimbus token mint --scope pull:acme)
		[ "$(jwt_part "$token" 1 | jq -r .alg)" = "$alg" ]
		nimbus token verify <<< "$token" >/dev/null || fail "$alg token refused"
	done
}

@test "mint checks its arguments before touching a key" {
	run nimbus token mint
	assert_status 2
	for s in pull admin:acme pull:Acme pull:-acme "pull:acme push:acme" pull:a234567890123456789012345678901234567890; do
		run nimbus token mint --scope "$s"
		assert_status 2
	done
	run nimbus token mint --scope pull:acme --aud everything
	assert_status 2
	run nimbus token mint --scope pull:acme --repo acme
	assert_status 2
	run nimbus token mint --scope pull:acme --runner 'two words'
	assert_status 2
	run nimbus token mint --scope pull:acme --ttl 3601
	assert_status 2
	assert_output --partial 'token.max_ttl'
	run nimbus -c token.max_ttl=60 token mint --scope pull:acme --ttl 61
	assert_status 2
	run nimbus token mint --scope pull:acme
	assert_status 4
	assert_output --partial 'nimbus key rotate'
}

@test "the default lifetime is 900 s, or token.max_ttl when shorter" {
	nimbus key rotate >/dev/null
	[ "$(jwt_part "$(nimbus token mint --scope pull:a)" 2 | jq '.exp - .iat')" = 900 ]
	[ "$(jwt_part "$(nimbus -c token.max_ttl=120 token mint --scope pull:a)" 2 | jq '.exp - .iat')" = 120 ]
}

@test "rotation: old tokens verify until their key is retired; new ones carry the new kid" {
	local a b old new
	a=$(nimbus key rotate)
	old=$(nimbus token mint --scope pull:acme)
	b=$(nimbus key rotate --activate-after 2 2>/dev/null)
	[ "$(jwt_part "$(nimbus token mint --scope pull:acme)" 1 | jq -r .kid)" = "$a" ]
	[ "$(nimbus key jwks | jq -r '[.keys[].kid] | sort | join(" ")')" = "$(printf '%s\n' "$a" "$b" | sort | paste -sd' ')" ]
	sleep 2.2
	new=$(nimbus token mint --scope pull:acme)
	[ "$(jwt_part "$new" 1 | jq -r .kid)" = "$b" ]
	nimbus token verify <<< "$old" >/dev/null
	nimbus token verify <<< "$new" >/dev/null
	nimbus key retire -- "$a"
	run nimbus token verify <<< "$old"
	assert_status 3
	assert_output --partial retired
	nimbus token verify <<< "$new" >/dev/null
}

@test "attacks: tampered header, payload or signature" {
	local token h p s
	nimbus key rotate >/dev/null
	token=$(nimbus token mint --scope pull:acme --aud cache)
	IFS=. read -r h p s <<< "$token"
	run nimbus token verify "$(jwt_input '{"alg":"EdDSA","kid":"x","typ":"JWT"}' '{}' | cut -d. -f1).$p.$s"
	assert_status 3
	run nimbus token verify "$h.$(jwt_part "$token" 2 | jq -c '.scope = "push:acme"' | tr -d '\n' | b64url).$s"
	assert_status 3
	assert_output --partial 'bad signature'
	run nimbus token verify "$h.$p.${s:0:10}A${s:11}"
	[ "${s:10:1}" != A ] || run nimbus token verify "$h.$p.${s:0:10}B${s:11}"
	assert_status 3
	run nimbus token verify "$h.$p.${s}AA"
	assert_status 3
	run nimbus token verify "$h.$p"
	assert_status 3
	run nimbus token verify "not a token"
	assert_status 3
	run nimbus token verify "$h.$p.$s" --aud cache
	assert_success
}

@test "attacks: alg none and HS256 keyed with the public key" {
	local kid pub
	kid=$(nimbus key rotate)
	run nimbus token verify "$(jwt_input "{\"alg\":\"none\",\"kid\":\"$kid\"}" "$(claims)")."
	assert_status 3
	run nimbus token verify "$(jwt_input "{\"alg\":\"none\",\"kid\":\"$kid\"}" "$(claims)").AAAA"
	assert_status 3
	assert_output --partial 'alg "none"'
	pub=$(openssl pkey -in "$KEYS/$kid.pem" -pubout)
	run nimbus token verify "$(jwt_sign_hs256 "$pub" "{\"alg\":\"HS256\",\"kid\":\"$kid\"}" "$(claims)")"
	assert_status 3
	assert_output --partial HS256
	pub=$(nimbus key jwks | jq -c '.keys[0]')
	run nimbus token verify "$(jwt_sign_hs256 "$pub" "{\"alg\":\"HS256\",\"kid\":\"$kid\"}" "$(claims)")"
	assert_status 3
	run nimbus token verify "$(jwt_sign_ed25519 "$KEYS/$kid.pem" "{\"alg\":\"ES256\",\"kid\":\"$kid\"}" "$(claims)")"
	assert_status 3
	assert_output --partial 'does not match'
}

@test "attacks: expired, not yet valid, wrong audience, unknown and retired kids" {
	local kid now hdr
	kid=$(nimbus key rotate)
	now=$(date +%s)
	hdr="{\"alg\":\"EdDSA\",\"kid\":\"$kid\",\"typ\":\"JWT\"}"
	# a correctly signed token of our own key verifies: the forgeries below differ only in one thing
	run nimbus token verify --aud cache "$(jwt_sign_ed25519 "$KEYS/$kid.pem" "$hdr" "$(claims)")"
	assert_success
	run nimbus token verify "$(jwt_sign_ed25519 "$KEYS/$kid.pem" "$hdr" \
		"{\"iss\":\"nimbus\",\"exp\":$((now - 61)),\"scope\":\"pull:acme\"}")"
	assert_status 3
	assert_output --partial expired
	run nimbus token verify "$(jwt_sign_ed25519 "$KEYS/$kid.pem" "$hdr" \
		"{\"iss\":\"nimbus\",\"exp\":$((now - 30)),\"scope\":\"pull:acme\"}")"
	assert_success
	run nimbus token verify "$(jwt_sign_ed25519 "$KEYS/$kid.pem" "$hdr" \
		"{\"iss\":\"nimbus\",\"nbf\":$((now + 120)),\"exp\":$((now + 900))}")"
	assert_status 3
	assert_output --partial 'not yet valid'
	run nimbus token verify "$(jwt_sign_ed25519 "$KEYS/$kid.pem" "$hdr" "{\"iss\":\"nimbus\"}")"
	assert_status 3
	run nimbus token verify "$(jwt_sign_ed25519 "$KEYS/$kid.pem" "$hdr" "$(claims)" | tr -d '\n')" --aud logs
	assert_status 3
	assert_output --partial 'wrong audience'
	run nimbus token verify "$(jwt_sign_ed25519 "$KEYS/$kid.pem" "$hdr" "$(claims '"iss":"elsewhere"' | jq -c '.iss = "elsewhere"')")"
	assert_status 3
	run nimbus token verify "$(jwt_sign_ed25519 "$KEYS/$kid.pem" \
		'{"alg":"EdDSA","kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"}' "$(claims)")"
	assert_status 3
	assert_output --partial 'unknown kid'
	cp "$KEYS/$kid.pem" "$BATS_TEST_TMPDIR/old.pem"
	nimbus key rotate --activate-after 0 >/dev/null 2>&1
	nimbus key retire -- "$kid"
	run nimbus token verify "$(jwt_sign_ed25519 "$BATS_TEST_TMPDIR/old.pem" "$hdr" "$(claims)")"
	assert_status 3
	assert_output --partial retired
}

@test "attacks: pull:a presented for push:a or pull:b" {
	local token
	nimbus key rotate >/dev/null
	token=$(nimbus token mint --scope pull:a)
	nimbus token verify --scope pull:a <<< "$token" >/dev/null
	run nimbus token verify --scope push:a <<< "$token"
	assert_status 3
	assert_output --partial 'scope missing: push:a'
	run nimbus token verify --scope pull:b <<< "$token"
	assert_status 3
	run nimbus token verify --scope pull:a --scope pull:b <<< "$token"
	assert_status 3
	run nimbus token verify --scope bogus <<< "$token"
	assert_status 2
}

@test "verify without keys is exit 4; an oversized token is malformed" {
	run nimbus token verify "$(jwt_input '{"alg":"EdDSA","kid":"x"}' '{}').AAAA"
	assert_status 4
	nimbus key rotate >/dev/null
	run nimbus token verify - < <(head -c 20000 /dev/zero | tr '\0' a)
	assert_status 3
	assert_output --partial malformed
}
