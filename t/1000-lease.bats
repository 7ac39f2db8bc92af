#!/usr/bin/env bats
# nimbus lease: fences, refusals and exit codes on each store; lease hold
# with renewals, signals, a paused holder and a store that goes away.

bats_require_minimum_version 1.5.0
load lib/common
load lib/services

setup_file() {
	pg_start
}

teardown_file() {
	pg_stop
}

# The fence of a job's lease, as `lease show` has it.
fence_of() {
	nimbus lease show "$1" --json | jq -r .fence
}

# RFC 3339 with milliseconds to milliseconds since the epoch.
epoch_ms() {
	date -d "$1" +%s%3N
}

# Background holds run "$NIMBUS" itself (with the nimbus function, $!
# would be a subshell, which passes no signals on), close fd 3 (which
# bats waits for) and are noted in HOLDS, for teardown to clean up after
# a failure: the hold and its command's process group.
teardown() {
	local p g
	for p in ${HOLDS:-}; do
		for g in $(ps --ppid "$p" -o pgid= 2>/dev/null); do
			kill -KILL -- "-$g" 2>/dev/null || true
		done
		kill -KILL "$p" 2>/dev/null || true
	done
}

# Wait for a background job (`run` would wait in a subshell): its exit
# status in $status.
wait_status() {
	status=0
	wait "$1" || status=$?
}

fences() {
	local f1 f2 f3 f4
	run --separate-stderr nimbus lease acquire build-1 --holder alpha --ttl 60
	assert_success
	[[ $output =~ ^[0-9]+$ ]]
	f1=$output

	run --separate-stderr nimbus lease acquire build-1 --holder beta
	assert_status 5
	assert_output ""
	[[ $stderr == "nimbus lease: job build-1 is held by alpha until 20"*"Z ("*" s left)" ]]

	# The same holder again: a new, larger fence, and the old one is stale.
	f2=$(nimbus lease acquire build-1 --holder alpha)
	[ "$f2" -gt "$f1" ]
	run --separate-stderr nimbus lease check build-1 --fence "$f1"
	assert_status 3
	[ "$stderr" = "nimbus lease: fence $f1 of job build-1 is stale (the current fence is $f2)" ]
	nimbus lease check build-1 --fence "$f2"
	run --separate-stderr nimbus lease renew build-1 --fence "$f1"
	assert_status 3
	[[ $stderr == *"renewal refused: fence $f1 of job build-1 is stale"* ]]
	run nimbus lease renew build-1 --fence "$f2" --ttl 30
	assert_success
	[[ $output =~ ^20[0-9-]+T[0-9:]+\.[0-9]{3}Z$ ]]

	# Releasing a stale fence touches nothing; releasing twice is fine.
	run nimbus lease release build-1 --fence "$f1" --json
	assert_success
	[ "$(jq -c . <<<"$output")" = "{\"job\":\"build-1\",\"fence\":$f1,\"released\":false}" ]
	nimbus lease check build-1 --fence "$f2"
	run nimbus lease release build-1 --fence "$f2"
	assert_success
	assert_output ""
	run nimbus lease release build-1 --fence "$f2" --json
	assert_success
	[ "$(jq .released <<<"$output")" = false ]
	run --separate-stderr nimbus lease check build-1 --fence "$f2"
	assert_status 3
	[[ $stderr == *"the lease of job build-1 with fence $f2 was released at 20"* ]]
	run nimbus lease renew build-1 --fence "$f2"
	assert_status 3

	# Another holder now, and the fences are one sequence over all jobs.
	f3=$(nimbus lease acquire build-1 --holder beta)
	[ "$f3" -gt "$f2" ]
	f4=$(nimbus lease acquire build-2 --holder beta)
	[ "$f4" -gt "$f3" ]

	for sub in "release" "check" "renew"; do
		run --separate-stderr nimbus lease $sub nonexistent --fence 1
		assert_status 4
		[ "$stderr" = "nimbus lease: unknown job nonexistent" ]
	done
}

@test "lease acquire, renew, check, release: fences and exit codes, on each store" {
	for_each_store fences
}

expiry() {
	local f
	f=$(nimbus lease acquire short --holder alpha --ttl 1)
	sleep 1.2
	run --separate-stderr nimbus lease renew short --fence "$f"
	assert_status 3
	[[ $stderr == *"the lease of job short with fence $f expired at 20"* ]]
	run nimbus lease check short --fence "$f"
	assert_status 3
	run nimbus lease acquire short --holder beta --ttl 1
	assert_success
	[ "$output" -gt "$f" ]
	# Still lost, though a lease of the job is live again.
	run nimbus lease renew short --fence "$f"
	assert_status 3
}

@test "lease: an expired lease cannot be renewed and is taken over, on each store" {
	for_each_store expiry
}

