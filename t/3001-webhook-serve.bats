#!/usr/bin/env bats
# POST /webhook of nimbus webhook serve: the answers, the jobs it queues
# and finishes, replays and 100 concurrent copies of one delivery, on
# each kv; the secret file read again; metrics.

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
	export NIMBUS_WEBHOOK_SECRET_FILE=$BATS_TEST_TMPDIR/receiver.secrets
	cat "$GH_SECRETS" "$STD_SECRETS" > "$NIMBUS_WEBHOOK_SECRET_FILE"
	chmod 600 "$NIMBUS_WEBHOOK_SECRET_FILE"
	D=$BATS_TEST_TMPDIR/d
	WEBHOOK_PID=
}

teardown() {
	webhook_stop
}

job_count() {
	nimbus job list --json | jq length
}

replays() {
	webhook_start
	gh_delivery "$D" "$(workflow_job queued 42)" d-1
	run post "$D"
	assert_output 202
	run jq -r '[.delivery, .scheme, .event, .job, .result, .run_id] | join(" ")' "$D/answer"
	assert_output "d-1 github workflow_job gh-42 queued 1042"
	run post "$D"
	assert_output 409
	[ "$(jq -r '.errors[0].code' "$D/answer")" = REPLAY ]
	# the same body under a fresh delivery id
	gh_delivery "$D" "$(cat "$D/body")" d-2
	run post "$D"
	assert_output 409
	[ "$(job_count)" = 1 ]
	run nimbus job show gh-42 --json
	assert_success
	[ "$(jq -r '[.state, .org, .repo, (.labels | join(","))] | join(" ")' <<< "$output")" = \
		"queued acme acme/widgets nimbus,self-hosted" ]
	[ "$(jq -r '.payload.workflow_job.run_id' <<< "$output")" = 1042 ]
	webhook_stop
}

@test "the identical delivery twice: 202 then 409; its body again: 409; one job, on each kv" {
	for_each_kv replays
}

refusals() {
	webhook_start
	gh_delivery "$D" "$(AT=$(utc -660) workflow_job queued 1)"
	run post "$D"
	assert_output 400
	[[ $(jq -r '.errors[0].message' "$D/answer") == *"outside the window"* ]]
	std_delivery "$D" "$(workflow_job queued 2)" "" $(($(date +%s) + 660))
	run post "$D"
	assert_output 400
	# a bad signature: nothing queued, no nonce used
	gh_delivery "$D" "$(workflow_job queued 3)" d-3
	cp "$D/headers" "$D/good"
	sed -i "s/^X-Hub-Signature-256: .*/X-Hub-Signature-256: sha256=$(printf 'f%.0s' {1..64})/" "$D/headers"
	run post "$D"
	assert_output 401
	[ "$(jq -r '.errors[0].code' "$D/answer")" = UNAUTHORIZED ]
	[ "$(job_count)" = 0 ]
	cp "$D/good" "$D/headers"
	run post "$D"
	assert_output 202
	# malformed
	grep -v '^X-GitHub-Hook-ID' "$D/good" > "$D/headers"
	run post "$D"
	assert_output 400
	gh_delivery "$D" 'not json'
	run post "$D"
	assert_output 400
	gh_delivery "$D" "$(LABELS='["nimbus","a label"]' workflow_job queued 4)"
	run post "$D"
	assert_output 400
	[[ $(jq -r '.errors[0].message' "$D/answer") == *"bad label"* ]]
	# only POST
	run curl -s -o /dev/null -w '%{http_code}' "$WEBHOOK_URL/webhook"
	assert_output 405
	[ "$(job_count)" = 1 ]
	webhook_stop
}

@test "400 outside the window or malformed, 401 for a bad signature: nothing queued, on each kv" {
	for_each_kv refusals
}

@test "413 for a body over webhook.max_body" {
	NIMBUS_WEBHOOK_MAX_BODY=1K webhook_start
	gh_delivery "$D" "{\"pad\":\"$(printf 'x%.0s' {1..2000})\"}"
	run post "$D"
	assert_output 413
}

