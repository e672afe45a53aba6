#!/usr/bin/env bash
# test_demo_replay.sh: a small replay proves the product's promises end to end.
# SPDX-License-Identifier: Apache-2.0
#
# Runs under scripts/run-tests.sh, which gives it a fresh stack (Redis and
# the broker; DUNNING_STACK_DIR, DUNNING_REDIS_URL, DUNNING_KAFKA_BROKERS)
# and DUNNING_BIN. Generates a small ledger, starts the simulator (playing
# customers and their ERP), the gateway and the worker on one simulated
# clock, replays 60 days of history in about 80 seconds, restarts the
# gateway and then the worker in the middle of the run, and asserts:
#
#   1. no reminder reached a customer after the invoice was paid;
#   2. no command id was sent twice;
#   3. every due-day reminder of an invoice still open on its due day was
#      either sent or suppressed with a reason;
#   4. a final message (escalation) only follows the configured number of
#      unanswered reminders, and escalations happened;
#   5. every notice, due and reminder was decided at the configured local
#      hour in the customer's time zone, and none reached WhatsApp earlier;
#   6. across both restarts nothing was lost (every command the worker
#      sent reached WhatsApp or was dropped by the gateway with a reason)
#      and nothing was duplicated.
#
# Prints TAP lines; the worker's per-invoice history (the h:<invoice>
# fields of its customer hashes) and the simulator's /sim/messages are the
# evidence.
set -uo pipefail

ROOT=${DUNNING_ROOT:?}
BIN=${DUNNING_BIN:?}
STACK=${DUNNING_STACK_DIR:?}
WORK=$(mktemp -d /tmp/dunning-e2e.XXXXXX)
if [ -n "${DUNNING_E2E_KEEP:-}" ]; then
	trap 'echo "# evidence kept in $WORK"' EXIT
else
	trap 'rm -rf "$WORK"' EXIT
fi

DAYS=60
SECONDS_WANTED=80
SEND_HOUR=1000 # the workflow's send_time of every step, HHMM
UNANSWERED=3   # the workflow's escalation.after_unanswered

n=0
failures=0
check() { # name command...
	local name=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		failures=$((failures + 1))
	fi
}

bail() {
	echo "Bail out! $*"
	for f in "$STACK"/*.log; do
		echo "# --- $f"
		tail -15 "$f" | sed 's/^/# /'
	done
	exit 1
}

free_port() {
	local port
	for _ in $(seq 1 50); do
		port=$(( 15000 + RANDOM % 17000 )) # below the ephemeral range
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

wait_listening() { # name after-line
	local port
	for _ in $(seq 1 300); do
		port=$(tail -n +"${2:-1}" "$STACK/$1.log" 2>/dev/null |
			sed -n 's/^listening=127\.0\.0\.1:\([0-9]*\).*/\1/p' | head -1)
		[ -n "$port" ] && { echo "$port"; return 0; }
		sleep 0.1
	done
	return 1
}

# Starts NAME in the background with the stack's environment; prints pid.
start() {
	"$ROOT/scripts/stack.sh" run "$STACK" "$@"
}

log_lines() { wc -l < "$STACK/$1.log" 2>/dev/null || echo 0; }

# Stops pid with SIGTERM and waits for it.
stop_pid() {
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
}

# ---------------------------------------------------------------------------
# Set-up

cd "$ROOT" || bail "no repository at $ROOT"
START_DAY=$(date -u -d "today - $((DAYS + 1)) days" +%Y-%m-%d)
"$BIN/dunning-producer" generate --seed 11 --customers 40 --invoices 360 \
	--start "$START_DAY" --days "$DAYS" --out-dir "$WORK" \
	2> "$WORK/generate.log" || bail "cannot generate a ledger"

WINDOW_START=$(date -u -d "$START_DAY" +%s)
WINDOW_END=$(( WINDOW_START + DAYS * 86400 ))
SPEED=$(( DAYS * 86400 / SECONDS_WANTED ))
ANCHOR=$(( $(date -u +%s) + 10 ))
export DUNNING_CLOCK=simulated DUNNING_CLOCK_SPEED=$SPEED
export DUNNING_CLOCK_START DUNNING_CLOCK_ANCHOR
DUNNING_CLOCK_START=$(date -u -d "@$WINDOW_START" +%Y-%m-%dT%H:%M:%SZ)
DUNNING_CLOCK_ANCHOR=$(date -u -d "@$ANCHOR" +%Y-%m-%dT%H:%M:%SZ)
product_now() { echo $(( WINDOW_START + ($(date -u +%s) - ANCHOR) * SPEED )); }

