#!/usr/bin/env bash
# What the shim adds to a process's memory: the maximum RSS (`/usr/bin/time -f %M`, the
# kernel's ru_maxrss, KiB) of a few programs without a shim and with each shim recording
# standalone (MEMSWEEP_DB=<new directory>/m.db, whatever the shim then writes):
#   sleep 1, cat /dev/null, python3 -c pass, xz -1 on a fixed 20 MiB of generated text;
#   sleep SHORT and sleep LONG (defaults 2 s and 20 s) sampled every 20 ms
#   (MEMSWEEP_INTERVAL_MS=20), about 100 and 1,000 samples: what the shim keeps must not
#   grow with the life of the process or the samples it writes, so the two differences
#   should be equal.
# Each program runs ROUNDS times in each configuration; the medians are printed with each
# shim's difference to the program alone. The configurations of one round of the sampled
# sleeps run at the same time (they sleep), the others one after the other. Where the
# shim left a database this sqlite3 can read, the samples in it are counted.
#
# Usage: bench/bench_footprint.sh [--baseline DIR] [ROUNDS] [SHORT LONG]
#        (defaults: 3 2 20; DIR from bench/baseline.sh, or MS_BASELINE)
source "$(dirname "$0")/lib.sh"
parse_baseline_option "$@"
set -- "${MS_ARGS[@]}"
ROUNDS=${1:-3}
SHORT=${2:-2}
LONG=${3:-20}
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ && "$SHORT" =~ ^[0-9]+$ && "$LONG" =~ ^[0-9]+$ ]] ||
  { echo "bench: usage: bench_footprint.sh [--baseline DIR] [ROUNDS] [SHORT LONG]" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (Debian package time)" >&2; exit 1; }
for c in xz python3; do
  command -v "$c" >/dev/null || { echo "bench: $c is not installed" >&2; exit 1; }
done
unset MEMSWEEP_DB MEMSWEEP_RUN_ID MEMSWEEP_SPOOL MEMSWEEP_INTERVAL_MS
work=$(mktemp -d "${TMPDIR:-/tmp}/ms-bench-footprint-XXXXXX")
trap 'rm -rf "$work"' EXIT

# 20 MiB of lines of random words, the same every time.
python3 - "$work/xz.in" <<'PY'
import random, sys
rng = random.Random(20240601)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 11)))
         for _ in range(20000)]
size = 20 << 20
with open(sys.argv[1], "w") as f:
    total = 0
    while total < size:
        chunk = "\n".join(" ".join(rng.choices(words, k=rng.randint(4, 14)))
                          for _ in range(20000)) + "\n"
        chunk = chunk[: size - total]
        f.write(chunk)
        total += len(chunk)
PY

configs=(none tree) cfg_shim=([0]="" [1]="$MS_SHIM") cfg_name=([0]="without" [1]="this tree")
if [ -n "$BASE_SHIM" ]; then
  configs+=(base) cfg_shim+=("$BASE_SHIM") cfg_name+=("baseline $BASE_DESC")
fi

# measure IDX TAG ENV... -- CMD...: runs CMD in configuration IDX under /usr/bin/time;
# its max RSS goes to $work/TAG.kb, and its samples, when countable, to $work/TAG.n. env(1)
# execs CMD, so the figure is CMD's (time(1) itself has no shim).
measure() {
  local idx=$1 tag=$2 d=$work/$2
  shift 2
  local vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  mkdir -p "$d"
  if [ "$idx" = 0 ]; then
    /usr/bin/time -f %M -o "$d.kb" env "${vars[@]}" "$@" >/dev/null 2>"$d.err" ||
      { echo "bench: $* failed:" >&2; cat "$d.err" >&2; exit 1; }
  else
    /usr/bin/time -f %M -o "$d.kb" env "${vars[@]}" MEMSWEEP_DB="$d/m.db" \
      LD_PRELOAD="${cfg_shim[$idx]}" "$@" >/dev/null 2>"$d.err" ||
      { echo "bench: $* failed under ${cfg_name[$idx]}:" >&2; cat "$d.err" >&2; exit 1; }
  fi
  { [ -f "$d/m.db" ] && sqlite3 "$d/m.db" 'SELECT count(*) FROM samples' 2>/dev/null; } >"$d.n" ||
    echo - >"$d.n"
  rm -rf "$d"
}

programs=(sleep1 cat python xz sampled_short sampled_long)
declare -A label=(
  [sleep1]="sleep 1" [cat]="cat /dev/null" [python]="python3 -c pass"
  [xz]="xz -1 (20 MiB)" [sampled_short]="sleep $SHORT, 20 ms interval"
  [sampled_long]="sleep $LONG, 20 ms interval")
declare -A kb samples
echo "footprint: max RSS (KiB), median of $ROUNDS rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  reproduce: bench/bench_footprint.sh${BASE_DIR:+ --baseline $BASE_DIR} $ROUNDS $SHORT $LONG"
for ((r = 0; r < ROUNDS; r++)); do
  for ((c = 0; c < ${#configs[@]}; c++)); do
    measure "$c" "sleep1-$c-$r" -- sleep 1
    measure "$c" "cat-$c-$r" -- cat /dev/null
    measure "$c" "python-$c-$r" -- python3 -c pass
    measure "$c" "xz-$c-$r" -- xz -1 -T1 -c "$work/xz.in"
  done
  pids=()
  for ((c = 0; c < ${#configs[@]}; c++)); do
    measure "$c" "sampled_short-$c-$r" MEMSWEEP_INTERVAL_MS=20 -- sleep "$SHORT" &
    pids+=($!)
    measure "$c" "sampled_long-$c-$r" MEMSWEEP_INTERVAL_MS=20 -- sleep "$LONG" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  for p in "${programs[@]}"; do
    for ((c = 0; c < ${#configs[@]}; c++)); do
      kb[$p-$c]+="$(cat "$work/$p-$c-$r.kb") "
      samples[$p-$c]=$(cat "$work/$p-$c-$r.n")
    done
  done
done

printf '  %-30s' program
for ((c = 0; c < ${#configs[@]}; c++)); do
  if [ "$c" = 0 ]; then printf ' %10s' without; else printf ' %22s' "${cfg_name[$c]} (diff)"; fi
done
printf '   samples in the last round\n'
for p in "${programs[@]}"; do
  printf '  %-30s' "${label[$p]}"
  base_kb=$(median ${kb[$p-0]})
  printf ' %10d' "$base_kb"
  for ((c = 1; c < ${#configs[@]}; c++)); do
    m=$(median ${kb[$p-$c]})
    printf ' %12d (%+6d)' "$m" "$(calc "$m - $base_kb" | cut -d. -f1)"
  done
  printf '  '
  for ((c = 1; c < ${#configs[@]}; c++)); do printf ' %s' "${samples[$p-$c]}"; done
  printf '\n'
done
[ -n "$BASE_SHIM" ] || echo "  no baseline: pass --baseline DIR (bench/baseline.sh builds one)"
echo "  (samples: rows of the shim's database, in the order of the columns; - where none could be read)"
