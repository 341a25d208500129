# Shared by the benchmark scripts: locate the build, and a median helper.
# MS_BUILD_DIR, MS_BIN and MS_SHIM come from ctest; by hand they default to ./build.
set -euo pipefail
MS_SOURCE_DIR=${MS_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
MS_BUILD_DIR=${MS_BUILD_DIR:-$MS_SOURCE_DIR/build}
MS_BIN=${MS_BIN:-$MS_BUILD_DIR/memsweep}
MS_SHIM=${MS_SHIM:-$MS_BUILD_DIR/libmemsweep.so}
for f in "$MS_BIN" "$MS_SHIM"; do
  [ -e "$f" ] || { echo "bench: $f is missing; build first (cmake --build build)" >&2; exit 1; }
done

# Prints the median of its numeric arguments.
median() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# Seconds since the epoch with nanoseconds.
now() { date +%s.%N; }

# Evaluates an arithmetic expression with awk (no bc needed): calc "1.5 / 3".
calc() { awk "BEGIN { printf \"%.9f\", $* }"; }

# start_live_sweep WORK: starts a sweep (its one run sleeps) whose launcher keeps its
# database open and its collector running, as during any real sweep, so that measured
# processes can join its run. Sets db (the database), run_id (the sleeping run's id),
# pool (that run's spool file: MEMSWEEP_SPOOL=$pool joins the run, watched by the
# collector) and launcher (its pid), and replaces the EXIT trap with one that stops the
# sweep and removes WORK.
start_live_sweep() {
  local work=$1
  "$MS_BIN" run -j 1 -o "$work/out" -- sleep 3600 >/dev/null 2>&1 &
  launcher=$!
  trap 'kill -TERM "$launcher" 2>/dev/null; wait "$launcher" 2>/dev/null || true; rm -rf "'"$work"'"' EXIT
  db=
  for ((i = 0; i < 100; i++)); do
    db=$(ls -d "$work"/out/sweep_* 2>/dev/null || true)/memsweep.db
    [ -f "$db" ] && [ "$(sqlite3 "$db" 'SELECT count(*) FROM samples' 2>/dev/null)" -gt 0 ] 2>/dev/null && break
    sleep 0.1
  done
  run_id=$(sqlite3 "$db" 'SELECT max(run_id) FROM runs')
  pool=$(ls "${db%/memsweep.db}"/spool/*.msp 2>/dev/null | head -n 1 || true)
}

# parse_baseline_option ARGS...: takes `--baseline DIR` (or `--baseline=DIR`) out of ARGS,
# leaving the rest in the array MS_ARGS; DIR defaults to $MS_BASELINE. DIR is a directory
# made by bench/baseline.sh (its build/ holds libmemsweep.so and memsweep) or a build
# directory itself. Sets BASE_DIR (as given), BASE_SHIM and BASE_BIN (empty without a
# baseline), and BASE_DESC (the baseline's short commit, or its path).
parse_baseline_option() {
  MS_ARGS=()
  BASE_DIR=${MS_BASELINE:-}
  while [ $# -gt 0 ]; do
    case $1 in
      --baseline) [ $# -ge 2 ] || { echo "bench: --baseline needs a directory" >&2; exit 2; }
                  BASE_DIR=$2; shift 2 ;;
      --baseline=*) BASE_DIR=${1#--baseline=}; shift ;;
      *) MS_ARGS+=("$1"); shift ;;
    esac
  done
  BASE_SHIM= BASE_BIN= BASE_DESC=
  [ -n "$BASE_DIR" ] || return 0
  local b
  for b in "$BASE_DIR/build" "$BASE_DIR"; do
    if [ -e "$b/libmemsweep.so" ] && [ -e "$b/memsweep" ]; then
      BASE_SHIM=$(cd "$b" && pwd)/libmemsweep.so
      BASE_BIN=$(cd "$b" && pwd)/memsweep
      break
    fi
  done
  [ -n "$BASE_SHIM" ] ||
    { echo "bench: $BASE_DIR: no libmemsweep.so and memsweep there or in its build/ (bench/baseline.sh REF builds them)" >&2; exit 2; }
  if [ -f "$BASE_DIR/.commit" ]; then
    BASE_DESC=$(cut -c1-7 "$BASE_DIR/.commit")
  else
    BASE_DESC=$BASE_DIR
  fi
}

# build_bench_lib OUT SRC: compiles SRC (a small C file of bench/) into the preloadable
# library OUT, with the project's warning flags.
build_bench_lib() {
  "${CC:-cc}" -std=c11 -D_GNU_SOURCE -O2 -fPIC -shared -pthread \
    -Wall -Wextra -Wshadow -Wundef -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
    -Werror -o "$1" "$2"
}

# make_pool PATH [WATCHER_PID]: a pool file (include/memsweep/spool.h) as `memsweep run`
# creates one for a run before its worker starts: header, 4 chunks allocated, mode 0600.
# With WATCHER_PID, the pool says that process watches the run from this pid namespace
# (MS_SPOOL_WATCHED), so a process joining it starts no sampler thread while the watcher
# lives; without, every process joining it samples itself.
make_pool() {
  python3 - "$1" "${2:-0}" <<'PY'
import os, socket, struct, sys, time
path, watcher = sys.argv[1], int(sys.argv[2])
boot = open("/proc/sys/kernel/random/boot_id").read().strip().replace("-", "")
ino = os.stat("/proc/self/ns/pid").st_ino if watcher else 0
head = struct.pack("<QIIIIqqQiIQQ64sQQQ", 0x4C4F4F5053575345, 2, 4096, 32768,  # MS_SPOOL_VERSION
                   1 if watcher else 0, 1, time.time_ns(), ino, watcher, 500,
                   int(boot[:16], 16), int(boot[16:], 16),
                   socket.gethostname().encode()[:63], 0, 0, 0)
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, head.ljust(4096, b"\0"))
os.posix_fallocate(fd, 4096, 4 * 32768)
os.close(fd)
PY
}
