#!/usr/bin/env bats
# nimbus key: rotation, the keyset file, the JWKS, retirement, pruning,
# import, file modes and concurrent writers.

load lib/common
load lib/jwt

setup() {
	keys_setup
}

@test "the first rotate creates a current key; keys.dir and the key file are private" {
	run --separate-stderr nimbus key rotate
	assert_success
	[[ $output =~ ^[A-Za-z0-9_-]{43}$ ]] || fail "not a kid: $output"
	kid=$output
	[ "$(current_kid)" = "$kid" ]
	[ "$(stat -c %a "$KEYS")" = 700 ]
	[ "$(stat -c %a "$KEYS/$kid.pem")" = 600 ]
	grep -q -- '-----BEGIN PRIVATE KEY-----' "$KEYS/$kid.pem"
	[ "$(jq -r '.keys[0].kid' "$KEYS/keyset.json")" = "$kid" ]
	[ ! -e "$KEYS/keyset.json.tmp" ]
}

@test "kid is the RFC 7638 thumbprint of each algorithm's public key" {
	local alg kid
	for alg in EdDSA ES256 RS256; do
		kid=$(nimbus key rotate --alg "$alg" --activate-after 0 2>/dev/null)
		nimbus key jwks | jq -c --arg k "$kid" '.keys[] | select(.kid == $k)' > "$BATS_TEST_TMPDIR/jwk"
		[ "$(jq -r .alg "$BATS_TEST_TMPDIR/jwk")" = "$alg" ]
		[ "$(thumbprint < "$BATS_TEST_TMPDIR/jwk")" = "$kid" ] || fail "$alg: kid is not the thumbprint"
	done
	run nimbus key rotate --alg HS256
	assert_status 2
	run nimbus key rotate --alg none
	assert_status 2
}

@test "the JWKS has next, current and previous keys and never a private member" {
	local a b c
	a=$(nimbus key rotate --alg RS256)
	b=$(nimbus key rotate --alg ES256 --activate-after 0 2>/dev/null)
	c=$(nimbus key rotate --activate-after 300)
	run nimbus key list --json
	assert_success
	[ "$(jq -r --arg k "$a" '.[] | select(.kid == $k) | .state' <<< "$output")" = previous ]
	[ "$(jq -r --arg k "$b" '.[] | select(.kid == $k) | .state' <<< "$output")" = current ]
	[ "$(jq -r --arg k "$c" '.[] | select(.kid == $k) | .state' <<< "$output")" = next ]
	run nimbus key jwks
	assert_success
	[ "$(jq '.keys | length' <<< "$output")" = 3 ]
	[ "$(jq '[.keys[] | keys[] | select(. == "d" or . == "p" or . == "q" or . == "dp" or
		. == "dq" or . == "qi" or . == "k")] | length' <<< "$output")" = 0 ]
	[ "$(jq -r '[.keys[].use] | unique | join(",")' <<< "$output")" = sig ]
}

@test "a next key becomes current once --activate-after has passed" {
	local a b
	a=$(nimbus key rotate)
	b=$(nimbus key rotate --activate-after 2 2>/dev/null)
	[ "$(current_kid)" = "$a" ]
	run nimbus key list
	assert_line --regexp "^$b +EdDSA +next "
	sleep 2.2
	[ "$(current_kid)" = "$b" ]
	run nimbus key list
	assert_line --regexp "^$a +EdDSA +previous "
}

@test "rotate warns when a key activates before the JWKS max-age" {
	nimbus key rotate >/dev/null
	run --separate-stderr nimbus key rotate --activate-after 10
	assert_success
	[[ $stderr == *"before the JWKS max-age of 300s"* ]] || fail "no warning: $stderr"
	run --separate-stderr nimbus -c keys.activate_after=5 key rotate --activate-after 10
	[ -z "$stderr" ] || fail "unexpected: $stderr"
}

@test "retire: the key leaves the JWKS, its private key file goes, unknown kids are exit 4" {
	local a b
	a=$(nimbus key rotate)
	b=$(nimbus key rotate --activate-after 0 2>/dev/null)
	run nimbus key retire -- "$a"
	assert_success
	assert_output ''
	[ ! -e "$KEYS/$a.pem" ]
	[ "$(nimbus key list --json | jq -r --arg k "$a" '.[] | select(.kid == $k) | .state')" = retired ]
	[ "$(nimbus key jwks | jq -r '[.keys[].kid] | join(" ")')" = "$b" ]
	run nimbus key retire -- "$a"
	assert_success
	run nimbus key retire kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k
	assert_status 4
	run nimbus key retire
	assert_status 2
}

@test "retiring the current key says what signs now" {
	local a b
	a=$(nimbus key rotate)
	b=$(nimbus key rotate --activate-after 0 2>/dev/null)
	run --separate-stderr nimbus key retire -- "$b"
	assert_success
	[[ $stderr == *"$a signs from now on"* ]] || fail "$stderr"
	run --separate-stderr nimbus key retire -- "$a"
	[[ $stderr == *"no key is left to sign with"* ]] || fail "$stderr"
	run nimbus token mint --scope pull:acme
	assert_status 4
}

