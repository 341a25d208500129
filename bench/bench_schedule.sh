#!/usr/bin/env bash
# Scheduling a sweep of mixed sizes inside a memory cgroup: makespan and out-of-memory
# kills of
#   - `memsweep run -j auto --mem-budget auto` (memsweep decides each start from the
#     peaks it has measured so far);
#   - `memsweep run -j A` and `-j C`, A and C being RecommendedMaxWorkers_Aggressive and
#     _Conservative of a first calibration sweep's advisory (capped at the CPUs), and
#     `-j 4`, a fixed -j beyond the CPUs;
#   - GNU parallel --memfree (its default -j, the CPUs), which reads the machine's free
#     memory from /proc/meminfo and so does not see the cgroup's limit, and GNU parallel
#     without it, which separates what --memfree itself costs (it starts a perl, two
#     shells and an awk for every look at the free memory, several times a second).
# Every configuration runs inside the same new cgroup (v2 memory.max or v1
# memory.limit_in_bytes, no swap) with the launcher itself inside it, as in a container
# or a batch job. The sweep: a Python worker that allocates and touches MIB MiB, then
# spends 0.5 + MIB / 512 s of CPU time over it, for MIB in 32 to 640 and 3 seeds (24
# runs, the largest peaking near 653 MiB, so that two of the largest exceed 1 GiB).
# Rounds alternate the configurations (the order rotated each round); the script prints
# each round's figures and then a markdown table of the median and fastest makespan and
# the OOM kills over all rounds (the cgroup's oom_kill count, and the runs that ended
# `oom`, or with SIGKILL under parallel). Nothing is asserted about time.
#
# Needs root (to create the cgroup), python3 and GNU parallel.
# Usage: bench/bench_schedule.sh [ROUNDS] [LIMIT_MIB] [MEMFREE]   (defaults: 3 1024 1G)
# The sweeps are written under $MS_BENCH_DIR (default: a new directory in ${TMPDIR:-/tmp}).
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-3}
LIMIT_MIB=${2:-1024}
MEMFREE=${3:-1G}
MIBS=32,64,128,192,256,384,512,640
SEEDS=3
N_RUNS=$((8 * SEEDS))

[ "$(id -u)" = 0 ] || { echo "bench: needs root to create a memory cgroup" >&2; exit 1; }
for c in python3 parallel sqlite3; do
  command -v "$c" >/dev/null 2>&1 || { echo "bench: $c is not installed" >&2; exit 1; }
done
PY=$(python3 -c 'import sys; print(sys.executable)')
CPUS=$("$PY" -c 'import os; print(len(os.sched_getaffinity(0)))')
work=$(mktemp -d "${MS_BENCH_DIR:-${TMPDIR:-/tmp}}/ms-bench-schedule-XXXXXX")

