# Load: 32 workers at once, each a tree of four processes (ms_proctree and three forked
# children) that touch 8 MiB and live 20 s, sampled every 20 ms, while `memsweep advise` and
# `memsweep peaks` read the database in a loop the whole time. Checked, exactly, whatever
# else the machine is doing: every process has its row and start sample; every tick
# missing between two written ones is counted in the shim's unstored; no process has
# more ticks than its lifetime holds; every process has its end, or the one line with
# which an exit that could not wait longer counts what it did not store; nothing says the
# database was busy or locked; every read exited 0 with nothing on stderr. The figures
# (ticks written against expected, per process) are printed whether the test passes or
# not. How many of the expected ticks get written is a property of the machine's load,
# not an invariant: bench/bench_load.sh runs this test with MS_LOAD_MIN_RATIO=0.90 (at
# least 90% of each process's ticks written) and reports the figures.
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
# The launcher prints one line per finished run and nothing else when all goes well. The
# workers print nothing but, for a process whose exit could not wait for its last write
# (128 processes ending together on a busy machine), the shim's one line counting what it
# did not store; those lines are matched against the database below.
bad="$(grep -v -E "^memsweep: run [0-9]+/$JOBS ok \(exit 0\) " "$T/run.err" || true)"
[ -z "$bad" ] || fail "unexpected lines from memsweep run: $(echo "$bad" | head -n 5)"
assert_eq "$JOBS" "$(wc -l <"$T/run.err")" "progress lines of memsweep run"
LOST_RE="^memsweep: $DB: its last write did not finish within the time an exit may wait \(a busy database or an overloaded machine\); "
for f in $(log_files "$S" out); do
    assert_empty "$f" "worker log $f"
done
for f in $(log_files "$S" err); do
    bad="$(grep -v -E "$LOST_RE([0-9]+ readings? of this process not stored|the last readings of this process may not be stored)\$" "$f" || true)"
    [ -z "$bad" ] || fail "unexpected lines in worker log $f: $(echo "$bad" | head -n 5)"
done
# SQLite's messages and the shim's own wording; the analyzer's note about readings that
# were not stored is checked below through the processes rows it is computed from.
if grep -r -l -i -E "database is locked|database is busy|database busy|SQLITE_(BUSY|LOCKED)" \
    "$T/run.out" "$T/run.err" "$S/logs" "$T/reads" >"$T/busy.txt" 2>/dev/null; then
    fail "busy or locked reported in: $(head -n 5 "$T/busy.txt" | tr '\n' ' ')"
fi

note "every process and every sample"
assert_eq "$JOBS" "$(sql "$DB" "SELECT count(*) FROM runs WHERE status = 'ok'")" "runs ok"
assert_eq "" "$(sql "$DB" "SELECT seq || ': ' || count(p.proc_id) FROM runs r
                          LEFT JOIN processes p USING (run_id)
                          GROUP BY r.run_id HAVING count(p.proc_id) > $((CHILDREN + 1))")" \
    "runs with more than $((CHILDREN + 1)) process rows"

# Every process whose exit record is not in the database (or whose row never got there)
# is counted by its line, and no line counts one that is there: per run, the lines that
# give a count equal the processes of the tree without an exit record, up to the lines
# that could not know (a commit still under way when the exit left).
lost_lines=0
lost_procs=0
while IFS='|' read -r seq rows no_end; do
    f="$(printf '%s/logs/run-%04d.err' "$S" "$seq")"
    exact="$(grep -c -E "$LOST_RE[0-9]+ readings? of this process not stored\$" "$f" || true)"
    maybe="$(grep -c -E "${LOST_RE}the last readings of this process may not be stored\$" "$f" || true)"
    missing=$((CHILDREN + 1 - rows + no_end))
    lost_lines=$((lost_lines + exact + maybe))
    lost_procs=$((lost_procs + missing))
    [ "$exact" -le "$missing" ] && [ "$missing" -le $((exact + maybe)) ] ||
        fail "run $seq: $missing of its $((CHILDREN + 1)) processes without an exit record ($((CHILDREN + 1 - rows)) without a row), but $exact lines counting a loss (and $maybe that could not tell) in $f"
