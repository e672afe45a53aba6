#!/usr/bin/env bash
# producer.sh: import rate of dunning-producer for a generated ledger of
# one million invoices, to the local broker and, as a baseline, dry-run.
# SPDX-License-Identifier: Apache-2.0
#
# Run by scripts/bench.sh with the stack's environment and DUNNING_BIN.
# Nothing is read back: the local broker keeps only about 100,000 messages
# per partition, and the producer's own delivery reports are the measure
# (the import fails unless every event is acknowledged).
set -euo pipefail

BIN=${DUNNING_BIN:?DUNNING_BIN not set}
INVOICES=${BENCH_PRODUCER_INVOICES:-1000000}
WORK=$(mktemp -d /tmp/dunning-bench-producer.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

now_ms() { date +%s%3N; }

# Rows per second of one import run; rows are the ledger's data lines.
rate() {
	local rows=$1 start=$2 end=$3
	echo $(( rows * 1000 / (end - start > 0 ? end - start : 1) ))
}

start=$(now_ms)
"$BIN/dunning-producer" generate --seed 42 --customers 20000 \
	--invoices "$INVOICES" --start 2026-01-01 --days 365 \
	--out-dir "$WORK" 2> "$WORK/generate.log"
end=$(now_ms)
rows=$(( $(wc -l < "$WORK/ledger.csv") - 1 ))
echo "bench: producer-generate $(rate "$rows" "$start" "$end") rows/s (target 100000)"

cd "$WORK"
start=$(now_ms)
"$BIN/dunning-producer" import --dry-run ledger.csv > /dev/null \
	2> "$WORK/dry-run.log"
end=$(now_ms)
echo "bench: producer-parse-dry-run $(rate "$rows" "$start" "$end") rows/s (target 100000)"

start=$(now_ms)
if ! "$BIN/dunning-producer" import --tenant bench ledger.csv \
	2> "$WORK/import.log"; then
	tail -5 "$WORK/import.log" >&2
	echo "bench: producer-import did not finish cleanly"
	exit 1
fi
end=$(now_ms)
grep '^summary:' "$WORK/import.log" >&2
echo "bench: producer-import $(rate "$rows" "$start" "$end") rows/s (target 50000)"