# ---- the cgroup ---------------------------------------------------------------------------
# A new memory cgroup with a hard limit of LIMIT_MIB and no swap, v2 where the memory
# controller is there, else v1; removed at exit once its processes are gone.
CG='' CG_VERSION=''
cleanup() {
  local i
  if [ -n "$CG" ] && [ -d "$CG" ]; then
    for ((i = 0; i < 300; i++)); do
      rmdir "$CG" 2>/dev/null && break
      sleep 0.1
    done
    [ ! -d "$CG" ] || echo "bench: could not remove $CG" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT
if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
  grep -qw memory /sys/fs/cgroup/cgroup.subtree_control ||
    echo +memory >/sys/fs/cgroup/cgroup.subtree_control
  CG=$(mktemp -d /sys/fs/cgroup/ms-bench-schedule.XXXXXX)
  CG_VERSION=2
  echo $((LIMIT_MIB << 20)) >"$CG/memory.max"
  [ ! -f "$CG/memory.swap.max" ] || echo 0 >"$CG/memory.swap.max"
elif [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
  CG=$(mktemp -d /sys/fs/cgroup/memory/ms-bench-schedule.XXXXXX)
  CG_VERSION=1
  echo $((LIMIT_MIB << 20)) >"$CG/memory.limit_in_bytes"
  [ ! -f "$CG/memory.memsw.limit_in_bytes" ] ||
    echo $((LIMIT_MIB << 20)) >"$CG/memory.memsw.limit_in_bytes"
else
  echo "bench: no memory cgroup hierarchy at /sys/fs/cgroup" >&2
  exit 1
fi

oom_kills() {
  if [ "$CG_VERSION" = 2 ]; then
    awk '$1 == "oom_kill" { print $2 }' "$CG/memory.events"
  else
    awk '$1 == "oom_kill" { print $2 }' "$CG/memory.oom_control"
  fi
}
[ -n "$(oom_kills)" ] || { echo "bench: $CG reports no oom_kill count" >&2; exit 1; }

# in_cg CMD...: CMD, moved into the cgroup first (it and its children are limited).
in_cg() {
  sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" "$@"
}

# ---- the sweep ----------------------------------------------------------------------------
cat >"$work/work.py" <<'PY'
import sys, time, zlib
mib, seed = int(sys.argv[1]), int(sys.argv[2])
# Every page written: the whole block is resident until the end.
buf = bytes([seed]) * (mib << 20)
chunk = memoryview(buf)[: 1 << 20]
crc, cpu_s, t0 = 0, 0.5 + mib / 512.0, time.process_time()
while time.process_time() - t0 < cpu_s:
    for _ in range(64):
        crc = zlib.crc32(chunk, crc)
print(mib, seed, crc)
PY
GRID=(-P "mib=$MIBS" -P "seed=1..$SEEDS" -- "$PY" "$work/work.py" '{mib}' '{seed}')

# Figures of the last configuration run: makespan (s), kills, oom runs, runs not ok.
T_WALL='' T_KILLS='' T_OOM='' T_BAD=''

# run_memsweep NAME OPTION...: one memsweep sweep inside the cgroup.
run_memsweep() {
  local name=$1 out db k0 t0 t1 rc=0
  shift
  out="$work/$name.$(date +%s%N)"
  k0=$(oom_kills)
  t0=$(now)
  in_cg "$MS_BIN" run "$@" -o "$out" "${GRID[@]}" >"$work/last.out" 2>"$work/last.err" || rc=$?
  t1=$(now)
  [ "$rc" -le 1 ] || { echo "bench: memsweep run $* exited $rc:" >&2; cat "$work/last.err" >&2; exit 1; }
  db=$(ls -d "$out"/sweep_*)/memsweep.db
  T_WALL=$(calc "$t1 - $t0")
  T_KILLS=$(($(oom_kills) - k0))
  T_OOM=$(sqlite3 "$db" "SELECT count(*) FROM runs WHERE status = 'oom'")
  T_BAD=$(sqlite3 "$db" "SELECT count(*) FROM runs WHERE status <> 'ok'")
  [ "$(sqlite3 "$db" "SELECT count(*) FROM runs")" = "$N_RUNS" ] ||
    { echo "bench: $db: expected $N_RUNS runs" >&2; exit 1; }
  LAST_SWEEP=${db%/memsweep.db}
}

# run_parallel OPTION...: the same sweep with GNU parallel inside the cgroup. A job killed
# by a signal shows it in the joblog's Signal column (9 for the OOM killer).
run_parallel() {
  local log k0 t0 t1 rc=0
  log="$work/parallel.$(date +%s%N).log"
  k0=$(oom_kills)
  t0=$(now)
  in_cg parallel "$@" --joblog "$log" "$PY" "$work/work.py" '{1}' '{2}' \
    ::: ${MIBS//,/ } ::: $(seq "$SEEDS") >"$work/last.out" 2>"$work/last.err" || rc=$?
  t1=$(now)
  [ "$rc" -le 101 ] || { echo "bench: parallel exited $rc:" >&2; cat "$work/last.err" >&2; exit 1; }
  T_WALL=$(calc "$t1 - $t0")
  T_KILLS=$(($(oom_kills) - k0))
  T_OOM=$(awk -F'\t' 'NR > 1 && $8 == 9' "$log" | wc -l)
  T_BAD=$(awk -F'\t' 'NR > 1 && ($7 != 0 || $8 != 0)' "$log" | wc -l)
  [ "$(awk 'NR > 1' "$log" | wc -l)" = "$N_RUNS" ] ||
    { echo "bench: $log: expected $N_RUNS jobs" >&2; exit 1; }
}

# post_value SWEEP KEY: KEY's value in the post-run section of the sweep's advisory.
post_value() {
  awk -v k="$2" '/^Post-run Observed Advisory$/ { p = 1 }
                 p && index($0, k ": ") == 1 { print substr($0, length(k) + 3); exit }' \
    "$1/memory_advisory.txt"
}

# ---- calibration ------------------------------------------------------------------------
echo "bench_schedule: $N_RUNS runs (mib=$MIBS x $SEEDS seeds) in a $LIMIT_MIB MiB cgroup (v$CG_VERSION), $CPUS CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "bench_schedule: calibration sweep (memsweep run -j auto), not counted" >&2
run_memsweep calib -j auto --mem-budget auto
A=$(post_value "$LAST_SWEEP" RecommendedMaxWorkers_Aggressive)
C=$(post_value "$LAST_SWEEP" RecommendedMaxWorkers_Conservative)
echo "bench_schedule: calibration: ${T_WALL%.*} s, $T_KILLS kills; advisory: Aggressive $A, Conservative $C, MaxPeakRSS_MB $(post_value "$LAST_SWEEP" MaxPeakRSS_MB), Usable_MB $(post_value "$LAST_SWEEP" Usable_MB)" >&2
NOTES=()
# cap_jobs NAME VALUE: VALUE within 1..CPUS, with a note when it had to be moved.
cap_jobs() {
  if ! [[ "$2" =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ]; then
    NOTES+=("the advisory's $1 is '$2': -j 1 instead")
    echo 1
  elif [ "$2" -gt "$CPUS" ]; then
    NOTES+=("the advisory's $1 is $2, more than the $CPUS CPUs: capped at -j $CPUS")
    echo "$CPUS"
  else
    echo "$2"
  fi
}
JA=$(cap_jobs RecommendedMaxWorkers_Aggressive "$A")
JC=$(cap_jobs RecommendedMaxWorkers_Conservative "$C")

# The configurations, each a name and how to run it.
CONFIGS=("auto" "jA")
[ "$JC" = "$JA" ] || CONFIGS+=("jC")
[ "$JA" = 4 ] || [ "$JC" = 4 ] || CONFIGS+=("j4")
CONFIGS+=("parallel" "plain")
# command_of CONFIG: the command line of a configuration (the grid left out).
command_of() {
  case $1 in
    auto) echo "memsweep run -j auto --mem-budget auto" ;;
    jA) echo "memsweep run -j $JA" ;;
    jC) echo "memsweep run -j $JC" ;;
    j4) echo "memsweep run -j 4" ;;
    parallel) echo "parallel --memfree $MEMFREE" ;;
    plain) echo "parallel" ;;
  esac
}
# why_of CONFIG: where its number of workers comes from.
why_of() {
  case $1 in
    auto) echo "the CPUs, within a budget of Usable_MB" ;;
    jA) echo "RecommendedMaxWorkers_Aggressive$([ "$JA" = "$A" ] || echo " ($A, capped)")" ;;
    jC) echo "RecommendedMaxWorkers_Conservative$([ "$JC" = "$C" ] || echo " ($C, capped)")" ;;
    j4) echo "a fixed -j beyond the $CPUS CPUs" ;;
    parallel) echo "its default -j (the $CPUS CPUs), held back while /proc/meminfo shows less than $MEMFREE free" ;;
    plain) echo "its default -j (the $CPUS CPUs): the cost of --memfree itself" ;;
  esac
}
run_config() {
  case $1 in
    auto) run_memsweep auto -j auto --mem-budget auto ;;
    jA) run_memsweep jA -j "$JA" ;;
    jC) run_memsweep jC -j "$JC" ;;
    j4) run_memsweep j4 -j 4 ;;
    parallel) run_parallel --memfree "$MEMFREE" ;;
    plain) run_parallel ;;
  esac
}

