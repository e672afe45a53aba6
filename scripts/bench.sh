#!/usr/bin/env bash
# bench.sh: run every benchmark in bench/ on its own local stack.
# SPDX-License-Identifier: Apache-2.0
#
# Usage: bench.sh BUILD_DIR [PATTERN]
#
# Each bench/<name>.sh gets a fresh Redis and broker (scripts/stack.sh), the
# stack's environment, DUNNING_BIN and DUNNING_ROOT, and prints lines
#   bench: <name> <value> <unit> (target <x>)
# Figures are reported, not asserted: these machines are noisy, so each
# benchmark compares against a baseline measured in the same run where it
# can. A benchmark still running after DUNNING_BENCH_TIMEOUT seconds (1800
# by default) is stopped and counted as failed.
set -uo pipefail

BUILD=$(cd "${1:?usage: bench.sh BUILD_DIR [PATTERN]}" && pwd)
PATTERN=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export DUNNING_BIN="$BUILD/bin" DUNNING_ROOT="$ROOT"
export DUNNING_SHARED_DATA=${DUNNING_SHARED_DATA:-$ROOT/../shared/data}
TIMEOUT=${DUNNING_BENCH_TIMEOUT:-1800}
STACK=""
BENCH_PID=""
status=0

cleanup() {
	# timeout passes the signal on to the benchmark it runs.
	if [ -n "$BENCH_PID" ]; then
		kill -TERM "$BENCH_PID" 2>/dev/null
		wait "$BENCH_PID" 2>/dev/null
	fi
	[ -n "$STACK" ] && "$ROOT/scripts/stack.sh" stop "$STACK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for b in "$ROOT"/bench/*.sh; do
	[ -f "$b" ] || continue
	name=$(basename "$b" .sh)
	[ -z "$PATTERN" ] || [[ "$name" == *"$PATTERN"* ]] || continue
	echo "== $name"
	STACK=$(mktemp -d /tmp/dunning-bench.XXXXXX)
	if ! "$ROOT/scripts/stack.sh" start "$STACK" "$DUNNING_BIN"; then
		echo "bench: $name did not run: local stack did not start"
		status=1
		continue
	fi
	# In the background, so that a signal to this script is served at
	# once and stops the benchmark and its stack.
	( set -a; . "$STACK/stack.env"; set +a
	  export DUNNING_STACK_DIR="$STACK"
	  exec timeout --kill-after=10 "$TIMEOUT" bash "$b" ) &
	BENCH_PID=$!
	if ! wait "$BENCH_PID"; then
		echo "bench: $name failed"
		status=1
	fi
	BENCH_PID=""
	"$ROOT/scripts/stack.sh" stop "$STACK"
	rm -rf "$STACK"
	STACK=""
done
exit $status
