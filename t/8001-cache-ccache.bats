#!/usr/bin/env bats
# Debian's ccache with its HTTP remote storage against `nimbus cache
# serve`: a small C project built in two clean build directories, each
# with an empty local ccache, so that the second build's objects can only
# come from the remote; for each of ccache's layouts.

load lib/common
load lib/cache

setup() {
	cache_setup
	require_cmd ccache gcc
	cache_start
}

teardown() {
	cache_stop
}

# build DIR LAYOUT [TOKEN]: compile the project in a fresh DIR with a fresh
# local cache (TOKEN_A by default).
build() {
	local dir=$BATS_TEST_TMPDIR/$1 f
	mkdir -p "$dir"
	printf 'int add(int a, int b) { return a + b; }\n' > "$dir/add.c"
	printf 'int mul(int a, int b) { return a * b; }\n' > "$dir/mul.c"
	printf '#include <stdio.h>\nint add(int, int); int mul(int, int);\n%s\n' \
		'int main(void) { printf("%d\n", mul(add(1, 2), 7)); return 0; }' > "$dir/main.c"
	export CCACHE_DIR=$dir/.ccache CCACHE_CONFIGPATH=$dir/ccache.conf
	export CCACHE_REMOTE_STORAGE="$URL/cache/a|bearer-token=${3:-$TOKEN_A}|layout=$2|connect-timeout=5000|operation-timeout=30000"
	: > "$CCACHE_CONFIGPATH"
	for f in add mul main; do
		(cd "$dir" && ccache gcc -O2 -c "$f.c" -o "$f.o") || return 1
	done
	(cd "$dir" && gcc -o prog add.o mul.o main.o && [ "$(./prog)" = 21 ])
}

# stat NAME: one counter of the last build's local ccache.
stat() {
	ccache --print-stats | awk -v k="$1" '$1 == k { print $2 }'
}

second_build_hits_remote() {
	build "$1-one" "$1"
	[ "$(stat remote_storage_miss)" = 3 ] || fail "first build: $(ccache --print-stats)"
	[ "$(stat remote_storage_hit)" = 0 ]
	build "$1-two" "$1"
	[ "$(stat remote_storage_hit)" = 3 ] || fail "second build: $(ccache --print-stats)"
	[ "$(stat cache_miss)" = 0 ] || fail "second build compiled: $(ccache --print-stats)"
	cmp "$BATS_TEST_TMPDIR/$1-one/main.o" "$BATS_TEST_TMPDIR/$1-two/main.o"
}

@test "ccache layout=subdirs: the second clean build comes from the remote" {
	second_build_hits_remote subdirs
	# ab/cdef... keys, as sent
	grep -q 'request method=PUT path=/cache/a/[0-9a-z][0-9a-z]/[0-9a-z]* status=201' "$CACHE_LOG"
	grep -q 'request method=GET path=/cache/a/[0-9a-z][0-9a-z]/[0-9a-z]* status=200' "$CACHE_LOG"
}

@test "ccache layout=flat: the second clean build comes from the remote" {
	second_build_hits_remote flat
	grep -q 'request method=GET path=/cache/a/[0-9a-z]* status=200' "$CACHE_LOG"
}

@test "ccache layout=bazel: entries under ac/ work too" {
	second_build_hits_remote bazel
	grep -q 'request method=GET path=/cache/a/ac/[0-9a-f]\{64\} status=200' "$CACHE_LOG"
}

@test "ccache with a token of another org gets nothing and stores nothing" {
	build one subdirs
	build two subdirs "$TOKEN_B"
	[ "$(stat remote_storage_hit)" = 0 ]
	[ "$(stat cache_miss)" = 3 ]
	grep -q 'request method=GET path=/cache/a/.* status=403' "$CACHE_LOG"
	run nimbus cache stats --json
	[ "$(jq -c '[.[] | .org]' <<< "$output")" = '["a"]' ]
}