# The default workflow with a send deadline of 2 real seconds, shorter
# than the 4 real seconds after a payment from which the simulator counts
# a reminder as sent after paid: a command decided before the payment may
# still go out within its deadline, never later.
DEADLINE_MINUTES=$(( SPEED * 2 / 60 ))
[ "$DEADLINE_MINUTES" -le 10080 ] || DEADLINE_MINUTES=10080
sed "s/^\( *command_deadline_minutes:\).*/\1 $DEADLINE_MINUTES/" \
	deploy/workflow.yaml > "$WORK/workflow.yaml"
export DUNNING_SIM_PAID_GRACE_MS=$(( SPEED * 4000 ))

SIM_PORT=$(free_port) && GW_PORT=$(free_port) || bail "no free port"
export DUNNING_SIM_HTTP_PORT=$SIM_PORT DUNNING_SIM_TOKEN=e2e-token
export DUNNING_SIM_APP_SECRET=e2e-secret DUNNING_SIM_CUSTOMERS=true
export DUNNING_SIM_WEBHOOK_URL="http://127.0.0.1:$GW_PORT/webhook"
export DUNNING_SIM_TEMPLATES="$ROOT/deploy/whatsapp-templates.json"
export DUNNING_SIM_SENT_DELAY_MS=2000 DUNNING_SIM_DELIVERED_DELAY_MS=20000
# Customers read and pay but never answer, so every reminder stays
# unanswered and escalation is due exactly where the workflow says.
export DUNNING_SIM_REPLY_PERMILLE=0
export DUNNING_WA_BASE_URL="http://127.0.0.1:$SIM_PORT"
export DUNNING_WA_TOKEN=e2e-token DUNNING_WA_APP_SECRET=e2e-secret
export DUNNING_WA_VERIFY_TOKEN=e2e-verify DUNNING_WA_SENDERS="*=1065"
export DUNNING_GATEWAY_HTTP_PORT=$GW_PORT DUNNING_GATEWAY_PAIR_SPACING_MS=0
export DUNNING_GATEWAY_TEMPLATES="$ROOT/deploy/whatsapp-templates.json"
export DUNNING_WORKER_HTTP_PORT=0 DUNNING_WORKER_WORKFLOW="$WORK/workflow.yaml"
export DUNNING_WORKER_TEMPLATES="$ROOT/deploy/whatsapp-templates.json"

start simulator "$BIN/dunning-simulator" > /dev/null
wait_listening simulator > /dev/null || bail "simulator did not start"
GW_PID=$(start gateway "$BIN/dunning-gateway")
wait_listening gateway > /dev/null || bail "gateway did not start"
WORKER_PID=$(start worker "$BIN/dunning-worker")
wait_listening worker > /dev/null || bail "worker did not start"

"$BIN/dunning-producer" import --format customers \
	--reject-file "$WORK/rejects-customers.csv" "$WORK/customers.csv" \
	2> "$WORK/import.log" || bail "cannot import customers"
start replay "$BIN/dunning-producer" import --replay \
	--reject-file "$WORK/rejects.csv" "$WORK/ledger.csv" > /dev/null

# ---------------------------------------------------------------------------
# The run, with a gateway restart at 40% and a worker restart at 60%

wait_until() { # fraction in percent of the window
	while [ "$(product_now)" -lt $(( WINDOW_START + (WINDOW_END - WINDOW_START) * $1 / 100 )) ]; do
		sleep 1
	done
}

wait_until 40
echo "# restarting the gateway at $(date -u -d "@$(product_now)" '+%F %H:%M') product time"
stop_pid "$GW_PID"
sleep 1
lines=$(log_lines gateway)
GW_PID=$(start gateway "$BIN/dunning-gateway")
wait_listening gateway "$((lines + 1))" > /dev/null || bail "gateway did not restart"

