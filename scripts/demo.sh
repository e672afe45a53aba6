#!/usr/bin/env bash
# demo.sh: the whole product on one machine, a quarter of history in minutes.
# SPDX-License-Identifier: Apache-2.0
#
# Usage: demo.sh [--data FILE [--preset NAME]] [--customers FILE]
#                [--seconds N] [--customers-count N] [--invoices N]
#                [--seed N] [--keep]
#
# Starts Redis and the local Kafka broker (scripts/stack.sh) in a
# temporary folder, then the Cloud API simulator playing the customers and
# their ERP, the gateway and the worker, all on one simulated clock that
# replays the ledger's window in about --seconds (default 120) real
# seconds. The ledger is generated (hundreds of customers, thousands of
# invoices, several countries, time zones and currencies) unless --data
# names an export; its customers come from --customers or a directory
# generated for them. Progress is shown while the replay runs; at the end
# a report for the finance team is printed from the worker's statistics
# (docs/architecture.md, contract 9) and the simulator's /sim/stats.
# Everything started is stopped on exit, Ctrl-C included.
#
# Environment: DUNNING_BIN (programs, default build/release/bin),
# DEMO_WORK (folder to use instead of a temporary one; kept).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${DUNNING_BIN:-$ROOT/build/release/bin}
DATA=""
PRESET=""
CUSTOMERS=""
SECONDS_WANTED=120
CUSTOMER_COUNT=300
INVOICE_COUNT=3000
SEED=7
KEEP=0
WORK=""
STACK=""

die() { echo "demo: $*" >&2; exit 1; }
say() { printf '%s\n' "$*"; }

usage() {
	sed -n '4,8p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--data) DATA=${2:?}; shift 2 ;;
		--preset) PRESET=${2:?}; shift 2 ;;
		--customers) CUSTOMERS=${2:?}; shift 2 ;;
		--seconds) SECONDS_WANTED=${2:?}; shift 2 ;;
		--customers-count) CUSTOMER_COUNT=${2:?}; shift 2 ;;
		--invoices) INVOICE_COUNT=${2:?}; shift 2 ;;
		--seed) SEED=${2:?}; shift 2 ;;
		--keep) KEEP=1; shift ;;
		-h|--help) usage ;;
		*) die "unknown option $1 (try --help)" ;;
		esac
	done
}

# ---------------------------------------------------------------------------
# Starting and stopping

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$STACK" ]; then
		say "demo: stopping everything it started"
		"$ROOT/scripts/stack.sh" stop "$STACK" || true
	fi
	if [ -n "$WORK" ] && [ "$KEEP" -eq 0 ] && [ -z "${DEMO_WORK:-}" ]; then
		rm -rf "$WORK"
	elif [ -n "$WORK" ]; then
		say "demo: logs and data kept in $WORK"
	fi
	exit "$rc"
}

# A free loopback TCP port (nothing answers on it).
free_port() {
	local port
	for _ in $(seq 1 50); do
		port=$(( 15000 + RANDOM % 17000 )) # below the ephemeral range
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	die "no free port found"
}

# Waits until NAME's log shows "listening=127.0.0.1:PORT"; prints PORT.
wait_listening() {
	local name=$1 port=""
	for _ in $(seq 1 150); do
		port=$(sed -n 's/^listening=127\.0\.0\.1:\([0-9]*\).*/\1/p' \
			"$STACK/$name.log" 2>/dev/null | head -1)
		[ -n "$port" ] && { echo "$port"; return 0; }
		sleep 0.1
	done
	tail -20 "$STACK/$name.log" >&2 || true
	die "$name did not start (log: $STACK/$name.log)"
}

# Runs a program under the stack's environment in the background.
run_bg() {
	"$ROOT/scripts/stack.sh" run "$STACK" "$@" > /dev/null
}

# ---------------------------------------------------------------------------
# The ledger and the clock

epoch_of() { date -u -d "$1" +%s; }

iso_of() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

prepare_generated() {
	local start
	start=$(date -u -d "today - 91 days" +%Y-%m-%d)
	"$BIN/dunning-producer" generate --seed "$SEED" \
		--customers "$CUSTOMER_COUNT" --invoices "$INVOICE_COUNT" \
		--start "$start" --days 90 --out-dir "$WORK" \
		2>> "$WORK/producer.log"
	LEDGER="$WORK/ledger.csv"
	DIRECTORY="$WORK/customers.csv"
	IMPORT_OPTS=()
	WINDOW_START=$(epoch_of "$start")
	WINDOW_END=$(( WINDOW_START + 90 * 86400 ))
}

