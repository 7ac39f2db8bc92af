#!/usr/bin/env bats
# POST /logs and GET /logs on every sink: who wrote a line comes from the
# token only, lines are redacted before they are stored, a retried
# request adds nothing, and pages come in order.

load lib/common
load lib/logs

round_trip() {
	run logs_post acme-push 'seq=0' -H 'Content-Type: text/plain' <<< $'first line\n\nthird\twith a tab\r'
	assert_output 200
	[ "$(jq -c . "$BATS_TEST_TMPDIR/body")" = '{"lines":3,"next_seq":3}' ]
	printf '{"line":"to stderr","stream":"stderr","ts":"2030-01-02T03:04:05Z"}\n{"line":"seq 10","seq":10,"ts":1700000000}\n{"line":"after 10"}\n' |
		logs_post acme-push 'seq=3' -H 'Content-Type: application/x-ndjson' >/dev/null
	[ "$(jq -c . "$BATS_TEST_TMPDIR/body")" = '{"lines":3,"next_seq":12}' ]
	logs_wait_count acme-pull 6
	# (ts, seq) order: the line of 2023 first, the one of 2030 last
	run logs_lines acme-pull
	[ "$(jq -r '.seq' <<< "$output" | tr '\n' ' ')" = "10 0 1 2 11 3 " ]
	[ "$(jq -r 'select(.seq == 10) | .ts' <<< "$output")" = 2023-11-14T22:13:20Z ]
	[ "$(jq -r 'select(.seq == 3) | [.ts, .stream, .line] | join("|")' <<< "$output")" = \
		"2030-01-02T03:04:05Z|stderr|to stderr" ]
	[ "$(jq -r 'select(.seq == 2) | .line' <<< "$output")" = $'third\twith a tab' ]
	[ "$(jq -r 'select(.seq == 1) | .line' <<< "$output")" = "" ]
	[ "$(jq -r '[.repo, .job, .runner] | join(" ")' <<< "$output" | sort -u)" = "acme/widgets 4242 r-acme" ]
	# the text form, one line each, control characters escaped
	run nimbus logs query --token-file "$TOK/acme-pull" --job 4242 --since 2030-01-01T00:00:00Z
	assert_success
	assert_output $'2030-01-02T03:04:05Z acme/widgets 4242 stderr to stderr'
	run nimbus logs query --token-file "$TOK/acme-pull" --grep tab
	assert_output --regexp '^[0-9T:-]+Z acme/widgets 4242 stdout third\\twith a tab$'
	run nimbus logs query --token-file "$TOK/acme-pull" --until 2024-01-01T00:00:00Z --json
	[ "$(jq -r .line <<< "$output")" = "seq 10" ]
}

@test "lines come back with the token's identity, in (ts, seq) order, on every sink" {
	for_each_sink round_trip
}

paging() {
	seq 1 25 | nimbus logs ingest --job 4242 --token-file "$TOK/acme-push" >/dev/null
	logs_wait_count acme-pull 25
	run logs_get acme-pull 'limit=10'
	assert_output 200
	[ "$(jq -c '[.more, (.lines | length), .lines[0].line, .lines[9].line]' "$BATS_TEST_TMPDIR/body")" = \
		'[true,10,"1","10"]' ]
	cursor=$(jq -r .cursor "$BATS_TEST_TMPDIR/body")
	run logs_get acme-pull "limit=10&after=$cursor"
	[ "$(jq -c '[.more, .lines[0].line, .lines[9].line]' "$BATS_TEST_TMPDIR/body")" = '[true,"11","20"]' ]
	cursor=$(jq -r .cursor "$BATS_TEST_TMPDIR/body")
	run logs_get acme-pull "limit=10&after=$cursor"
	[ "$(jq -c '[.more, (.lines | length), .lines[4].line]' "$BATS_TEST_TMPDIR/body")" = '[false,5,"25"]' ]
	# an empty page keeps its cursor, to follow from
	cursor=$(jq -r .cursor "$BATS_TEST_TMPDIR/body")
	run logs_get acme-pull "limit=10&after=$cursor"
	[ "$(jq -c '[.more, (.lines | length), .cursor]' "$BATS_TEST_TMPDIR/body")" = "[false,0,\"$cursor\"]" ]
	# the client goes through every page
	run nimbus logs query --token-file "$TOK/acme-pull" --limit 7
	[ "${#lines[@]}" -eq 7 ]
	[ "$(logs_lines acme-pull | jq -r .line | tr '\n' ' ')" = "$(seq 1 25 | tr '\n' ' ')" ]
}

