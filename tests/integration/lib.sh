# Shared setup and assertions of the integration tests. Each test_*.sh sources this file
# under `set -euo pipefail`. ctest provides:
#   MS_BIN        the memsweep executable
#   MS_SHIM       libmemsweep.so
#   MS_BUILD_DIR  the build tree (ms_workload lives at its root)
#   MS_SOURCE_DIR the source tree
# Every test works in its own temporary directory $T, removed when the test exits, and
# any background process it registered with `track_pid` is killed then.

for _var in MS_BIN MS_SHIM MS_BUILD_DIR MS_SOURCE_DIR; do
    if [ -z "${!_var:-}" ]; then
        echo "FAIL: $_var is not set (run the test through ctest)" >&2
        exit 1
    fi
done
unset _var

# Sorting and number formatting must not depend on the caller's locale.
export LC_ALL=C

# The tests expect memsweep to see the machine they run on: the variables of a SLURM job
# the tests may run in would narrow its memory and CPUs. The tests of that set their own.
unset SLURM_MEM_PER_NODE SLURM_MEM_PER_CPU SLURM_CPUS_ON_NODE

WL="$MS_BUILD_DIR/ms_workload"
[ -x "$WL" ] || { echo "FAIL: workload $WL is missing" >&2; exit 1; }
[ -x "$MS_BIN" ] || { echo "FAIL: memsweep $MS_BIN is missing" >&2; exit 1; }
[ -f "$MS_SHIM" ] || { echo "FAIL: shim $MS_SHIM is missing" >&2; exit 1; }

# Tolerance of an RSS figure above the MiB a workload was told to touch. Measured with
# `/usr/bin/time -f %M env MEMSWEEP_DB=x.db LD_PRELOAD=libmemsweep.so ms_workload --mib 0`:
# the program alone peaks near 1.2 MiB and with the shim (its code, its sampler thread's
# stack and the pages of its spool) near 1.6 MiB; with --mib 50 near 51.3 MiB alone and
# 51.6 MiB with the shim, so malloc's and the kernel's rounding add nothing visible.
# 16 MiB leaves room for a different libc or allocator, and is still small
# against the 24-256 MiB the tests allocate, so a figure that misses or doubles an
# allocation cannot pass.
MIB_TOL=16

T="$(mktemp -d "${TMPDIR:-/tmp}/memsweep-it.XXXXXX")"
_tracked_pids=()

# A tracked launcher still running when a test fails gets SIGTERM first, so that it stops
# its workers, and SIGKILL if it has not exited within 5 s.
_cleanup() {
    local p i
    for p in "${_tracked_pids[@]}"; do
        kill -TERM -- "$p" 2>/dev/null || continue
        for i in $(seq 50); do
            kill -0 -- "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "$p" 2>/dev/null || true
    done
    rm -rf -- "$T"
}
trap _cleanup EXIT

