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
# process started is recorded in DIR/pids as "pid start-time name", and a
# start that fails stops what it had started. The start time (clock ticks
# after boot, from /proc) lets stop tell a process of ours from one that
# was later given the same pid. Source DIR/stack.env to talk to the stack
# (DUNNING_REDIS_URL, DUNNING_KAFKA_BROKERS).
set -euo pipefail

die() { echo "stack: $*" >&2; exit 1; }

# Prints the start time of process $1 in clock ticks; fails if it is gone
# (a zombie counts as gone: it has exited, only its parent has not looked).
start_time() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	# Fields after the command name, which may hold spaces: the 3rd
	# field of the line (state) is the 1st of these, the 22nd the 20th.
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	[ "$1" != Z ] || return 1
	echo "${20}"
}

# Whether pid $1 is still the process that started at tick $2.
same_process() {
	local now
	now=$(start_time "$1") && [ "$now" = "$2" ]
}

record() {
	local start
	start=$(start_time "$2") || start=0
	echo "$2 $start $1" >> "$DIR/pids"
}

# The process id of the Redis answering on port $1, if any.
redis_pid() {
	redis-cli -p "$1" info server 2>/dev/null |
		sed -n 's/^process_id:\([0-9]*\).*/\1/p'
}

start_redis() {
	local port tries=0
	command -v redis-server >/dev/null || die "redis-server not found: run 'make deps'"
	while [ $tries -lt 20 ]; do
		# Below the ephemeral range (32768 and up), where outgoing
		# connections could already hold the port.
		port=$(( 20000 + (RANDOM % 12000) ))
		tries=$((tries + 1))
		redis-server --port "$port" --bind 127.0.0.1 --save "" \
			--appendonly no --dir "$DIR" --protected-mode yes \
			--logfile "$DIR/redis.log" --daemonize no &
		local pid=$!
		# Recorded at once, so that a stop from an interrupted start
		# finds it even before it answers.
		record redis "$pid"
		for _ in $(seq 1 50); do
			# Only our server counts: another one may already
			# hold the port while ours fails to bind it.
			if [ "$(redis_pid "$port")" = "$pid" ]; then
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
	# Whoever asked gets no stack to stop if this fails half-way.
	trap cmd_stop EXIT
	start_redis
	start_broker "$bin"
	trap - EXIT
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
	local pid start name
	# Newest first: programs before the broker and Redis they use.
	tac "$DIR/pids" | while read -r pid start name; do
		# A "pid name" line from an older stack.sh: trust the pid,
		# as it did.
		case $start in
		'' | *[!0-9]*)
			name="$start${name:+ $name}"
			start=$(start_time "$pid") || continue
			;;
		esac
		# Gone, or its pid now belongs to someone else.
		same_process "$pid" "$start" || continue
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in $(seq 1 50); do
			same_process "$pid" "$start" || break
			sleep 0.1
		done
		if same_process "$pid" "$start"; then
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
