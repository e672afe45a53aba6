#!/usr/bin/env bash
# demo.sh: the whole product on one machine, a quarter of history in minutes.
# SPDX-License-Identifier: Apache-2.0
#
# Usage: demo.sh [--data FILE [--preset NAME]] [--customers FILE]
#                [--seconds N] [--customers-count N] [--invoices N]
#                [--seed N] [--keep] [--prepare-only]
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
# (docs/architecture.md, contract 9), the gateway's log and the
# simulator's /sim/stats; it exits 3 when one of its must-be-0 checks is
# not 0. --prepare-only reads the ledger, says which rows it rejected and
# which window it would replay, and stops there. Everything started is
# stopped on exit, Ctrl-C included; after a failure the working folder is
# kept and named.
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
PREPARE_ONLY=0
WORKER_PID=""
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
		--prepare-only) PREPARE_ONLY=1; shift ;;
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
	case $rc in 0|3|130) ;; *) failure_hints ;; esac
	if [ -n "$WORK" ] && [ "$KEEP" -eq 0 ] && [ -z "${DEMO_WORK:-}" ] &&
		{ [ "$rc" -eq 0 ] || [ "$rc" -eq 130 ]; }; then
		rm -rf "$WORK"
	elif [ -n "$WORK" ]; then
		say "demo: logs and data kept in $WORK"
	fi
	exit "$rc"
}

# After a failure: the last errors the producer logged, on stderr.
failure_hints() {
	local f errors
	for f in "$WORK/producer.log" "$STACK/replay.log"; do
		[ -s "$f" ] || continue
		errors=$(grep -i ' error \|cannot\|fatal' "$f" | tail -5 || true)
		[ -n "$errors" ] || continue
		echo "demo: from $f:" >&2
		printf '%s\n' "$errors" | sed 's/^/  /' >&2
	done
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
		2>> "$WORK/producer.log" || die "cannot generate a ledger"
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

LAST_DUE=""

prepare_export() {
	local first last chain
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
			2>> "$WORK/producer.log" ||
			die "cannot write a customer directory for $DATA"
	fi

	# The window: from the first instant the export mentions to its last,
	# or to the last due date plus the workflow's longest chain of
	# reminders and escalation, whichever is later.
	"$BIN/dunning-producer" import --dry-run "${IMPORT_OPTS[@]}" \
		--reject-file "$WORK/rejects.csv" "$LEDGER" \
		2> "$WORK/dry-run.log" > "$WORK/events.json" || true
	cat "$WORK/dry-run.log" >> "$WORK/producer.log"
	grep -o '"occurred_at":"[^"]*"' "$WORK/events.json" | cut -d'"' -f4 |
		sort > "$WORK/instants" || true
	first=$(head -1 "$WORK/instants")
	last=$(tail -1 "$WORK/instants")
	if [ -z "$first" ]; then
		show_rejects >&2
		die "no row of $DATA could be read"
	fi
	LAST_DUE=$(grep -o '"due_date":"[^"]*"' "$WORK/events.json" |
		cut -d'"' -f4 | sort | tail -1 || true)
	WINDOW_START=$(epoch_of "${first%%T*}")
	WINDOW_END=$(( $(epoch_of "$last") + 86400 ))
	if [ -n "$LAST_DUE" ]; then
		chain=$(( $(epoch_of "$LAST_DUE") + $(chain_days) * 86400 ))
		[ "$chain" -le "$WINDOW_END" ] || WINDOW_END=$chain
	fi
}

# Days from a due date to the last message the workflow can send about
# it: the latest step, its repeats up to escalation, the wait before the
# final message, and 3 days for a weekend or holiday in between.
chain_days() {
	awk '
		/^ *offset_days:/ { if ($2 + 0 > last) last = $2 + 0 }
		/^ *repeat_every_days:/ { every = $2 + 0 }
		/^ *after_unanswered:/ { after = $2 + 0 }
		/^ *wait_days:/ { wait = $2 + 0 }
		END { n = after > 1 ? after - 1 : 0
			print last + every * n + wait + 3 }' "$ROOT/deploy/workflow.yaml"
}

# Rows of the ledger the producer rejected: how many, the first reasons,
# and where they are kept (a copy outside the working folder, which is
# removed at the end). Prints nothing when none was.
REJECTS_KEPT=""
REJECTED=0

show_rejects() {
	local read
	[ -s "$WORK/rejects.csv" ] || return 0
	REJECTED=$(awk 'END { print NR - 1 }' "$WORK/rejects.csv")
	[ "$REJECTED" -gt 0 ] || return 0
	read=$(sed -n 's/^summary: read=\([0-9]*\).*/\1/p' \
		"$WORK/dry-run.log" 2> /dev/null | tail -1)
	[ -n "$REJECTS_KEPT" ] || REJECTS_KEPT=$(keep_copy "$WORK/rejects.csv")
	say "demo: $REJECTED of ${read:-?} rows rejected (kept in $REJECTS_KEPT); first reasons:"
	reject_reasons "$WORK/rejects.csv"
}

# The first three reasons of a reject file (file,location,field,reason).
reject_reasons() {
	awk -F, 'NR > 1 && NR <= 4 { r = $4
		for (i = 5; i <= NF; i++) r = r "," $i
		print "  " $2 ": " ($3 != "" ? $3 ": " : "") r }' "$1"
}