# Export layout: given, or the IBM accounts-receivable sample's header.
detect_preset() {
	[ -n "$PRESET" ] && return 0
	if head -1 "$DATA" | grep -q 'invoiceNumber.*InvoiceAmount'; then
		PRESET=ibm-ar
	else
		PRESET=ledger
	fi
}

prepare_export() {
	local first last
	[ -f "$DATA" ] || die "no such file: $DATA"
	detect_preset
	LEDGER=$DATA
	IMPORT_OPTS=(--preset "$PRESET")
	[ "$PRESET" = ibm-ar ] && IMPORT_OPTS+=(--currency USD)
	if [ -n "$CUSTOMERS" ]; then
		DIRECTORY=$CUSTOMERS
	else
		DIRECTORY="$WORK/customers.csv"
		"$BIN/dunning-producer" generate-directory --ledger "$DATA" \
			--preset "$PRESET" --seed "$SEED" --out "$DIRECTORY" \
			2>> "$WORK/producer.log"
	fi

	# The window: first to last instant the export mentions.
	"$BIN/dunning-producer" import --dry-run "${IMPORT_OPTS[@]}" \
		--reject-file "$WORK/window-rejects.csv" "$LEDGER" \
		2>> "$WORK/producer.log" |
		grep -o '"occurred_at":"[^"]*"' | cut -d'"' -f4 | sort \
		> "$WORK/instants" || true
	first=$(head -1 "$WORK/instants")
	last=$(tail -1 "$WORK/instants")
	[ -n "$first" ] || die "no invoice could be read from $DATA (see $WORK/producer.log)"
	WINDOW_START=$(epoch_of "${first%%T*}")
	WINDOW_END=$(( $(epoch_of "$last") + 86400 ))
}

# Every program gets the same simulated clock: START at ANCHOR, SPEED.
configure_clock() {
	local span=$(( WINDOW_END - WINDOW_START ))
	SPEED=$(( (span + SECONDS_WANTED - 1) / SECONDS_WANTED ))
	[ "$SPEED" -ge 1 ] || SPEED=1
	[ "$SPEED" -le 1000000 ] || SPEED=1000000 # the clock's largest speed
	ANCHOR_EPOCH=$(( $(date -u +%s) + 12 ))
	export DUNNING_CLOCK=simulated
	export DUNNING_CLOCK_START
	export DUNNING_CLOCK_ANCHOR
	export DUNNING_CLOCK_SPEED=$SPEED
	DUNNING_CLOCK_START=$(iso_of "$WINDOW_START")
	DUNNING_CLOCK_ANCHOR=$(iso_of "$ANCHOR_EPOCH")
}

# The product's current instant in seconds, as every program computes it.
product_now() {
	echo $(( WINDOW_START + ($(date -u +%s) - ANCHOR_EPOCH) * SPEED ))
}

# The default workflow, with the send deadline stretched to cover about 2
# real seconds of pipeline latency: at thousands of times real speed, the
# 12 hours of the default pass in well under a second of Kafka polling,
# and the gateway would rightly drop nearly every command as stale. It
# stays below the 4 real seconds after a payment from which the simulator
# counts a reminder as sent after paid.
prepare_workflow() {
	local minutes=$(( SPEED * 2 / 60 ))
	[ "$minutes" -ge 720 ] || minutes=720
	[ "$minutes" -le 10080 ] || minutes=10080 # the workflow's largest
	sed "s/^\( *command_deadline_minutes:\).*/\1 $minutes/" \
		"$ROOT/deploy/workflow.yaml" > "$WORK/workflow.yaml"
}

# ---------------------------------------------------------------------------
# The programs

start_programs() {
	local sim_port gw_port token=demo-token secret=demo-app-secret
	sim_port=$(free_port)
	gw_port=$(free_port)
	while [ "$gw_port" = "$sim_port" ]; do gw_port=$(free_port); done
	export DUNNING_SIM_HTTP_PORT=$sim_port
	export DUNNING_SIM_TOKEN=$token DUNNING_SIM_APP_SECRET=$secret
	export DUNNING_SIM_WEBHOOK_URL="http://127.0.0.1:$gw_port/webhook"
	export DUNNING_SIM_TEMPLATES="$ROOT/deploy/whatsapp-templates.json"
	export DUNNING_SIM_CUSTOMERS=true DUNNING_SIM_SEED=$SEED
	export DUNNING_SIM_SENT_DELAY_MS=2000 DUNNING_SIM_DELIVERED_DELAY_MS=20000
	export DUNNING_SIM_PAID_GRACE_MS=$(( SPEED * 4000 ))
	run_bg simulator "$BIN/dunning-simulator"
	SIM_PORT=$(wait_listening simulator)

	export DUNNING_WA_BASE_URL="http://127.0.0.1:$SIM_PORT"
	export DUNNING_WA_TOKEN=$token DUNNING_WA_APP_SECRET=$secret
	export DUNNING_WA_VERIFY_TOKEN=demo-verify
	export DUNNING_WA_SENDERS="*=106540352242922"
	export DUNNING_GATEWAY_HTTP_PORT=$gw_port
	export DUNNING_GATEWAY_TEMPLATES="$ROOT/deploy/whatsapp-templates.json"
	export DUNNING_GATEWAY_PAIR_SPACING_MS=0
	run_bg gateway "$BIN/dunning-gateway"
	wait_listening gateway > /dev/null

	export DUNNING_WORKER_HTTP_PORT=0
	export DUNNING_WORKER_WORKFLOW="$WORK/workflow.yaml"
	export DUNNING_WORKER_TEMPLATES="$ROOT/deploy/whatsapp-templates.json"
	run_bg worker "$BIN/dunning-worker"
	wait_listening worker > /dev/null
}

