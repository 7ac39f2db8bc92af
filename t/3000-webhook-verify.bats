#!/usr/bin/env bats
# nimbus webhook sign and verify: the public vectors, both schemes, the
# time window, replays on each kv, secret rotation and the secret file.

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
	D=$BATS_TEST_TMPDIR/d
}

verify() {
	header_args "$1"
	shift
	nimbus webhook verify --secret-file "${VERIFY_SECRETS:-$GH_SECRETS}" "${HEADER_ARGS[@]}" "$@" \
		< "$D/body"
}

@test "GitHub's vector: the signature, and a digit off is refused" {
	local v f=$(vector_file webhooks.json) sig
	v=$(jq -c '.github_hmac_sha256[0]' "$f")
	secret_file "$BATS_TEST_TMPDIR/v.secrets" "$(jq -r .secret <<< "$v")"
	jq -j .payload <<< "$v" > "$BATS_TEST_TMPDIR/payload"
	run nimbus webhook sign --scheme github --secret-file "$BATS_TEST_TMPDIR/v.secrets" --id x \
		< "$BATS_TEST_TMPDIR/payload"
	assert_success
	assert_line "X-Hub-Signature-256: $(jq -r .x_hub_signature_256 <<< "$v")"
	sig=$(jq -r .x_hub_signature_256 <<< "$v")
	mkdir -p "$D"
	cp "$BATS_TEST_TMPDIR/payload" "$D/body"
	printf '%s\n' "X-Hub-Signature-256: $sig" 'X-GitHub-Event: ping' 'X-GitHub-Delivery: x' \
		'X-GitHub-Hook-ID: 1' > "$D/headers"
	# past the signature: "Hello, World!" is no JSON object
	VERIFY_SECRETS=$BATS_TEST_TMPDIR/v.secrets run --separate-stderr verify "$D" --no-replay-check
	assert_status 2
	[[ $stderr == *"not a JSON object"* ]]
	sed -i 's/e17$/e18/' "$D/headers"
	VERIFY_SECRETS=$BATS_TEST_TMPDIR/v.secrets run --separate-stderr verify "$D" --no-replay-check
	assert_status 3
	[[ $stderr == *"bad signature"* ]]
}

@test "Standard Webhooks' vector: the signature, and the ones to reject" {
	local v f=$(vector_file webhooks.json) bad
	v=$(jq -c '.standard_webhooks_v1[0]' "$f")
	secret_file "$BATS_TEST_TMPDIR/v.secrets" "$(jq -r .secret <<< "$v")"
	mkdir -p "$D"
	jq -j .payload <<< "$v" > "$D/body"
	run nimbus webhook sign --secret-file "$BATS_TEST_TMPDIR/v.secrets" \
		--id "$(jq -r .webhook_id <<< "$v")" --timestamp "$(jq -r .webhook_timestamp <<< "$v")" \
		< "$D/body"
	assert_success
	assert_line "webhook-signature: $(jq -r .webhook_signature <<< "$v")"
	assert_line "webhook-id: $(jq -r .webhook_id <<< "$v")"
	assert_line "webhook-timestamp: $(jq -r .webhook_timestamp <<< "$v")"
	# its time is years ago: past the signature, the window refuses it
	printf '%s\n' "$output" > "$D/headers"
	VERIFY_SECRETS=$BATS_TEST_TMPDIR/v.secrets run --separate-stderr verify "$D" --no-replay-check
	assert_status 3
	[[ $stderr == *"outside the window"* ]]
	# a matching entry among others is enough
	sed -i "s|^webhook-signature: \(.*\)|webhook-signature: v1,AAAA v2,x \1|" "$D/headers"
	VERIFY_SECRETS=$BATS_TEST_TMPDIR/v.secrets run --separate-stderr verify "$D" --no-replay-check
	[[ $stderr == *"outside the window"* ]]
	while read -r bad; do
		sed -i "s|^webhook-signature: .*|webhook-signature: $bad|" "$D/headers"
		VERIFY_SECRETS=$BATS_TEST_TMPDIR/v.secrets run --separate-stderr verify "$D" --no-replay-check
		assert_status 3
		[[ $stderr == *"bad signature"* ]]
	done < <(jq -r '.must_reject[]' <<< "$v")
}

