#!/bin/sh
# format-check.sh: fail when a C source differs from .clang-format's layout.
# SPDX-License-Identifier: Apache-2.0
set -eu
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || {
	echo "format-check: clang-format not found: run 'make deps'" >&2
	exit 1
}
files=$(git ls-files '*.c' '*.h' '*.cc')
# shellcheck disable=SC2086
if ! clang-format --dry-run -Werror $files; then
	echo "format-check: run 'make format' and commit the result" >&2
	exit 1
fi
echo "format-check: ok"