@test "pages follow each other through the cursor, on every sink" {
	for_each_sink paging
}

retried() {
	local body=$BATS_TEST_TMPDIR/lines
	printf 'one\ntwo\nthree\n' > "$body"
	for i in 1 2 3; do
		run logs_post acme-push 'seq=100' < "$body"
		assert_output 200
	done
	# the same lines again, in a batch the flusher stores with others
	nimbus logs ingest --job 4242 --seq 100 --token-file "$TOK/acme-push" < "$body" >/dev/null
	logs_wait_count acme-pull 3
	sleep 1.5
	[ "$(sink_count "seq >= 100")" = 3 ]
	# once stored, a retry adds nothing either
	run logs_post acme-push 'seq=100' < "$body"
	assert_output 200
	sleep 2.5
	[ "$(sink_count "seq >= 100")" = 3 ]
	[ "$(logs_lines acme-pull | jq -r .line | tr '\n' ' ')" = "one two three " ]
}

@test "a retried request stores nothing twice, on every sink" {
	for_each_sink retried
}

spoofed() {
	local q
	# a payload that names another org, repo, job or runner: 403, and nothing of it is stored
	for field in '"org":"bravo"' '"repo":"bravo/app"' '"job":"77"' '"runner":"r-bravo"' '"org":"acme\u0000"'; do
		run logs_post acme-push 'seq=0' -H 'Content-Type: application/x-ndjson' \
			<<< "{\"line\":\"ok\"}"$'\n'"{\"line\":\"spoof\",$field}"
		assert_output 403
		[ "$(jq -r '.errors[0].code' "$BATS_TEST_TMPDIR/body")" = DENIED ]
	done
	for q in org=bravo repo=bravo/app job=77 runner=r-bravo; do
		run logs_post acme-push "seq=0&$q" <<< 'spoof'
		assert_output 403
	done
	# naming the token's own is fine
	run logs_post acme-push 'seq=0&org=acme&job=4242' -H 'Content-Type: application/x-ndjson' \
		<<< '{"line":"mine","org":"acme","repo":"acme/widgets","job":"4242","runner":"r-acme"}'
	assert_output 200
	logs_wait_count acme-pull 1
	sleep 1.5
	[ "$(sink_count "1 = 1")" = 1 ]
	[ "$(logs_lines acme-pull | jq -r .line)" = mine ]
	run nimbus logs ingest --job 77 --token-file "$TOK/acme-push" <<< 'not my job'
	assert_status 3
	assert_output --partial "job: not the token's"
}

@test "a payload that names another org, repo, job or runner is refused whole, on every sink" {
	for_each_sink spoofed
}

redacted() {
	local jwt pem
	jwt=$(cat "$TOK/bravo-pull")
	pem=$'-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----'
	printf '%s\n' "login password=hunter2hunter2" "token $jwt in the middle" \
		"using ghp_0123456789abcdefghijABCDEFGHIJ012345" "$pem" "Authorization: Bearer abcdef123456" |
		nimbus logs ingest --job 4242 --token-file "$TOK/acme-push" >/dev/null
	printf '{"line":"secret=%s"}\n' "s3cr3t-value" | logs_post acme-push 'seq=100' -H 'Content-Type: application/x-ndjson' >/dev/null
	logs_wait_count acme-pull 8
	sleep 1.5
	# stored redacted: the table itself holds no secret
	run sink_lines "1 = 1"
	assert_success
	refute_output --partial hunter2
	refute_output --partial "$jwt"
	refute_output --partial "${jwt%%.*}"
	refute_output --partial ghp_0123456789
	refute_output --partial MC4CAQAw
	refute_output --partial abcdef123456
	refute_output --partial s3cr3t
	assert_line "login password=<redacted>"
	assert_line "token <redacted> in the middle"
	assert_line "using ghp_<redacted>"
	# the key's body, a line of its own, is masked whole
	assert_line "-----BEGIN PRIVATE KEY-----"
	assert_line "<redacted>"
	assert_line "-----END PRIVATE KEY-----"
	assert_line "Authorization: Bearer <redacted>"
	assert_line "secret=<redacted>"
}