effects() {
	webhook_start
	gh_delivery "$D/q" "$(workflow_job queued 10)"
	[ "$(post "$D/q")" = 202 ]
	# in progress, a job without nimbus' labels, other events: 204
	gh_delivery "$D/p" "$(workflow_job in_progress 10)"
	[ "$(post "$D/p")" = 204 ]
	[ ! -s "$D/p/answer" ]
	gh_delivery "$D/o" "$(LABELS='["ubuntu-latest"]' workflow_job queued 11)"
	[ "$(post "$D/o")" = 204 ]
	EVENT=ping gh_delivery "$D/ping" "{\"zen\":\"Design for failure.\",\"hook\":{\"created_at\":\"$(utc)\"}}"
	[ "$(post "$D/ping")" = 204 ]
	[ "$(job_count)" = 1 ]
	# completed finishes it, once; nothing reopens it
	gh_delivery "$D/c" "$(CONCLUSION=failure workflow_job completed 10)"
	[ "$(post "$D/c")" = 202 ]
	[ "$(jq -r .result "$D/c/answer")" = finished ]
	run nimbus job show gh-10 --json
	[ "$(jq -r '.state + " " + .reason' <<< "$output")" = "failed failure" ]
	gh_delivery "$D/c2" "$(CONCLUSION=success workflow_job completed 10)"
	[ "$(post "$D/c2")" = 202 ]
	[ "$(jq -r .result "$D/c2/answer")" = finished_already ]
	# the same job in another body (a body seen before is a replay)
	gh_delivery "$D/q2" "$(AT=$(utc -5) workflow_job queued 10)"
	[ "$(post "$D/q2")" = 202 ]
	[ "$(jq -r .result "$D/q2/answer")" = exists ]
	[ "$(nimbus job show gh-10 --json | jq -r .state)" = failed ]
	# a job nimbus never queued
	gh_delivery "$D/u" "$(workflow_job completed 12)"
	[ "$(post "$D/u")" = 204 ]
	# cancelled, through a Standard Webhooks hop
	gh_delivery "$D/q3" "$(workflow_job queued 13)"
	[ "$(post "$D/q3")" = 202 ]
	std_delivery "$D/c3" "$(CONCLUSION=cancelled workflow_job completed 13)"
	[ "$(post "$D/c3")" = 202 ]
	[ "$(jq -r .scheme "$D/c3/answer")" = standard ]
	[ "$(nimbus job show gh-13 --json | jq -r .state)" = cancelled ]
	webhook_stop
}

@test "queued adds the job, completed finishes it, the rest is ignored, on each kv" {
	for_each_kv effects
}

@test "nimbus serve receives them too, beside its other services" {
	WEBHOOK_SERVE=serve webhook_start
	gh_delivery "$D" "$(workflow_job queued 5)"
	[ "$(post "$D")" = 202 ]
	[ "$(post "$D")" = 409 ]
	[ "$(nimbus job show gh-5 --json | jq -r .state)" = queued ]
	grep -q ' listening .*services=store,health,jwks,cache,logs,registry,webhook$' "$WEBHOOK_LOG"
	curl -s "$WEBHOOK_URL/metrics" | grep -qx 'nimbus_webhook_replays_total 1'
}

@test "webhook.labels: every one of them, in any case" {
	NIMBUS_WEBHOOK_LABELS=Nimbus,KVM webhook_start
	gh_delivery "$D/a" "$(workflow_job queued 1)"
	[ "$(post "$D/a")" = 204 ]
	gh_delivery "$D/b" "$(LABELS='["nimbus","kvm","linux"]' workflow_job queued 2)"
	[ "$(post "$D/b")" = 202 ]
	[ "$(nimbus job show gh-2 --json | jq -c .labels)" = '["kvm","linux","nimbus"]' ]
}

concurrent() {
	local dirs=() i statuses
	webhook_start
	gh_delivery "$D" "$(workflow_job queued 77)" d-77
	for ((i = 0; i < 100; i++)); do
		mkdir -p "$D/$i"
		cp "$D/headers" "$D/body" "$D/$i/"
		dirs+=("$D/$i")
	done
	statuses=$(post_parallel "${dirs[@]}" | sort | uniq -c | awk '{ print $2 "x" $1 }' | tr '\n' ' ')
	echo "# $statuses"
	[ "$statuses" = "202x1 409x99 " ]
	[ "$(job_count)" = 1 ]
	webhook_stop
}

@test "100 concurrent copies of one delivery: one 202 and one job, on each kv" {
	for_each_kv concurrent
}

