#!/usr/bin/env bats
# A query sees its org's lines only, whatever its parameters hold: the
# org condition is the server's, and every value reaches the SQL bound
# (the store) or strictly escaped (ClickHouse 18.16, which has no query
# parameters).

load lib/common
load lib/logs

setup() {
	logs_setup
	# a job whose name is itself an injection attempt, as a runner token may carry it
	CRAFTED_JOB="it's\\a'OR'1'='1--"
	nimbus token mint --aud logs --scope push:acme --repo acme/widgets --job "$CRAFTED_JOB" \
		--runner r-acme >"$TOK/acme-crafted"
}

uri() {
	jq -rn --arg v "$1" '$v | @uri'
}

# A JSON cursor as the service spells it: base64url of [ts, seq, repo, job].
cursor() {
	printf '%s' "$1" | basenc --base64url -w0 | tr -d '='
}

# Nothing of acme's in the last answer.
refute_acme() {
	local body=$BATS_TEST_TMPDIR/body
	if grep -q -e 'acme' -e 'SECRET-OF-ACME' "$body"; then
		fail "org bravo saw acme's lines with $1: $(head -c 300 "$body")"
	fi
}

isolated() {
	local p v status n
	printf '%s\n' "SECRET-OF-ACME one" "it's a quote" 'a \ backslash' "SECRET-OF-ACME 100%" |
		nimbus logs ingest --job 4242 --token-file "$TOK/acme-push" >/dev/null
	printf '%s\n' "SECRET-OF-ACME crafted" "it's the crafted job" |
		nimbus logs ingest --job "$CRAFTED_JOB" --token-file "$TOK/acme-crafted" >/dev/null
	printf 'bravo line\n' | nimbus logs ingest --job 77 --token-file "$TOK/bravo-push" >/dev/null
	logs_wait_count acme-pull 6
	logs_wait_count bravo-pull 1

	# the values of the issue, and more, in every parameter of bravo's query
	local -a values=(
		"$(uri "'")" "$(uri '\')" "$(uri "' OR 1=1 --")" "$(uri "') OR ('1'='1")" '%00' 'a%00b'
		"$(uri '\x27 OR 1=1')" "$(uri "acme' UNION ALL SELECT * FROM logs --")" acme acme%2Fwidgets
		4242 "$(uri "$CRAFTED_JOB")" "$(head -c 5000 /dev/zero | tr '\0' a)"
		"$(cursor '[0,0,"acme/widgets","'"'"'OR'"'"'1'"'"'='"'"'1"]')"
		"$(cursor '[0,0,"acme/widgets","4242\\'"'"'"]')" "$(cursor '[0,0,"'"'"' OR 1=1 --","x"]')"
		"$(uri "1970-01-01T00:00:00Z' OR 1=1")"
	)
	for p in org repo job grep since until limit after; do
		for v in "${values[@]}"; do
			status=$(logs_get bravo-pull "$p=$v")
			case $status in
			200|400|403) ;;
			*) fail "$p=${v:0:60}: status $status $(head -c 300 "$BATS_TEST_TMPDIR/body")" ;;
			esac
			refute_acme "$p=${v:0:60}"
		done
		# the same beside a legitimate parameter
		status=$(logs_get bravo-pull "job=77&$p=$(uri "' OR 1=1 --")")
		refute_acme "job=77&$p=' OR 1=1 --"
	done
	# bravo asking for acme's org outright
	run logs_get bravo-pull 'org=acme'
	assert_output 403
	run nimbus logs query --token-file "$TOK/bravo-pull" --org acme
	assert_status 3
	# a cursor with a crafted job is taken as a value: bravo's line comes after it
	status=$(logs_get bravo-pull "after=$(cursor '[0,0,"acme/widgets","'"'"'OR'"'"'1'"'"'='"'"'1"]')")
	[ "$status" = 200 ] && [ "$(jq -r '.lines[].line' "$BATS_TEST_TMPDIR/body")" = "bravo line" ]

	# the escaping is exact, not just safe: acme finds its crafted job and its quotes
	run logs_lines acme-pull --job "$CRAFTED_JOB"
	[ "$(jq -r .line <<< "$output" | tr '\n' '|')" = "SECRET-OF-ACME crafted|it's the crafted job|" ]
	run logs_lines acme-pull --grep "'"
	[ "$(jq -r .line <<< "$output" | sort | tr '\n' '|')" = "it's a quote|it's the crafted job|" ]
	run logs_lines acme-pull --grep '\'
	[ "$(jq -r .line <<< "$output")" = 'a \ backslash' ]
	run logs_lines acme-pull --grep '100%'
	[ "$(jq -r .line <<< "$output")" = 'SECRET-OF-ACME 100%' ]
	run logs_lines acme-pull --grep "' OR 1=1 --"
	assert_success
	assert_output ""
	# and bravo's view is bravo's line, nothing else
	run logs_lines bravo-pull
	[ "$(jq -r .line <<< "$output")" = "bravo line" ]
}

@test "org bravo sees none of org acme's lines, whatever its parameters hold, on every sink" {
	for_each_sink isolated
}

@test "the client checks what it can before asking" {
	run nimbus logs query --token-file "$TOK/bravo-pull" --since yesterday
	assert_status 2
	run nimbus logs query
	assert_status 2
	run nimbus logs query --token-file "$BATS_TEST_TMPDIR/none"
	assert_status 4
}