show() {
	local f
	run nimbus lease show
	assert_success
	assert_output ""
	run nimbus lease show nothing-here
	assert_status 4
	f=$(nimbus lease acquire shown --holder alpha --ttl 100)
	nimbus lease acquire other --holder beta --ttl 100 >/dev/null
	run nimbus lease show shown --json
	assert_success
	[ "$(jq -r '[.job, .holder, .fence, .state] | join(" ")' <<<"$output")" = "shown alpha $f held" ]
	[ "$(jq '.seconds_left >= 98 and .seconds_left <= 100' <<<"$output")" = true ]
	[ $(($(epoch_ms "$(jq -r .expires_at <<<"$output")") - $(epoch_ms "$(jq -r .acquired_at <<<"$output")"))) -eq 100000 ]
	run nimbus lease show
	assert_success
	assert_line --index 0 --regexp '^JOB +HOLDER +FENCE +STATE +ACQUIRED_AT +RENEWED_AT +EXPIRES_AT +SECONDS_LEFT$'
	assert_line --index 1 --regexp "^other +beta "
	assert_line --index 2 --regexp "^shown +alpha +$f +held "
	nimbus lease release shown --fence "$f"
	[ "$(nimbus lease show --json | jq -r '[.[].job] | join(" ")')" = other ]
	[ "$(nimbus lease show shown --json | jq -r .state)" = released ]
}

@test "lease show: one job's lease, or every live one, on each store" {
	for_each_store show
}

@test "lease: bad input exits 2 with a reason; nothing reaches stdout" {
	local long=$(head -c 129 /dev/zero | tr '\0' j)
	run --separate-stderr nimbus lease acquire ""
	assert_status 2
	[[ $stderr == "nimbus lease: a job id has 1 to 128 bytes, not 0"* ]]
	run --separate-stderr nimbus lease acquire "$long"
	assert_status 2
	[[ $stderr == "nimbus lease: a job id has 1 to 128 bytes, not 129"* ]]
	run nimbus lease acquire "${long:1}" --ttl 5
	assert_success
	for id in "a/b" "a b" "jöb" "a;b" $'a\nb'; do
		run --separate-stderr nimbus lease check "$id" --fence 1
		assert_status 2
		[[ $stderr == "nimbus lease: bad job id "* ]]
		[ -z "$output" ]
	done
	run --separate-stderr nimbus lease acquire j --ttl 0
	assert_status 2
	[[ $stderr == *"option '--ttl': '0' is out of range (1-31536000)"* ]]
	run nimbus lease acquire j --ttl -5
	assert_status 2
	run --separate-stderr nimbus lease acquire j --ttl 10s
	assert_status 2
	[[ $stderr == *"'10s' is not a number"* ]]
	run --separate-stderr nimbus lease renew j --fence abc
	assert_status 2
	[[ $stderr == *"option '--fence': 'abc' is not a number"* ]]
	run nimbus lease renew j --fence 0
	assert_status 2
	run --separate-stderr nimbus lease release j
	assert_status 2
	[[ $stderr == *"missing --fence"* ]]
	run --separate-stderr nimbus lease acquire j --holder "bad holder"
	assert_status 2
	[[ $stderr == *"bad holder name 'bad holder'"* ]]
	run --separate-stderr nimbus -c core.holder=host/1 lease acquire j
	assert_status 2
	run nimbus lease acquire a b
	assert_status 2
	run nimbus lease show a b
	assert_status 2
}

@test "lease acquire: the holder defaults to core.holder, then the host name" {
	nimbus lease acquire by-host >/dev/null
	[ "$(nimbus lease show by-host --json | jq -r .holder)" = "$(hostname)" ]
	nimbus -c core.holder=runner-17 lease acquire by-config >/dev/null
	[ "$(nimbus lease show by-config --json | jq -r .holder)" = runner-17 ]
	NIMBUS_CORE_HOLDER=runner-18 nimbus lease acquire by-env >/dev/null
	[ "$(nimbus lease show by-env --json | jq -r .holder)" = runner-18 ]
	[ "$(nimbus -c lease.ttl=7 lease acquire by-ttl --json | jq .seconds_left)" -ge 6 ]
}

