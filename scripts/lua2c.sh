#!/bin/sh
# lua2c.sh: turns a Lua script into a C string constant.
# SPDX-License-Identifier: Apache-2.0
# Usage: lua2c.sh FILE NAME [PRELUDE]  (writes C on standard output)
# PRELUDE, when given, is a Lua file of local functions put in front of
# the script, so that scripts share them and each stays whole for Redis.
set -eu
if [ $# -ne 2 ] && [ $# -ne 3 ]; then
	echo "usage: lua2c.sh FILE NAME [PRELUDE]" >&2
	exit 2
fi
for f in "$1" ${3:+"$3"}; do
	if [ ! -r "$f" ]; then
		echo "lua2c.sh: cannot read $f" >&2
		exit 1
	fi
done
printf '/* generated from %s%s; do not edit */\n' "${3:+$3 and }" "$1"
printf 'const char %s[] =\n' "$2"
cat ${3:+"$3"} "$1" |
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$/\\n"/'
printf '\t"";\n'
