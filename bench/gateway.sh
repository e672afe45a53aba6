#!/usr/bin/env bash
# gateway.sh: sends per second of one gateway against the local simulator.
# SPDX-License-Identifier: Apache-2.0
#
# Two runs, each with a fresh simulator and gateway on the stack that
# scripts/bench.sh started:
#
# 1. pacing off, simulator limit out of the way: COUNT_FAST commands queued
#    before the gateway starts; the rate is the number of messages the
#    Cloud API accepted divided by the time from the first to the last
#    (target at least 2,000 per second);
# 2. pacing on at 80 per second against a simulator that enforces 80 per
#    second: the rate over the steady part of the run (the first and last
#    two seconds left out), its distance from 80, and the throughput
#    errors (130429) the simulator answered (targets: within 2 %, none).
#
# Needs DUNNING_BIN (release programs), DUNNING_ROOT, DUNNING_STACK_DIR and
# the stack's DUNNING_REDIS_URL and DUNNING_KAFKA_BROKERS.
set -euo pipefail

ROOT=${DUNNING_ROOT:?}
BIN=${DUNNING_BIN:?}
WORK=${DUNNING_STACK_DIR:?}/gateway-bench
COUNT_FAST=${GATEWAY_BENCH_COUNT:-20000}
PACED_SECONDS=${GATEWAY_BENCH_PACED_SECONDS:-15}
mkdir -p "$WORK"
PIDS=()

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
}
trap cleanup EXIT

# The command loader, built against the release library.
build_loader() {
	# shellcheck disable=SC2046
	cc -std=c11 -O2 -D_DEFAULT_SOURCE -D_XOPEN_SOURCE=700 \
		-I"$ROOT/lib" -I"$ROOT/build/gen" \
		$(pkg-config --cflags rdkafka jansson libprotobuf-c) \
		-o "$WORK/gateway_load" "$ROOT/bench/gateway_load.c" \
		"$BIN/../libdunning.a" \
		$(pkg-config --libs rdkafka hiredis libprotobuf-c libcurl \
			libmicrohttpd jansson openssl) -lpthread -lm
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts NAME with the environment given; sets PORT.
start() {
	local name=$1; shift
	: > "$WORK/$name.out"
	env "$@" "$BIN/dunning-$name" > "$WORK/$name.out" 2> "$WORK/$name.log" &
	PIDS+=($!)
	PORT=""
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's/^listening=127.0.0.1://p' "$WORK/$name.out")
		[ -n "$PORT" ] && return 0
		sleep 0.1
	done
	echo "bench: gateway: $name did not start:" >&2
	tail -5 "$WORK/$name.log" >&2
	exit 1
}

metric() { # PORT SERIES
	curl -s "http://127.0.0.1:$1/metrics" |
		awk -v s="$2" '$1 == s { print $2; found=1 } END { if (!found) print 0 }'
}

sim_stat() { # PORT NAME
	curl -s "http://127.0.0.1:$1/sim/stats" |
		python3 -c "import json,sys; print(json.load(sys.stdin).get('$2', 0))"
}

now_ms() { date +%s%3N; }

# One run: $1 pacing (true/false), $2 simulator mps, $3 commands,
# $4 gateway mps. Leaves SIM_PORT, GW_PORT set.
run_setup() {
	local gw_port
	gw_port=$(free_port)
	start simulator DUNNING_SIM_HTTP_PORT=0 \
		DUNNING_SIM_TOKEN=bench-token DUNNING_SIM_APP_SECRET=bench-secret \
		DUNNING_SIM_WEBHOOK_URL="http://127.0.0.1:$gw_port/webhook" \
		DUNNING_SIM_TEMPLATES="$ROOT/deploy/whatsapp-templates.json" \
		DUNNING_SIM_CUSTOMERS=false DUNNING_SIM_MPS="$2" \
		DUNNING_LOG_LEVEL=warn
	SIM_PORT=$PORT
	"$WORK/gateway_load" "$3" "bench-$1-$(now_ms)"
	start gateway DUNNING_WA_BASE_URL="http://127.0.0.1:$SIM_PORT" \
		DUNNING_WA_TOKEN=bench-token DUNNING_WA_APP_SECRET=bench-secret \
		DUNNING_WA_SENDERS='*=PN-BENCH' DUNNING_GATEWAY_HTTP_PORT="$gw_port" \
		DUNNING_GATEWAY_TEMPLATES="$ROOT/deploy/whatsapp-templates.json" \
		DUNNING_GATEWAY_PACING="$1" DUNNING_GATEWAY_MPS="$4" \
		DUNNING_LOG_LEVEL=warn
	GW_PORT=$PORT
}

fast_run() {
	local count=$COUNT_FAST sent=0 first=0 t0=0 t1 deadline retries
	run_setup false 100000 "$count" 80
	deadline=$(( $(now_ms) + 120000 ))
	while [ "$(now_ms)" -lt "$deadline" ]; do
		sent=$(sim_stat "$SIM_PORT" messages_accepted)
		if [ "$first" -eq 0 ] && [ "$sent" -gt 0 ]; then
			first=$sent; t0=$(now_ms)
		fi
		[ "$sent" -ge "$count" ] && break
		sleep 0.05
	done
	t1=$(now_ms)
	retries=$(metric "$GW_PORT" dunning_gateway_retries_total)
	cleanup
	if [ "$sent" -lt "$count" ] || [ "$t1" -le "$t0" ]; then
		echo "bench: gateway_sends_per_second failed ($sent of $count sent)"
		return 1
	fi
	echo "bench: gateway_sends_per_second $(( (sent - first) * 1000 / (t1 - t0) )) msg/s (target >= 2000)"
	echo "bench: gateway_unpaced_retries $retries retries (target 0)"
}

paced_run() {
	local count=$(( 80 * (PACED_SECONDS + 4) )) a b ta tb errors rate dev
	run_setup true 80 "$count" 80
	while [ "$(sim_stat "$SIM_PORT" messages_accepted)" -eq 0 ]; do sleep 0.02; done
	sleep 2
	a=$(sim_stat "$SIM_PORT" messages_accepted); ta=$(now_ms)
	sleep "$PACED_SECONDS"
	b=$(sim_stat "$SIM_PORT" messages_accepted); tb=$(now_ms)
	errors=$(sim_stat "$SIM_PORT" rate_limited)
	cleanup
	rate=$(python3 -c "print(f'{($b - $a) * 1000 / ($tb - $ta):.2f}')")
	dev=$(python3 -c "print(f'{abs($rate - 80) / 80 * 100:.2f}')")
	echo "bench: gateway_paced_rate $rate msg/s (target 80)"
	echo "bench: gateway_paced_deviation $dev % (target <= 2)"
	echo "bench: gateway_paced_throughput_errors $errors errors (target 0)"
}

build_loader
fast_run
paced_run
