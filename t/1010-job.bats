#!/usr/bin/env bats
# nimbus job: the queue on each store, with Redis and without; claims by
# label, expired claims, fenced finish and metadata, bad input, and a
# Redis that goes away or loses a claimer.

bats_require_minimum_version 1.5.0
load lib/common
load lib/services

setup_file() {
	services_start
}

teardown_file() {
	services_stop
}

add_show_list() {
	local dir=$BATS_TEST_TMPDIR/$STORE_DRIVER-$KV_DRIVER
	mkdir -p "$dir"
	run nimbus job add j1 --org acme --repo acme/web --labels 'X64, linux'
	assert_success
	assert_output ""
	run nimbus job add j1 --org other --labels gpu --json
	assert_success
	[ "$(jq -c . <<<"$output")" = '{"job":"j1","added":false}' ]
	printf '{"workflow_job": {"id": 7}}\n' > "$dir/payload.json"
	nimbus job add j2 --payload "$dir/payload.json"
	echo '[1, 2]' | nimbus job add j3 --labels gpu --payload -

	run nimbus job show j1 --json
	assert_success
	[ "$(jq -c '[.job, .state, .org, .repo, .labels, .lease, .meta, .payload, .finished_at]' <<<"$output")" = \
	  '["j1","queued","acme","acme/web",["linux","x64"],null,{},null,null]' ]
	[ "$(nimbus job show j2 --json | jq -c .payload)" = '{"workflow_job":{"id":7}}' ]
	[ "$(nimbus job show j3 --json | jq -c .payload)" = '[1,2]' ]
	run nimbus job show j1
	assert_line --regexp '^labels +\["linux","x64"\]$'

	run nimbus job list
	assert_success
	assert_line --index 0 --regexp '^JOB +STATE +ORG +REPO +LABELS +HOLDER +FENCE +EXPIRES_AT +CREATED_AT$'
	assert_line --index 1 --regexp '^j1 +queued +acme +acme/web '
	assert_line --index 3 --regexp '^j3 +queued +- +- +\["gpu"\] '
	[ "$(nimbus job list --json | jq -r '[.[].job] | join(" ")')" = "j1 j2 j3" ]
	[ "$(nimbus job list --state claimed --json)" = "[]" ]
	run nimbus job list --state claimed
	assert_output ""
}

@test "job add is idempotent; show and list, on each store and kv" {
	for_each_kv add_show_list
}

claims() {
	local f
	nimbus job add a --labels gpu --org acme
	nimbus job add b
	nimbus job add c --labels linux,x64 --org acme --repo acme/api
	run --separate-stderr nimbus job claim --labels linux --holder h1
	assert_success
	[[ $output =~ ^b\ [0-9]+$ ]]
	[ -z "$stderr" ]
	run nimbus job claim --labels LINUX,x64,extra --holder h1 --ttl 90 --json
	assert_success
	[ "$(jq -c '[.job, .org, .repo, .labels, .holder, .state]' <<<"$output")" = \
	  '["c","acme","acme/api",["linux","x64"],"h1","claimed"]' ]
	[ "$(jq -r .fence <<<"$output")" = "$(nimbus lease show c --json | jq -r .fence)" ]
	[ "$(jq -r .expires_at <<<"$output")" = "$(nimbus lease show c --json | jq -r .expires_at)" ]
	run --separate-stderr nimbus job claim --labels linux --holder h1
	assert_status 5
	assert_output ""
	[ "$stderr" = "nimbus job: no job to claim with these labels" ]
	run nimbus job claim --holder h2
	assert_success
	[[ $output =~ ^a\ [0-9]+$ ]]
	run --separate-stderr nimbus job claim --holder h2
	assert_status 5
	[ "$stderr" = "nimbus job: no job to claim" ]
	[ "$(nimbus job list --state claimed --json | jq -r '[.[] | .job + ":" + .holder] | join(" ")')" = \
	  "a:h2 b:h1 c:h1" ]
}

@test "job claim: oldest first, by labels, one holder each, on each store and kv" {
	for_each_kv claims
}