done < <(sql "$DB" "SELECT r.seq, count(p.proc_id), COALESCE(sum(p.ended_ns IS NULL), 0)
                    FROM runs r LEFT JOIN processes p USING (run_id)
                    GROUP BY r.run_id ORDER BY r.seq")
note "  processes without an exit record: $lost_procs of $PROCS, each counted by its line ($lost_lines lines)"

# Ticks expected from a process's lifetime: floor((ended_ns - started_ns) / interval).
# The sampler (preload/shim_sampler.c) sleeps to absolute deadlines, so a wake-up late by
# less than one interval costs nothing; a stall of d >= one interval (a busy database, or
# no CPU for the thread) costs about d / interval ticks, because it re-schedules one
# interval after the late tick rather than catching up in a burst, and it counts those
# ticks in unstored. How many ticks a loaded machine lets it take is no invariant (two
# CPU hogs beside this test brought the worst process to 35-70% of expected): only with
# MS_LOAD_MIN_RATIO, as bench/bench_load.sh sets it, is a share of them required. Exact
# in every case: no process has more ticks than its lifetime holds plus one (no burst),
# and the shim's own count of missed readings (processes.unstored) matches the gaps.
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
    times = [t for (t,) in db.execute("SELECT t_ns FROM samples WHERE proc_id = ? AND"
                                      " kind = 'tick' ORDER BY t_ns", (proc_id,))]
    gaps = [b - a for a, b in zip(times, times[1:])]
    stalls = sum(1 for g in gaps if g > 1.5 * interval_ns)
    missed = sum(max(0, int(g / interval_ns + 0.5) - 1) for g in gaps)
    if ended is None:
        # Its exit could not wait for its last write; the shell above matched the line
        # that counts it. What its last write stored must account for the ticks missing
        # before it; what it would have said about later ones is gone with the write.
        if ends != 0:
            bad.append("%s: an end sample but no exit record" % who)
        if unstored < missed - stalls - 1:
            bad.append("%s: unstored %d, but %d ticks missing between written ones (%d stalls)"
                       % (who, unstored, missed, stalls))
        unstored_total += unstored
        continue
    expected = (ended - started) // interval_ns
    required = int(expected * min_ratio) - 1
    ratios.append((ticks / expected if expected else 1.0, who, ticks, expected))
    written_total += ticks
    expected_total += expected
    if ticks < required:
        below.append("%s: %d ticks, expected %d (at least %d)"
                     % (who, ticks, expected, required))
    if ticks > expected + 1:
        bad.append("%s: %d ticks, more than the %d its lifetime holds" % (who, ticks, expected))
    # The shim counts in unstored every due reading that did not reach the database: a
    # tick missed in a stall, or one taken and then dropped. So the ticks missing between
    # two written ones (a gap of k intervals misses k - 1) must be counted there. A stall
    # also shifts the schedule by a fraction of an interval, which rounding the gaps can
    # see as a tick: one either way per stall (a gap of more than 1.5 intervals). Before
    # the first tick (the thread's start) and after the last one (the exit) the shim keeps
    # no schedule to count against, so readings missed there may be counted or not.
    edge = 0
    if times:
        first_delays.append(times[0] - started)
        last_gaps.append(ended - times[-1])
        edge = (times[0] - started) // interval_ns + (ended - times[-1]) // interval_ns
    if not missed - stalls - 1 <= unstored <= missed + stalls + edge + 1:
        bad.append("%s: unstored %d, but %d ticks missing between written ones (%d stalls)"
                   % (who, unstored, missed, stalls))
    unstored_total += unstored
    if ends != 1:
        bad.append("%s: %d end samples" % (who, ends))
    if note is not None:
        bad.append("%s: note %r" % (who, note))
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
print("readings the shim counted as due but not stored (processes.unstored): %d in all, "
      "in %d processes" % (unstored_total, sum(1 for row in rows if row[6])))
if first_delays:
    print("first tick after the process's start: mean %.0f ms, max %.0f ms; exit after the "
          "last tick: mean %.0f ms, max %.0f ms"
          % (sum(first_delays) / len(first_delays) / 1e6, max(first_delays) / 1e6,
             sum(last_gaps) / len(last_gaps) / 1e6, max(last_gaps) / 1e6))
no_end = sum(1 for row in rows if row[5] is None)
print("processes without ended_ns (end sample lost): %d of %d" % (no_end, len(rows)))
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
[ "$RC" -eq 0 ] || fail "samples lost ($(wc -l <"$T/ticks.err") findings, first 10):
$(head -n 10 "$T/ticks.err")"

note "each process's footprint"
assert_eq "" "$(sql "$DB" "SELECT pid || ': ' || hwm_kb FROM processes
                          WHERE hwm_kb IS NULL OR hwm_kb < $MIB * 1024
                             OR hwm_kb > ($MIB + $MIB_TOL) * 1024")" \
    "processes whose VmHWM is not the $MIB MiB they touched (+$MIB_TOL MiB)"

pass