# Copies FILE to a new file in /tmp, which outlives the working folder.
keep_copy() {
	local kept
	kept=$(mktemp /tmp/dunning-demo-rejects.XXXXXX)
	cp "$1" "$kept" 2> /dev/null || true
	echo "$kept"
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
	WORKER_PID=$("$ROOT/scripts/stack.sh" run "$STACK" worker \
		"$BIN/dunning-worker")
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

# Seconds to wait before the next progress line: 5, or less to land on
# the window's end.
progress_pause() {
	local left=$(( (WINDOW_END - $(product_now) + SPEED - 1) / SPEED ))
	[ "$left" -ge 1 ] || left=1
	[ "$left" -le 5 ] || left=5
	echo "$left"
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
	if [ "$now" -lt "$WINDOW_START" ]; then
		say "  history starts in $(( ANCHOR_EPOCH - $(date -u +%s) )) s"
		return 0
	fi
	[ "$now" -le "$WINDOW_END" ] || now=$WINDOW_END
	day=$(( (now - WINDOW_START) / 86400 ))
	days=$(( (WINDOW_END - WINDOW_START) / 86400 ))
	refresh_sim_stats
	refresh_worker_stats
	printf '  %s  day %3d/%d  invoices %5s  reminders %5s  read %5s  replies %4s  paid %5s (after reminder %s)\n' \
		"$(date -u -d "@$now" +%Y-%m-%d)" "$day" "$days" \
		"$(worker_stat invoices_opened)" "$(sim_stat messages_accepted)" \
		"$(worker_stat read)" "$(sim_stat replies_sent)" \
		"$(worker_stat invoices_paid)" "$(worker_stat paid_after_reminder)"
}

# Ends the run so that the figures add up: the worker is stopped (it
# counts a command once Kafka has it, so a snapshot of a running worker
# misses the commands WhatsApp got in the meantime), then the gateway is
# given up to 15 s to finish the commands it has, and WhatsApp to report
# on them. Statuses that arrive after the worker stopped are not counted.
settle() {
	local decided handled name value
	sleep 3
	kill -TERM "$WORKER_PID" 2> /dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$WORKER_PID" 2> /dev/null || break
		sleep 0.1
	done
	refresh_worker_stats
	decided=0
	while read -r name value; do
		decided=$(( decided + value ))
	done < <(worker_stats_with "sent:")
	for _ in $(seq 1 30); do
		refresh_sim_stats
		refresh_gateway_outcomes
		handled=$(( $(sim_stat messages_accepted) + $(gateway_stat paid) +
			$(gateway_stat opted_out) + $(gateway_stat deadline) +
			$(gateway_stat checks) + $(gateway_stat refused) ))
		[ "$handled" -lt "$decided" ] || break
		sleep 0.5
	done
}

# What became of the commands the gateway did not send, from its log
# ("command not sent ... code=N reason=..."), as "name count" lines:
# paid (every invoice paid or closed meanwhile), opted_out, deadline,
# checks (another check before the call) and refused (WhatsApp's error).
refresh_gateway_outcomes() {
	awk '/ command not sent / {
			code = $0; sub(/.* code=/, "", code); sub(/ .*/, "", code)
			if (code != "0") n["refused"]++
			else if (/paid or closed/) n["paid"]++
			else if (/opted out/) n["opted_out"]++
			else if (/deadline passed/) n["deadline"]++
			else n["checks"]++ }
		END { for (k in n) print k, n[k] }' "$STACK/gateway.log" \
		> "$WORK/gateway-outcomes" 2> /dev/null || true
}

