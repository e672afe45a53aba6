#!/usr/bin/env bash
# worker.sh: events applied per second, Redis memory per open invoice, and
# the time to claim and emit a million reminders due at the same instant.
# SPDX-License-Identifier: Apache-2.0
#
# 1. INVOICES invoice events of CUSTOMERS customers are queued on
#    invoice.events while the worker is stopped; the rate is the number
#    applied divided by the time from the first to the last one applied
#    (target at least 100,000 per second). The worker's timer plans each
#    new invoice meanwhile, as it would in production.
# 2. Redis used_memory after the customers were applied and again after
#    the invoices were applied and planned: the difference divided by the
#    invoices is the memory per open invoice, its schedule entry included
#    (target at most 256 bytes). Customers are not counted.
# 3. REMINDERS customers with one open invoice each, written straight into
#    Redis in the worker's layout (the local broker keeps only about
#    100,000 messages per partition), all due at the same instant; the
#    time from the first claim to the last send command acknowledged by
#    the broker (target at most 5 s).
#
# Needs DUNNING_BIN (release programs), DUNNING_ROOT, DUNNING_STACK_DIR and
# the stack's DUNNING_REDIS_URL and DUNNING_KAFKA_BROKERS.
set -euo pipefail

ROOT=${DUNNING_ROOT:?}
BIN=${DUNNING_BIN:?}
WORK=${DUNNING_STACK_DIR:?}/worker-bench
INVOICES=${WORKER_BENCH_INVOICES:-150000}
CUSTOMERS=${WORKER_BENCH_CUSTOMERS:-15000}
REMINDERS=${WORKER_BENCH_REMINDERS:-1000000}
REDIS_PORT=${DUNNING_REDIS_URL##*:}
mkdir -p "$WORK"
WORKER_PID=""

cleanup() {
	if [ -n "$WORKER_PID" ]; then
		kill -TERM "$WORKER_PID" 2>/dev/null || true
		wait "$WORKER_PID" 2>/dev/null || true
		WORKER_PID=""
	fi
}
trap cleanup EXIT

build_loader() { # NAME
	# shellcheck disable=SC2046
	cc -std=c11 -O2 -D_DEFAULT_SOURCE -D_XOPEN_SOURCE=700 \
		-I"$ROOT/lib" -I"$ROOT/build/gen" \
		$(pkg-config --cflags rdkafka libprotobuf-c hiredis) \
		-o "$WORK/$1" "$ROOT/bench/$1.c" \
		"$BIN/../libdunning.a" \
		$(pkg-config --libs rdkafka hiredis libprotobuf-c libcurl \
			libmicrohttpd jansson openssl) -lpthread -lm
}

now_ms() { date +%s%3N; }

rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

used_memory() {
	rcli info memory | tr -d '\r' | sed -n 's/^used_memory://p'
}

metric() { # SERIES
	curl -s "http://127.0.0.1:$PORT/metrics" |
		awk -v s="$1" '$1 == s || index($1, s "{") == 1 { v += $2 }
			END { print v + 0 }'
}

# Starts the worker on Redis database $1 with the clock at $2. One
# consumer group throughout, so a run never re-reads the events of the
# previous one.
start_worker() {
	: > "$WORK/worker.out"
	env DUNNING_REDIS_URL="$DUNNING_REDIS_URL/$1" \
		DUNNING_CLOCK=simulated DUNNING_CLOCK_START="$2" \
		DUNNING_CLOCK_ANCHOR=now DUNNING_CLOCK_SPEED=1 \
		DUNNING_WORKER_HTTP_PORT=0 DUNNING_WORKER_CLAIM_BATCH=1024 \
		DUNNING_WORKER_APPLY_BATCH=1024 DUNNING_WORKER_GROUP=worker-bench \
		DUNNING_WORKER_WORKFLOW="$ROOT/deploy/workflow.yaml" \
		DUNNING_WORKER_TEMPLATES="$ROOT/deploy/whatsapp-templates.json" \
		DUNNING_LOG_LEVEL=warn \
		"$BIN/dunning-worker" > "$WORK/worker.out" 2>> "$WORK/worker.log" &
	WORKER_PID=$!
	PORT=""
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's/^listening=127.0.0.1://p' "$WORK/worker.out")
		[ -n "$PORT" ] && return 0
		sleep 0.1
	done
	echo "bench: worker did not start:" >&2
	tail -5 "$WORK/worker.log" >&2
	exit 1
}

