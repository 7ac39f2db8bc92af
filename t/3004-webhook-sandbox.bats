#!/usr/bin/env bats
# The webhook receiver as a host runs it, in nimbus serve: started as
# root, it becomes serve.user and filters its system calls before it
# reads its secret file, so it reads that file, and reads it again, as
# that user; it verifies, claims in Redis and queues in the store under
# the filter.

bats_require_minimum_version 1.5.0
load lib/common
load lib/services
load lib/webhook

setup_file() {
	redis_start "$(random_secret)"
}

teardown_file() {
	redis_stop
}

setup() {
	common_setup
	require_root
	webhook_secrets
	WEBHOOK_PID=
	# in /tmp itself: nobody must reach it, whatever TMPDIR is
	SANDBOX=$(mktemp -d /tmp/nimbus-webhook-sandbox.XXXXXX)
	chmod 755 "$SANDBOX"
	export NIMBUS_CONFIG=$SANDBOX/nimbus.conf
	: > "$NIMBUS_CONFIG"
	export NIMBUS_CORE_STATE_DIR=$SANDBOX/state NIMBUS_KEYS_DIR=$SANDBOX/keys
	export NIMBUS_SERVE_USER=nobody
	export NIMBUS_WEBHOOK_SECRET_FILE=$SANDBOX/webhook.secrets
	cat "$GH_SECRETS" "$STD_SECRETS" > "$NIMBUS_WEBHOOK_SECRET_FILE"
	chmod 600 "$NIMBUS_WEBHOOK_SECRET_FILE"
	D=$BATS_TEST_TMPDIR/d
}

teardown() {
	webhook_stop
	rm -rf "$SANDBOX"
}

@test "as serve.user, under the filter: its secret file read and read again, deliveries queued once" {
	local new
	need_redis
	export NIMBUS_REDIS_URL=$REDIS_URL
	chown nobody "$NIMBUS_WEBHOOK_SECRET_FILE"
	WEBHOOK_SERVE=serve webhook_start
	[ "$(sed -n 's/^Uid:\t\([0-9]*\).*/\1/p' "/proc/$WEBHOOK_PID/status")" = 65534 ]
	grep -qx $'Seccomp:\t2' "/proc/$WEBHOOK_PID/status"

	gh_delivery "$D/q" "$(workflow_job queued 31)"
	[ "$(post "$D/q")" = 202 ]
	[ "$(post "$D/q")" = 409 ]
	std_delivery "$D/c" "$(workflow_job completed 31)"
	[ "$(post "$D/c")" = 202 ]
	[ "$(jq -r .result "$D/c/answer")" = finished ]
	[ "$(nimbus job show gh-31 --json | jq -r .state)" = succeeded ]

	# a rotation, written in place: the file stays the user's
	new="gh-$(random_hex)"
	secret_file "$NIMBUS_WEBHOOK_SECRET_FILE" "$new"
	sleep 1.2
	secret_file "$BATS_TEST_TMPDIR/new" "$new"
	SIGN_SECRETS=$BATS_TEST_TMPDIR/new gh_delivery "$D/n" "$(workflow_job queued 32)"
	[ "$(post "$D/n")" = 202 ]
	grep -q 'webhook secrets read again' "$WEBHOOK_LOG"
	# a file made anew by root is not the user's to read: the secrets stay
	rm "$NIMBUS_WEBHOOK_SECRET_FILE"
	secret_file "$NIMBUS_WEBHOOK_SECRET_FILE" "gh-$(random_hex)"
	sleep 1.2
	SIGN_SECRETS=$BATS_TEST_TMPDIR/new gh_delivery "$D/n2" "$(workflow_job queued 33)"
	[ "$(post "$D/n2")" = 202 ]
	grep -q "keeping the webhook secrets read before: cannot open $NIMBUS_WEBHOOK_SECRET_FILE: Permission denied as uid 65534: the file must be serve.user's" \
		"$WEBHOOK_LOG"
	# alive: no system call of all this was outside the filter
	kill -0 "$WEBHOOK_PID"
}

@test "a secret file that serve.user cannot read stops the start" {
	run --separate-stderr timeout 10 "$NIMBUS" serve --listen "127.0.0.1:$(free_port)"
	assert_status 8
	[[ $stderr == *"cannot open $NIMBUS_WEBHOOK_SECRET_FILE: Permission denied as uid 65534: the file must be serve.user's"* ]]
}
