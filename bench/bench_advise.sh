#!/usr/bin/env bash
# Time and peak memory of `memsweep advise` on a generated database of RUNS runs and
# RUNS x PER_RUN samples (default 10,000 runs, 10 million samples): cold cache when the
# page cache can be dropped (root), then ROUNDS warm rounds (default 3), with the median
# and the fastest. With MS_BIN_OLD set to another memsweep, the two alternate round by
# round, so that both see the same load, and their outputs (advise and peaks, text and
# JSON) must be identical.
# Usage: [MS_BIN_OLD=path/to/memsweep] bench/bench_advise.sh [RUNS] [PER_RUN] [ROUNDS]
source "$(dirname "$0")/lib.sh"
RUNS=${1:-10000}
PER_RUN=${2:-1000}
ROUNDS=${3:-3}
work=$(mktemp -d /tmp/ms-bench-advise-XXXXXX)
trap 'rm -rf "$work"' EXIT

t0=$(now)
"$MS_BUILD_DIR/gen_sweepdb" "$work/memsweep.db" "$RUNS" "$PER_RUN"
t1=$(now)
samples=$(sqlite3 "$work/memsweep.db" "SELECT count(*) FROM samples")
printf 'advise: %d runs, %d samples, %s MiB database (generated in %.1f s)\n' "$RUNS" "$samples" \
  "$(( $(stat -c %s "$work/memsweep.db") / 1048576 ))" "$(calc "$t1 - $t0")"

bins=("$MS_BIN")
names=(new)
if [ -n "${MS_BIN_OLD:-}" ]; then
  bins=("$MS_BIN_OLD" "$MS_BIN")
  names=(old new)
  for i in 0 1; do
    for args in "advise" "advise --json" "peaks" "peaks --json"; do
      # shellcheck disable=SC2086
      "${bins[$i]}" $args "$work" >"$work/out.${names[$i]}.${args// /_}"
    done
  done
  for args in "advise" "advise --json" "peaks" "peaks --json"; do
    cmp -s "$work/out.old.${args// /_}" "$work/out.new.${args// /_}" ||
      { echo "bench: memsweep $args differs between the two" >&2; exit 1; }
  done
  echo "  outputs of advise and peaks (text and --json) identical"
fi

# run_once INDEX LABEL: one timed advise; appends the time to the binary's list.
declare -a times
run_once() {
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "${bins[$1]}" advise "$work" >"$work/out"
  read -r secs user sys kb <"$work/time"
  times[$1]+="$secs "
  printf '  %-3s %-5s %6.2f s  (user %.2f s, sys %.2f s)  %7.1f MiB max RSS\n' "${names[$1]}" \
    "$2" "$secs" "$user" "$sys" "$(calc "$kb / 1024")"
}
if [ -w /proc/sys/vm/drop_caches ]; then
  for i in "${!bins[@]}"; do
    sync; echo 3 >/proc/sys/vm/drop_caches
    run_once "$i" cold
  done
  times=()
fi
for r in $(seq "$ROUNDS"); do
  for i in "${!bins[@]}"; do run_once "$i" warm; done
done
for i in "${!bins[@]}"; do
  # shellcheck disable=SC2086
  printf '  %-3s warm: median %.2f s, fastest %.2f s\n' "${names[$i]}" \
    "$(median ${times[$i]})" "$(printf '%s\n' ${times[$i]} | sort -g | head -1)"
done
grep -E '^(RunsTotal|RunsIncluded|MaxPeakRSS_MB):' "$work/out" | sed 's/^/  /'
