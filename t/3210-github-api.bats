#!/usr/bin/env bats
# nimbus github against the GitHub double: tokens, runners, deregistration,
# JIT configurations, and what GitHub and the configuration refuse.

load lib/common
load lib/github

@test "github token prints an installation token alone; --json gives its expiry" {
	run nimbus github token
	assert_success
	assert_output --regexp '^ghs_[A-Za-z0-9]{36}$'
	run nimbus github token --json
	assert_success
	jq -e '(.token | startswith("ghs_")) and (.expires_at | test("^[0-9-]+T[0-9:]+Z$"))' <<<"$output"
	run nimbus github token --installation 78
	assert_status 4
	assert_output --partial "POST /app/installations/78/access_tokens: 404"
}

@test "without github.installation_id the org's installation is looked up" {
	unset NIMBUS_GITHUB_INSTALLATION_ID
	run nimbus github token
	assert_success
	[ "$(gh_count installation)" = 1 ]
	NIMBUS_GITHUB_ORGS=acme,widgets run nimbus github token
	assert_status 2
	assert_output --partial "give --installation"
	nimbus github runners --org widgets
	[ "$(gh_count installation)" = 2 ]
}

@test "github runners follows the pagination of every configured org and repository" {
	gh_runner acme nimbus-a count=230 >/dev/null
	gh_runner acme/app nimbus-r busy=1 >/dev/null
	gh_runner widgets other >/dev/null
	run nimbus github runners --org acme --json
	assert_success
	[ "$(jq length <<<"$output")" = 230 ]
	[ "$(jq -r '[.[].name] | unique | length' <<<"$output")" = 230 ]
	# three pages of 100: the second and third through the Link URLs
	[ "$(gh_count runners)" = 3 ]
	NIMBUS_GITHUB_REPOS=acme/app run nimbus github runners --json
	assert_success
	[ "$(jq length <<<"$output")" = 231 ]
	jq -e '.[] | select(.name == "nimbus-r") | .busy and .scope == "acme/app"' <<<"$output"
	run nimbus github runners --repo acme/app
	assert_success
	assert_line --index 0 --regexp '^SCOPE +ID +NAME +STATUS +BUSY +OS +LABELS$'
	assert_line --index 1 --regexp '^acme/app +[0-9]+ +nimbus-r +online +true +linux +self-hosted$'
}

@test "github jitconfig prints encoded_jit_config; a taken name is a conflict" {
	run nimbus github jitconfig --name nimbus-0000abcd --labels self-hosted,nimbus --group 3
	assert_success
	base64 -d <<<"$output" | grep -q '"\.runner":"nimbus-0000abcd"'
	run nimbus github runners --json
	jq -e '.[] | select(.name == "nimbus-0000abcd") | .labels == ["self-hosted", "nimbus"]' <<<"$output"
	run nimbus github jitconfig --name nimbus-0000abcd --json
	assert_status 5
	assert_output --partial "409 Already exists"
	run nimbus github jitconfig --name nimbus-0000abce --repo acme/app --json
	assert_success
	jq -e '(.encoded_jit_config | length > 0) and .runner.name == "nimbus-0000abce" and
	       .runner.scope == "acme/app" and .runner.labels == ["self-hosted", "linux", "x64"]' \
		<<<"$output"
}

@test "github deregister: by id or name, gone is fine, busy is 5 unless --force" {
	id=$(gh_runner acme nimbus-00000001)
	busy=$(gh_runner acme nimbus-00000002 busy=1)
	run nimbus github deregister --id "$id" --json
	assert_success
	jq -e ".deregistered == true and .id == $id" <<<"$output"
	run nimbus github deregister --id "$id"
	assert_success
	assert_output "not registered"
	run nimbus github deregister --name nimbus-00000009
	assert_success
	assert_output "not registered"
	# busy: refused before any DELETE
	run nimbus github deregister --name nimbus-00000002
	assert_status 5
	assert_output --partial "is running a job"
	[ "$(gh_count runner_delete)" = 1 ]
	# --force asks GitHub, which refuses a runner that is running a job
	run nimbus github deregister --id "$busy" --force
	assert_status 5
	assert_output --partial "is running a job"
	[ "$(gh_count runner_delete)" = 2 ]
	curl -sf -X POST "$GH/_double/busy?id=$busy&busy=0"
	run nimbus github deregister --name nimbus-00000002
	assert_success
	assert_output "deregistered"
}

