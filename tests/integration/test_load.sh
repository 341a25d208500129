# Load: 32 workers at once, each a tree of four processes (ms_proctree and three forked
# children) that touch 8 MiB and live 20 s, sampled every 20 ms, while `memsweep advise` and
# `memsweep peaks` read the database in a loop the whole time. Under `memsweep run` the
# processes write their start and end into the run's spool, and the collector takes
# their ticks from outside. Checked, exactly, whatever else the machine is doing: every
# process has its row, its start sample, its exit record and end sample, and no reading
# counted as lost (unstored 0, no note): nothing taken is lost to storage. The collector's
# ticks keep to its grid (no burst, none before the process started) and every process,
# living 20 s, has some. Nothing says the database was busy or locked; the workers print
# nothing; every read exited 0 with nothing on stderr. The figures (ticks written against
# expected, per process) are printed whether the test passes or not. How many of the
# expected ticks the collector takes is a property of the machine's load, not an
# invariant: bench/bench_load.sh runs this test with MS_LOAD_MIN_RATIO set (at least that
# share of each process's ticks written) and reports the figures.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MS_LOAD_MIN_RATIO="${MS_LOAD_MIN_RATIO:-0}"
[[ "$MS_LOAD_MIN_RATIO" =~ ^(0(\.[0-9]+)?|1(\.0+)?)$ ]] ||
    fail "MS_LOAD_MIN_RATIO must be a number from 0 to 1, not '$MS_LOAD_MIN_RATIO'"
TREE="$MS_BUILD_DIR/ms_proctree"
need_exe "$TREE"
JOBS=32
CHILDREN=3
PROCS=$((JOBS * (CHILDREN + 1)))
MIB=8
HOLD_MS=20000
INTERVAL_MS=20

note "load average before the sweep: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
"$MS_BIN" run -j "$JOBS" --interval-ms "$INTERVAL_MS" -o "$T/out" -P "i=1..$JOBS" -- \
    "$TREE" --children "$CHILDREN" --mib "$MIB" --hold-ms "$HOLD_MS" \
    >"$T/run.out" 2>"$T/run.err" &
launcher=$!
track_pid "$launcher"

db_path() {
    find "$T/out" -maxdepth 2 -name memsweep.db 2>/dev/null | head -n 1
}
have_db() {
    [ -n "$(db_path)" ]
}
wait_for 300 have_db ||
    fail "no database within 300 s (stderr: $(cat "$T/run.err"))"
DB="$(db_path)"
S="$(dirname "$DB")"

# The readers: advise and peaks in turn, from the moment the database exists until the
# launcher has exited. Each call's exit status goes to reads.txt with "during" when the
# launcher was still running after the call, which proves the call overlapped the sweep.
mkdir "$T/reads"
(
    n=0
    while kill -0 "$launcher" 2>/dev/null; do
        for cmd in advise peaks; do
            n=$((n + 1))
            rc=0
            "$MS_BIN" "$cmd" "$S" >"$T/reads/$n.out" 2>"$T/reads/$n.err" || rc=$?
            when=after
            if kill -0 "$launcher" 2>/dev/null; then when=during; fi
            echo "$n $cmd $rc $when" >>"$T/reads.txt"
        done
    done
) &
readers=$!
track_pid "$readers"

RC=0
wait "$launcher" || RC=$?
wait "$readers" || fail "the reader loop failed"
assert_eq 0 "$RC" "exit status of memsweep run (stderr: $(head -c 2000 "$T/run.err"))"

note "reads during the sweep"
[ -s "$T/reads.txt" ] || fail "no read was made"
for cmd in advise peaks; do
    n="$(awk -v c="$cmd" '$2 == c && $4 == "during"' "$T/reads.txt" | wc -l)"
    note "  $cmd: $(awk -v c="$cmd" '$2 == c' "$T/reads.txt" | wc -l) calls, $n while the sweep ran"
    assert_ge "$n" 2 "$cmd calls that overlapped the sweep"