hold_env() {
	local dir=$BATS_TEST_TMPDIR/$STORE_DRIVER f
	mkdir -p "$dir"
	NIMBUS_FENCE=999 NIMBUS_LEASE_TTL=30 run nimbus lease hold env-job --holder alpha -- \
		sh -c 'env > "$1"; exit 7' sh "$dir/env"
	assert_status 7
	f=$(sed -n 's/^NIMBUS_FENCE=//p' "$dir/env")
	[ "$f" != 999 ]
	[ "$(fence_of env-job)" = "$f" ]
	grep -qx "NIMBUS_JOB=env-job" "$dir/env"
	grep -qx "NIMBUS_CONFIG=$NIMBUS_CONFIG" "$dir/env"
	grep -q "^NIMBUS_LEASE_EXPIRES=20.*Z$" "$dir/env"
	# nimbus' own settings (store.url may hold a password) stay with it.
	! grep -q "^NIMBUS_STORE_URL=\|^NIMBUS_LEASE_TTL=\|^NIMBUS_CORE_STATE_DIR=" "$dir/env"
	grep -q "^HOME=$HOME$" "$dir/env"
	# Released when the command ended.
	[ "$(nimbus lease show env-job --json | jq -r .state)" = released ]
	# The configuration file read is the one the command's nimbus reads.
	cp "$NIMBUS_CONFIG" "$dir/other.conf"
	nimbus --config "$dir/other.conf" lease hold env-job -- sh -c 'env > "$1"' sh "$dir/env"
	grep -qx "NIMBUS_CONFIG=$dir/other.conf" "$dir/env"
	run nimbus lease hold env-job --holder beta -- true
	assert_success
}

@test "lease hold: runs the command with the lease in its environment, then releases it, on each store" {
	for_each_store hold_env
}

