# Helpers for the key and token tests: crafting JWTs by hand with the
# openssl command, to present nimbus with tokens it would never mint.

# setup() of the key and token tests: keys.dir is $KEYS.
keys_setup() {
	common_setup
	require_cmd jq openssl basenc
	KEYS=$BATS_TEST_TMPDIR/keys
}

b64url() {
	basenc --base64url -w0 | tr -d '='
}

# The signing input of a header and a payload (JSON texts).
jwt_input() {
	printf '%s.%s' "$(printf '%s' "$1" | b64url)" "$(printf '%s' "$2" | b64url)"
}

# A JWT of header $2 and payload $3 signed with the Ed25519 PEM key $1.
jwt_sign_ed25519() {
	local input f=$BATS_TEST_TMPDIR/jwt-input
	input=$(jwt_input "$2" "$3")
	printf '%s' "$input" > "$f"
	printf '%s.%s\n' "$input" "$(openssl pkeyutl -sign -rawin -inkey "$1" -in "$f" | b64url)"
}

# A JWT of header $2 and payload $3 with an HMAC-SHA256 keyed with $1.
jwt_sign_hs256() {
	local input
	input=$(jwt_input "$2" "$3")
	printf '%s.%s\n' "$input" "$(printf '%s' "$input" | openssl dgst -sha256 -hmac "$1" -binary | b64url)"
}

# The kid of the current key.
current_kid() {
	nimbus key list --json | jq -r '.[] | select(.state == "current") | .kid'
}

# The RFC 7638 thumbprint of a public JWK on stdin, by jq and openssl.
thumbprint() {
	jq -jcS 'if .kty == "RSA" then {e, kty, n} elif .kty == "EC" then {crv, kty, x, y}
		 else {crv, kty, x} end' | openssl dgst -sha256 -binary | b64url
}

# Claims valid for now, with $1 added (a JSON object's members, or empty).
claims() {
	local now
	now=$(date +%s)
	printf '{"iss":"nimbus","aud":"cache","iat":%d,"nbf":%d,"exp":%d,"scope":"pull:acme"%s}' \
		"$now" "$now" $((now + 600)) "${1:+,$1}"
}
