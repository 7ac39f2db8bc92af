#!/usr/bin/env bats
# One million lines in through nimbus logs ingest, and out again page by
# page, in order, on every sink.

load lib/common
load lib/logs

N=1000000

million() {
	awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "line %d of the million\n", i }' |
		nimbus logs ingest --job 4242 --token-file "$TOK/acme-push" --json > "$BATS_TEST_TMPDIR/ingest"
	[ "$(jq -c . "$BATS_TEST_TMPDIR/ingest")" = "{\"lines\":$N,\"next_seq\":$N}" ]
	# every line stored, once
	for ((i = 0; i < 1200; i++)); do
		[ "$(sink_count "1 = 1")" = "$N" ] && break
		sleep 0.5
	done
	[ "$(sink_count "1 = 1")" = "$N" ]
	# page by page (10000 lines each), in order, each line once
	nimbus --json logs query --token-file "$TOK/acme-pull" --job 4242 |
		awk -F'"seq":' '{ split($2, a, ","); if (a[1] != NR - 1) { print "line " NR ": seq " a[1]; exit 1 } }
			END { if (NR != '"$N"') { print NR " lines"; exit 1 } }'
	run logs_get acme-pull 'limit=2&grep=line%20999999%20'
	[ "$(jq -c '[.lines[].seq]' "$BATS_TEST_TMPDIR/body")" = '[999999]' ]
}

@test "a million lines go in and come out in order, on every sink" {
	for_each_sink million
}
