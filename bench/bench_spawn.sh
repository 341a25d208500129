#!/usr/bin/env bash
# Start and exit of one process, process by process: bench/spawn_interleaved.c spawns
# /bin/true N times under each mode, the modes interleaved one process at a time (their
# order rotated), so that every mode runs under the same load at the same moments and the
# drift of a busy machine cancels out of the differences. Printed per mode: the median
# wall time of one process (µs), its difference from "none", the first quartile, the
# mean, and the minor page faults and CPU time of one process (from wait4), which load
# cannot move.
#
# Modes:
#   none            nothing preloaded;
#   lib: empty      a library that does nothing (bench/floor_empty.c): the loader's part;
#   lib: mmap 32K   its constructor maps an existing 32 KiB file shared and writes a byte
#                   (bench/floor_mmap.c);
#   inert           this tree's shim, MEMSWEEP_DB and MEMSWEEP_SPOOL unset;
#   joined          this tree's shim joining the pool of a run that a collector watches
#                   (MEMSWEEP_SPOOL), as a worker's command under `memsweep run` does:
#                   no sampler thread, the start and the end written into the pool. The
#                   "collector" here is an idle process named as the pool's watcher, so
#                   the figure is the shim's own cost, without a collector folding on the
#                   other CPU at the same time (bench/bench_startup.sh has that);
# and with --baseline the baseline's inert and joined. At the end the pool's header says
# how many process images claimed a chunk and how many could not.
#
# Usage: bench/bench_spawn.sh [--baseline DIR] [N]   (default N 2000)
source "$(dirname "$0")/lib.sh"
parse_baseline_option "$@"
set -- "${MS_ARGS[@]}"
N=${1:-2000}
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "bench: usage: bench_spawn.sh [--baseline DIR] [N]" >&2; exit 2; }
unset MEMSWEEP_DB MEMSWEEP_SPOOL MEMSWEEP_INTERVAL_MS
work=$(mktemp -d "${TMPDIR:-/tmp}/ms-bench-spawn-XXXXXX")
watcher=
base_note=
trap '[ -n "$watcher" ] && kill "$watcher" 2>/dev/null; rm -rf "$work"' EXIT

"${CC:-cc}" -std=c11 -O2 -Wall -Wextra -Werror -o "$work/spawn_interleaved" \
  "$MS_SOURCE_DIR/bench/spawn_interleaved.c"
for k in empty mmap; do
  build_bench_lib "$work/libfloor_$k.so" "$MS_SOURCE_DIR/bench/floor_$k.c"
done
head -c 32768 /dev/zero >"$work/floor.file"
mkdir -m 0700 "$work/spool"
sleep 3600 &
watcher=$!
make_pool "$work/spool/tree.msp" "$watcher"

modes=("none=" "lib: empty=LD_PRELOAD=$work/libfloor_empty.so"
  "lib: mmap 32K=LD_PRELOAD=$work/libfloor_mmap.so FLOOR_FILE=$work/floor.file"
  "this tree: inert=LD_PRELOAD=$MS_SHIM"
  "this tree: joined=LD_PRELOAD=$MS_SHIM MEMSWEEP_SPOOL=$work/spool/tree.msp")
pools=(tree)
if [ -n "$BASE_SHIM" ]; then
  modes+=("baseline $BASE_DESC: inert=LD_PRELOAD=$BASE_SHIM")
  # A baseline from before the spool knows no MEMSWEEP_SPOOL: it has no joined mode.
  if grep -qa MEMSWEEP_SPOOL "$BASE_SHIM"; then
    make_pool "$work/spool/base.msp" "$watcher"
    modes+=("baseline $BASE_DESC: joined=LD_PRELOAD=$BASE_SHIM MEMSWEEP_SPOOL=$work/spool/base.msp")
    pools+=(base)
  else
    base_note="  (baseline $BASE_DESC writes no spool: it has no joined mode; bench_floor.sh and"
    base_note+=" bench_startup.sh measure it recording)"
  fi
fi
printf 'spawn: %d x /bin/true per mode, interleaved process by process; %s CPUs, load %s\n' \
  "$N" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  reproduce: bench/bench_spawn.sh%s %d\n' "${BASE_DIR:+ --baseline $BASE_DIR}" "$N"
"$work/spawn_interleaved" "$N" /bin/true "${modes[@]}"
echo "  (µs per process; faults: minor page faults per process; cpu: user + system µs)"
[ -z "${base_note:-}" ] || echo "$base_note"
for p in "${pools[@]}"; do
  python3 - "$work/spool/$p.msp" "$p" "$N" <<'PY'
import struct, sys
h = open(sys.argv[1], "rb").read(160)
claimed, lost_p, lost_c = struct.unpack_from("<QQQ", h, 136)
print("  pool of %s: %d process images claimed a chunk (expected %s), %d could not"
      % (sys.argv[2], claimed, sys.argv[3], lost_p))
PY
done