@test "a signed GitHub delivery verifies, and says what it is" {
	gh_delivery "$D" "$(ORG=Acme workflow_job queued 42)" d-1 99
	run --separate-stderr verify "$D" --no-replay-check --json
	assert_success
	[ "$(jq -r '[.scheme, .delivery, .event, .hook_id, .org] | join(" ")' <<< "$output")" = \
		"github d-1 workflow_job 99 acme" ]
	[ "$(jq -r .time <<< "$output")" = "$(utc)" ] || [ "$(jq -r .time <<< "$output")" = "$(utc -1)" ]
}

@test "a Standard Webhooks delivery verifies; X-GitHub-Event is optional" {
	std_delivery "$D" '{"hello":"world"}' msg_1
	VERIFY_SECRETS=$STD_SECRETS run --separate-stderr verify "$D" --no-replay-check --json
	assert_success
	[ "$(jq -r '[.scheme, .delivery, .event] | join(" ")' <<< "$output")" = \
		"standard msg_1 workflow_job" ]
	sed -i '/^X-GitHub-Event/d' "$D/headers"
	VERIFY_SECRETS=$STD_SECRETS run --separate-stderr verify "$D" --no-replay-check --json
	assert_success
	[ "$(jq -r .event <<< "$output")" = null ]
}

@test "the window: 11 minutes old or ahead is refused, inside is fine" {
	gh_delivery "$D" "$(AT=$(utc -660) workflow_job queued 1)"
	run --separate-stderr verify "$D" --no-replay-check
	assert_status 3
	[[ $stderr == *"is 660 s ago, outside the window of 600 s"* ]] || [[ $stderr == *"is 661 s ago"* ]]
	run verify "$D" --no-replay-check --window 900
	assert_success
	# each action has its own field
	gh_delivery "$D" "$(AT=$(utc -660) workflow_job completed 1)"
	run verify "$D" --no-replay-check
	assert_status 3
	gh_delivery "$D" "$(AT=$(utc 660) workflow_job in_progress 1)"
	run verify "$D" --no-replay-check
	assert_status 3
	# Standard Webhooks: the signed timestamp
	std_delivery "$D" '{}' "" $(($(date +%s) + 660))
	VERIFY_SECRETS=$STD_SECRETS run --separate-stderr verify "$D" --no-replay-check
	assert_status 3
	[[ $stderr == *"ahead, outside the window"* ]]
	std_delivery "$D" '{}' "" $(($(date +%s) - 300))
	VERIFY_SECRETS=$STD_SECRETS run verify "$D" --no-replay-check
	assert_success
}

@test "other events: the newest time in the payload, or none" {
	EVENT=push gh_delivery "$D" "{\"repository\":{\"pushed_at\":$(($(date +%s) - 5)),\"created_at\":\"2001-01-01T00:00:00Z\"},\"head_commit\":{\"timestamp\":\"$(utc -9000)\"}}"
	run verify "$D" --no-replay-check
	assert_success
	EVENT=push gh_delivery "$D" "{\"head_commit\":{\"timestamp\":\"$(utc -9000)\"}}"
	run verify "$D" --no-replay-check
	assert_status 3
	EVENT=zen gh_delivery "$D" '{"zen":"Keep it logically awesome."}'
	run verify "$D" --no-replay-check
	assert_success
	# a workflow_job must have the field of its action
	gh_delivery "$D" '{"action":"queued","workflow_job":{"id":1}}'
	run --separate-stderr verify "$D" --no-replay-check
	assert_status 2
	[[ $stderr == *"workflow_job.created_at"* ]]
}