reclaim() {
	local f1 f2 start
	nimbus job add e
	read -r _ f1 < <(nimbus job claim --holder h1 --ttl 1)
	run nimbus job claim --holder h2
	assert_status 5
	sleep 1.2
	[ "$(nimbus job show e --json | jq -r .state)" = queued ]
	read -r _ f2 < <(nimbus job claim --holder h2)
	[ "$f2" -gt "$f1" ]
	run nimbus job finish e --fence "$f1" --status succeeded
	assert_status 3

	start=$(date +%s%3N)
	run nimbus job claim --holder h3 --wait 1
	assert_status 5
	[ $(($(date +%s%3N) - start)) -ge 1000 ]
	(sleep 0.5; nimbus job add late) 3>&- &
	run nimbus job claim --holder h3 --wait 10
	assert_success
	[[ $output == "late "* ]]
	wait
}

@test "job claim: a job whose lease expired is claimable again; --wait, on each store and kv" {
	for_each_kv reclaim
}

fenced() {
	local f f2
	nimbus job add m
	read -r _ f < <(nimbus job claim --holder h1)
	nimbus job meta m --fence "$f" --set vm=nimbus-0000abcd --set rootfs=sha256:ab
	nimbus job meta m --fence "$f" --set vm=nimbus-0000abce
	[ "$(nimbus job show m --json | jq -cS .meta)" = '{"rootfs":"sha256:ab","vm":"nimbus-0000abce"}' ]

	# The same holder acquires again: the old fence writes nothing.
	f2=$(nimbus lease acquire m --holder h1)
	run --separate-stderr nimbus job meta m --fence "$f" --set vm=stale
	assert_status 3
	[ "$stderr" = "nimbus job: metadata write refused: fence $f of job m is stale (the current fence is $f2)" ]
	run nimbus job finish m --fence "$f" --status succeeded
	assert_status 3
	[ "$(nimbus job show m --json | jq -c '[.state, .meta.vm]')" = '["claimed","nimbus-0000abce"]' ]

	run nimbus job finish m --fence "$f2" --status failed --reason "runner lost"
	assert_success
	assert_output ""
	[ "$(nimbus job show m --json | jq -c '[.state, .reason, (.finished_at | type)]')" = \
	  '["failed","runner lost","string"]' ]
	# Again as it was (a retry) is fine; otherwise it is finished already.
	nimbus job finish m --fence "$f2" --status failed
	run --separate-stderr nimbus job finish m --fence "$f2" --status succeeded
	assert_status 5
	[ "$stderr" = "nimbus job: job m has finished already: failed" ]
	[ "$(nimbus job list --state failed --json | jq -r '.[].job')" = m ]
	# A finished job is never claimed.
	run nimbus job claim
	assert_status 5

	for cmd in "show unknown" "meta unknown --fence 1 --set a=b" \
		   "finish unknown --fence 1 --status failed"; do
		# shellcheck disable=SC2086
		run --separate-stderr nimbus job $cmd
		[ "$status" -eq 4 ] || fail "job $cmd: exit $status: $stderr"
		[ "$stderr" = "nimbus job: unknown job unknown" ]
	done
	# A lease of a job that is not queued has no metadata to write.
	f=$(nimbus lease acquire cron-only)
	run nimbus job meta cron-only --fence "$f" --set a=b
	assert_status 4
}

@test "job finish and meta: only the current fence writes, on each store" {
	for_each_store fenced
}

@test "job: bad input exits with the documented codes" {
	local long=$(head -c 129 /dev/zero | tr '\0' j)
	for id in "" "$long" "a/b" "a b"; do
		run nimbus job add "$id"
		assert_status 2
		run nimbus job show "$id"
		assert_status 2
	done
	for labels in "a b" "gpu,x/y" "$(head -c 65 /dev/zero | tr '\0' l)"; do
		run --separate-stderr nimbus job add j --labels "$labels"
		[ "$status" -eq 2 ] || fail "--labels '$labels': exit $status"
		run nimbus job claim --labels "$labels"
		assert_status 2
	done
	for org in "" "Acme" "-acme" "a_b" "$(head -c 40 /dev/zero | tr '\0' o)"; do
		run nimbus job add j --org "$org"
		[ "$status" -eq 2 ] || fail "--org '$org': exit $status"
	done
	for repo in "" "acme" "/web" "acme/" "a/b/c" "ac me/web"; do
		run nimbus job add j --repo "$repo"
		[ "$status" -eq 2 ] || fail "--repo '$repo': exit $status"
	done
	run --separate-stderr nimbus job add j --payload - <<<'{"not": json'
	assert_status 2
	[[ $stderr == "nimbus job: the job payload is not JSON: "* ]]
	run --separate-stderr nimbus job add j --payload - < <(head -c $((1024 * 1024 + 1)) /dev/zero)
	assert_status 2
	run nimbus job add j --payload "$BATS_TEST_TMPDIR/missing.json"
	assert_status 4
	run nimbus job meta j --fence 1 --set novalue
	assert_status 2
	run nimbus job meta j --fence 1
	assert_status 2
	run --separate-stderr nimbus job meta j --fence 1 --set "bad key=v"
	assert_status 2
	[[ $stderr == *"bad metadata key 'bad key'"* ]]
	run nimbus job meta j --fence 1 --set "k=$(head -c 4097 /dev/zero | tr '\0' v)"
	assert_status 2
	run nimbus job finish j --fence 1 --status done
	assert_status 2
	run nimbus job finish j --fence 1 --status queued
	assert_status 2
	run nimbus job finish j --fence 1
	assert_status 2
	run nimbus job finish j --status failed
	assert_status 2
	run nimbus job finish j --fence x --status failed
	assert_status 2
	run nimbus job list --state bogus
	assert_status 2
	run nimbus job claim --ttl 0
	assert_status 2
	run nimbus job claim extra
	assert_status 2
	# Nothing of that was queued.
	[ "$(nimbus job list --json)" = "[]" ]
}