# ---------------------------------------------------------------------------
# Figures

SIM_JSON="{}"

refresh_sim_stats() {
	SIM_JSON=$(curl -s --max-time 2 "http://127.0.0.1:$SIM_PORT/sim/stats" ||
		echo "{}")
}

# An integer field of the simulator's last stats.
sim_stat() {
	local v
	v=$(printf '%s' "$SIM_JSON" | grep -o "\"$1\":[0-9]*" | head -1 |
		cut -d: -f2 || true)
	echo "${v:-0}"
}

# Sums of the worker's per-partition stats hashes, as "field value" lines.
refresh_worker_stats() {
	local key
	: > "$WORK/worker-stats.raw"
	while read -r key; do
		[ -n "$key" ] || continue
		redis-cli -u "$DUNNING_REDIS_URL" HGETALL "$key" 2>/dev/null |
			paste - - >> "$WORK/worker-stats.raw" || true
	done < <(redis-cli -u "$DUNNING_REDIS_URL" --scan \
		--pattern 'dn:{p*}:stats' 2>/dev/null)
	awk -F'\t' '{ sum[$1] += $2 } END { for (k in sum) print k, sum[k] }' \
		"$WORK/worker-stats.raw" | sort > "$WORK/worker-stats"
}

worker_stat() {
	local v
	v=$(awk -v k="$1" '$1 == k { print $2 }' "$WORK/worker-stats")
	echo "${v:-0}"
}

# Fields of the worker's stats starting with prefix, as "name value".
worker_stats_with() {
	awk -v p="$1" 'index($1, p) == 1 { print substr($1, length(p) + 1), $2 }' \
		"$WORK/worker-stats"
}

percent() { # part whole
	if [ "$2" -gt 0 ]; then
		awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", 100 * a / b }'
	else
		echo "n/a"
	fi
}

show_progress() {
	local now day days
	now=$(product_now)
	day=$(( (now - WINDOW_START) / 86400 ))
	days=$(( (WINDOW_END - WINDOW_START) / 86400 ))
	[ "$day" -ge 0 ] || day=0
	refresh_sim_stats
	refresh_worker_stats
	printf '  %s  day %3d/%d  invoices %5s  reminders %5s  read %5s  replies %4s  paid %5s (after reminder %s)\n' \
		"$(date -u -d "@$now" +%Y-%m-%d)" "$day" "$days" \
		"$(worker_stat invoices_opened)" "$(sim_stat messages_accepted)" \
		"$(worker_stat read)" "$(sim_stat replies_sent)" \
		"$(worker_stat invoices_paid)" "$(worker_stat paid_after_reminder)"
}

