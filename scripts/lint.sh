#!/bin/sh
# lint.sh: refuse the C functions the style guide bans.
# SPDX-License-Identifier: Apache-2.0
set -eu
cd "$(dirname "$0")/.."
banned='\b(sprintf|vsprintf|strcpy|strcat|atoi|atol|strtok|gets)[[:space:]]*\('
if git ls-files '*.c' '*.h' '*.cc' | xargs grep -nE "$banned"; then
	echo "lint: banned functions above (see ../shared/STYLE.md)" >&2
	exit 1
fi
echo "lint: ok"
