#!/usr/bin/env bash
# test_lib_runner.sh: scripts/run-tests.sh counts a test that hangs as
# failed once its time is up, and goes on with the next one.
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail

ROOT=${DUNNING_ROOT:?}
WORK=$(mktemp -d /tmp/dunning-runner-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# A build directory holding two unit "tests": one hangs, one passes.
mkdir -p "$WORK/build/tests/unit" "$WORK/build/bin"
printf '#!/bin/sh\nexec sleep 120\n' > "$WORK/build/tests/unit/test_zz_hangs"
printf '#!/bin/sh\necho "ok 1 - passes"\n' \
	> "$WORK/build/tests/unit/test_zz_passes"
chmod +x "$WORK/build/tests/unit/"test_zz_*

start=$(date +%s)
DUNNING_TEST_TIMEOUT=2 "$ROOT/scripts/run-tests.sh" "$WORK/build" test_zz \
	> "$WORK/out" 2>&1
rc=$?
took=$(( $(date +%s) - start ))

if [ "$rc" -ne 0 ] && [ "$took" -lt 60 ]; then
	echo "ok 1 - a hanging test is stopped and the run fails"
else
	echo "not ok 1 - a hanging test is stopped and the run fails"
fi
if grep -q "^FAIL test_zz_hangs.*timed out" "$WORK/out" &&
	grep -q "^ok   test_zz_passes" "$WORK/out"; then
	echo "ok 2 - the timeout is named and the next test still runs"
else
	echo "not ok 2 - the timeout is named and the next test still runs"
	sed 's/^/# /' "$WORK/out"
fi
