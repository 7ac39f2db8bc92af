#!/usr/bin/env bats
# The kv: claims and counters on Redis and on both store drivers, and
# Redis that cannot be reached.

bats_require_minimum_version 1.5.0
load lib/common
load lib/services

setup_file() {
	services_start
}

teardown_file() {
	services_stop
}

claim_race() {
	local i n=40 won=0 held=0 pids=() dir=$BATS_TEST_TMPDIR/$KV_DRIVER-$STORE_DRIVER
	mkdir -p "$dir"
	[ "$(kv_tool driver)" = "$KV_DRIVER" ]
	# The schema exists before the race: it is about the claim, not the migration.
	kv_tool claim warm-up 60
	for ((i = 0; i < n; i++)); do
		kv_tool claim delivery-1 60 2>"$dir/err.$i" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		if wait "${pids[$i]}"; then
			won=$((won + 1))
		elif [ $? -eq 5 ]; then
			held=$((held + 1))
		else
			cat "$dir/err.$i"
			return 1
		fi
	done
	[ "$won" -eq 1 ] && [ "$held" -eq $((n - 1)) ] || { echo "won $won, held $held"; return 1; }
}

@test "kv claim: of 40 processes claiming one key exactly one wins, on each kv" {
	for_each_kv claim_race
}

claim_expiry() {
	run kv_tool claim nonce 1
	assert_success
	run kv_tool claim nonce 1
	assert_status 5
	sleep 1.2
	run kv_tool claim nonce 60
	assert_success
	run kv_tool claim nonce 60
	assert_status 5
	# A counter of the same name is another thing.
	run kv_tool incr nonce 1 60
	assert_success
	assert_output 1
}

@test "kv claim: an expired claim can be claimed again, on each kv" {
	for_each_kv claim_expiry
}

incr_ttl() {
	run kv_tool incr hits 2 60
	assert_output 2
	run kv_tool incr hits 3 1
	assert_output 5
	run kv_tool incr hits -7 60
	assert_success
	assert_output -- -2
	run kv_tool incr short 1 1
	assert_output 1
	run kv_tool incr short 1 60
	assert_output 2
	sleep 1.2
	# Expired: it starts again from delta, with the new TTL.
	run kv_tool incr short 5 60
	assert_output 5
	run kv_tool incr short 1 60
	assert_output 6
	run kv_tool incr hits 1 60
	assert_output -- -1
}

@test "kv incr: counts, and starts again after its TTL, on each kv" {
	for_each_kv incr_ttl
}

sweep() {
	local i
	for i in 1 2 3; do
		kv_tool claim "old-$i" 1
		kv_tool incr "old-$i" 1 1 >/dev/null
	done
	kv_tool claim keep 600
	sleep 1.2
	# The first operation of a process sweeps what has expired.
	kv_tool claim other 600
	[ "$(store_sql "SELECT count(*) FROM kv_claims")" = 2 ]
	[ "$(store_sql "SELECT count(*) FROM kv_counters")" = 0 ]
}

@test "kv: the store driver deletes expired rows, on each store" {
	for_each_store sweep
}

@test "kv: bad keys exit 2" {
	run kv_tool claim "" 60
	assert_status 2
	run kv_tool claim "$(printf 'a\tb')" 60
	assert_status 2
	run kv_tool claim "$(head -c 513 /dev/zero | tr '\0' x)" 60
	assert_status 2
	run kv_tool claim "$(head -c 512 /dev/zero | tr '\0' x)" 60
	assert_success
}

@test "kv: Redis where nothing listens exits 6, password masked" {
	local pw=Distinctive-Pass-$RANDOM$RANDOM port
	port=$(free_port)
	NIMBUS_REDIS_URL=redis://:$pw@127.0.0.1:$port/2 run kv_tool claim k 60
	assert_status 6
	assert_output --partial "redis://:<redacted>@127.0.0.1:$port/2"
	refute_output --partial "$pw"
	[ "${#lines[@]}" -eq 1 ]
}

@test "kv: a Redis that accepts and never answers exits 6 within redis.timeout" {
	local start elapsed
	need_redis
	start=$(date +%s%N)
	kill -STOP "$(redis_pid)"
	NIMBUS_REDIS_URL=$REDIS_URL NIMBUS_REDIS_TIMEOUT=1 run kv_tool claim k 60
	kill -CONT "$(redis_pid)"
	elapsed=$((($(date +%s%N) - start) / 1000000))
	assert_status 6
	assert_output --partial "timed out"
	refute_output --partial "$REDIS_PASSWORD"
	[ "$elapsed" -ge 900 ] && [ "$elapsed" -lt 4000 ] || { echo "took $elapsed ms"; return 1; }
}

@test "kv: a stopped Redis exits 6; after a restart it works" {
	need_redis
	redis_down
	NIMBUS_REDIS_URL=$REDIS_URL run kv_tool claim restart 60
	redis_up
	assert_status 6
	NIMBUS_REDIS_URL=$REDIS_URL run kv_tool claim restart 60
	assert_success
}

@test "kv: Redis with a wrong password or a bad URL exits 7" {
	need_redis
	NIMBUS_REDIS_URL=redis://:wrong-password@127.0.0.1:$REDIS_PORT run kv_tool claim k 60
	assert_status 7
	refute_output --partial wrong-password
	NIMBUS_REDIS_URL=redis://127.0.0.1:$REDIS_PORT run kv_tool claim k 60
	assert_status 7
	NIMBUS_REDIS_URL=redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/99999 run kv_tool claim k 60
	assert_status 7
	local url
	for url in 'redis://' 'redis://h:0' 'redis://h:x' 'redis://h/x' 'rediss://h' 'redis://:secret-pw' 'redis://h?db=1'; do
		NIMBUS_REDIS_URL=$url run kv_tool claim k 60
		[ "$status" -eq 7 ] || { echo "$url: exit $status: $output"; return 1; }
		refute_output --partial secret-pw
	done
}

@test "kv on Redis: a script is sent whole once, then by its SHA-1" {
	local i stats
	need_redis
	redis_cli script flush >/dev/null
	redis_cli config resetstat >/dev/null
	for i in 1 2 3; do
		NIMBUS_REDIS_URL=$REDIS_URL run kv_tool incr scripted 1 60
		assert_output "$i"
	done
	stats=$(redis_cli info commandstats | tr -d '\r')
	grep -q '^cmdstat_evalsha:calls=3,' <<<"$stats"
	grep -q '^cmdstat_eval:calls=1,' <<<"$stats"
}
