#!/usr/bin/env bash
# What the shim sees of growth that happens after an allocation, and what following it
# costs:
#   1. accuracy: Python allocates MIB MiB in one block, fills it at C speed (a memset) and
#      SIGKILLs itself at once; the largest reading stored, standalone and as one of two
#      processes of a `memsweep run` run, against the kernel's peak of the same script run
#      to its end (ru_maxrss of an uninstrumented child), for each size;
#   2. cost: the same fill of FILL_MIB MiB run to its end, CPU time (user + system, of the
#      process and its threads, from the parent's rusage) and wall time with and without
#      the shim recording standalone, ROUNDS alternating rounds, medians and fastest; and
#      how many growth readings it stored.
# Nothing is asserted.
# Usage: bench/bench_growth.sh [FILL_MIB] [ROUNDS] [MIB...]
source "$(dirname "$0")/lib.sh"
FILL_MIB=${1:-1024}
ROUNDS=${2:-7}
shift $(( $# >= 2 ? 2 : $# ))
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(50 100 400)
PY=/usr/bin/python3
work=$(mktemp -d /tmp/ms-bench-growth-XXXXXX)
trap 'rm -rf "$work"' EXIT

cat >"$work/fill.py" <<'PY'
import os, sys
b = b'\1' * (int(sys.argv[1]) << 20)
if sys.argv[2] == 'kill':
    os.kill(os.getpid(), 9)
PY

# ref_peak MIB: the kernel's peak (KiB) of the fill run to its end, without the shim.
ref_peak() {
  "$PY" -c '
import resource, subprocess, sys
subprocess.run([sys.argv[1], sys.argv[2], sys.argv[3], "end"], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$PY" "$work/fill.py" "$1"
}

echo "1. largest reading of a fill that is SIGKILLed at once, against the kernel's peak"
printf '  %6s %12s %22s %22s\n' MiB "kernel KiB" "standalone KiB (%)" "memsweep run KiB (%)"
for mib in "${SIZES[@]}"; do
  ref=$(ref_peak "$mib")
  rm -f "$work/a.db"
  MEMSWEEP_DB="$work/a.db" LD_PRELOAD="$MS_SHIM" "$PY" "$work/fill.py" "$mib" kill || true
  "$MS_BIN" collect "$work/a.db" >/dev/null 2>&1
  a=$(sqlite3 "$work/a.db" "SELECT max(rss_kb) FROM samples")
  rm -rf "$work/out"
  "$MS_BIN" run -o "$work/out" -- sh -c "$PY $work/fill.py $mib kill; exit 0" >/dev/null 2>&1
  w=$(sqlite3 "$work"/out/sweep_*/memsweep.db "SELECT max(s.rss_kb) FROM samples s
       JOIN processes p USING (proc_id) WHERE p.exe LIKE '%python3%'")
  printf '  %6s %12s %14s (%5.1f) %14s (%5.1f)\n' "$mib" "$ref" "$a" "$(calc "100 * $a / $ref")" \
    "$w" "$(calc "100 * $w / $ref")"
done

# cpu_of ENV...: runs the fill of FILL_MIB to its end under env(1) with ENV; prints
# "wall cpu" of the child (its rusage includes its threads).
cpu_of() {
  "$PY" - "$FILL_MIB" "$work/fill.py" "$@" <<'PY'
import os, resource, subprocess, sys, time
mib, script, env = sys.argv[1], sys.argv[2], sys.argv[3:]
t = time.perf_counter()
subprocess.run(['env'] + env + ['/usr/bin/python3', script, mib, 'end'], check=True)
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print('%.4f %.4f' % (wall, ru.ru_utime + ru.ru_stime))
PY
}

echo "2. filling ${FILL_MIB} MiB to the end: ${ROUNDS} alternating rounds"
plain_w=() plain_c=() shim_w=() shim_c=() readings=()
for ((k = 0; k < ROUNDS; k++)); do
  read -r w c < <(cpu_of A=1)
  plain_w+=("$w"); plain_c+=("$c")
  rm -f "$work/c.db"
  read -r w c < <(cpu_of MEMSWEEP_DB="$work/c.db" LD_PRELOAD="$MS_SHIM")
  shim_w+=("$w"); shim_c+=("$c")
  "$MS_BIN" collect "$work/c.db" >/dev/null 2>&1
  readings+=("$(sqlite3 "$work/c.db" "SELECT count(*) FROM samples WHERE kind = 'growth'")")
done
min() { printf '%s\n' "$@" | sort -g | head -n 1; }
printf '  %-22s %10s %10s %10s %10s\n' "" "wall med" "wall min" "CPU med" "CPU min"
printf '  %-22s %9.3fs %9.3fs %9.3fs %9.3fs\n' "without the shim" "$(median "${plain_w[@]}")" \
  "$(min "${plain_w[@]}")" "$(median "${plain_c[@]}")" "$(min "${plain_c[@]}")"
printf '  %-22s %9.3fs %9.3fs %9.3fs %9.3fs\n' "shim, standalone" "$(median "${shim_w[@]}")" \
  "$(min "${shim_w[@]}")" "$(median "${shim_c[@]}")" "$(min "${shim_c[@]}")"
printf '  ratio of medians: wall %.4f, CPU %.4f; growth readings stored per run: %s\n' \
  "$(calc "$(median "${shim_w[@]}") / $(median "${plain_w[@]}")")" \
  "$(calc "$(median "${shim_c[@]}") / $(median "${plain_c[@]}")")" "${readings[*]}"