# ---- rounds -------------------------------------------------------------------------------
declare -A WALLS KILLS OOMS BADS
for ((r = 0; r < ROUNDS; r++)); do
  n=${#CONFIGS[@]}
  for ((i = 0; i < n; i++)); do
    cfg=${CONFIGS[$(((i + r) % n))]}
    run_config "$cfg"
    WALLS[$cfg]="${WALLS[$cfg]:-} $T_WALL"
    KILLS[$cfg]=$((${KILLS[$cfg]:-0} + T_KILLS))
    OOMS[$cfg]=$((${OOMS[$cfg]:-0} + T_OOM))
    BADS[$cfg]=$((${BADS[$cfg]:-0} + T_BAD))
    printf 'bench_schedule: round %d: %-40s %7.1f s, %2d kills, %2d runs oom, %2d not ok (load %s)\n' \
      $((r + 1)) "$(command_of "$cfg")" "$T_WALL" "$T_KILLS" "$T_OOM" "$T_BAD" \
      "$(cut -d' ' -f1 /proc/loadavg)" >&2
  done
done

# ---- the table ----------------------------------------------------------------------------
printf '\n%d runs (Python workers of 32 to 640 MiB), %d rounds, a %d MiB cgroup, %d CPUs\n\n' \
  "$N_RUNS" "$ROUNDS" "$LIMIT_MIB" "$CPUS"
echo "| configuration | workers | median makespan | fastest | OOM kills (cgroup), all rounds | runs \`oom\` | runs not \`ok\` of $((N_RUNS * ROUNDS)) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for cfg in "${CONFIGS[@]}"; do
  # shellcheck disable=SC2086
  printf '| `%s` | %s | %.1f s | %.1f s | %d | %d | %d |\n' "$(command_of "$cfg")" "$(why_of "$cfg")" \
    "$(median ${WALLS[$cfg]})" "$(printf '%s\n' ${WALLS[$cfg]} | sort -g | head -n 1)" \
    "${KILLS[$cfg]}" "${OOMS[$cfg]}" "${BADS[$cfg]}"
done
for note in "${NOTES[@]}"; do
  echo "Note: $note."
done