@test "job with Redis: ids travel through Redis, and are forgotten once claimed" {
	need_redis
	redis_cli flushall >/dev/null
	export NIMBUS_REDIS_URL=$REDIS_URL
	nimbus job add r1 --labels gpu
	nimbus job add r2
	[ "$(redis_cli zrange nimbus:queue 0 -1 | tr '\n' ' ')" = "r1 r2 " ]
	run nimbus job claim --labels linux
	assert_success
	[[ $output == "r2 "* ]]
	run nimbus job claim
	assert_success
	[[ $output == "r1 "* ]]
	[ "$(redis_cli zcard nimbus:queue)" = 0 ]
	[ "$(redis_cli zcard nimbus:queue:taken)" = 0 ]
	[ "$(redis_cli hlen nimbus:queue:jobs)" = 0 ]
}

@test "job with Redis unreachable: add and claim go to the store, with a warning" {
	export NIMBUS_REDIS_URL=redis://127.0.0.1:$(free_port)
	run --separate-stderr nimbus job add u1
	assert_success
	[[ $stderr == "nimbus job: warning: the job queue in Redis is unavailable, using the store only: "* ]]
	run --separate-stderr nimbus job claim
	assert_success
	[[ $output == "u1 "* ]]
	[[ $stderr == *"unavailable, using the store only"* ]]
}

@test "job with Redis: a claimer that dies after taking an id, or whose store fails, loses no job" {
	need_redis
	need_pg
	require_cmd sqlite3
	redis_cli flushall >/dev/null
	export NIMBUS_REDIS_URL=$REDIS_URL NIMBUS_STORE_URL=$PG_URL
	nimbus job add died
	run lease_tool take
	assert_success
	assert_output died
	# Redis hides it until its visibility timeout; the store has it.
	run nimbus job claim --holder h1
	assert_success
	[[ $output == "died "* ]]
	# Offered again after the timeout: the store refuses it, Redis forgets it.
	redis_cli zadd nimbus:queue:taken 0 died >/dev/null
	run nimbus job claim --holder h2
	assert_status 5
	[ "$(redis_cli exists nimbus:queue nimbus:queue:taken nimbus:queue:jobs)" = 0 ]

	# The store fails after the take (its write lock is held elsewhere).
	unset NIMBUS_STORE_URL
	nimbus job add store-down
	(echo "BEGIN IMMEDIATE;"; sleep 3; echo "COMMIT;") |
		sqlite3 "$NIMBUS_CORE_STATE_DIR/nimbus.db" 3>&- &
	sleep 0.5
	run --separate-stderr nimbus -c store.busy_timeout=0 job claim --holder h3
	assert_status 6
	[[ $stderr == *"database is locked"* ]]
	[ "$(redis_cli zrange nimbus:queue:taken 0 -1)" = store-down ]
	wait
	run nimbus job claim --holder h3
	assert_success
	[[ $output == "store-down "* ]]
}

job_library() {
	NIMBUS_TEST_STORE_URL=$NIMBUS_STORE_URL run "$NIMBUS_BUILD/t/unit/1000-lease.t"
	assert_success
	assert_line "# driver $STORE_DRIVER"
	refute_line --regexp '^not ok'
}

@test "the lease and job library's unit test (finish unless finished, deadlines), on each store" {
	for_each_store job_library
}
