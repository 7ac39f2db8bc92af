#!/usr/bin/env bats
# The per-org rate limit of POST /webhook (ratelimit.webhook 10/s with
# bursts of 10 here), through the HTTP server with a concurrent client,
# on each kv.

bats_require_minimum_version 1.5.0
load lib/common
load lib/services
load lib/webhook

setup_file() {
	services_start
}

teardown_file() {
	services_stop
}

setup() {
	common_setup
	webhook_secrets
	export NIMBUS_WEBHOOK_SECRET_FILE=$GH_SECRETS
	export NIMBUS_RATELIMIT_WEBHOOK=10/s NIMBUS_RATELIMIT_WEBHOOK_BURST=10
	WEBHOOK_PID=
}

teardown() {
	webhook_stop
}

# deliveries DIR ORG N: N distinct deliveries of ORG in DIR/0... (in_progress:
# they queue nothing, so that only the limit and the claim take time).
deliveries() {
	local i
	for ((i = 0; i < $3; i++)); do
		gh_delivery "$1/$i" "$(ORG=$2 workflow_job in_progress $((RANDOM * 100000 + i)))"
	done
}

# admitted DIR N: POST DIR/0..N-1 at once; prints how many got 204.
admitted() {
	local i dirs=()
	for ((i = 0; i < $2; i++)); do
		dirs+=("$1/$i")
	done
	post_parallel "${dirs[@]}" > "$1.statuses"
	sort "$1.statuses" | uniq -c | sed 's/^/# /' >&3
	grep -cx 204 "$1.statuses" || true
}

# Tokens of a 10/s bucket between two times of date +%s%N, rounded down or up.
tokens_down() {
	echo $((($2 - $1) / 100000000))
}

tokens_up() {
	echo $((($2 - $1 + 99999999) / 100000000))
}

limits() {
	local d=$BATS_TEST_TMPDIR/$KV_DRIVER-$STORE_DRIVER n t0 t1 t2 t3 lo hi
	deliveries "$d/a" org-a 100
	deliveries "$d/a2" org-a 20
	deliveries "$d/b" org-b 1
	webhook_start
	# the burst, ± 1, and what the rate refills while the 100 are answered
	# (a token per 100 ms: none when the machine is not loaded)
	t0=$(date +%s%N)
	n=$(admitted "$d/a" 100)
	t1=$(date +%s%N)
	hi=$((11 + $(tokens_down "$t0" "$t1")))
	echo "# org-a, 100 at once: $n admitted in $(((t1 - t0) / 1000000)) ms, 9 to $hi expected" >&3
	[ "$n" -ge 9 ] && [ "$n" -le "$hi" ]
	[ "$(grep -cx 429 "$d/a.statuses")" -eq $((100 - n)) ]
	grep -l TOO_MANY_REQUESTS "$d"/a/*/answer >/dev/null
	# the other org is untouched
	[ "$(post "$d/b/0")" = 204 ]
	# then the bucket refills at the rate: one token every 100 ms since it
	# ran empty, at some time during the burst, up to the burst
	sleep 0.5
	t2=$(date +%s%N)
	n=$(admitted "$d/a2" 20)
	t3=$(date +%s%N)
	lo=$(tokens_down "$t1" "$t2")
	hi=$(tokens_up "$t0" "$t2")
	((lo <= 10)) || lo=10
	((hi <= 10)) || hi=10
	lo=$((lo - 1)) hi=$((hi + $(tokens_up "$t2" "$t3") + 1))
	echo "# org-a, 20 at once $(((t2 - t1) / 1000000)) ms later: $n admitted, $lo to $hi expected" >&3
	[ "$n" -ge "$lo" ] && [ "$n" -le "$hi" ]
	webhook_stop
}

@test "10/s with bursts of 10: 100 at once admit 10 ± 1, then the rate; orgs apart; each kv" {
	for_each_kv limits
}

@test "Retry-After says when to come back" {
	local d=$BATS_TEST_TMPDIR/r
	NIMBUS_RATELIMIT_WEBHOOK=1/m NIMBUS_RATELIMIT_WEBHOOK_BURST=1 deliveries "$d" acme 2
	NIMBUS_RATELIMIT_WEBHOOK=1/m NIMBUS_RATELIMIT_WEBHOOK_BURST=1 webhook_start
	[ "$(post "$d/0")" = 204 ]
	[ "$(post "$d/1")" = 429 ]
	run sed -n 's/^Retry-After: \([0-9]*\)\r$/\1/Ip' "$d/1/answer-headers"
	[ "$output" -ge 55 ] && [ "$output" -le 60 ]
	run nimbus ratelimit show webhook:acme --rate 1/m --burst 1 --json
	[ "$(jq .remaining <<< "$output")" = 0 ]
}