@test "writes of one installation are at least 1 s apart, across processes" {
	local start pids=()
	start=$(ms)
	for i in 1 2 3; do
		nimbus github jitconfig --name "nimbus-0000000$i" >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
	[ $(($(ms) - start)) -ge 2000 ]
	[ "$(gh_count jitconfig)" = 3 ]
}

@test "a JWT GitHub refuses is exit 3 at once; a missing key 4, a readable one 8" {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$BATS_TEST_TMPDIR/other.pem" 2>/dev/null
	chmod 600 "$BATS_TEST_TMPDIR/other.pem"
	NIMBUS_GITHUB_PRIVATE_KEY_FILE=$BATS_TEST_TMPDIR/other.pem run nimbus github token
	assert_status 3
	assert_output --partial "401 A JSON web token could not be decoded"
	NIMBUS_GITHUB_APP_ID=4243 run nimbus github token
	assert_status 3
	assert_output --partial "'Issuer' claim"
	[ "$(gh_count access_tokens)" = 2 ]
	chmod 640 "$GH_KEY"
	run nimbus github token
	assert_status 8
	assert_output --partial "group or others may read it"
	NIMBUS_GITHUB_PRIVATE_KEY_FILE=$BATS_TEST_TMPDIR/nope.pem run nimbus github token
	assert_status 4
	[ "$(gh_count access_tokens)" = 2 ]
}

@test "a key that is not RSA, no app id, no key file: exit 7" {
	openssl genpkey -algorithm ed25519 -out "$BATS_TEST_TMPDIR/ed.pem"
	chmod 600 "$BATS_TEST_TMPDIR/ed.pem"
	NIMBUS_GITHUB_PRIVATE_KEY_FILE=$BATS_TEST_TMPDIR/ed.pem run nimbus github token
	assert_status 7
	assert_output --partial "github.private_key_file"
	NIMBUS_GITHUB_APP_ID= run nimbus github token
	assert_status 7
	assert_output --partial "github.app_id is not set"
	NIMBUS_GITHUB_PRIVATE_KEY_FILE= run nimbus github token
	assert_status 7
	NIMBUS_GITHUB_API_URL=ftp://example.com run nimbus github token
	assert_status 7
	[ "$(gh_count total)" = 0 ]
}

@test "404 is exit 4 and is not retried" {
	run nimbus github runners --org nope
	assert_status 4
	assert_output --partial "GET /orgs/nope/actions/runners?per_page=100: 404 Not Found"
	# the token, then the one 404
	[ "$(gh_count access_tokens)" = 1 ] && [ "$(gh_count total)" = 2 ]
}

@test "bad arguments are usage errors, before any request" {
	for args in "runners --org a/b" "runners --repo acme" "runners --org acme --repo acme/app" \
		    "runners --org -x-" "deregister" "deregister --id 1 --name x" "deregister --id 0" \
		    "jitconfig" "jitconfig --name 'a b'" "jitconfig --name x --labels ,," \
		    "token --installation 0" "breaker extra"; do
		eval "run nimbus github $args"
		assert_status 2
	done
	NIMBUS_GITHUB_ORGS= run nimbus github runners
	assert_status 2
	[ "$(gh_count total)" = 0 ]
}

@test "the double is strict: a wrong Accept or API version is refused" {
	token=$(nimbus github token)
	run curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
		-H 'X-GitHub-Api-Version: 2022-11-28' "$GH/orgs/acme/actions/runners"
	assert_output 415
	run curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
		-H 'Accept: application/vnd.github+json' "$GH/orgs/acme/actions/runners"
	assert_output 400
	run curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
		-H 'Accept: application/vnd.github+json' -H 'X-GitHub-Api-Version: 2022-11-28' \
		"$GH/orgs/acme/actions/runners"
	assert_output 200
	run curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ghs_nope" \
		-H 'Accept: application/vnd.github+json' -H 'X-GitHub-Api-Version: 2022-11-28' \
		"$GH/orgs/acme/actions/runners"
	assert_output 401
}