gateway_stat() {
	local v
	v=$(awk -v k="$1" '$1 == k { print $2 }' "$WORK/gateway-outcomes")
	echo "${v:-0}"
}

line() { printf '  %-44s %8s%s\n' "$1" "$2" "${3:+  $3}"; }

# Must-be-0 checks that were not.
CHECKS_FAILED=0

check_line() { # name value
	if [ "$2" -eq 0 ]; then
		line "$1" "$2" "(must be 0)"
	else
		line "$1" "$2" "(must be 0: FAILED)"
		CHECKS_FAILED=$(( CHECKS_FAILED + 1 ))
	fi
}

print_report() {
	local emitted=0 name value accepted stopped refused in_flight
	local delivered read replied failed paid_count days_sum

	refresh_sim_stats
	refresh_gateway_outcomes
	refresh_worker_stats
	while read -r name value; do
		emitted=$(( emitted + value ))
	done < <(worker_stats_with "sent:")
	accepted=$(sim_stat messages_accepted)
	stopped=$(( $(gateway_stat paid) + $(gateway_stat opted_out) +
		$(gateway_stat deadline) + $(gateway_stat checks) ))
	refused=$(gateway_stat refused)
	in_flight=$(( emitted - accepted - stopped - refused ))
	delivered=$(worker_stat delivered)
	read=$(worker_stat read)
	replied=$(worker_stat replied)
	# The worker counts every failed message event: the gateway's own
	# (stopped or refused) and WhatsApp's failed statuses.
	failed=$(( $(worker_stat failed) - stopped - refused ))
	[ "$failed" -ge 0 ] || failed=0
	paid_count=$(worker_stat time_to_pay_count)
	days_sum=$(worker_stat time_to_pay_days_sum)

	say ""
	say "==================== Collections report ===================="
	say "Period replayed:   $(date -u -d "@$WINDOW_START" +%Y-%m-%d) to $(date -u -d "@$WINDOW_END" +%Y-%m-%d)"
	[ "$REJECTED" -eq 0 ] ||
		say "Rows rejected:     $REJECTED (kept in $REJECTS_KEPT)"
	say ""
	say "Invoices"
	line "invoices opened" "$(worker_stat invoices_opened)"
	line "invoices paid" "$(worker_stat invoices_paid)"
	line "  of which paid in answer to a message" "$(sim_stat payments_made)"
	line "  the rest: as the ledger recorded them" \
		"$(( $(worker_stat invoices_paid) - $(sim_stat payments_made) ))"
	line "paid after a reminder" "$(worker_stat paid_after_reminder)"
	if [ "$paid_count" -gt 0 ]; then
		line "average days from due date to payment" \
			"$(awk -v s="$days_sum" -v c="$paid_count" 'BEGIN { printf "%.1f", s / c }')" \
			"(negative: paid early)"
	fi
	say ""
	say "Reminders the worker decided to send, by step"
	for name in notice due reminder final; do
		line "$name" "$(worker_stat "sent:$name")"
	done
	line "total" "$emitted"
	say ""
	say "What became of them"
	line "accepted by WhatsApp" "$accepted" "$(percent "$accepted" "$emitted") of decided"
	line "stopped by the gateway before the call" "$stopped" "$(percent "$stopped" "$emitted") of decided"
	line "  invoices paid or closed meanwhile" "$(gateway_stat paid)"
	line "  customer opted out meanwhile" "$(gateway_stat opted_out)"
	line "  send deadline passed" "$(gateway_stat deadline)"
	line "  another check before the call" "$(gateway_stat checks)"
	line "refused by WhatsApp" "$refused"
	if [ "$in_flight" -ge 0 ]; then
		line "still on their way at the end" "$in_flight"
	else
		line "more than the worker counted" "$(( -in_flight ))" \
			"(see docs/demo.md)"
	fi
	say ""
	say "What customers did with the messages WhatsApp accepted"
	line "delivered" "$delivered" "$(percent "$delivered" "$accepted") of accepted"
	line "read" "$read" "$(percent "$read" "$delivered") of delivered"
	line "replied" "$replied" "$(percent "$replied" "$delivered") of delivered"
	line "failed to deliver" "$failed" "$(percent "$failed" "$accepted") of accepted"
	line "no delivery report yet at the end" \
		"$(( accepted > delivered + failed ? accepted - delivered - failed : 0 ))"
	line "opted out" "$(worker_stat opted_out)"
	line "escalated to a collector" "$(worker_stat escalations)"
	say ""
	say "Reminders not decided, by reason (invoice steps)"
	worker_stats_with "suppressed:" | while read -r name value; do
		line "$name" "$value"
	done
	[ "$emitted" -gt 0 ] || nothing_decided
	say ""
	say "Checks"
	check_line "reminders for invoices already paid" "$(sim_stat sent_after_paid)"
	printf '    %s\n' "(a payment counts once $((DUNNING_SIM_PAID_GRACE_MS / 3600000)) hours of replay time old:" \
		"the 4 real seconds it may take to cross Kafka at this speed)"
	check_line "the same command sent twice" "$(sim_stat duplicates_received)"
	check_line "commands both accepted and stopped" "$(accepted_and_stopped)"
	line "messages WhatsApp answered with an error" "$(sim_stat messages_rejected)" \
		"(retried or refused)"
	line "invoices with a reminder decided after" "$(worker_stat sent_after_paid)"
	printf '    %s\n' "their payment, before the worker heard of it (no grace;" \
		"the gateway stops those it learns of: see docs/demo.md)"
	say "============================================================"
	[ "$CHECKS_FAILED" -eq 0 ] || {
		say "demo: $CHECKS_FAILED check(s) FAILED (logs kept in $WORK)"
		return 3
	}
}