@test "prune retires previous keys that stopped signing long enough ago" {
	local a b c
	a=$(nimbus key rotate)
	b=$(nimbus key rotate --activate-after 0 2>/dev/null)
	c=$(nimbus key rotate --activate-after 600 2>/dev/null)
	run nimbus key prune --older-than 3600
	assert_success
	assert_output ''
	sleep 1.1
	run nimbus key prune --older-than 1
	assert_success
	assert_output "$a"
	run nimbus key list --json
	[ "$(jq -r '[.[] | .state] | join(" ")' <<< "$output")" = "retired current next" ]
	run nimbus key prune --older-than 0 --json
	assert_output '[]'
	run nimbus key prune
	assert_status 2
}

@test "import takes an existing PEM key, from a file or standard input" {
	local kid
	openssl genpkey -algorithm ed25519 -out "$BATS_TEST_TMPDIR/ed.pem" 2>/dev/null
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve \
		-out "$BATS_TEST_TMPDIR/ec.pem" 2>/dev/null
	run nimbus key import "$BATS_TEST_TMPDIR/ed.pem"
	assert_success
	kid=$output
	[ "$(current_kid)" = "$kid" ]
	[ "$(nimbus key jwks | jq -c '.keys[0]' | thumbprint)" = "$kid" ]
	cmp <(openssl pkey -in "$BATS_TEST_TMPDIR/ed.pem" -pubout) <(openssl pkey -in "$KEYS/$kid.pem" -pubout)
	[ "$(stat -c %a "$KEYS/$kid.pem")" = 600 ]
	run nimbus key import "$BATS_TEST_TMPDIR/ed.pem"
	assert_status 5
	run nimbus key import --alg EdDSA - < "$BATS_TEST_TMPDIR/ec.pem"
	assert_status 3
	run nimbus key import --alg ES256 --activate-after 300 - < "$BATS_TEST_TMPDIR/ec.pem"
	assert_success
	[ "$(nimbus key list --json | jq -r --arg k "$output" '.[] | select(.kid == $k) | .state')" = next ]
}

@test "import refuses what it cannot use" {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$BATS_TEST_TMPDIR/small.pem" 2>/dev/null
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$BATS_TEST_TMPDIR/p384.pem" 2>/dev/null
	openssl genpkey -algorithm ed25519 -aes256 -pass pass:hunter22 -out "$BATS_TEST_TMPDIR/enc.pem" 2>/dev/null
	echo 'not a key' > "$BATS_TEST_TMPDIR/junk"
	run nimbus key import "$BATS_TEST_TMPDIR/small.pem"
	assert_status 3
	assert_output --partial '2048'
	run nimbus key import "$BATS_TEST_TMPDIR/p384.pem"
	assert_status 3
	run nimbus key import "$BATS_TEST_TMPDIR/enc.pem"
	assert_status 3
	assert_output --partial 'encrypted'
	run nimbus key import "$BATS_TEST_TMPDIR/junk"
	assert_status 3
	run nimbus key import "$BATS_TEST_TMPDIR/missing.pem"
	assert_status 4
	[ ! -e "$KEYS/keyset.json" ]
}

@test "a private key readable by group or others, or a writable keys.dir, is exit 8" {
	local kid
	kid=$(nimbus key rotate)
	chmod 640 "$KEYS/$kid.pem"
	run nimbus token mint --scope pull:acme
	assert_status 8
	assert_output --partial 'chmod 600'
	chmod 600 "$KEYS/$kid.pem"
	nimbus token mint --scope pull:acme >/dev/null
	chmod 770 "$KEYS"
	run nimbus key rotate
	assert_status 8
	run nimbus key list
	assert_status 8
}

@test "a key file that is a symbolic link is not followed" {
	local kid
	kid=$(nimbus key rotate)
	mv "$KEYS/$kid.pem" "$BATS_TEST_TMPDIR/real.pem"
	ln -s "$BATS_TEST_TMPDIR/real.pem" "$KEYS/$kid.pem"
	run nimbus token mint --scope pull:acme
	assert_failure
	refute_output --partial 'eyJ'
}

@test "concurrent rotations all land, with one current key" {
	local i pids=()
	for i in 1 2 3 4 5 6; do
		nimbus key rotate --activate-after 0 > "$BATS_TEST_TMPDIR/kid.$i" 2>/dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	run nimbus key list --json
	assert_success
	[ "$(jq length <<< "$output")" = 6 ]
	[ "$(jq '[.[] | select(.state == "current")] | length' <<< "$output")" = 1 ]
	for i in 1 2 3 4 5 6; do
		grep -qx -- "$(cat "$BATS_TEST_TMPDIR/kid.$i")" <(jq -r '.[].kid' <<< "$output")
		[ -f "$KEYS/$(cat "$BATS_TEST_TMPDIR/kid.$i").pem" ]
	done
	[ "$(find "$KEYS" -name '*.pem' | wc -l)" = 6 ]
}

@test "a corrupt keyset.json is an error, not an empty keyset" {
	nimbus key rotate >/dev/null
	echo '{"keys": [' > "$KEYS/keyset.json"
	run nimbus key list
	assert_status 1
	assert_output --partial 'keyset.json'
	run nimbus key rotate
	assert_status 1
}

@test "list and jwks of an empty keys.dir" {
	run nimbus key list --json
	assert_success
	assert_output '[]'
	run nimbus key jwks
	assert_success
	[ "$(jq -c . <<< "$output")" = '{"keys":[]}' ]
	[ ! -e "$KEYS" ]
}
