#!/bin/sh
# deps.sh: install the Debian packages the product needs, if any is missing.
# SPDX-License-Identifier: Apache-2.0
#
# Does nothing when everything is installed. As root it runs apt-get; as
# another user it prints the exact command to run.
set -eu

PACKAGES="build-essential pkg-config git ca-certificates
librdkafka-dev libhiredis-dev libprotobuf-c-dev protobuf-c-compiler
libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev libssl-dev
libicu-dev libyaml-dev libxml2-dev libphonenumber-dev libcmocka-dev
redis-server redis-tools curl jq clang-format"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: missing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: run as root: apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
