#!/usr/bin/env bash
# The cost of the services' seccomp filter: cheap allowed system calls
# in one process without the filter, then with it (t/helpers/
# seccomp-bench, the best of 5 rounds each); prints both and the ratio
# filtered/unfiltered. serve-healthz.sh measures the whole server, which
# runs filtered.
set -euo pipefail
: "${NIMBUS_BUILD:?}"
echo "seccomp: ${SECCOMP_BENCH_N:-500000} calls per round"
"$NIMBUS_BUILD/t/helpers/seccomp-bench" "${SECCOMP_BENCH_N:-500000}"
