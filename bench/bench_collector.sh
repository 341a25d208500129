#!/usr/bin/env bash
# The collector of `memsweep run` under load: J workers of P process images each (an
# ms_spoolwrite root and its children, under an inert preload, so that only the
# collector samples them) sampled every INTERVAL ms. Prints the tick readings written
# against those due over every image's life, and the launcher's CPU time per reading;
# then the fold rate of `memsweep collect` on pools of 180 000 samples. Prints figures,
# asserts nothing about time.
#
# Usage: bench/bench_collector.sh [J] [CHILDREN] [INTERVAL_MS] [HOLD_MS]   (32 3 20 3000)
set -euo pipefail
J=${1:-32}
CHILDREN=${2:-3}
INTERVAL=${3:-20}
HOLD=${4:-3000}
SW="$MS_BUILD_DIR/ms_spoolwrite"
INERT="$MS_BUILD_DIR/libms_inertshim.so"
work=$(mktemp -d "${TMPDIR:-/tmp}/ms-bench-collector-XXXXXX")
trap 'rm -rf "$work"' EXIT

for _ in $(seq "$J"); do
    echo "$SW --samples 0 --children $CHILDREN --hold-ms $HOLD"
done >"$work/commands"
/usr/bin/time -f "%U %S" -o "$work/time" "$MS_BIN" run -j "$J" -o "$work/out" \
    --interval-ms "$INTERVAL" --preload "$INERT" --commands "$work/commands" >/dev/null 2>&1
db="$(echo "$work"/out/sweep_*/memsweep.db)"
read -r due images < <(sqlite3 "$db" "SELECT sum((ended_ns - started_ns) / ($INTERVAL * 1000000)),
                                             count(*) FROM processes" | tr '|' ' ')
# The collector's readings carry the real RSS; the writer's own are 5000 KiB and up.
taken=$(sqlite3 "$db" "SELECT count(*) FROM samples WHERE kind = 'tick' AND rss_kb < 5000")
read -r user sys <"$work/time"
echo "collector: $images images, $taken tick readings of $due due ($(awk -v a="$taken" -v b="$due" 'BEGIN { printf "%.1f", 100 * a / b }') %)"
echo "collector: launcher CPU ${user} s user + ${sys} s sys, $(awk -v u="$user" -v s="$sys" -v n="$taken" 'BEGIN { printf "%.0f", 1e6 * (u + s) / n }') us per reading (launching included)"

export MEMSWEEP_DB="$work/fold.db"
unset MEMSWEEP_SPOOL MEMSWEEP_SPOOL_DIR
for i in 1 2 3; do
    "$SW" --samples 60000 --rss $((i * 1000))
done
start=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$work/time" "$MS_BIN" collect "$MEMSWEEP_DB"
end=$(date +%s.%N)
read -r user sys <"$work/time"
rows=$(sqlite3 "$MEMSWEEP_DB" "SELECT count(*) FROM samples")
echo "fold: $rows samples in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') s wall, $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }') s CPU ($(awk -v a="$start" -v b="$end" -v n="$rows" 'BEGIN { printf "%.0f", n / (b - a) }') rows/s)"