done
bad="$(awk '$3 != 0' "$T/reads.txt")"
[ -z "$bad" ] || fail "analyzer calls that did not exit 0 (number, command, status):
$bad
first stderr: $(cat "$T/reads/$(echo "$bad" | head -n 1 | cut -d' ' -f1).err")"
for f in "$T"/reads/*.err; do
    assert_empty "$f" "stderr of analyzer call $(basename "$f" .err)"
done

note "nothing says busy or locked"
# The launcher prints one line per finished run and nothing else when all goes well; the
# workers print nothing, and the shim nothing either: no exit waits or loses anything.
bad="$(grep -v -E "^memsweep: run [0-9]+/$JOBS ok \(exit 0\) " "$T/run.err" || true)"
[ -z "$bad" ] || fail "unexpected lines from memsweep run: $(echo "$bad" | head -n 5)"
assert_eq "$JOBS" "$(wc -l <"$T/run.err")" "progress lines of memsweep run"
for f in $(log_files "$S" out) $(log_files "$S" err); do
    assert_empty "$f" "worker log $f"
done
if grep -r -l -i -E "database is locked|database is busy|database busy|SQLITE_(BUSY|LOCKED)" \
    "$T/run.out" "$T/run.err" "$S/logs" "$T/reads" >"$T/busy.txt" 2>/dev/null; then
    fail "busy or locked reported in: $(head -n 5 "$T/busy.txt" | tr '\n' ' ')"
fi

note "every process and every sample"
assert_eq "$JOBS" "$(sql "$DB" "SELECT count(*) FROM runs WHERE status = 'ok'")" "runs ok"
assert_eq "" "$(sql "$DB" "SELECT seq || ': ' || count(p.proc_id) FROM runs r
                          LEFT JOIN processes p USING (run_id)
                          GROUP BY r.run_id HAVING count(p.proc_id) <> $((CHILDREN + 1))")" \
    "runs without exactly $((CHILDREN + 1)) process rows"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM spool_pools WHERE rejected <> 0")" \
    "pools with records that could not be used"
[ ! -e "$S/spool" ] || fail "pools left after the sweep: $(ls "$S/spool" | head)"

# Ticks expected from a process's lifetime: floor((ended_ns - started_ns) / interval). The
# collector reads every live process once per grid point of one interval and skips the
# points it is late for (it counts them, for the whole sweep, not per process), so how many
# ticks each process gets depends on how much CPU the collector's thread gets: only with
# MS_LOAD_MIN_RATIO, as bench/bench_load.sh sets it, is a share of them required. Exact in
# every case: each tick after a process's first is taken at a grid point later than the
# tick before it, so n ticks span at least n - 2 intervals; no tick precedes its process;
# every process, living 20 s, has at least one; and the processes, which run no sampler
# of their own, lose no reading (processes.unstored 0, no note).
RC=0
python3 - "$DB" "$INTERVAL_MS" "$MS_LOAD_MIN_RATIO" >"$T/ticks.txt" 2>"$T/ticks.err" <<'PY' || RC=$?
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
interval_ns = int(sys.argv[2]) * 10**6
min_ratio = float(sys.argv[3])
rows = db.execute("""
    SELECT p.proc_id, r.seq, p.pid, p.ppid, p.started_ns, p.ended_ns,
           COALESCE(p.unstored, 0), p.note, p.hwm_kb,
           (SELECT count(*) FROM samples s WHERE s.proc_id = p.proc_id AND s.kind = 'tick'),
           (SELECT count(*) FROM samples s WHERE s.proc_id = p.proc_id AND s.kind = 'start'),
           (SELECT count(*) FROM samples s WHERE s.proc_id = p.proc_id AND s.kind = 'end'),
           (SELECT max(t_ns) FROM samples s WHERE s.proc_id = p.proc_id)
    FROM processes p JOIN runs r USING (run_id) ORDER BY r.seq, p.proc_id""").fetchall()
bad = []
below = []
ratios = []
written_total = expected_total = unstored_total = 0
first_delays = []
last_gaps = []
for (proc_id, seq, pid, ppid, started, ended, unstored, note, hwm, ticks, starts, ends,
     last) in rows:
    who = "run %d pid %d (proc_id %d)" % (seq, pid, proc_id)
    if starts != 1:
        bad.append("%s: %d start samples" % (who, starts))
    if ended is None or ends != 1:
        bad.append("%s: exit record %s, %d end samples" % (who, ended is not None, ends))
        continue
    if unstored != 0 or note is not None:
        bad.append("%s: unstored %d, note %r" % (who, unstored, note))
    unstored_total += unstored
    times = [t for (t,) in db.execute("SELECT t_ns FROM samples WHERE proc_id = ? AND"
                                      " kind = 'tick' ORDER BY t_ns", (proc_id,))]
    expected = (ended - started) // interval_ns
    required = int(expected * min_ratio) - 1
    ratios.append((ticks / expected if expected else 1.0, who, ticks, expected))
    written_total += ticks
    expected_total += expected
    if ticks < required:
        below.append("%s: %d ticks, expected %d (at least %d)"
                     % (who, ticks, expected, required))
    if not times:
        bad.append("%s: no tick in a life of %.0f ms" % (who, (ended - started) / 1e6))
        continue
    if len(times) > (times[-1] - times[0]) // interval_ns + 2:
        bad.append("%s: %d ticks in %.0f ms, more than one per grid point"
                   % (who, len(times), (times[-1] - times[0]) / 1e6))
    if times[0] < started:
        bad.append("%s: a tick before the process started" % who)
    first_delays.append(times[0] - started)
    last_gaps.append(ended - times[-1])
ratios.sort()
if ratios:
    r = [x[0] for x in ratios]
    pct = lambda p: r[min(len(r) - 1, int(p / 100.0 * (len(r) - 1) + 0.5))]
    print("ticks written / expected, per process (%d processes): min %.3f, p5 %.3f, "
          "median %.3f, max %.3f; total %d / %d (%.1f%%)"
          % (len(r), r[0], pct(5), pct(50), r[-1], written_total, expected_total,
             100.0 * written_total / max(expected_total, 1)))
    hist = {}
    for x in r:
        b = min(int(x * 20), 20) * 5
        hist[b] = hist.get(b, 0) + 1
    print("distribution (percent of expected: processes): " +
          ", ".join("%d-%d%%: %d" % (b, b + 5, n) if b < 100 else ">=100%%: %d" % n
                    for b, n in sorted(hist.items())))
    print("lowest: " + "; ".join("%s %d/%d" % (w, t, e) for _, w, t, e in ratios[:3]))
gaps = db.execute("""
    SELECT max(g), sum(g >= 2 * ?) FROM (
        SELECT lead(t_ns) OVER (PARTITION BY proc_id ORDER BY t_ns) - t_ns AS g
        FROM samples WHERE kind = 'tick')""", (interval_ns,)).fetchone()
if gaps[0] is not None:
    print("longest gap between two ticks of a process: %.0f ms; gaps of two intervals or "
          "more: %d" % (gaps[0] / 1e6, gaps[1]))
print("readings counted as lost (processes.unstored): %d in all, in %d processes"
      % (unstored_total, sum(1 for row in rows if row[6])))
if first_delays:
    print("first tick after the process's start: mean %.0f ms, max %.0f ms; exit after the "
          "last tick: mean %.0f ms, max %.0f ms"
          % (sum(first_delays) / len(first_delays) / 1e6, max(first_delays) / 1e6,
             sum(last_gaps) / len(last_gaps) / 1e6, max(last_gaps) / 1e6))
no_end = sum(1 for row in rows if row[5] is None)
print("processes without ended_ns: %d of %d" % (no_end, len(rows)))
for b in bad + below:
    print("FAIL: " + b, file=sys.stderr)
# 3: the invariants hold, but the share of ticks asked for by MS_LOAD_MIN_RATIO was not met.
sys.exit(1 if bad else 3 if below else 0)
PY
while IFS= read -r line; do
    note "  $line"
done <"$T/ticks.txt"
[ "$RC" -ne 3 ] || fail "ticks written below MS_LOAD_MIN_RATIO=$MS_LOAD_MIN_RATIO in $(wc -l <"$T/ticks.err") processes (first 10):
$(head -n 10 "$T/ticks.err")"
[ "$RC" -eq 0 ] || fail "invariants broken ($(wc -l <"$T/ticks.err") findings, first 10):
$(head -n 10 "$T/ticks.err")"

note "each process's footprint"
assert_eq "" "$(sql "$DB" "SELECT pid || ': ' || hwm_kb FROM processes
                          WHERE hwm_kb IS NULL OR hwm_kb < $MIB * 1024
                             OR hwm_kb > ($MIB + $MIB_TOL) * 1024")" \
    "processes whose VmHWM is not the $MIB MiB they touched (+$MIB_TOL MiB)"

pass