@test "the secret file is read again when it changes" {
	local old new
	old=$(cat "$GH_SECRETS")
	new="gh-$(random_hex)"
	secret_file "$NIMBUS_WEBHOOK_SECRET_FILE" "$old"
	webhook_start
	secret_file "$BATS_TEST_TMPDIR/new" "$new"
	SIGN_SECRETS=$BATS_TEST_TMPDIR/new gh_delivery "$D/n1" "$(workflow_job queued 1)"
	[ "$(post "$D/n1")" = 401 ]
	# rotation: both, then the new one alone
	secret_file "$NIMBUS_WEBHOOK_SECRET_FILE" "$old" "$new"
	sleep 1.2
	[ "$(post "$D/n1")" = 202 ]
	gh_delivery "$D/o1" "$(workflow_job queued 2)"
	[ "$(post "$D/o1")" = 202 ]
	secret_file "$NIMBUS_WEBHOOK_SECRET_FILE" "$new"
	sleep 1.2
	gh_delivery "$D/o2" "$(workflow_job queued 3)"
	[ "$(post "$D/o2")" = 401 ]
	# a file that cannot be used leaves the secrets as they were
	chmod 644 "$NIMBUS_WEBHOOK_SECRET_FILE"
	sleep 1.2
	SIGN_SECRETS=$BATS_TEST_TMPDIR/new gh_delivery "$D/n2" "$(workflow_job queued 4)"
	[ "$(post "$D/n2")" = 202 ]
	grep -q 'keeping the webhook secrets read before' "$WEBHOOK_LOG"
	! grep -q -e "$old" -e "$new" "$WEBHOOK_LOG"
}

@test "without webhook.secret_file: 503, said in the log; a loose secret file stops the start" {
	unset NIMBUS_WEBHOOK_SECRET_FILE
	webhook_start
	gh_delivery "$D" "$(workflow_job queued 1)"
	[ "$(post "$D")" = 503 ]
	grep -q 'webhook.secret_file is not set' "$WEBHOOK_LOG"
	webhook_stop
	secret_file "$BATS_TEST_TMPDIR/loose" x
	chmod 644 "$BATS_TEST_TMPDIR/loose"
	NIMBUS_WEBHOOK_SECRET_FILE=$BATS_TEST_TMPDIR/loose run timeout 10 "$NIMBUS" webhook serve --listen 127.0.0.1:$(free_port)
	assert_status 8
}

@test "metrics: accepted, refused by reason, replays, rate-limited by org" {
	NIMBUS_RATELIMIT_WEBHOOK=1/h NIMBUS_RATELIMIT_WEBHOOK_BURST=2 webhook_start
	gh_delivery "$D/a" "$(workflow_job queued 1)"
	post "$D/a" >/dev/null
	post "$D/a" >/dev/null
	gh_delivery "$D/b" "$(workflow_job queued 2)"
	[ "$(post "$D/b")" = 429 ]
	grep -qi '^Retry-After: [0-9]' "$D/b/answer-headers"
	sed -i "s/^X-Hub-Signature-256: .*/X-Hub-Signature-256: sha256=$(printf '0%.0s' {1..64})/" "$D/b/headers"
	post "$D/b" >/dev/null
	run curl -s "$WEBHOOK_URL/metrics"
	assert_line 'nimbus_webhook_accepted_total{result="queued"} 1'
	assert_line 'nimbus_webhook_replays_total 1'
	assert_line 'nimbus_webhook_rejected_total{reason="signature"} 1'
	assert_line 'nimbus_webhook_ratelimited_total{org="acme"} 1'
}

@test "the store down: 503, the claim given up; the same delivery is accepted once it is back" {
	need_pg
	need_redis
	export NIMBUS_STORE_URL=postgres://nimbus:$PG_PASSWORD@$PG_HOST:$PG_PORT/$(pg_createdb)
	# one worker, whose store is open before the store goes down
	export NIMBUS_REDIS_URL=$REDIS_URL NIMBUS_STORE_CONNECT_TIMEOUT=2 NIMBUS_SERVE_THREADS=1
	webhook_start
	gh_delivery "$D/warm" "$(workflow_job queued 4)"
	[ "$(post "$D/warm")" = 202 ]
	gh_delivery "$D" "$(workflow_job queued 5)"
	pg_down
	run post "$D"
	pg_up
	assert_output 503
	[ "$(post "$D")" = 202 ]
	[ "$(post "$D")" = 409 ]
	[ "$(job_count)" = 2 ]
	grep -q 'webhook refused .*reason=replay' "$WEBHOOK_LOG"
	! grep -q 'stays claimed' "$WEBHOOK_LOG"
}