wait_until 60
echo "# restarting the worker at $(date -u -d "@$(product_now)" '+%F %H:%M') product time"
stop_pid "$WORKER_PID"
lines=$(log_lines worker)
WORKER_PID=$(start worker "$BIN/dunning-worker")
wait_listening worker "$((lines + 1))" > /dev/null || bail "worker did not restart"
echo "# worker back at $(date -u -d "@$(product_now)" '+%F %H:%M') product time"

wait_until 100
CUTOFF_MS=$(( $(product_now) * 1000 ))
sleep 8 # let the commands decided before the cutoff, and their statuses, through

# ---------------------------------------------------------------------------
# Evidence

curl -s "http://127.0.0.1:$SIM_PORT/sim/stats" > "$WORK/sim-stats.json"
curl -s "http://127.0.0.1:$SIM_PORT/sim/messages" > "$WORK/sim-messages.json"
sim_stat() { jq -r ".$1 // 0" "$WORK/sim-stats.json"; }

# Accepted messages: command id, to, template, accepted instant (ms).
jq -r '.messages[] | [(.biz_opaque_callback_data // "-"), .to, .template,
	(.accepted_ms | tostring)] | @tsv' "$WORK/sim-messages.json" \
	> "$WORK/accepted.tsv"

# The worker's per-invoice history: "customer-key invoice ms event args".
redis-cli -u "$DUNNING_REDIS_URL" EVAL "
local out = {}
for _, k in ipairs(redis.call('KEYS', 'dn:{p*}:c:*')) do
	local h = redis.call('HGETALL', k)
	for i = 1, #h, 2 do
		if string.sub(h[i], 1, 2) == 'h:' then
			for line in string.gmatch(h[i + 1], '[^\n]+') do
				out[#out + 1] = string.gsub(k, '^dn:{p%d+}:c:', '') ..
					' ' .. string.sub(h[i], 3) .. ' ' .. line
			end
		end
	end
end
return out" 0 > "$WORK/history"

# The worker's decisions to send: "customer-key invoice ms sent step command".
awk '$4 == "sent" && $5 ~ /^(notice|due|reminder|final)$/' "$WORK/history" \
	> "$WORK/decisions"

worker_stat() {
	redis-cli -u "$DUNNING_REDIS_URL" EVAL "
local s = 0
for _, k in ipairs(redis.call('KEYS', 'dn:{p*}:stats')) do
	s = s + tonumber(redis.call('HGET', k, ARGV[1]) or '0')
end
return s" 0 "$1"
}

# Customer time zones by phone digits (directory: id,name,phone,...,tz,...).
awk -F, 'NR > 1 { gsub(/[^0-9]/, "", $3); print $1, $3, $5 }' \
	"$WORK/customers.csv" > "$WORK/zones"

# ---------------------------------------------------------------------------
# Assertions

sent_count=$(wc -l < "$WORK/decisions")
accepted_count=$(wc -l < "$WORK/accepted.tsv")
echo "# worker sent $sent_count invoice reminders, WhatsApp accepted $accepted_count messages"
check "the run sent reminders" test "$sent_count" -gt 20

# The ERP's view (the simulator, which knows when each invoice was paid
# and allows the payment 4 real seconds to travel) and the worker's
# history (no decision to send after it learnt of the payment) agree.
# The worker's own sent_after_paid also counts WhatsApp "sent" statuses
# later than the payment instant, which at this clock speed includes
# messages decided before the payment reached it; it is shown, not
# asserted.
no_reminder_after_payment() {
	echo "# simulator: $(sim_stat sent_after_paid) reminders after payment; worker's strict count: $(worker_stat sent_after_paid)"
	[ "$(sim_stat sent_after_paid)" -eq 0 ] &&
		! awk '$4 == "paid" { paid[$2] = $3 }
			$4 == "sent" && $5 ~ /^(notice|due|reminder|final)$/ {
				sent[$2] = sent[$2] " " $3 }
			END { for (i in paid) { n = split(sent[i], t, " ");
				for (j = 1; j <= n; j++) if (t[j] + 0 > paid[i] + 0) { print i; exit 0 } } }' \
			"$WORK/history" | grep -q .
}
check "no reminder after payment" no_reminder_after_payment

no_command_twice() {
	[ "$(sim_stat duplicates_received)" -eq 0 ] &&
		[ -z "$(cut -f1 "$WORK/accepted.tsv" | grep -v '^-$' | sort | uniq -d)" ]
}
check "no command id sent twice" no_command_twice

# Every command id with the first instant it was seen, from the worker's
# history (decisions and statuses) and from WhatsApp's accepted messages.
# The history keeps only an invoice's latest lines; WhatsApp's list is
# whole, so together they show every command.
{
	awk '$4 == "sent" && $5 ~ /^(notice|due|reminder|final)$/ { print $6, $3; next }
		$5 ~ /^[^\/]+\/[^\/]+\/(notice|due|reminder|final)\// { print $5, $3 }' \
		"$WORK/history"
	awk -F'\t' '$1 != "-" { print $1, $4 }' "$WORK/accepted.tsv"
} | sort -k1,1 -k2,2n | awk '!seen[$1]++' > "$WORK/commands"
# "invoice step instant" for every invoice a command covers; an invoice's
# own step is the middle number of its version (INV-1@1.2.0: reminder),
# since a consolidated message carries invoices at different steps.
# A command id whose invoice part grew past 200 bytes is a hash, so the
# worker's own decision lines ("sent <step>" per invoice) count too.
{
	awk 'BEGIN { split("notice due reminder final", name, " ") }
		{ split($1, p, "/"); n = split(p[4], inv, "+")
		for (i = 1; i <= n; i++) { split(inv[i], v, "@")
			if (split(v[2], num, ".") < 3) continue
			print v[1], name[num[2] + 1], $2 } }' "$WORK/commands"
	awk '$4 == "sent" && $5 ~ /^(notice|due|reminder|final)$/ { print $2, $5, $3 }' \
		"$WORK/history"
} | sort -u > "$WORK/covered"

# Invoices open at the end of their due day: due date with room for the
# due-day send before the end, no dispute, no payment in the ledger by
# then, and none the worker learnt of (the simulated customers pay too).
awk -F, -v end="$(date -u -d "@$((WINDOW_END - 4 * 86400))" +%Y-%m-%d)" '
	$1 == "invoice" && $5 < end { due[$2] = $5 }
	$1 == "dispute" { disputed[$2] = 1 }
	$1 == "payment" && (!($2 in paid) || $4 < paid[$2]) { paid[$2] = $4 }
	END { for (i in due) if (!(i in disputed) && (!(i in paid) || paid[i] > due[i])) print i, due[i] }' \
	"$WORK/ledger.csv" | sort > "$WORK/due-candidates"
awk '$4 == "paid" && !($2 in p) { p[$2] = $3 } END { for (i in p) print i, p[i] }' \
	"$WORK/history" | sort > "$WORK/paid-by-worker"
while read -r inv due; do
	paid=$(awk -v i="$inv" '$1 == i { print $2 }' "$WORK/paid-by-worker")
	limit=$(( ($(date -u -d "$due" +%s) + 86400 + 14 * 3600) * 1000 ))
	[ -n "$paid" ] && [ "$paid" -lt "$limit" ] && continue
	echo "$inv"
done < "$WORK/due-candidates" > "$WORK/due-open"

every_due_reminder_accounted() {
	local missing
	missing=$({
		awk '$2 == "due" { print $1 }' "$WORK/covered"
		awk '$4 == "suppressed" && $6 == "due" { print $2 }' "$WORK/history"
		# Reasons that hold for every step of the invoice.
		awk '$4 == "suppressed" && $5 ~ /^(no_opt_in|opted_out|not_dunnable|disputed|cancelled|paid)$/ { print $2 }' \
			"$WORK/history"
	} | sort -u | comm -23 "$WORK/due-open" -)
	echo "# $(wc -l < "$WORK/due-open") invoices were open on their due day"
	[ -z "$missing" ] || { echo "# no due-day decision for: $(echo $missing | head -c 300)"; return 1; }
	[ -s "$WORK/due-open" ]
}
check "every due reminder either sent or suppressed with a reason" every_due_reminder_accounted

# Each final message: the invoices it covers had at least UNANSWERED
# reminders before it; and (customers never answer here) every invoice
# still open WAIT_DAYS + 1 days after its UNANSWERED-th reminder, before
# the cutoff, was escalated.
WAIT_DAYS=7 # the workflow's escalation.wait_days
escalation_after_unanswered() {
	local finals messages early missed
	finals=$(awk '$2 == "final"' "$WORK/covered" | wc -l)
	# The worker counts an escalation per customer handed over: one final
	# message (or collector task), which may cover several invoices.
	messages=$(awk '{ split($1, p, "/") } p[3] == "final"' \
		"$WORK/commands" | wc -l)
	echo "# $finals invoices escalated in $messages final messages," \
		"worker counted $(worker_stat escalations) escalations"
	early=$(awk -v need="$UNANSWERED" '
		$2 == "reminder" { r[$1] = r[$1] " " $3 }
		$2 == "final" { f[$1] = $3 }
		END { for (i in f) { n = split(r[i], t, " "); k = 0
			for (j = 1; j <= n; j++) if (t[j] + 0 < f[i] + 0) k++
			if (k < need) print i, k } }' "$WORK/covered")
	[ -z "$early" ] || echo "# escalated too early: $early"
	missed=$(sort -k3,3n "$WORK/covered" | awk -v need="$UNANSWERED" \
		-v wait=$(( (WAIT_DAYS + 1) * 86400000 )) -v cut="$CUTOFF_MS" '
		FILENAME == ARGV[1] { paid[$1] = $2; next }
		$2 == "reminder" && ++r[$1] == need { third[$1] = $3 }
		$2 == "final" { final[$1] = 1 }
		END { for (i in third) if (third[i] + wait < cut && !(i in final) &&
			(!(i in paid) || paid[i] > third[i] + wait)) print i }' \
		"$WORK/paid-by-worker" -)
	[ -z "$missed" ] || echo "# not escalated: $(echo $missed | head -c 300)"
	[ -z "$early" ] && [ -z "$missed" ] &&
		[ "$messages" -gt 0 ] &&
		[ "$(worker_stat escalations)" -ge "$messages" ]
}
check "escalation after $UNANSWERED unanswered reminders, never before" escalation_after_unanswered

# Decided at the step's local hour (or at the opening of the send window,
# 09:00, for a step postponed there), within the pipeline's latency (two
# real seconds of product time), never before; WhatsApp saw each message
# no earlier than the worker decided it.
LATENCY_MS=$(( 2000 * SPEED ))
local_hour_ok() {
	local bad=0 key inv ms ev step cmd zone s day_ten phone tpl
	while read -r key inv ms ev step cmd; do
		zone=$(awk -v c="${key#*/}" '$1 == c { print $3 }' "$WORK/zones")
		[ -n "$zone" ] || continue
		s=$((ms / 1000))
		day_ten=$(TZ=$zone date -d "$(TZ=$zone date -d "@$s" +%F) ${SEND_HOUR:0:2}:${SEND_HOUR:2:2}" +%s)
		# A step postponed (weekend, frequency cap) goes when the send
		# window opens, an hour before the send time.
		if [ "$s" -lt $((day_ten - 3600)) ] || [ $((ms - day_ten * 1000)) -gt "$LATENCY_MS" ]; then
			echo "# $inv $step decided at $(TZ=$zone date -d "@$s" '+%F %H:%M') in $zone"
			bad=$((bad + 1))
		fi
	done < "$WORK/decisions"
	awk '{ print $6, $3 }' "$WORK/decisions" | sort -u > "$WORK/decided-at"
	while IFS=$'\t' read -r cmd phone tpl ms; do
		s=$(awk -v c="$cmd" '$1 == c { print $2; exit }' "$WORK/decided-at")
		if [ -n "$s" ] && [ "$ms" -lt "$s" ]; then
			echo "# $cmd reached WhatsApp before it was decided"
			bad=$((bad + 1))
		fi
	done < "$WORK/accepted.tsv"
	[ "$bad" -eq 0 ]
}
check "send times at the configured local hour in each customer's time zone" local_hour_ok

# Every command the worker decided before the cutoff (8 real seconds
# before the evidence was taken) reached WhatsApp or was dropped by the
# gateway with a reason in its log.
nothing_lost_across_restarts() {
	local lost=0 cmd
	for cmd in $(awk -v cut="$CUTOFF_MS" '$3 < cut { print $6 }' "$WORK/decisions" | sort -u); do
		if ! grep -qF -- "$cmd" "$WORK/accepted.tsv" &&
			! grep -qF -- "command=$cmd " "$STACK/gateway.log"; then
			[ "$lost" -lt 5 ] && echo "# lost: $cmd"
			lost=$((lost + 1))
		fi
	done
	[ "$lost" -eq 0 ]
}
check "gateway and worker restarts lose nothing" nothing_lost_across_restarts
check "gateway and worker restarts duplicate nothing" no_command_twice

# The demo's report counts each command once: WhatsApp accepted it or the
# gateway did not send it (its log line "command not sent"), never both.
# (The worker's own count may fall short of the two together: a command
# whose invoices closed between its send and the worker's commit is not
# counted, worker/commit.lua; so it is shown, not compared.)
outcomes_add_up() {
	local decided stopped both step
	decided=0
	for step in notice due reminder final; do
		decided=$(( decided + $(worker_stat "sent:$step") ))
	done
	grep -o ' command not sent command=[^ ]*' "$STACK/gateway.log" |
		sed 's/.*command=//' | sort -u > "$WORK/not-sent"
	stopped=$(wc -l < "$WORK/not-sent")
	both=$(cut -f1 "$WORK/accepted.tsv" | sort -u | comm -12 - "$WORK/not-sent" | wc -l)
	echo "# worker counted $decided commands: WhatsApp accepted" \
		"$accepted_count, the gateway did not send $stopped, both $both"
	[ "$both" -eq 0 ] && [ "$accepted_count" -gt 0 ]
}
check "every command decided is accepted or not sent, never both" outcomes_add_up

# The demo on broken exports (no stack needed: it stops before starting
# one). Without an amount column it must fail, keep its folder and show
# the producer's reason.
printf 'type,invoice_id,customer_id,date,due_date,currency\n' > "$WORK/nocol.csv"
printf 'invoice,I-1,C1,2026-01-01,2026-01-20,EUR\n' >> "$WORK/nocol.csv"
demo_failure_visible() {
	local out rc kept
	out=$(DUNNING_BIN=$BIN "$ROOT/scripts/demo.sh" --data "$WORK/nocol.csv" 2>&1)
	rc=$?
	kept=$(printf '%s\n' "$out" | sed -n 's/^demo: logs and data kept in //p')
	printf '%s\n' "$out" | sed 's/^/# /' | head -8
	case $kept in
	/tmp/dunning-demo.*) [ -s "$kept/producer.log" ] && rm -rf "$kept" ;;
	*) kept="" ;;
	esac
	[ "$rc" -ne 0 ] && [ -n "$kept" ] &&
		printf '%s\n' "$out" | grep -q "amount.*not in the header"
}
check "a failing demo keeps its folder and says why" demo_failure_visible

# With 12 of 15 rows rejected, it must say so and keep them; the window
# must reach past the last due date by the workflow's whole chain (3 days
# to the first reminder, two repeats of 7, 7 days before the final).
{
	echo "type,invoice_id,customer_id,date,due_date,amount,currency,payment_id,reason"
	for i in 1 2 3; do
		echo "invoice,I-$i,C$i,2026-01-0$i,2026-01-1$((5 + i)),10.00,EUR,,"
	done
	for i in $(seq 4 15); do
		echo "invoice,I-$i,C$i,2026-01-06,2026-01-20,ten,EUR,,"
	done
} > "$WORK/badledger.csv"
demo_rejects_and_window() {
	local out kept end
	out=$(DUNNING_BIN=$BIN "$ROOT/scripts/demo.sh" --data "$WORK/badledger.csv" \
		--prepare-only 2>&1) || return 1
	printf '%s\n' "$out" | sed 's/^/# /'
	kept=$(printf '%s\n' "$out" | sed -n 's/.*rows rejected (kept in \([^)]*\)).*/\1/p')
	end=$(printf '%s\n' "$out" | sed -n 's/^demo: replaying [0-9-]* to \([0-9-]*\) .*/\1/p')
	[ -n "$kept" ] && [ -f "$kept" ] || return 1
	[ "$(grep -c 'ten' "$kept")" -eq 12 ] || return 1
	rm -f "$kept"
	printf '%s\n' "$out" | grep -q '^demo: 12 of 15 rows rejected' &&
		[ -n "$end" ] && [[ "$end" > "2026-02-13" ]]
}
check "the demo shows rejected rows and replays past the last due date" demo_rejects_and_window

echo "1..$n"
if [ "$failures" -gt 0 ] && [ -n "${DUNNING_E2E_KEEP:-}" ]; then
	cp "$STACK"/*.log "$WORK/"
fi
[ "$failures" -eq 0 ]
