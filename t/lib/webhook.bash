# Webhook deliveries for the tests: `load lib/webhook` after lib/common.
#
#	webhook_secrets                  GH_SECRETS (GitHub) and STD_SECRETS (whsec_) files
#	workflow_job queued 42 > body    a payload (ORG, LABELS, AT, CONCLUSION override)
#	gh_delivery DIR BODY [ID] [HOOK] DIR/body and DIR/headers, signed as GitHub does
#	std_delivery DIR BODY [ID] [TS]  the same as a Standard Webhooks hop
#	webhook_start                    nimbus webhook serve (or WEBHOOK_SERVE) on $WEBHOOK_URL
#	post DIR                         POST it: prints the status, the answer in DIR/answer

# A secret file of mode 0600 holding the lines given.
secret_file() {
	local f=$1
	shift
	printf '%s\n' "$@" > "$f"
	chmod 600 "$f"
}

webhook_secrets() {
	GH_SECRETS=$BATS_TEST_TMPDIR/github.secrets
	STD_SECRETS=$BATS_TEST_TMPDIR/standard.secrets
	secret_file "$GH_SECRETS" "gh-$(random_hex)"
	secret_file "$STD_SECRETS" "whsec_$(head -c 24 /dev/urandom | base64)"
	export GH_SECRETS STD_SECRETS
}

random_hex() {
	od -An -N16 -tx1 /dev/urandom | tr -d ' \n'
}

# RFC 3339 UTC, $1 seconds from now (default 0).
utc() {
	date -u -d "@$(($(date +%s) + ${1:-0}))" +%Y-%m-%dT%H:%M:%SZ
}

# workflow_job ACTION ID: a workflow_job payload. ORG (acme), LABELS
# (a JSON array with nimbus), AT (now), CONCLUSION (success) override.
workflow_job() {
	local field=created_at conclusion=null
	case $1 in
	in_progress) field=started_at ;;
	completed) field=completed_at conclusion="\"${CONCLUSION:-success}\"" ;;
	esac
	printf '{"action":"%s","workflow_job":{"id":%s,"run_id":%s,"labels":%s,"%s":"%s","conclusion":%s},' \
		"$1" "$2" "$(($2 + 1000))" "${LABELS:-[\"self-hosted\",\"Nimbus\"]}" "$field" "${AT:-$(utc)}" \
		"$conclusion"
	printf '"repository":{"full_name":"%s/widgets","owner":{"login":"%s"}},"organization":{"login":"%s"}}' \
		"${ORG:-acme}" "${ORG:-acme}" "${ORG:-acme}"
}

# gh_delivery DIR BODY [DELIVERY] [HOOK]: the delivery's files, signed
# with GH_SECRETS (or SIGN_SECRETS), X-GitHub-Event EVENT (workflow_job).
gh_delivery() {
	local dir=$1 id=${3:-$(random_hex)} hook=${4:-7}
	mkdir -p "$dir"
	printf '%s' "$2" > "$dir/body"
	{
		nimbus webhook sign --scheme github --secret-file "${SIGN_SECRETS:-$GH_SECRETS}" --id "$id" \
			< "$dir/body"
		echo "X-GitHub-Event: ${EVENT:-workflow_job}"
		echo "X-GitHub-Hook-ID: $hook"
		echo "Content-Type: application/json"
	} > "$dir/headers"
}

# std_delivery DIR BODY [ID] [TIMESTAMP]: the same as a Standard Webhooks hop.
std_delivery() {
	local dir=$1 args=()
	mkdir -p "$dir"
	printf '%s' "$2" > "$dir/body"
	[ -z "${3:-}" ] || args+=(--id "$3")
	[ -z "${4:-}" ] || args+=(--timestamp "$4")
	{
		nimbus webhook sign --secret-file "${SIGN_SECRETS:-$STD_SECRETS}" "${args[@]}" < "$dir/body"
		echo "X-GitHub-Event: ${EVENT:-workflow_job}"
		echo "Content-Type: application/json"
	} > "$dir/headers"
}

# The headers of DIR as --header options of nimbus webhook verify, in HEADER_ARGS.
header_args() {
	local line
	HEADER_ARGS=()
	while IFS= read -r line; do
		HEADER_ARGS+=(--header "$line")
	done < "$1/headers"
}

# Start nimbus webhook serve, or the command of WEBHOOK_SERVE (serve),
# with the configuration of the environment; WEBHOOK_URL, WEBHOOK_LOG,
# WEBHOOK_PID. Stopped by webhook_stop.
webhook_start() {
	local port
	port=$(free_port)
	WEBHOOK_URL=http://127.0.0.1:$port
	WEBHOOK_LOG=$BATS_TEST_TMPDIR/webhook.$port.log
	"$NIMBUS" ${WEBHOOK_SERVE:-webhook serve} --listen "127.0.0.1:$port" "$@" 2>"$WEBHOOK_LOG" 3>&- &
	WEBHOOK_PID=$!
	if ! wait_for 100 curl -sf "$WEBHOOK_URL/healthz"; then
		cat "$WEBHOOK_LOG" >&2
		return 1
	fi
}

webhook_stop() {
	[ -n "${WEBHOOK_PID:-}" ] || return 0
	kill -TERM "$WEBHOOK_PID" 2>/dev/null || true
	wait "$WEBHOOK_PID" 2>/dev/null || true
	WEBHOOK_PID=
}

# post DIR: POST DIR/body with DIR/headers; prints the status.
post() {
	curl -s -o "$1/answer" -D "$1/answer-headers" -w '%{http_code}' -H @"$1/headers" \
		--data-binary @"$1/body" "$WEBHOOK_URL/webhook"
}

# post_parallel DIR...: POST each DIR at once, from one curl; prints the
# statuses, one per line, as they come.
post_parallel() {
	local dir cfg=$BATS_TEST_TMPDIR/parallel.$RANDOM.curlrc
	: > "$cfg"
	for dir in "$@"; do
		{
			[ ! -s "$cfg" ] || echo next
			echo "url = \"$WEBHOOK_URL/webhook\""
			echo "header = \"@$dir/headers\""
			echo "data-binary = \"@$dir/body\""
			echo "output = \"$dir/answer\""
			echo 'write-out = "%{http_code}\n"'
		} >> "$cfg"
	done
	curl -s -Z --parallel-immediate --parallel-max 100 -K "$cfg"
}
