#!/usr/bin/env bash
# Tokens minted and verified per second, for EdDSA, ES256 and RS256, by
# nimbus in one process (t/helpers/token-bench: token_mint, and
# token_verify as services call it), beside the npm package jose doing
# the same in Node and `openssl speed` for the bare signature primitive,
# all in this run. Prints the ratios; the target is a verify rate of at
# least 0.85 of the primitive's for every algorithm.
set -euo pipefail
: "${NIMBUS_BUILD:?}" "${NIMBUS_SRC:?}"
N=${TOKEN_BENCH_N:-20000}
bench=$NIMBUS_BUILD/t/helpers/token-bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

NIMBUS_CONFIG=$tmp/nimbus.conf
export NIMBUS_CONFIG
: > "$NIMBUS_CONFIG"
"$bench" "$N" > "$tmp/nimbus"

openssl speed -seconds 3 ed25519 ecdsap256 rsa2048 2>/dev/null | awk '
	/EdDSA \(Ed25519\)/ { print "EdDSA", $(NF-1), $NF }
	/ecdsa \(nistp256\)/ { print "ES256", $(NF-1), $NF }
	/^rsa 2048 bits/ { print "RS256", $(NF-1), $NF }' > "$tmp/openssl"

# shellcheck source=../lib/jose.bash
. "$NIMBUS_SRC/t/lib/jose.bash"
if jose_install "$tmp/jose"; then
	for alg in EdDSA ES256 RS256; do
		n=$N
		[ "$alg" != RS256 ] || n=$((N / 4))
		echo "$alg $($JOSE bench "$alg" "$n")"
	done > "$tmp/jose.rates"
else
	echo "token.sh: the npm package jose could not be installed; no jose figures" >&2
	: > "$tmp/jose.rates"
fi

join <(sort "$tmp/nimbus") <(sort "$tmp/openssl") | join -a1 -e - -o auto - <(sort "$tmp/jose.rates") |
awk 'BEGIN { printf "%-6s %12s %12s %12s %12s %12s %12s %7s %7s\n", "alg", "nimbus_mint",
		"nimbus_verify", "jose_mint", "jose_verify", "ssl_sign", "ssl_verify", "vs_ssl", "vs_jose" }
     { printf "%-6s %12d %12d %12s %12s %12d %12d %7.2f %7s\n", $1, $2, $3, $6, $7, $4, $5,
		$3 / $5, $7 == "-" ? "-" : sprintf("%.2f", $3 / $7) }'
echo "vs_ssl: nimbus token verify over the bare signature verify (target >= 0.85)"
echo "vs_jose: nimbus token verify over jose's jwtVerify"