# Waits until metric $1 reaches $2 or $3 seconds pass; prints
# "first_ms last_ms value" where first_ms is when it first exceeded $4.
watch_metric() {
	local series=$1 want=$2 limit=$3 base=$4 v=0 first=0 deadline
	deadline=$(( $(now_ms) + limit * 1000 ))
	while [ "$(now_ms)" -lt "$deadline" ]; do
		v=$(metric "$series")
		if [ "$first" -eq 0 ] && [ "$v" -gt "$base" ]; then
			first=$(now_ms)
		fi
		[ "$v" -ge "$want" ] && break
		sleep 0.05
	done
	echo "$first $(now_ms) $v"
}

apply_and_memory() {
	local applied=dunning_worker_events_applied_total before after
	local first last got queued leased

	rcli -n 1 flushdb > /dev/null
	start_worker 1 2026-03-02T09:00:00Z
	"$WORK/worker_load" customers "$CUSTOMERS"
	read -r _ _ got < <(watch_metric "$applied" "$CUSTOMERS" 120 0)
	cleanup
	before=$(used_memory)

	"$WORK/worker_load" invoices "$INVOICES" "$CUSTOMERS"
	start_worker 1 2026-03-02T09:00:00Z
	read -r first last got < <(watch_metric "$applied" "$INVOICES" 300 0)
	if [ "$got" -lt "$INVOICES" ] || [ "$last" -le "$first" ]; then
		echo "bench: worker_events_applied_per_second failed ($got of $INVOICES)"
		return 1
	fi
	echo "bench: worker_events_applied_per_second $(( got * 1000 / (last - first) )) events/s (target >= 100000)"

	# Memory once every invoice is planned: in the queue, none leased.
	for _ in $(seq 1 600); do
		queued=0 leased=0
		for p in $(seq 0 $(( ${DUNNING_KAFKA_PARTITIONS:-6} - 1 ))); do
			queued=$(( queued + $(rcli -n 1 zcard "dn:{p$p}:q") ))
			leased=$(( leased + $(rcli -n 1 zcard "dn:{p$p}:lease") ))
		done
		[ "$queued" -ge "$INVOICES" ] && [ "$leased" -eq 0 ] && break
		sleep 0.1
	done
	cleanup
	after=$(used_memory)
	echo "bench: worker_redis_bytes_per_open_invoice $(( (after - before) / INVOICES )) bytes (target <= 256)"
}

# Seeds Redis database $1 with REMINDERS entries all due at $2 (ms).
seed() {
	rcli -n "$1" flushdb > /dev/null
	"$WORK/worker_load" seed "$REMINDERS" "${DUNNING_KAFKA_PARTITIONS:-6}" "$2" |
		rcli -n "$1" --pipe > "$WORK/seed.log"
}

# The floor: the Redis commands and broker traffic the reminders need at
# the least, with none of the worker's own work (bench/emit_floor.c).
emit_floor() {
	local due figures
	due=$(date -d 2026-03-09T09:00:00Z +%s)000
	seed 3 "$due"
	figures=$(DUNNING_REDIS_URL="$DUNNING_REDIS_URL/3" "$WORK/emit_floor" \
		"$REMINDERS" "${DUNNING_KAFKA_PARTITIONS:-6}" "$due") || {
		echo "bench: worker_emit_floor_seconds failed"
		return 1
	}
	rcli -n 3 flushdb > /dev/null
	# floor redis=S broker=S both=S reminders=N redis_cpu=S
	set -- $figures
	echo "bench: worker_emit_floor_seconds ${4#both=} s (${2}, ${3} s, Redis busy ${6#redis_cpu=} s: the least Redis and broker work for ${5#reminders=} reminders, no decision or encoding; no target)"
}

million_reminders() {
	local due start first last got emitted=dunning_worker_reminders_emitted_total

	start=2026-03-09T09:00:00Z
	due=$(date -d "$start" +%s)000
	seed 2 "$due"
	start_worker 2 "$start"
	read -r first last got < <(watch_metric "$emitted" "$REMINDERS" 900 0)
	cleanup
	if [ "$first" -eq 0 ] || [ "$last" -le "$first" ]; then
		echo "bench: worker_million_reminders_seconds failed ($got emitted)"
		return 1
	fi
	echo "bench: worker_reminders_emitted_per_second $(( got * 1000 / (last - first) )) msg/s (target >= 200000)"
	# Scaled to a million when fewer were asked for (WORKER_BENCH_REMINDERS).
	echo "bench: worker_million_reminders_seconds $(python3 -c "print(f'{($last - $first) / 1000 * 1000000 / max($got, 1):.1f}')") s (target <= 5; measured on $got)"
}

build_loader worker_load
build_loader emit_floor
apply_and_memory
emit_floor
million_reminders
