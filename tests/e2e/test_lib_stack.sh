#!/usr/bin/env bash
# test_lib_stack.sh: scripts/stack.sh stops exactly what it started, even
# when starting fails half-way, and never a process that took a dead one's
# pid.
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail

ROOT=${DUNNING_ROOT:?}
BIN=${DUNNING_BIN:?}
STACK_SH="$ROOT/scripts/stack.sh"
WORK=$(mktemp -d /tmp/dunning-stack-test.XXXXXX)
n=0
strays=()

cleanup() {
	local pid
	for pid in "${strays[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

result() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
	fi
}

# Running, not exited (an exited child of a busy init stays a zombie).
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

redis_answers() { redis-cli -p "$1" ping >/dev/null 2>&1; }

# The Redis port a stack directory's environment names.
redis_port() { sed -n 's/.*redis:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1"; }

test_stop_leaves_nothing_running() {
	local dir="$WORK/full" pids rc=0 pid
	"$STACK_SH" start "$dir" "$BIN" >/dev/null 2>&1 || return 1
	pids=$(awk '{print $1}' "$dir/pids")
	[ "$(echo "$pids" | wc -l)" -eq 2 ] || rc=1
	"$STACK_SH" stop "$dir" || rc=1
	for pid in $pids; do
		! alive "$pid" || rc=1
	done
	return $rc
}

test_failed_start_leaves_no_redis_behind() {
	local dir="$WORK/half" nobroker="$WORK/empty-bin" port
	mkdir -p "$nobroker"
	# Redis starts, then the broker cannot: start must fail and take
	# its Redis down with it, since no one will ever stop that stack.
	if "$STACK_SH" start "$dir" "$nobroker" >/dev/null 2>&1; then
		return 1
	fi
	port=$(redis_port "$dir/stack.env")
	[ -n "$port" ] || return 1
	sleep 0.5
	! redis_answers "$port"
}

test_stop_spares_a_process_that_reused_a_pid() {
	local dir="$WORK/reused" pid
	"$STACK_SH" start "$dir" "$BIN" >/dev/null 2>&1 || return 1
	sleep 300 &
	pid=$!
	strays+=("$pid")
	# As if a program of the stack had exited and the kernel had given
	# its pid to this unrelated process: the record (pid, start time in
	# clock ticks, name) no longer matches it.
	echo "$pid 1 worker" >> "$dir/pids"
	"$STACK_SH" stop "$dir" >/dev/null 2>&1
	alive "$pid"
}

test_interrupted_start_leaves_nothing_behind() {
	local dir="$WORK/interrupted" slow="$WORK/slow-bin" starter pid
	local pids=""
	# A broker that never gets ready, so start is still waiting for it
	# when it is interrupted, as by ^C or a harness timeout.
	mkdir -p "$slow"
	printf '#!/bin/sh\nexec sleep 60\n' > "$slow/dunning-broker"
	chmod +x "$slow/dunning-broker"
	"$STACK_SH" start "$dir" "$slow" >/dev/null 2>&1 &
	starter=$!
	for _ in $(seq 1 100); do
		[ "$(wc -l < "$dir/pids" 2>/dev/null)" = 2 ] && break
		sleep 0.1
	done
	pids=$(awk '{print $1}' "$dir/pids" 2>/dev/null)
	[ "$(echo "$pids" | wc -w)" -eq 2 ] || return 1
	kill -TERM "$starter"
	wait "$starter" 2>/dev/null
	sleep 0.5
	for pid in $pids; do
		if alive "$pid"; then
			strays+=("$pid")
			return 1
		fi
	done
}

for t in test_stop_leaves_nothing_running \
	test_failed_start_leaves_no_redis_behind \
	test_stop_spares_a_process_that_reused_a_pid \
	test_interrupted_start_leaves_nothing_behind; do
	"$t"
	result $? "$t"
done
