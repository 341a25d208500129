#!/usr/bin/env bash
# Cost of the shim with allocation sampling on (MEMSWEEP_ALLOC=1, the default) on real
# programs, recording into a live sweep's database:
#   - xz -6 -T1 compressing XZ_MB MB of generated text (semi-compressible: random words
#     from a 20,000-word vocabulary, about 3:1);
#   - sort (LC_ALL=C) of SORT_MB MB of such lines in random order;
#   - python3 building PY_ROWS records (dicts, lists, strings, floats) and serializing them
#     with pickle and json.
# Each runs ROUNDS times with and without the shim, alternating; the medians and their
# ratio are printed, and each instrumented run's output is checked against the
# uninstrumented one. Nothing is asserted about time; the target is <= 1.03x.
# xz -6 compresses about 1 MB/s on the reference machine, hence its smaller input.
# Usage: bench/bench_real.sh [XZ_MB] [SORT_MB] [PY_ROWS] [ROUNDS]
source "$(dirname "$0")/lib.sh"
XZ_MB=${1:-32}
SORT_MB=${2:-200}
PY_ROWS=${3:-400000}
ROUNDS=${4:-5}
for c in xz sort python3; do
  command -v "$c" >/dev/null 2>&1 || { echo "bench: $c is not installed" >&2; exit 1; }
done
PY=$(python3 -c 'import sys; print(sys.executable)')
work=$(mktemp -d /tmp/ms-bench-real-XXXXXX)
trap 'rm -rf "$work"' EXIT

# A live sweep whose one run sleeps while the measured processes join its run.
start_live_sweep "$work"

# gen_text MB FILE: MB * 10^6 bytes of lines of 4-14 random words, the same every time.
gen_text() {
  "$PY" - "$1" "$2" <<'PY'
import random, sys
size, path = int(sys.argv[1]) * 1000000, sys.argv[2]
rng = random.Random(20240601)
letters = "abcdefghijklmnopqrstuvwxyz"
words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 11))) for _ in range(20000)]
with open(path, "w") as f:
    total = 0
    while total < size:
        lines = [" ".join(rng.choices(words, k=rng.randint(4, 14))) for _ in range(20000)]
        chunk = "\n".join(lines) + "\n"
        f.write(chunk[: size - total])
        total += min(len(chunk), size - total)
PY
}

cat >"$work/build.py" <<'PY'
import hashlib, json, pickle, random, sys
n = int(sys.argv[1])
rng = random.Random(7)
tags = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
rows = [{"id": i, "name": "item%07d" % i, "tags": rng.sample(tags, 3),
         "score": rng.random(), "parent": rng.randrange(i + 1)} for i in range(n)]
blob = pickle.dumps(rows, protocol=4)
text = json.dumps(rows)
assert pickle.loads(blob) == rows
print(len(rows), len(blob), len(text), hashlib.sha256(text.encode()).hexdigest()[:16])
PY

echo "bench_real: generating ${XZ_MB} MB and ${SORT_MB} MB of text" >&2
gen_text "$XZ_MB" "$work/xz.txt"
gen_text "$SORT_MB" "$work/sort.txt"

# The three programs; each prints a line that identifies its result.
prog_xz() { xz -6 -T1 -c "$work/xz.txt" | cksum; }
prog_sort() { LC_ALL=C sort "$work/sort.txt" | cksum; }
prog_python() { "$PY" "$work/build.py" "$PY_ROWS"; }

# measure NAME: ROUNDS alternating rounds; prints the medians of the wall and CPU (user +
# system, which a virtual machine's stolen time does not inflate) times and their ratios,
# and checks that the instrumented run printed what the uninstrumented one did. The shim
# is preloaded into every process of the pipeline, as the launcher would do.
TIMEFORMAT='%R %U %S'
measure() {
  local name=$1 out_plain out_shim r u s
  local plain=() shim=() plain_cpu=() shim_cpu=()
  for ((k = 0; k < ROUNDS; k++)); do
    out_plain=$( { time "prog_$name"; } 2>"$work/time")
    read -r r u s <"$work/time"
    plain+=("$r")
    plain_cpu+=("$(calc "$u + $s")")
    out_shim=$( { time MEMSWEEP_DB="$db" MEMSWEEP_SPOOL="$pool" MEMSWEEP_ALLOC=1 \
      LD_PRELOAD="$MS_SHIM" "prog_$name"; } 2>"$work/time")
    read -r r u s <"$work/time"
    shim+=("$r")
    shim_cpu+=("$(calc "$u + $s")")
    [ "$out_plain" = "$out_shim" ] ||
      { echo "bench: $name printed '$out_shim' under the shim, '$out_plain' without" >&2; exit 1; }
  done
  local p s pc sc
  p=$(median "${plain[@]}"); s=$(median "${shim[@]}")
  pc=$(median "${plain_cpu[@]}"); sc=$(median "${shim_cpu[@]}")
  printf '  %-7s %8.3f s %8.3f s %7.4f %9.3f s %8.3f s %7.4f   (%s)\n' "$name" "$p" "$s" \
    "$(calc "$s / $p")" "$pc" "$sc" "$(calc "$sc / $pc")" "$out_plain"
}

printf 'real programs: median of %d alternating rounds, shim with allocation sampling on\n' "$ROUNDS"
printf '  (xz -6 -T1 on %s MB, sort on %s MB, python3 with %s records)\n' "$XZ_MB" "$SORT_MB" "$PY_ROWS"
printf '  %-7s %10s %10s %7s %11s %10s %7s\n' program "wall w/o" "wall with" ratio \
  "CPU w/o" "CPU with" ratio
measure xz
measure sort
measure python
printf '  samples recorded by kind: %s\n' "$(sqlite3 "$db" "SELECT group_concat(kind || ' ' || n, ', ')
  FROM (SELECT kind, count(*) AS n FROM samples s JOIN processes p USING (proc_id)
        WHERE p.run_id = $run_id AND p.exe NOT LIKE '%/sleep' GROUP BY kind ORDER BY kind)")"
