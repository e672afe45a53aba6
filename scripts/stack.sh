#!/usr/bin/env bash
# stack.sh: start and stop the local stack (Redis, Kafka broker, programs).
# SPDX-License-Identifier: Apache-2.0
#
# Usage:
#   stack.sh start DIR [BIN]    start redis-server and dunning-broker on free
#                               loopback ports; write DIR/stack.env
#   stack.sh run DIR NAME CMD…  start CMD in the background with the stack's
#                               environment, log in DIR/NAME.log
#   stack.sh stop DIR           stop everything started in DIR, newest first
#
# Nothing is assumed to be running, and stop leaves nothing behind: every
# process started is recorded in DIR/pids. Source DIR/stack.env to talk to
# the stack (DUNNING_REDIS_URL, DUNNING_KAFKA_BROKERS).
set -euo pipefail

die() { echo "stack: $*" >&2; exit 1; }

record() { echo "$2 $1" >> "$DIR/pids"; }

start_redis() {
	local port tries=0
	command -v redis-server >/dev/null || die "redis-server not found: run 'make deps'"
	while [ $tries -lt 20 ]; do
		port=$(( 20000 + (RANDOM % 30000) ))
		tries=$((tries + 1))
		redis-server --port "$port" --bind 127.0.0.1 --save "" \
			--appendonly no --dir "$DIR" --protected-mode yes \
			--logfile "$DIR/redis.log" --daemonize no &
		local pid=$!
		for _ in $(seq 1 50); do
			if redis-cli -p "$port" ping >/dev/null 2>&1; then
				record redis "$pid"
				echo "export DUNNING_REDIS_URL=redis://127.0.0.1:$port" >> "$DIR/stack.env"
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	die "cannot start redis-server (see $DIR/redis.log)"
}

start_broker() {
	local bin=$1 pid bootstrap=""
	[ -x "$bin/dunning-broker" ] || die "$bin/dunning-broker not built: run 'make'"
	"$bin/dunning-broker" > "$DIR/broker.out" 2> "$DIR/broker.log" &
	pid=$!
	record broker "$pid"
	for _ in $(seq 1 100); do
		bootstrap=$(sed -n 's/^bootstrap=//p' "$DIR/broker.out")
		[ -n "$bootstrap" ] && break
		kill -0 "$pid" 2>/dev/null || die "broker exited (see $DIR/broker.log)"
		sleep 0.1
	done
	[ -n "$bootstrap" ] || die "broker did not start (see $DIR/broker.log)"
	echo "export DUNNING_KAFKA_BROKERS=$bootstrap" >> "$DIR/stack.env"
}

cmd_start() {
	local bin=${2:-build/release/bin}
	mkdir -p "$DIR"
	: > "$DIR/stack.env"
	: > "$DIR/pids"
	start_redis
	start_broker "$bin"
}

cmd_run() {
	local name=$1; shift
	# shellcheck disable=SC1091
	. "$DIR/stack.env"
	"$@" >> "$DIR/$name.log" 2>&1 &
	record "$name" $!
	echo $!
}

cmd_stop() {
	[ -f "$DIR/pids" ] || return 0
	local pid name
	# Newest first: programs before the broker and Redis they use.
	tac "$DIR/pids" | while read -r pid name; do
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "stack: $name ($pid) did not stop in 5 s; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	rm -f "$DIR/pids"
}

[ $# -ge 2 ] || die "usage: stack.sh start|run|stop DIR [...]"
action=$1
DIR=$2
shift 2
case "$action" in
	start) cmd_start "$DIR" "$@" ;;
	run) cmd_run "$@" ;;
	stop) cmd_stop ;;
	*) die "unknown action $action" ;;
esac