@test "lease hold: exit 5 and no command when another holder has the lease" {
	nimbus lease acquire taken --holder alpha >/dev/null
	run --separate-stderr nimbus lease hold taken --holder beta -- touch "$BATS_TEST_TMPDIR/ran"
	assert_status 5
	[[ $stderr == *"job taken is held by alpha until"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/ran" ]
	run nimbus lease hold taken -- /nonexistent/command
	assert_status 5
}

@test "lease hold: usage, and a command that cannot run" {
	run nimbus lease hold job true
	assert_status 2
	run nimbus lease hold -- true
	assert_status 2
	run nimbus lease hold job --
	assert_status 2
	run nimbus lease hold job --ttl 3 --renew-every 3 -- true
	assert_status 2
	# No time left to renew before the command would be stopped.
	run --separate-stderr nimbus lease hold job --ttl 3 --renew-every 2 -- true
	assert_status 2
	[[ $stderr == *"--renew-every must be shorter than the TTL less --kill-after"* ]]
	run nimbus lease hold job --ttl 3 --renew-every 2 --kill-after 0 -- true
	assert_success
	run -127 --separate-stderr nimbus lease hold job -- /nonexistent/command
	[[ $stderr == *"cannot run /nonexistent/command: No such file or directory"* ]]
	[ "$(nimbus lease show job --json | jq -r .state)" = released ]
}

renewals() {
	local f pid
	hold_bg renewed --ttl 3 --renew-every 1 -- sleep 4.5
	f=$(fence_of renewed)
	sleep 3.5
	# Past the TTL, still held by the same fence.
	nimbus lease check renewed --fence "$f"
	wait "$pid"
	[ "$(nimbus lease show renewed --json | jq -r .state)" = released ]
}

@test "lease hold: renews while the command runs, on each store" {
	for_each_store renewals
}

# hold_bg JOB [ARG]...: `nimbus lease hold JOB ARG...` in the background,
# its pid in $pid, its stderr in $BATS_TEST_TMPDIR/hold.err; returns once
# it holds the lease. A shell starts background jobs with SIGINT
# ignored: env undoes that.
hold_bg() {
	env --default-signal=INT "$NIMBUS" lease hold "$@" 2>"$BATS_TEST_TMPDIR/hold.err" 3>&- &
	pid=$!
	HOLDS+=" $pid"
	wait_for 100 nimbus lease show "$1"
}

@test "lease hold: SIGTERM and SIGINT go to the command's process group" {
	local dir=$BATS_TEST_TMPDIR pid
	# A child and a grandchild, which both trap SIGTERM.
	hold_bg sig-term -- sh -c '
		sh -c "trap \"echo > $1/got.grandchild; exit 0\" TERM; sleep 600 & wait" &
		trap "echo > $1/got.child; wait; exit 42" TERM
		sleep 600 & wait' sh "$dir"
	sleep 0.5
	kill -TERM "$pid"
	wait_status "$pid"
	assert_status 42
	[ -e "$dir/got.child" ] && [ -e "$dir/got.grandchild" ]
	[ "$(nimbus lease show sig-term --json | jq -r .state)" = released ]

	# Its own background jobs ignore SIGINT, as the shell starts them.
	hold_bg sig-int -- sh -c 'trap "echo > $1/got.int; kill \$!; exit 43" INT; sleep 600 & wait' sh "$dir"
	sleep 0.5
	kill -INT "$pid"
	wait_status "$pid"
	assert_status 43
	[ -e "$dir/got.int" ]
	[ "$(nimbus lease show sig-int --json | jq -r .state)" = released ]
}

# A command that notes when it was asked to stop, at once, and stops.
stoppable() {
	echo "trap 'date +%s%3N > $1; exit 0' TERM; sleep 600 & wait"
}

# A command with the fence of a lease that is gone: exit 3, and why.
refused() {
	run --separate-stderr nimbus "$@"
	[ "$status" -eq 3 ] || fail "nimbus $*: exit $status: $stderr"
	[[ $stderr == *"fence $f of job paused is stale"* ]] || fail "nimbus $*: $stderr"
}

pause() {
	local dir=$BATS_TEST_TMPDIR/$STORE_DRIVER pid f
	mkdir -p "$dir"
	nimbus job add paused >/dev/null
	hold_bg paused --holder alpha --ttl 2 --renew-every 1 -- sh -c "$(stoppable "$dir/term")"
	f=$(fence_of paused)
	kill -STOP "$pid"
	sleep 2.5
	run nimbus lease acquire paused --holder beta --ttl 60
	assert_success
	kill -CONT "$pid"

	wait_status "$pid"
	assert_status 3
	grep -q "lease of job paused lost: no renewal got through in time; stopping the command" \
		"$BATS_TEST_TMPDIR/hold.err"
	[ -s "$dir/term" ]
	refused lease renew paused --fence "$f"
	refused lease check paused --fence "$f"
	refused job meta paused --fence "$f" --set vm=nimbus-0000beef
	refused job finish paused --fence "$f" --status succeeded
	[ "$(nimbus job show paused --json | jq -c '[.state, .meta]')" = '["claimed",{}]' ]
	[ "$(nimbus lease show paused --json | jq -r .holder)" = beta ]
}

@test "lease hold: paused past its TTL, its lease is taken over, its fence refused, its command stopped, on each store" {
	for_each_store pause
}

@test "lease hold: a command that ignores SIGTERM gets SIGKILL after --kill-after" {
	local pid start elapsed
	hold_bg stubborn --ttl 1 --kill-after 1 -- sh -c 'trap "" TERM; while :; do sleep 0.05; done'
	kill -STOP "$pid"
	sleep 1.2
	start=$(date +%s%3N)
	kill -CONT "$pid"
	wait_status "$pid"
	assert_status 3
	elapsed=$(($(date +%s%3N) - start))
	[ "$elapsed" -ge 900 ] && [ "$elapsed" -lt 3000 ] || fail "took $elapsed ms"
}

# Stop PostgreSQL under a running `lease hold`, the way stop_pg says
# (and why renewals fail, a pattern): the command must be told to stop
# before the lease's expiry in the store, which is read after the restart.
outage() {
	local stop_pg=$1 why=$2 dir=$BATS_TEST_TMPDIR pid term expires
	need_pg
	export NIMBUS_STORE_URL=$PG_URL
	nimbus db migrate >/dev/null
	hold_bg outage --ttl 4 --renew-every 1 --kill-after 1 -- sh -c "$(stoppable "$dir/term")"
	sleep 1.5
	$stop_pg
	wait_status "$pid"
	pg_resume
	assert_status 3
	grep -q "cannot renew the lease of job outage, retrying until it expires: .*$why" \
		"$BATS_TEST_TMPDIR/hold.err"
	grep -q "lease of job outage lost: no renewal got through in time" "$BATS_TEST_TMPDIR/hold.err"
	! grep -q -- "$PG_PASSWORD" "$BATS_TEST_TMPDIR/hold.err"
	term=$(cat "$dir/term")
	expires=$(epoch_ms "$(nimbus lease show outage --json | jq -r .expires_at)")
	[ "$term" -lt "$expires" ] || fail "stopped at $term, the lease expired at $expires"
	# After the restart, everything works (the lease is not expired yet:
	# this holder takes it again).
	run nimbus lease hold outage --ttl 2 -- true
	assert_success
}

# The postmaster and its children: all of PostgreSQL, to stop and resume.
pg_pids() {
	local pm
	pm=$(pg_pid)
	echo "$pm"
	ps --ppid "$pm" -o pid=
}

pg_freeze() {
	PG_FROZEN=$(pg_pids)
	# shellcheck disable=SC2086
	kill -STOP $PG_FROZEN
}

pg_resume() {
	if [ -n "${PG_FROZEN:-}" ]; then
		# shellcheck disable=SC2086
		kill -CONT $PG_FROZEN
		PG_FROZEN=
	else
		pg_up
	fi
}

@test "lease hold: PostgreSQL stopped, the command is stopped before the lease expires; a restart mends all" {
	outage pg_down "lost the connection\|cannot connect"
}

@test "lease hold: PostgreSQL frozen (no answers at all), the command is stopped before the lease expires" {
	outage pg_freeze "timeout expired waiting for an answer"
}