replays() {
	gh_delivery "$D" "$(workflow_job queued 7)" same-id
	run verify "$D"
	assert_success
	run --separate-stderr verify "$D"
	assert_status 5
	[[ $stderr == *"replay"* ]]
	# the same body under a fresh delivery id is a replay too
	gh_delivery "$D" "$(cat "$D/body")" fresh-id
	run verify "$D"
	assert_status 5
	# and a fresh body under the same delivery id of the same hook
	gh_delivery "$D" "$(workflow_job queued 8)" same-id
	run verify "$D"
	assert_status 5
	# another hook's delivery with a new body is fine
	gh_delivery "$D" "$(workflow_job queued 8)" same-id 8
	run verify "$D"
	assert_success
	# --no-replay-check claims nothing
	gh_delivery "$D" "$(workflow_job queued 9)"
	run verify "$D" --no-replay-check
	assert_success
	run verify "$D"
	assert_success
	# Standard Webhooks: the id
	std_delivery "$D" '{"a":1}' msg_replay
	VERIFY_SECRETS=$STD_SECRETS run verify "$D"
	assert_success
	std_delivery "$D" '{"a":2}' msg_replay
	VERIFY_SECRETS=$STD_SECRETS run verify "$D"
	assert_status 5
}

@test "replays: the same delivery, or its body, is refused the second time, on each kv" {
	for_each_kv replays
}

@test "a bad signature claims no nonce" {
	gh_delivery "$D" "$(workflow_job queued 3)" d-3
	cp "$D/headers" "$D/good"
	sed -i "s/^X-Hub-Signature-256: .*/X-Hub-Signature-256: sha256=$(printf '0%.0s' {1..64})/" "$D/headers"
	run verify "$D"
	assert_status 3
	cp "$D/good" "$D/headers"
	run verify "$D"
	assert_success
}

@test "rotation: any secret of the file verifies; sign uses the first, or every whsec_" {
	local old new
	old=$(head -n 1 "$GH_SECRETS")
	new="gh-$(random_hex)"
	secret_file "$BATS_TEST_TMPDIR/both" "$new" "$old"
	SIGN_SECRETS=$GH_SECRETS gh_delivery "$D" "$(workflow_job queued 1)"
	VERIFY_SECRETS=$BATS_TEST_TMPDIR/both run verify "$D" --no-replay-check
	assert_success
	secret_file "$BATS_TEST_TMPDIR/new" "$new"
	SIGN_SECRETS=$BATS_TEST_TMPDIR/both gh_delivery "$D" "$(workflow_job queued 1)"
	VERIFY_SECRETS=$BATS_TEST_TMPDIR/new run verify "$D" --no-replay-check
	assert_success
	VERIFY_SECRETS=$GH_SECRETS run verify "$D" --no-replay-check
	assert_status 3
	# whsec_: one v1 entry per secret, each enough on its own
	secret_file "$BATS_TEST_TMPDIR/std-new" "whsec_$(head -c 32 /dev/urandom | base64)"
	cat "$STD_SECRETS" "$BATS_TEST_TMPDIR/std-new" > "$BATS_TEST_TMPDIR/std-both"
	chmod 600 "$BATS_TEST_TMPDIR/std-both"
	SIGN_SECRETS=$BATS_TEST_TMPDIR/std-both std_delivery "$D" '{}'
	[ "$(grep -o 'v1,' "$D/headers" | wc -l)" -eq 2 ]
	VERIFY_SECRETS=$BATS_TEST_TMPDIR/std-new run verify "$D" --no-replay-check
	assert_success
	VERIFY_SECRETS=$STD_SECRETS run verify "$D" --no-replay-check
	assert_success
}