@test "secrets in lines are stored redacted, on every sink" {
	for_each_sink redacted
}

refused() {
	# no token, a bad one, the wrong audience: 401
	run curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary x "$NIMBUS_LOGS_URL/logs?seq=0"
	assert_output 401
	printf 'nonsense' > "$TOK/bad"
	run logs_get bad ''
	assert_output 401
	nimbus token mint --aud cache --scope pull:acme > "$TOK/cache"
	run logs_get cache ''
	assert_output 401
	# a token that may not write, or that is no runner's
	run logs_post acme-pull 'seq=0' <<< x
	assert_output 403
	nimbus token mint --aud logs --scope push:acme > "$TOK/no-runner"
	run logs_post no-runner 'seq=0' <<< x
	assert_output 403
	nimbus token mint --aud logs --scope push:acme --scope push:bravo --repo acme/widgets --job 1 \
		--runner r > "$TOK/two-orgs"
	run logs_post two-orgs 'seq=0' <<< x
	assert_output 403
	# a runner token reads nothing, a reader of another org neither
	run logs_get acme-push ''
	assert_output 403
	run logs_get bravo-pull 'org=acme'
	assert_output 403
	nimbus token mint --aud logs --scope pull:acme --scope pull:bravo > "$TOK/both"
	run logs_get both ''
	assert_output 400
	run logs_get both 'org=bravo'
	assert_output 200
	# malformed bodies and parameters: 400, nothing stored
	run logs_post acme-push '' <<< 'no seq'
	assert_output 400
	for body in 'not json' '[1]' '{"line":1}' '{"line":"x","ts":"yesterday"}' '{"line":"x","ts":-1}' \
		'{"line":"x","ts":4294967296}' '{"line":"x","stream":"stdin"}' '{"line":"x","seq":-1}' \
		'{"line":"x","level":"info"}' '{"ts":1}' '{"line":"x","line":"y"}'; do
		run logs_post acme-push 'seq=0' -H 'Content-Type: application/x-ndjson' <<< "$body"
		[ "$output" = 400 ] || fail "$body: $output $(cat "$BATS_TEST_TMPDIR/body")"
	done
	for q in seq=-1 seq=x stream=stdin; do
		run logs_post acme-push "$q" <<< x
		assert_output 400
	done
	# over logs.max_body (4M by default)
	run bash -c "head -c 5000000 /dev/zero | tr '\\0' 'x' | curl -s -o /dev/null -w '%{http_code}' \
		-H \"Authorization: Bearer \$(cat $TOK/acme-push)\" --data-binary @- '$NIMBUS_LOGS_URL/logs?seq=0'"
	assert_output 413
	sleep 1.5
	[ "$(sink_count "1 = 1")" = 0 ]
}

@test "tokens, scopes, bodies and parameters are checked, on every sink" {
	for_each_sink refused
}

not_utf8() {
	printf 'a\xffb\x00c\n' | logs_post acme-push 'seq=0' >/dev/null
	logs_wait_count acme-pull 1
	[ "$(logs_lines acme-pull | jq -r .line)" = $'a\xef\xbf\xbdb\xef\xbf\xbdc' ]
}

@test "invalid UTF-8 and NUL bytes are stored as U+FFFD, on every sink" {
	for_each_sink not_utf8
}