# Registers a background process (or, with a leading '-', a process group) to kill on exit.
track_pid() {
    _tracked_pids+=("$1")
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# ---- skips -----------------------------------------------------------------------------
# A test that cannot run here exits with MS_SKIP_RC, which ctest (SKIP_RETURN_CODE) reports
# as skipped, never as passed. A skip for want of a package that scripts/deps.sh installs
# is a failure when CI=true: there deps.sh has run, so the package missing is a defect.
MS_SKIP_RC=77
_skipped_parts=()

# skip REASON: nothing of the test can run here (not root, no tmpfs, no cgroup, ...).
skip() {
    echo "SKIP: $*"
    exit "$MS_SKIP_RC"
}

# skip_missing PACKAGE REASON: the test needs what Debian's PACKAGE provides.
skip_missing() {
    [ "${CI:-}" != true ] || fail "$2 (CI=true, where scripts/deps.sh installs $1)"
    skip "$2 (Debian package $1; scripts/deps.sh installs it)"
}

# skip_part REASON: one part of the test cannot run here; the rest runs, and the test ends
# as skipped rather than passed (see pass).
skip_part() {
    echo "-- SKIP (part): $*"
    _skipped_parts+=("$*")
}

# skip_part_missing PACKAGE REASON: skip_part for want of a package (a failure in CI).
skip_part_missing() {
    [ "${CI:-}" != true ] || fail "$2 (CI=true, where scripts/deps.sh installs $1)"
    skip_part "$2 (Debian package $1; scripts/deps.sh installs it)"
}

# pass: the last line of every test. PASS when every part ran; skipped, with the parts
# that did not run named, when some could not.
pass() {
    if [ ${#_skipped_parts[@]} -gt 0 ]; then
        echo "SKIP: every assertion that ran passed, but ${#_skipped_parts[@]} part(s) could not run here:"
        printf '  %s\n' "${_skipped_parts[@]}"
        exit "$MS_SKIP_RC"
    fi
    echo "PASS"
}

note() {
    echo "-- $*"
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
    [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

# assert_ne UNEXPECTED ACTUAL WHAT
assert_ne() {
    [ "$1" != "$2" ] || fail "$3: expected anything but '$1'"
}

# Numeric comparisons that accept decimals. assert_ge ACTUAL MIN WHAT
assert_ge() {
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }' ||
        fail "$3: expected >= $2, got $1"
}

# assert_le ACTUAL MAX WHAT
assert_le() {
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }' ||
        fail "$3: expected <= $2, got $1"
}

# assert_between ACTUAL MIN MAX WHAT
assert_between() {
    awk -v a="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(a + 0 >= lo + 0 && a + 0 <= hi + 0) }' ||
        fail "$4: expected in [$2, $3], got $1"
}

# assert_near ACTUAL EXPECTED TOLERANCE WHAT
assert_near() {
    awk -v a="$1" -v e="$2" -v t="$3" 'BEGIN { d = a - e; if (d < 0) d = -d; exit !(d <= t + 0) }' ||
        fail "$4: expected $2 (+/- $3), got $1"
}

# assert_int VALUE WHAT: a decimal integer.
assert_int() {
    [[ "$1" =~ ^-?[0-9]+$ ]] || fail "$2: expected an integer, got '$1'"
}

# assert_contains FILE FIXED-STRING WHAT
assert_contains() {
    grep -qF -- "$2" "$1" || fail "$3: expected '$2' in $1, which holds: $(head -c 2000 "$1")"
}

# assert_empty FILE WHAT
assert_empty() {
    [ ! -s "$1" ] || fail "$2: expected no output, got: $(head -c 2000 "$1")"
}

# collect_pending DB: programs measured alone (MEMSWEEP_DB without the launcher) leave
# spools, not rows, until memsweep folds them: fold what is pending, as a user would with
# `memsweep collect DB`, before a test reads DB with sqlite3. Only for a database with a
# spool directory beside it (a sweep's database is written by its collector), and not in
# tests that set MS_NO_AUTO_COLLECT to see the spools themselves.
collect_pending() {
    [ -z "${MS_NO_AUTO_COLLECT:-}" ] || return 0
    [ -f "$1" ] || [ ! -e "$1" ] || return 0
    [ -d "$1.spool" ] || return 0
    compgen -G "$1.spool/*.msp" >/dev/null || return 0
    "$MS_BIN" collect "$1" >/dev/null 2>"$T/.collect.err" || {
        cat "$T/.collect.err" >&2
        return 1
    }
}

# sql DB QUERY: the rows of QUERY, '|'-separated, waiting for writers to finish.
sql() {
    collect_pending "$1" || return 1
    sqlite3 -batch -noheader -bail -cmd '.timeout 10000' "$1" "$2"
}

# schema_version: the PRAGMA user_version this memsweep writes (MS_SCHEMA_VERSION).
schema_version() {
    sed -n 's/^#define MS_SCHEMA_VERSION \([0-9]*\)$/\1/p' "$MS_SOURCE_DIR/include/memsweep/schema.h"
}

# run_cmd NAME CMD...: runs CMD with stdout in $T/NAME.out, stderr in $T/NAME.err, and
# its exit status in RC, without tripping `set -e`.
run_cmd() {
    local name="$1"
    shift
    RC=0
    "$@" >"$T/$name.out" 2>"$T/$name.err" || RC=$?
}

# sweep_dir_of OUTDIR: the only sweep_YYYYMMDD-HHMMSS directory in OUTDIR.
sweep_dir_of() {
    local d=() x
    shopt -s nullglob
    for x in "$1"/sweep_*; do
        d+=("$x")
    done
    shopt -u nullglob
    [ "${#d[@]}" -eq 1 ] || fail "expected exactly one sweep directory in $1, found ${#d[@]}: ${d[*]:-none}"
    [[ "$(basename "${d[0]}")" =~ ^sweep_[0-9]{8}-[0-9]{6}$ ]] ||
        fail "sweep directory name: expected sweep_YYYYMMDD-HHMMSS, got $(basename "${d[0]}")"
    [ -d "${d[0]}" ] || fail "${d[0]} is not a directory"
    echo "${d[0]}"
}

# post_field FILE KEY: the value of the first "KEY: value" line of the post-run section
# of FILE (empty when absent).
post_field() {
    awk -v k="$2" '/^Post-run Observed Advisory$/ { p = 1 }
                   p && index($0, k ": ") == 1 { print substr($0, length(k) + 3); exit }' "$1"
}

# pre_field FILE KEY: the value of the first "KEY: value" line of the pre-run section of
# FILE (empty when absent).
pre_field() {
    awk -v k="$2" '/^Pre-run Memory Advisory$/ { p = 1 } p && /^$/ { exit }
                   p && index($0, k ": ") == 1 { print substr($0, length(k) + 3); exit }' "$1"
}

# check_machine FILE WHAT KEY=VALUE...: each KEY has VALUE in the pre-run section of FILE,
# when FILE has one, and in its post-run section; an empty VALUE means no KEY line. For
# memsweep's lines on the machine (MemTotal_MB, Reserve_MB, Usable_MB, MemSource,
# HostMemTotal_MB, ReserveRule, CPUs), which both sections carry.
check_machine() {
    local file="$1" what="$2" kv key val pre=0
    shift 2
    grep -qx 'Pre-run Memory Advisory' "$file" && pre=1
    grep -qx 'Post-run Observed Advisory' "$file" || fail "$what: no post-run section in $file"
    for kv in "$@"; do
        key="${kv%%=*}"
        val="${kv#*=}"
        if [ "$pre" = 1 ]; then
            assert_eq "$val" "$(pre_field "$file" "$key")" "$what: pre-run $key"
        fi
        assert_eq "$val" "$(post_field "$file" "$key")" "$what: post-run $key"
    done
}

# The ReserveRule texts of a whole machine and of a limit.
RULE_MACHINE="machine: a fixed 1024 MiB for the operating system and everything else beside the workers"
RULE_LIMIT="limit: 10% of MemTotal_MB, at least 64 and at most 1024 MiB, for what runs inside the limit beside the workers"

# post_section FILE: the post-run section, from its title to the end of the file.
post_section() {
    awk '/^Post-run Observed Advisory$/ { p = 1 } p' "$1"
}

# mem_total_mb: MemTotal of this machine in MiB, floored, as the advisory reports it when
# no cgroup limit is narrower.
mem_total_mb() {
    awk '$1 == "MemTotal:" { print int($2 / 1024); exit }' /proc/meminfo
}

# affinity_cpus: the CPUs this shell may run on (sched_getaffinity), which memsweep run
# starts from; unlike nproc, not swayed by OMP_NUM_THREADS.
affinity_cpus() {
    python3 -c 'import os; print(len(os.sched_getaffinity(0)))'
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds; 1 on timeout.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    while ! "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# db_has WHERE QUERY [MIN]: for wait_for while a program runs: QUERY, a count, gives at
# least MIN (default 1) in the database WHERE, a file, or the memsweep.db of the sweep
# directory in the directory WHERE. False while the database does not exist or is empty,
# so that the sqlite3 shell never creates a file the shim is about to create, and while
# it cannot be read.
db_has() {
    local db="$1" n
    if [ -d "$db" ]; then
        db="$(find "$db" -maxdepth 2 -name memsweep.db 2>/dev/null | head -n 1)"
    fi
    [ -n "$db" ] || return 1
    collect_pending "$db" 2>/dev/null || return 1
    [ -s "$db" ] || return 1
    n="$(sql "$db" "$2" 2>/dev/null)" || return 1
    [ "${n:-0}" -ge "${3:-1}" ]
}

# now_ms: wall-clock milliseconds.
now_ms() {
    date +%s%3N
}

# run_figures DB: one line per run, in seq order:
#   seq|status|end_mib|peak_mib|n_samples|n_ticks|n_processes|label
# computed here from the database, independently of the analyzer, by the rules of the
# advisory: a run's RSS at a time is the sum of the latest RSS of each of its processes
# alive then; its peak is the largest such sum and never less than a process's VmHWM
# (from samples or processes.hwm_kb); its end RSS is that sum just before a process
# exits, at the exit where it is largest, counting the exiting process at its exit RSS
# (the larger of its end sample and its last tick; its last sample when it has no end
# sample). A process without ended_ns ends when the next row of the same pid starts
# within an interval and a second of its last sample (exec), or at its last sample.
# The run's peak is never below the main process's ru_maxrss either, where the launcher
# recorded one above its floor (runs.maxrss_kb > runs.maxrss_floor_kb).
run_figures() {
    collect_pending "$1" || return 1
    python3 - "$1" <<'PY'
import os, sqlite3, sys
sys.path.insert(0, os.path.join(os.environ["MS_SOURCE_DIR"], "tests", "integration"))
from shared_pages import shared_per_row
db = sqlite3.connect(sys.argv[1], timeout=10)
interval_ns = (db.execute("SELECT interval_ms FROM sweeps ORDER BY sweep_id LIMIT 1")
               .fetchone() or (500,))[0] * 10**6
cols = [r[1] for r in db.execute("PRAGMA table_info(runs)")]
usage = ("maxrss_kb, maxrss_floor_kb" if "maxrss_kb" in cols and "maxrss_floor_kb" in cols
         else "NULL, NULL")
scols = [r[1] for r in db.execute("PRAGMA table_info(samples)")]
pss_col = ("pss_kb, pss_anon_kb, pss_shmem_kb, rss_anon_kb, rss_shmem_kb" if "pss_kb" in scols
           else "NULL, NULL, NULL, NULL, NULL")

runs = db.execute("SELECT run_id, seq, status, COALESCE(label, ''), %s FROM runs"
                  " ORDER BY seq, run_id" % usage).fetchall()
for run_id, seq, status, label, maxrss, floor in runs:
    procs = db.execute("SELECT proc_id, pid, started_ns, ended_ns, hwm_kb FROM processes"
                       " WHERE run_id = ? ORDER BY started_ns, proc_id", (run_id,)).fetchall()
    events = []
    exit_rss = {}
    peak = 0
    n_samples = n_ticks = 0
    for i, (proc_id, pid, started, ended, hwm) in enumerate(procs):
        rows = db.execute("SELECT t_ns, rss_kb, hwm_kb, kind, %s FROM samples WHERE proc_id = ?"
                          " AND rss_kb IS NOT NULL AND rss_kb >= 0 ORDER BY t_ns" % pss_col,
                          (proc_id,)).fetchall()
        if not rows:
            continue
        n_samples += len(rows)
        n_ticks += sum(1 for r in rows if r[3] == "tick")
        peak = max([peak, hwm or 0] + [r[1] for r in rows] + [r[2] or 0 for r in rows])
        end = ended
        if not end:
            end = rows[-1][0]
            for _, pid2, started2, _, _ in procs[i + 1:]:
                if pid2 == pid:
                    if started2 <= rows[-1][0] + interval_ns + 10**9:
                        end = started2
                    break
        end = max(end, rows[-1][0])
        ends = [r[1] for r in rows if r[3] == "end"]
        ticks = [r[1] for r in rows if r[3] == "tick"]
        # Pages a reading shares with other processes (docs/advisory.md).
        shared = shared_per_row(rows, 1, 4)
        exit_rss[i] = max(ends[-1], ticks[-1] if ticks else 0) if ends else rows[-1][1]
        exit_rss[i] = max(0, exit_rss[i] - shared[-1])
        events += [(r[0], 0, i, max(0, r[1] - shared[k])) for k, r in enumerate(rows)]
        events.append((end, 1, i, 0))
    if n_samples and maxrss is not None and floor is not None and maxrss > floor:
        peak = max(peak, maxrss)
    events.sort()
    cur = {}
    total = end_kb = 0
    for _, is_exit, i, rss in events:
        if is_exit:
            end_kb = max(end_kb, total - cur.get(i, 0) + exit_rss[i])
            total -= cur.pop(i, 0)
        else:
            total += rss - cur.get(i, 0)
            cur[i] = rss
            peak = max(peak, total)
    print("%d|%s|%r|%r|%d|%d|%d|%s" % (seq, status, end_kb / 1024.0, peak / 1024.0,
                                       n_samples, n_ticks, len(procs), label))
PY
}

# check_ticks DB INTERVAL_MS WHAT [WHERE] [lower-only]: the sampler's exact bookkeeping of
# its ticks, for every process (or those whose processes row p matches WHERE), whatever the
# machine's load. A tick that was due but is not in the database must be counted in
# processes.unstored: the ticks missing between two written ones (a gap of k intervals
# misses k - 1) may not exceed unstored, nor, with an exit record, fall short of it by
# more than the readings due before the first tick and after the last one. A stall shifts
# the schedule by part of an interval, which rounding can see as one tick either way, so
# each gap of more than 1.5 intervals allows one. No process has more ticks than its
# lifetime holds plus one (no burst). lower-only skips the check that unstored is not too
# large, for a process whose database was unusable for a while (a reading other than a
# tick may then be dropped, which leaves no gap). Prints one line of figures.
check_ticks() {
    local out rc=0
    collect_pending "$1" || return 1
    out="$(python3 - "$1" "$2" "${4:-1}" "${5:-}" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
interval = int(sys.argv[2]) * 10**6
where, lower_only = sys.argv[3], sys.argv[4] == "lower-only"
bad = []
n = ticks_total = unstored_total = 0
for proc_id, pid, started, ended, unstored in db.execute(
        "SELECT p.proc_id, p.pid, p.started_ns, p.ended_ns, COALESCE(p.unstored, 0)"
        " FROM processes p WHERE " + where + " ORDER BY p.proc_id").fetchall():
    times = [t for (t,) in db.execute("SELECT t_ns FROM samples WHERE proc_id = ? AND"
                                      " kind = 'tick' ORDER BY t_ns", (proc_id,))]
    n += 1
    ticks_total += len(times)
    unstored_total += unstored
    who = "pid %d (proc_id %d)" % (pid, proc_id)
    last = ended if ended is not None else (times[-1] if times else started)
    if len(times) > (last - started) // interval + 1:
        bad.append("%s: %d ticks in %.0f ms, more than one every %d ms"
                   % (who, len(times), (last - started) / 1e6, interval // 10**6))
    if times and times[0] < started:
        bad.append("%s: a tick before the process started" % who)
    if ended is not None and times and times[-1] > ended:
        bad.append("%s: a tick after the process's end" % who)
    gaps = [b - a for a, b in zip(times, times[1:])]
    stalls = sum(1 for g in gaps if g > 1.5 * interval)
    missed = sum(max(0, int(g / interval + 0.5) - 1) for g in gaps)
    if unstored < missed - stalls - 1:
        bad.append("%s: %d ticks missing between written ones (%d stalls), but only %d"
                   " counted in unstored" % (who, missed, stalls, unstored))
    if not lower_only and ended is not None:
        edge = ((times[0] - started) // interval + (ended - times[-1]) // interval
                if times else (ended - started) // interval)
        if unstored > missed + stalls + edge + 1:
            bad.append("%s: unstored %d, but only %d ticks missing between written ones"
                       " (%d stalls, %d due at the edges)" % (who, unstored, missed, stalls,
                                                              edge))
print("%d processes, %d ticks written, %d readings counted as not stored"
      % (n, ticks_total, unstored_total))
for b in bad[:10]:
    print("FAIL: " + b)
sys.exit(1 if bad or n == 0 else 0)
PY
)" || rc=$?
    note "$3: ticks: $(echo "$out" | head -n 1)"
    [ "$rc" -eq 0 ] || fail "$3: tick bookkeeping:
$out"
}

# check_collector_ticks DB INTERVAL_MS WHAT [WHERE]: the bookkeeping of the ticks that the
# collector of `memsweep run` takes from outside, for every process (or those whose
# processes row p matches WHERE). The collector keeps to a grid of one interval and skips
# the points it is late for rather than catching up, so each tick after a process's first
# is taken at a grid point later than the tick before it: n ticks span at least n - 2
# intervals (no burst), whatever the machine's load. No tick precedes the process's start.
# A process that no thread of its own samples loses a reading only when its spool has no
# room, so its unstored is 0 and it has no note. (A tick may follow ended_ns by the time
# the exit takes to read its own end: the collector read the process while it was alive.)
check_collector_ticks() {
    local out rc=0
    collect_pending "$1" || return 1
    out="$(python3 - "$1" "$2" "${4:-1}" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
interval = int(sys.argv[2]) * 10**6
bad = []
n = ticks_total = 0
for proc_id, pid, started, unstored, note in db.execute(
        "SELECT p.proc_id, p.pid, p.started_ns, COALESCE(p.unstored, 0), p.note"
        " FROM processes p WHERE " + sys.argv[3] + " ORDER BY p.proc_id").fetchall():
    times = [t for (t,) in db.execute("SELECT t_ns FROM samples WHERE proc_id = ? AND"
                                      " kind = 'tick' ORDER BY t_ns", (proc_id,))]
    n += 1
    ticks_total += len(times)
    who = "pid %d (proc_id %d)" % (pid, proc_id)
    if times and len(times) > (times[-1] - times[0]) // interval + 2:
        bad.append("%s: %d ticks in %.0f ms, more than one every %d ms"
                   % (who, len(times), (times[-1] - times[0]) / 1e6, interval // 10**6))
    if times and times[0] < started:
        bad.append("%s: a tick before the process started" % who)
    if unstored != 0 or note is not None:
        bad.append("%s: unstored %d, note %r" % (who, unstored, note))
print("%d processes, %d ticks" % (n, ticks_total))
for b in bad[:10]:
    print("FAIL: " + b)
sys.exit(1 if bad or n == 0 else 0)
PY
)" || rc=$?
    note "$3: collector's ticks: $(echo "$out" | head -n 1)"
    [ "$rc" -eq 0 ] || fail "$3: collector's tick bookkeeping:
$out"
}

# fig LINE N: field N (1-based) of a run_figures line.
fig() {
    echo "$1" | cut -d'|' -f"$2"
}

# check_run_mib LINE END_MIB PEAK_MIB WHAT: the run's end RSS and peak are the sizes the
# workload was told to touch, plus at most MIB_TOL of program, libc and shim.
check_run_mib() {
    assert_between "$(fig "$1" 3)" "$2" "$(($2 + MIB_TOL))" "$4: end RSS (MiB)"
    assert_between "$(fig "$1" 4)" "$3" "$(($3 + MIB_TOL))" "$4: peak RSS (MiB)"
}

# log_files SWEEPDIR EXT: the logs/*.EXT files of a sweep, one per line, sorted.
log_files() {
    find "$1/logs" -maxdepth 1 -type f -name "*.$2" | sort
}

# expected_advisory FIGURES MEMTOTAL_MB [RESERVE_MB] [SAFETY_FACTOR]: the post-run figures
# recomputed from run_figures output, as "Key: value" lines at full precision. Percentiles
# interpolate linearly between closest ranks (numpy's default); recommendations are
# floor(Usable_MB / basis * SAFETY_FACTOR) (default 0.85) with Usable_MB = MemTotal_MB -
# RESERVE_MB (default 1024, the whole machine's reserve), the aggressive basis being the
# mean end RSS and the conservative one the p95 peak (else p95 end).
expected_advisory() {
    python3 - "$1" "$2" "${3:-1024}" "${4:-0.85}" <<'PY'
import math, sys
rows = [l.rstrip("\n").split("|", 7) for l in open(sys.argv[1]) if l.strip()]
usable = max(0, int(sys.argv[2]) - int(sys.argv[3]))
sf = float(sys.argv[4])
# Runs stopped before they finished (by the user, by --timeout) are left out.
stopped = ("interrupted", "timeout")
inc = [r for r in rows if int(r[4]) > 0 and r[1] not in stopped]
print("RunsTotal: %d" % len(rows))
print("RunsIncluded: %d" % len(inc))
print("RunsFailed: %d" % sum(1 for r in rows if r[1] not in ("ok", "running")))
print("RunsExcluded: %d" % sum(1 for r in rows if int(r[4]) == 0))
print("RunsStopped: %d" % sum(1 for r in rows if int(r[4]) > 0 and r[1] in stopped))
def pct(v, p):
    v = sorted(v)
    rank = p / 100.0 * (len(v) - 1)
    lo = int(math.floor(rank))
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (rank - lo)
if inc:
    end = [float(r[2]) for r in inc]
    peak = [float(r[3]) for r in inc]
    mean_end = sum(end) / len(end)
    print("MeanRSS_End_MB: %r" % mean_end)
    print("MedianRSS_End_MB: %r" % pct(end, 50))
    print("P95RSS_End_MB: %r" % pct(end, 95))
    print("MaxRSS_End_MB: %r" % max(end))
    print("MeanPeakRSS_MB: %r" % (sum(peak) / len(peak)))
    print("P95PeakRSS_MB: %r" % pct(peak, 95))
    print("MaxPeakRSS_MB: %r" % max(peak))
    print("RecommendedMaxWorkers_Aggressive: %d" % math.floor(usable / mean_end * sf))
    basis = pct(peak, 95)
    print("RecommendedMaxWorkers_Conservative: %d" % math.floor(usable / basis * sf))
    print("ConservativeBasis: p95_peak")
PY
}

# check_advisory EXPECTED ADVISORY WHAT: every key of EXPECTED (expected_advisory output)
# appears in the post-run section of ADVISORY with the same value: MB figures within the
# 0.05 of their one-decimal rounding, counts and recommendations exactly.
check_advisory() {
    local key val got
    while IFS= read -r line; do
        key="${line%%: *}"
        val="${line#*: }"
        got="$(post_field "$2" "$key")"
        [ -n "$got" ] || fail "$3: no '$key' line in the post-run section of $2"
        case "$key" in
        *_MB)
            [[ "$got" =~ ^[0-9]+\.[0-9]$ ]] || fail "$3: $key: expected one decimal, got '$got'"
            assert_near "$got" "$val" 0.0501 "$3: $key"
            ;;
        *)
            assert_eq "$val" "$got" "$3: $key"
            ;;
        esac
    done <"$1"
}

# ---- memory cgroups ---------------------------------------------------------------------
# make_memory_cgroup LIMIT_MIB: creates a memory cgroup (v2 under /sys/fs/cgroup, or v1
# under /sys/fs/cgroup/memory, whichever this machine has and lets us use) with a hard
# limit of LIMIT_MIB MiB and no swap, and sets CG (its directory), CG_VERSION (2 or 1) and
# CG_FILE (memory.max or memory.limit_in_bytes). Skips, with the reason, where no such
# group can be made (not root, a read-only or delegated-away hierarchy). The group is
# removed at exit once its processes are gone (remove_memory_cgroup), children first.
CG=
CG_VERSION=
CG_FILE=
make_memory_cgroup() {
    local root
    if [ -f /sys/fs/cgroup/cgroup.controllers ] &&
        grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
        root=/sys/fs/cgroup
        if ! grep -qw memory "$root/cgroup.subtree_control"; then
            echo +memory >"$root/cgroup.subtree_control" 2>/dev/null ||
                skip "cannot enable the memory controller for the children of $root"
        fi
        CG="$(mktemp -d "$root/memsweep-test.XXXXXX" 2>/dev/null)" ||
            skip "cannot create a cgroup under $root (not root, or read-only)"
        CG_VERSION=2
        CG_FILE=memory.max
        echo "$(($1 << 20))" >"$CG/memory.max" 2>/dev/null || skip "cannot set memory.max in $CG"
        # Without swap the limit is a hard one: a worker cannot escape it by swapping.
        [ ! -f "$CG/memory.swap.max" ] || echo 0 >"$CG/memory.swap.max" 2>/dev/null ||
            skip "cannot set memory.swap.max in $CG"
    elif [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
        root=/sys/fs/cgroup/memory
        CG="$(mktemp -d "$root/memsweep-test.XXXXXX" 2>/dev/null)" ||
            skip "cannot create a cgroup under $root (not root, or read-only)"
        CG_VERSION=1
        CG_FILE=memory.limit_in_bytes
        echo "$(($1 << 20))" >"$CG/memory.limit_in_bytes" 2>/dev/null ||
            skip "cannot set memory.limit_in_bytes in $CG"
        # Memory plus swap at the same limit: no swap either.
        [ ! -f "$CG/memory.memsw.limit_in_bytes" ] ||
            echo "$(($1 << 20))" >"$CG/memory.memsw.limit_in_bytes" 2>/dev/null ||
            skip "cannot set memory.memsw.limit_in_bytes in $CG"
    else
        skip "no memory cgroup hierarchy at /sys/fs/cgroup (neither v2 with the memory controller nor v1's memory/)"
    fi
    trap '_cleanup; remove_memory_cgroup' EXIT
}

# oom_kills: the out-of-memory kills $CG has counted (memory.events of v2, memory.oom_control
# of v1); empty on a kernel too old to count them.
oom_kills() {
    if [ "$CG_VERSION" = 2 ]; then
        awk '$1 == "oom_kill" { print $2 }' "$CG/memory.events"
    else
        awk '$1 == "oom_kill" { print $2 }' "$CG/memory.oom_control"
    fi
}

# kills_above N: $CG has counted more than N out-of-memory kills.
kills_above() {
    [ "$(oom_kills)" -gt "$1" ]
}

# A shell script for `sh -c "$INTO_CG" sh DIR CMD...`: moves itself into the cgroup DIR and
# becomes CMD, so that only CMD (and what it starts) is limited, not the test.
INTO_CG='echo $$ >"$1/cgroup.procs" && shift && exec "$@"'

# remove_memory_cgroup: removes $CG and the groups below it once their processes are gone
# (a launcher that _cleanup stopped takes its workers with it, if not at once).
remove_memory_cgroup() {
    local d
    [ -n "$CG" ] && [ -d "$CG" ] || return 0
    for d in $(find "$CG" -mindepth 1 -type d | sort -r); do
        wait_for 30 rmdir "$d" 2>/dev/null || echo "warning: could not remove $d" >&2
    done
    wait_for 30 rmdir "$CG" 2>/dev/null || echo "warning: could not remove $CG" >&2
}

# ---- allocation-driven sampling ------------------------------------------------------
# Workloads of the allocation tests (tests/workloads/). Only ms_workload is required by
# every test; a test that uses one of these checks it with need_exe.
SPIKE="$MS_BUILD_DIR/ms_spike"
ALLOCF="$MS_BUILD_DIR/ms_allocfuncs"
THREADS_WL="$MS_BUILD_DIR/ms_threads"
CXX_WL="$MS_BUILD_DIR/ms_cxx_workload"

# need_exe PATH: fails unless PATH is an executable file.
need_exe() {
    [ -x "$1" ] || fail "workload $1 is missing (build the tests/workloads targets)"
}

# run_ref NAME CMD...: run_cmd without the shim, the exit status also kept in $T/NAME.rc.
run_ref() {
    local name="$1"
    shift
    run_cmd "$name" env -u LD_PRELOAD -u MEMSWEEP_DB "$@"
    echo "$RC" >"$T/$name.rc"
}

# run_shim NAME DB [VAR=VALUE]... CMD...: run_cmd with the shim recording into DB, without
# the launcher; leading VAR=VALUE words are set in CMD's environment by the same env(1),
# so that no extra process is recorded. The exit status is also kept in $T/NAME.rc.
run_shim() {
    local name="$1" db="$2"
    shift 2
    run_cmd "$name" env MEMSWEEP_DB="$db" LD_PRELOAD="$MS_SHIM" "$@"
    echo "$RC" >"$T/$name.rc"
    collect_pending "$db"
}

# run_shim_held NAME DB GO CHECK [VAR=VALUE]... CMD...: run_shim for a CMD that holds
# until the file GO exists (CMD names GO itself, as its --wait-file): CMD runs in the
# background until `CHECK DB PID` (PID is CMD's, since env execs it) succeeds, with a
# deadline of a minute, then GO is made and CMD is waited for. For a test that must see
# CMD measured in some state, however slowly the machine runs, before CMD goes on.
run_shim_held() {
    local name="$1" db="$2" go="$3" check="$4" pid
    shift 4
    env MEMSWEEP_DB="$db" LD_PRELOAD="$MS_SHIM" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    pid=$!
    track_pid "$pid"
    wait_for 60 "$check" "$db" "$pid" ||
        fail "$name: $check did not hold within 60 s (stderr: $(head -c 2000 "$T/$name.err"))"
    touch "$go"
    RC=0
    wait "$pid" || RC=$?
    echo "$RC" >"$T/$name.rc"
    collect_pending "$db"
}

# same_run REF NAME WHAT: runs REF and NAME (from run_ref/run_shim) printed the same
# stdout and the same stderr, and ended with the same exit status.
same_run() {
    assert_eq "$(cat "$T/$1.rc")" "$(cat "$T/$2.rc")" "$3: exit status"
    cmp -s "$T/$1.out" "$T/$2.out" ||
        fail "$3: stdout differs from the uninstrumented run:
$(diff "$T/$1.out" "$T/$2.out" | head -20)"
    cmp -s "$T/$1.err" "$T/$2.err" ||
        fail "$3: stderr differs from the uninstrumented run:
$(diff "$T/$1.err" "$T/$2.err" | head -20)"
}

# kind_count DB KIND [WHERE]: samples of that kind, optionally restricted by a condition
# on the samples s and processes p.
kind_count() {
    sql "$1" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
              WHERE s.kind = '$2' AND (${3:-1})"
}

# check_heap_sane DB WHAT: every recorded heap_kb is a non-negative integer and at most
# 3 x its process's VmHWM + 16 MiB (the workloads touch what they allocate, so live heap
# bytes far beyond the peak RSS mean a counter went wrong), and every alloc and release
# sample carries one.
check_heap_sane() {
    local bad
    bad="$(sql "$1" "SELECT count(*) FROM samples WHERE kind IN ('alloc', 'release')
                     AND (heap_kb IS NULL OR typeof(heap_kb) <> 'integer')")"
    assert_eq 0 "$bad" "$2: alloc/release samples without an integer heap_kb"
    bad="$(sql "$1" "SELECT s.kind || ' heap_kb=' || s.heap_kb || ' rss_kb=' || s.rss_kb
                     || ' process hwm_kb=' || p.hwm_kb
                     FROM samples s JOIN processes p USING (proc_id)
                     WHERE s.heap_kb IS NOT NULL AND (s.heap_kb < 0
                           OR s.heap_kb > 3 * COALESCE(p.hwm_kb, s.hwm_kb, s.rss_kb) + 16384)
                     LIMIT 5")"
    assert_eq "" "$bad" "$2: samples with an impossible heap_kb"
}

# check_drops DB WHAT: every process row has its allocation-tracking figures, and the
# dropped total is the sum of its two causes.
check_drops() {
    local bad
    bad="$(sql "$1" "SELECT pid || ' ' || COALESCE(exe, '?') FROM processes
                     WHERE alloc_tracking IS NULL OR alloc_dropped IS NULL
                        OR alloc_dropped_rate IS NULL OR alloc_dropped_queue IS NULL
                        OR alloc_dropped < 0 OR alloc_dropped_rate < 0
                        OR alloc_dropped_queue < 0
                        OR alloc_dropped <> alloc_dropped_rate + alloc_dropped_queue")"
    assert_eq "" "$bad" "$2: processes without consistent alloc_tracking/alloc_dropped figures"
}

# use_spoolwrite: SW, the program that writes spools as the shim does, and INERT, a
# preload that only loads, for the tests of the collector that do not depend on the shim.
use_spoolwrite() {
    SW="$MS_BUILD_DIR/ms_spoolwrite"
    INERT="$MS_BUILD_DIR/libms_inertshim.so"
    [ -f "$INERT" ] || fail "missing $INERT"
}