@test "the secret file: mode, missing, malformed, empty; CRLF lines" {
	gh_delivery "$D" "$(workflow_job queued 1)"
	chmod 640 "$GH_SECRETS"
	run --separate-stderr verify "$D" --no-replay-check
	assert_status 8
	[[ $stderr == *"chmod 600"* ]]
	VERIFY_SECRETS=$BATS_TEST_TMPDIR/missing run verify "$D" --no-replay-check
	assert_status 4
	secret_file "$BATS_TEST_TMPDIR/bad" 'whsec_not base64!'
	VERIFY_SECRETS=$BATS_TEST_TMPDIR/bad run --separate-stderr verify "$D" --no-replay-check
	assert_status 7
	[[ $stderr == *":1: a Standard Webhooks secret is whsec_ and base64"* ]]
	[[ $stderr != *"not base64!"* ]]
	secret_file "$BATS_TEST_TMPDIR/empty" "" ""
	VERIFY_SECRETS=$BATS_TEST_TMPDIR/empty run verify "$D" --no-replay-check
	assert_status 7
	chmod 600 "$GH_SECRETS"
	printf '%s\r\n' "$(cat "$GH_SECRETS")" > "$BATS_TEST_TMPDIR/crlf"
	chmod 600 "$BATS_TEST_TMPDIR/crlf"
	VERIFY_SECRETS=$BATS_TEST_TMPDIR/crlf run verify "$D" --no-replay-check
	assert_success
}

@test "malformed deliveries exit 2, naming what is wrong" {
	local h
	gh_delivery "$D" "$(workflow_job queued 1)"
	cp "$D/headers" "$D/good"
	for h in X-Hub-Signature-256 X-GitHub-Event X-GitHub-Delivery X-GitHub-Hook-ID; do
		grep -v "^$h:" "$D/good" > "$D/headers"
		run --separate-stderr verify "$D" --no-replay-check
		assert_status 2
		[[ $stderr == *"missing header $h"* ]]
	done
	sed 's/^X-GitHub-Delivery: .*/X-GitHub-Delivery: a b/' "$D/good" > "$D/headers"
	run verify "$D" --no-replay-check
	assert_status 2
	gh_delivery "$D" '[1,2]'
	run --separate-stderr verify "$D" --no-replay-check
	assert_status 2
	[[ $stderr == *"not a JSON object"* ]]
	gh_delivery "$D" "$(ORG=Bad_Org workflow_job queued 1)"
	run --separate-stderr verify "$D" --no-replay-check
	assert_status 2
	[[ $stderr == *"is not an org id"* ]]
	std_delivery "$D" '{}'
	sed -i 's/^webhook-timestamp: .*/webhook-timestamp: 12x/' "$D/headers"
	VERIFY_SECRETS=$STD_SECRETS run verify "$D" --no-replay-check
	assert_status 2
	run nimbus webhook verify --secret-file "$GH_SECRETS" --header nocolon < /dev/null
	assert_status 2
	run nimbus webhook verify < /dev/null
	assert_status 2
}

@test "sign: its usage errors, and a file without a secret of the scheme" {
	run nimbus webhook sign --secret-file "$GH_SECRETS" --scheme github --timestamp 5 < /dev/null
	assert_status 2
	run nimbus webhook sign --secret-file "$GH_SECRETS" --scheme gitlab < /dev/null
	assert_status 2
	run nimbus webhook sign --secret-file "$GH_SECRETS" --id 'a b' < /dev/null
	assert_status 2
	run --separate-stderr nimbus webhook sign --secret-file "$GH_SECRETS" < /dev/null
	assert_status 4
	[[ $stderr == *"no Standard Webhooks secret"* ]]
	run nimbus webhook sign --secret-file "$STD_SECRETS" --scheme github < /dev/null
	assert_status 4
	# fresh ids: a UUID, msg_ and base64url
	run nimbus webhook sign --secret-file "$GH_SECRETS" --scheme github --json < /dev/null
	assert_success
	[[ $(jq -r '."X-GitHub-Delivery"' <<< "$output") =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
	run nimbus webhook sign --secret-file "$STD_SECRETS" --json < /dev/null
	[[ $(jq -r '."webhook-id"' <<< "$output") =~ ^msg_[A-Za-z0-9_-]{22}$ ]]
}

@test "Redis down: verify exits 6" {
	gh_delivery "$D" "$(workflow_job queued 1)"
	NIMBUS_REDIS_URL=redis://127.0.0.1:$(free_port) run verify "$D"
	assert_status 6
}