# Command ids WhatsApp accepted (the simulator's last 10,000 messages)
# that the gateway also logged as not sent: each must be one or the other.
accepted_and_stopped() {
	curl -s --max-time 5 "http://127.0.0.1:$SIM_PORT/sim/messages" |
		grep -o '"biz_opaque_callback_data":"[^"]*"' | cut -d'"' -f4 |
		sort -u > "$WORK/accepted-ids" || true
	grep -o ' command not sent command=[^ ]*' "$STACK/gateway.log" |
		sed 's/.*command=//' | sort -u > "$WORK/stopped-ids" || true
	comm -12 "$WORK/accepted-ids" "$WORK/stopped-ids" | wc -l
}

# Why no reminder was decided at all, as far as the figures tell.
nothing_decided() {
	say ""
	say "No reminder was decided. Reminders go out from 7 days before a"
	say "due date to some weeks after it, only to customers the directory"
	say "lists as opted in (\"no_opt_in\" above), for invoices still open."
	[ -z "${LAST_DUE:-}" ] ||
		say "The export's last due date is $LAST_DUE."
}

customers_rejected() {
	local n
	n=$(awk 'END { print NR - 1 }' "$WORK/customer-rejects.csv" 2> /dev/null)
	say "demo: ${n:-some} customers rejected (kept in $(keep_copy "$WORK/customer-rejects.csv")); first reasons:"
	reject_reasons "$WORK/customer-rejects.csv"
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
	show_rejects
	configure_clock
	prepare_workflow
	say "demo: replaying $(date -u -d "@$WINDOW_START" +%Y-%m-%d) to $(date -u -d "@$WINDOW_END" +%Y-%m-%d) at ${SPEED}x (about $(( (WINDOW_END - WINDOW_START) / SPEED ))s)${LAST_DUE:+; last due date $LAST_DUE}"
	[ "$PREPARE_ONLY" -eq 0 ] || return 0

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
		2>> "$WORK/producer.log" || customers_rejected

	say "demo: replaying the ledger"
	run_bg replay "$BIN/dunning-producer" import --replay "${IMPORT_OPTS[@]}" \
		--reject-file "$WORK/replay-rejects.csv" "$LEDGER"
	while [ "$(product_now)" -lt "$WINDOW_END" ]; do
		sleep "$(progress_pause)"
		show_progress
	done
	settle
	print_report
}

main "$@"
