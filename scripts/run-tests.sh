#!/usr/bin/env bash
# run-tests.sh: run every test program and print "N passed, N failed".
# SPDX-License-Identifier: Apache-2.0
#
# Usage: run-tests.sh BUILD_DIR [PATTERN]
#
# Unit tests (BUILD_DIR/tests/unit/test_*) run with no services.
# Integration tests (BUILD_DIR/tests/integration/test_*) and end-to-end
# scripts (tests/e2e/test_*.sh) each get a fresh local stack (Redis and the
# Kafka broker on free loopback ports), stopped when they end. Only tests
# whose name contains PATTERN run when it is given.
#
# Test programs speak TAP (cmocka with CMOCKA_MESSAGE_OUTPUT=TAP; the e2e
# scripts print the same "ok N - name" / "not ok N - name" lines). A
# program that exits non-zero without reporting a failure counts as one,
# and so does one still running after DUNNING_TEST_TIMEOUT seconds (900
# by default): it is stopped, so that its stack is stopped too and the
# run goes on.
set -uo pipefail

BUILD=${1:?usage: run-tests.sh BUILD_DIR [PATTERN]}
PATTERN=${2:-}
TIMEOUT=${DUNNING_TEST_TIMEOUT:-900}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
export DUNNING_BIN="$BUILD/bin"
export DUNNING_ROOT="$ROOT"
export DUNNING_SHARED_DATA=${DUNNING_SHARED_DATA:-$ROOT/../shared/data}
export CMOCKA_MESSAGE_OUTPUT=TAP
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
failures=()
WORK=$(mktemp -d /tmp/dunning-tests.XXXXXX)
STACK=""
TEST_PID=""

cleanup() {
	# timeout passes the signal on to the test it runs.
	if [ -n "$TEST_PID" ]; then
		kill -TERM "$TEST_PID" 2>/dev/null
		wait "$TEST_PID" 2>/dev/null
	fi
	[ -n "$STACK" ] && "$ROOT/scripts/stack.sh" stop "$STACK"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs one test program, counting its TAP lines.
run_one() {
	local name=$1; shift
	local log="$WORK/$name.log" rc ok notok why
	# In the background, so that ^C is served at once: timeout puts
	# the test in a process group of its own, out of the terminal's.
	timeout --kill-after=10 "$TIMEOUT" "$@" > "$log" 2>&1 &
	TEST_PID=$!
	wait "$TEST_PID"
	rc=$?
	TEST_PID=""
	ok=$(grep -cE '^ok [0-9]+' "$log")
	notok=$(grep -cE '^not ok [0-9]+' "$log")
	if [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then
		notok=1
	fi
	why="exit $rc"
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="timed out after $TIMEOUT s"
	fi
	passed=$((passed + ok))
	failed=$((failed + notok))
	if [ "$notok" -gt 0 ]; then
		failures+=("$name")
		echo "FAIL $name ($ok passed, $notok failed, $why)"
		# The failed cases and their messages first, then the end of
		# the log, where sanitizer reports land.
		grep -E -A4 '^not ok' "$log" | sed 's/^/    /' | head -60
		echo "    ..."
		sed 's/^/    /' "$log" | tail -30
	else
		echo "ok   $name ($ok passed)"
	fi
}

# Runs one test with a stack of its own.
run_with_stack() {
	local name=$1; shift
	STACK="$WORK/stack-$name"
	if ! "$ROOT/scripts/stack.sh" start "$STACK" "$DUNNING_BIN" \
		> "$WORK/$name.stack.log" 2>&1; then
		failed=$((failed + 1))
		failures+=("$name (stack)")
		echo "FAIL $name: local stack did not start"
		cat "$WORK/$name.stack.log"
		STACK=""
		return
	fi
	# shellcheck disable=SC1091
	. "$STACK/stack.env"
	export DUNNING_STACK_DIR="$STACK"
	run_one "$name" "$@"
	"$ROOT/scripts/stack.sh" stop "$STACK"
	STACK=""
}

selected() { [ -z "$PATTERN" ] || [[ "$1" == *"$PATTERN"* ]]; }

for t in "$BUILD"/tests/unit/test_*; do
	[ -x "$t" ] && [[ "$t" != *.o ]] || continue
	name=$(basename "$t")
	selected "$name" && run_one "$name" "$t"
done
for t in "$BUILD"/tests/integration/test_*; do
	[ -x "$t" ] && [[ "$t" != *.o ]] || continue
	name=$(basename "$t")
	selected "$name" && run_with_stack "$name" "$t"
done
for t in "$ROOT"/tests/e2e/test_*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	selected "$name" && run_with_stack "$name" bash "$t"
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