print_report() {
	local sent=0 n name value delivered read replied paid_count days_sum
	refresh_sim_stats
	refresh_worker_stats
	while read -r name value; do
		sent=$(( sent + value ))
	done < <(worker_stats_with "sent:")
	delivered=$(worker_stat delivered)
	read=$(worker_stat read)
	replied=$(worker_stat replied)
	paid_count=$(worker_stat time_to_pay_count)
	days_sum=$(worker_stat time_to_pay_days_sum)

	say ""
	say "==================== Collections report ===================="
	say "Period replayed:   $(date -u -d "@$WINDOW_START" +%Y-%m-%d) to $(date -u -d "@$WINDOW_END" +%Y-%m-%d)"
	say ""
	say "Invoices"
	printf '  %-38s %8s\n' "invoices opened" "$(worker_stat invoices_opened)"
	printf '  %-38s %8s\n' "invoices paid" "$(worker_stat invoices_paid)"
	printf '  %-38s %8s\n' "  of which paid in answer to a message" "$(sim_stat payments_made)"
	printf '  %-38s %8s\n' "  the rest: as the ledger recorded them" \
		"$(( $(worker_stat invoices_paid) - $(sim_stat payments_made) ))"
	printf '  %-38s %8s\n' "paid after a reminder" "$(worker_stat paid_after_reminder)"
	if [ "$paid_count" -gt 0 ]; then
		printf '  %-38s %8s  (negative: paid early)\n' \
			"average days from due date to payment" \
			"$(awk -v s="$days_sum" -v c="$paid_count" 'BEGIN { printf "%.1f", s / c }')"
	fi
	say ""
	say "Reminders sent, by step"
	for n in notice due reminder final; do
		printf '  %-38s %8s\n' "$n" "$(worker_stat "sent:$n")"
	done
	printf '  %-38s %8s\n' "total" "$sent"
	say ""
	say "What customers did"
	printf '  %-38s %8s  %s of sent\n' "delivered" "$delivered" "$(percent "$delivered" "$sent")"
	printf '  %-38s %8s  %s of delivered\n' "read" "$read" "$(percent "$read" "$delivered")"
	printf '  %-38s %8s  %s of delivered\n' "replied" "$replied" "$(percent "$replied" "$delivered")"
	printf '  %-38s %8s\n' "opted out" "$(worker_stat opted_out)"
	printf '  %-38s %8s\n' "failed to deliver" "$(worker_stat failed)"
	printf '  %-38s %8s\n' "no delivery report yet at the end" \
		"$(( sent > delivered + $(worker_stat failed) ? sent - delivered - $(worker_stat failed) : 0 ))"
	printf '  %-38s %8s\n' "escalated to a collector" "$(worker_stat escalations)"
	say ""
	say "Reminders not sent, by reason"
	worker_stats_with "suppressed:" | while read -r name value; do
		printf '  %-38s %8s\n' "$name" "$value"
	done
	say ""
	say "Checks"
	printf '  %-38s %8s  (must be 0)\n' "reminders for invoices already paid" \
		"$(sim_stat sent_after_paid)"
	printf '    %s\n' "(a payment counts once $((DUNNING_SIM_PAID_GRACE_MS / 3600000)) hours of replay time old:" \
		"the 4 real seconds it may take to cross Kafka at this speed)"
	printf '  %-38s %8s\n' "reminders sent after a payment the" \
		"$(worker_stat sent_after_paid)"
	printf '    %s\n' "worker had not heard of yet (no grace; see docs/demo.md)"
	printf '  %-38s %8s  (must be 0)\n' "the same command sent twice" "$(sim_stat duplicates_received)"
	printf '  %-38s %8s\n' "messages refused by WhatsApp" "$(sim_stat messages_rejected)"
	say "============================================================"
}

# ---------------------------------------------------------------------------

main() {
	parse_args "$@"
	for p in broker simulator gateway worker producer; do
		[ -x "$BIN/dunning-$p" ] || die "$BIN/dunning-$p is not built: run 'make'"
	done
	command -v redis-cli > /dev/null || die "redis-cli not found: run 'make deps'"
	if [ -n "${DEMO_WORK:-}" ]; then
		WORK=$DEMO_WORK
		mkdir -p "$WORK"
	else
		WORK=$(mktemp -d /tmp/dunning-demo.XXXXXX)
	fi
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	cd "$ROOT"

	say "demo: preparing the ledger"
	if [ -n "$DATA" ]; then prepare_export; else prepare_generated; fi
	configure_clock
	prepare_workflow
	say "demo: replaying $(date -u -d "@$WINDOW_START" +%Y-%m-%d) to $(date -u -d "@$WINDOW_END" +%Y-%m-%d) at ${SPEED}x (about ${SECONDS_WANTED}s)"

	say "demo: starting Redis, the broker, the simulator, the gateway and the worker"
	STACK="$WORK/stack"
	"$ROOT/scripts/stack.sh" start "$STACK" "$BIN" > "$WORK/stack.log" 2>&1 ||
		{ cat "$WORK/stack.log" >&2; die "the local stack did not start"; }
	# shellcheck disable=SC1091
	. "$STACK/stack.env"
	export DUNNING_REDIS_URL DUNNING_KAFKA_BROKERS
	start_programs

	say "demo: importing the customer directory"
	"$BIN/dunning-producer" import --format customers \
		--reject-file "$WORK/customer-rejects.csv" "$DIRECTORY" \
		2>> "$WORK/producer.log" ||
		say "demo: some customers were rejected (see $WORK/customer-rejects.csv)"

	say "demo: replaying the ledger"
	run_bg replay "$BIN/dunning-producer" import --replay "${IMPORT_OPTS[@]}" \
		--reject-file "$WORK/rejects.csv" "$LEDGER"
	while [ "$(product_now)" -lt "$WINDOW_END" ]; do
		sleep 5
		show_progress
	done
	sleep 3
	print_report
}

main "$@"
