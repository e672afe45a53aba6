#!/bin/sh
# lua2c.sh: turns a Lua script into a C string constant.
# SPDX-License-Identifier: Apache-2.0
# Usage: lua2c.sh FILE NAME  (writes C on standard output)
set -eu
printf '/* generated from %s; do not edit */\n' "$1"
printf 'const char %s[] =\n' "$2"
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$/\\n"/' "$1"
printf '\t"";\n'
