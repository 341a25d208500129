# `memsweep peaks` on a sweep of spiking runs: the text shows, per run, the periodic,
# all-samples and VmHWM views of the peak, the shortfalls, the samples by kind, the drops
# and the heaviest peak's stack, then the summary; `--json` parses, and its figures match
# a recomputation from the database done here, independently of the analyzer. The
# post-run advisory carries the same summary lines.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_exe "$SPIKE"

run_cmd help "$MS_BIN" peaks --help
assert_eq 0 "$RC" "exit status of 'memsweep peaks --help' (the peaks command must exist; stderr: $(head -c 300 "$T/help.err"))"
assert_contains "$T/help.out" "Usage: memsweep peaks" "memsweep peaks --help"

# Four runs: spikes the timer mostly misses; one long spike the timer sees; a wrapper
# shell and its worker (two processes alive at once, so VmHWM is an upper bound); spikes
# with allocation sampling off (the timer's view only).
cat >"$T/commands" <<EOF
$SPIKE --count 3 --mib 128 --hold-ms 30 --pause-ms 400
$SPIKE --count 1 --mib 96 --hold-ms 1200 --pause-ms 0
$WL --mib 48 --hold-ms 700; true
MEMSWEEP_ALLOC=0 $SPIKE --count 2 --mib 128 --hold-ms 30 --pause-ms 300
EOF
run_cmd run "$MS_BIN" run -j 2 -o "$T/out" --commands "$T/commands"
assert_eq 0 "$RC" "exit status of memsweep run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"

run_cmd peaks "$MS_BIN" peaks "$S"
assert_eq 0 "$RC" "exit status of memsweep peaks (stderr: $(cat "$T/peaks.err"))"
assert_empty "$T/peaks.err" "stderr of memsweep peaks"
run_cmd json "$MS_BIN" peaks --json "$DB"
assert_eq 0 "$RC" "exit status of memsweep peaks --json (stderr: $(cat "$T/json.err"))"
assert_empty "$T/json.err" "stderr of memsweep peaks --json"
note "memsweep peaks:"
sed 's/^/     /' "$T/peaks.out"

note "the text: three views per run, then the summary"
for key in PeriodicPeakRSS_MB AllSamplesPeakRSS_MB VmHWM_MB PeriodicMissVsAllSamples_Pct \
           PeriodicMissVsVmHWM_Pct Samples AllocDropped PeakStack; do
    assert_eq 4 "$(grep -c "^  $key: " "$T/peaks.out")" "runs with a '$key:' line"
done
assert_eq 4 "$(grep -c '^Run [0-9]' "$T/peaks.out")" "run headers"
assert_eq 1 "$(grep -c '^Summary$' "$T/peaks.out")" "summary title"
# /bin/sh -c runs each line: the shell and its worker, when the shell forks it (always
# for the line that ends with "; true"), are alive at once, and their VmHWM figures add up
# to an upper bound; after an exec they are one process at a time. The JSON's flag is
# checked against the database below.
multi="$(python3 -c 'import json, sys; print(sum(r["VmHWM_UpperBound"] for r in json.load(open(sys.argv[1]))["runs"]))' "$T/json.out")"
assert_ge "$multi" 1 "runs whose VmHWM is an upper bound (the shell and its worker)"
assert_eq "$multi" "$(grep -c '^  VmHWM_MB: [0-9.]* (upper bound, [0-9]* processes alive at once)$' "$T/peaks.out")" \
    "VmHWM lines labelled as an upper bound"
# The heaviest allocation-driven peak of a spiking run is shown with its stack.
grep -q '^    .*ms_spike_allocate' "$T/peaks.out" ||
    fail "no stack frame naming ms_spike_allocate in the output of memsweep peaks"

note "the JSON against a recomputation from the database"
python3 - "$DB" "$T/json.out" "$T/peaks.out" "$S/memory_advisory.txt" <<'PY'
import json, os, sqlite3, sys
sys.path.insert(0, os.path.join(os.environ["MS_SOURCE_DIR"], "tests", "integration"))
from shared_pages import shared_per_row

db = sqlite3.connect(sys.argv[1], timeout=10)
doc = json.load(open(sys.argv[2]))
text = open(sys.argv[3]).read().splitlines()
advisory = open(sys.argv[4]).read().splitlines()
PERIODIC = ("start", "tick", "end")
errors = []

def check(what, got, want, tol=0.0):
    if isinstance(want, float) or tol:
        ok = got is not None and abs(got - want) <= tol + 1e-9
    else:
        ok = got == want
    if not ok:
        errors.append("%s: expected %r, got %r" % (what, want, got))

def miss(view, periodic):
    return 0.0 if view == 0 else (view - periodic) * 100.0 / view

def run_views(run_id):
    """Sum-over-alive peaks, as docs/advisory.md defines a run's RSS at a time."""
    procs = db.execute("SELECT proc_id, pid, started_ns, ended_ns, hwm_kb, alloc_tracking,"
                       " alloc_dropped, alloc_dropped_rate, alloc_dropped_queue FROM processes"
                       " WHERE run_id = ? ORDER BY started_ns, proc_id", (run_id,)).fetchall()
    events, kinds, spans = [], {}, []
    # ru_maxrss counts where the launcher recorded it above its floor.
    maxrss, floor = db.execute("SELECT maxrss_kb, maxrss_floor_kb FROM runs WHERE run_id = ?",
                               (run_id,)).fetchone()
    wait4 = maxrss if maxrss is not None and floor is not None and maxrss > floor else 0
    hwm_max = hwm_n = 0
    single = single_p = 0  # the largest reading of any one process (all kinds, periodic)
    n_samples = 0
    stack = None
    for i, (proc_id, pid, started, ended, hwm, *_rest) in enumerate(procs):
        rows = db.execute("SELECT t_ns, rss_kb, hwm_kb, kind, stack_id, pss_kb, pss_anon_kb,"
                          " pss_shmem_kb, rss_anon_kb, rss_shmem_kb FROM samples"
                          " WHERE proc_id = ? ORDER BY t_ns", (proc_id,)).fetchall()
        if not rows:
            continue
        n_samples += len(rows)
        h = max([hwm or 0] + [r[2] or 0 for r in rows])
        if h > 0:
            hwm_max = max(hwm_max, h)
            hwm_n += 1
        # Shared pages counted once (docs/advisory.md).
        sh = shared_per_row(rows, 1, 5)
        single = max(single, max(r[1] for r in rows))
        single_p = max([single_p] + [r[1] for r in rows if r[3] in PERIODIC])
        for j, (t, rss, _, kind, sid, *_p) in enumerate(rows):
            kinds[kind] = kinds.get(kind, 0) + 1
            events.append((t, 0, i, j, max(0, rss - sh[j]), kind in PERIODIC))
            if kind in ("alloc", "release") and sid is not None:
                if stack is None or rss > stack[0] or (rss == stack[0] and t < stack[1]):
                    stack = (rss, t, sid, kind)
        end = ended
        recorded = bool(ended) or any(r[3] == "end" for r in rows)
        if not end:
            end = rows[-1][0]
            for _, pid2, started2, *_x in procs[i + 1:]:
                if pid2 == pid:
                    end = started2
                    recorded = True
                    break
        end = max(end, rows[-1][0])
        events.append((end, 1, i, 0, 0, False))
        if h > 0:
            spans.append([min(started, rows[0][0]), end, h, recorded])
    events.sort()
    # VmHWM: the largest sum over processes alive at one moment; one without an exit
    # record may have lived until the run was last seen.
    run_end = max([s[1] for s in spans] or [0])
    edges = []
    for start, end, h, recorded in spans:
        end = end if recorded else max(end, run_end)
        edges += [(start, 1, h), (max(end, start + 1), 0, h)]
    edges.sort()
    hwm_sum = cur_h = alive = hwm_alive = 0
    for _, is_start, h in edges:
        cur_h += h if is_start else -h
        alive += 1 if is_start else -1
        if is_start and cur_h > hwm_sum:
            hwm_sum, hwm_alive = cur_h, alive
    cur, cur_p = {}, {}
    tot = tot_p = 0
    peak, peak_p = single, single_p
    for t, is_exit, i, _, rss, periodic in events:
        if is_exit:
            tot -= cur.pop(i, 0)
            tot_p -= cur_p.pop(i, 0)
            continue
        tot += rss - cur.get(i, 0)
        cur[i] = rss
        peak = max(peak, tot)
        if periodic:
            tot_p += rss - cur_p.get(i, 0)
            cur_p[i] = rss
            peak_p = max(peak_p, tot_p)
    tracking = [p[5] for p in procs if p[5] is not None]
    return {
        "n_procs": len(procs), "n_samples": n_samples, "kinds": kinds,
        "periodic": peak_p, "all": peak, "hwm_sum": hwm_sum, "hwm_max": hwm_max,
        "hwm_n": hwm_n, "hwm_alive": hwm_alive, "true": max(peak, hwm_max, wait4), "stack": stack,
        "tracking": (None if not tracking else any(t != 0 for t in tracking)),
        "dropped": sum(p[6] or 0 for p in procs),
        "dropped_rate": sum(p[7] or 0 for p in procs),
        "dropped_queue": sum(p[8] or 0 for p in procs),
    }

runs = db.execute("SELECT run_id, seq, status FROM runs ORDER BY seq, run_id").fetchall()
check("number of runs in the JSON", len(doc["runs"]), len(runs))
over5 = over20 = 0
largest, largest_seq = 0.0, None
MB = 0.05 + 1e-6  # one-decimal rounding of a MiB figure
for (run_id, seq, status), j in zip(runs, doc["runs"]):
    v = run_views(run_id)
    w = "run %d" % seq
    check(w + " Seq", j["Seq"], seq)
    check(w + " RunId", j["RunId"], run_id)
    check(w + " Status", j["Status"], status)
    check(w + " Processes", j["Processes"], v["n_procs"])
    check(w + " Samples", j["Samples"], v["n_samples"])
    for k in ("start", "tick", "end", "alloc", "release"):
        check(w + " SamplesByKind." + k, j["SamplesByKind"][k], v["kinds"].get(k, 0))
    check(w + " PeriodicPeakRSS_MB", j["PeriodicPeakRSS_MB"], v["periodic"] / 1024, MB)
    check(w + " AllSamplesPeakRSS_MB", j["AllSamplesPeakRSS_MB"], v["all"] / 1024, MB)
    check(w + " VmHWM_MB", j["VmHWM_MB"], v["hwm_sum"] / 1024, MB)
    check(w + " VmHWM_Processes", j["VmHWM_Processes"], v["hwm_n"])
    check(w + " VmHWM_AliveAtOnce", j["VmHWM_AliveAtOnce"], v["hwm_alive"])
    check(w + " VmHWM_UpperBound", j["VmHWM_UpperBound"], v["hwm_alive"] > 1)
    check(w + " PeakRSS_MB", j["PeakRSS_MB"], v["true"] / 1024, MB)
    check(w + " PeriodicMissVsAllSamples_Pct", j["PeriodicMissVsAllSamples_Pct"],
          miss(v["all"], v["periodic"]), 0.05 + 1e-6)
    check(w + " PeriodicMissVsVmHWM_Pct", j["PeriodicMissVsVmHWM_Pct"],
          miss(v["hwm_sum"], v["periodic"]), 0.05 + 1e-6)
    m = miss(v["true"], v["periodic"])
    check(w + " PeriodicMissVsPeak_Pct", j["PeriodicMissVsPeak_Pct"], m, 0.05 + 1e-6)
    check(w + " AllocTracking", j["AllocTracking"], v["tracking"])
    check(w + " AllocDropped", j["AllocDropped"], v["dropped"])
    check(w + " AllocDroppedRate", j["AllocDroppedRate"], v["dropped_rate"])
    check(w + " AllocDroppedQueue", j["AllocDroppedQueue"], v["dropped_queue"])
    if v["stack"] is None:
        check(w + " PeakStack", j["PeakStack"], None)
    else:
        rss, t, sid, kind = v["stack"]
        ps = j["PeakStack"] or {}
        check(w + " PeakStack.StackId", ps.get("StackId"), sid)
        check(w + " PeakStack.Kind", ps.get("Kind"), kind)
        check(w + " PeakStack.RSS_MB", ps.get("RSS_MB"), rss / 1024, MB)
        frames = db.execute("SELECT frames FROM stacks WHERE stack_id = ?", (sid,)).fetchone()[0]
        check(w + " PeakStack.Frames", ps.get("Frames"), [l for l in frames.split("\n") if l])
    # The text shows the same figures as the JSON.
    block, inside = [], False
    for line in text:
        if line.startswith("Run "):
            inside = line.split(":")[0] == "Run %d" % seq
        elif inside and line.startswith("  "):
            block.append(line.strip())
    fields = dict(l.split(": ", 1) for l in block if ": " in l)
    for k in ("PeriodicPeakRSS_MB", "AllSamplesPeakRSS_MB", "PeriodicMissVsVmHWM_Pct"):
        check(w + " text " + k, float(fields.get(k, "nan").split()[0]), j[k], 1e-9)
    if v["n_samples"]:
        over5 += (v["true"] - v["periodic"]) * 100 > 5 * v["true"]
        over20 += (v["true"] - v["periodic"]) * 100 > 20 * v["true"]
        if m > largest:
            largest, largest_seq = m, seq
    print("-- run %d: periodic %.1f, all samples %.1f, VmHWM %.1f MiB%s; periodic miss %.1f%%; %s"
          % (seq, v["periodic"] / 1024, v["all"] / 1024, v["hwm_sum"] / 1024,
             " (upper bound)" if v["hwm_alive"] > 1 else "", m,
             ", ".join("%s %d" % kv for kv in sorted(v["kinds"].items()))))

s = doc["summary"]
check("summary RunsTotal", s["RunsTotal"], len(runs))
check("summary RunsCompared", s["RunsCompared"], len(runs))
check("summary PeriodicMissOver5Pct_Runs", s["PeriodicMissOver5Pct_Runs"], over5)
check("summary PeriodicMissOver20Pct_Runs", s["PeriodicMissOver20Pct_Runs"], over20)
check("summary LargestPeriodicMiss_Pct", s["LargestPeriodicMiss_Pct"], largest, 0.05 + 1e-6)
check("summary LargestPeriodicMiss_Run", s["LargestPeriodicMiss_Run"], largest_seq)
# The text summary and the advisory's post-run section carry the same lines.
summary_lines = [l for l in text[text.index("Summary"):] if l.startswith(("PeriodicMiss", "LargestPeriodicMiss"))]
check("summary lines in the text", len(summary_lines), 4 if largest_seq is not None else 3)
for l in summary_lines:
    if l not in advisory:
        errors.append("summary line %r missing from memory_advisory.txt" % l)
for e in errors:
    print("FAIL: " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY

note "the spiking run with allocation sampling on: its all-samples peak holds a spike"
# Run 1's three 30 ms spikes of 128 MiB; its all-samples peak holds a spike, which the
# timer-only run 4 cannot see except by chance (reported above, not asserted).
all1="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["runs"][0]["AllSamplesPeakRSS_MB"])' "$T/json.out")"
assert_ge "$all1" 128 "AllSamplesPeakRSS_MB of run 1"

note "usage and runtime errors"
run_cmd noarg "$MS_BIN" peaks
assert_eq 2 "$RC" "exit status of memsweep peaks without PATH"
assert_eq "Try 'memsweep peaks --help'." "$(sed -n 2p "$T/noarg.err")" \
    "second stderr line of memsweep peaks without PATH"
assert_eq memsweep: "$(sed -n 1p "$T/noarg.err" | cut -d' ' -f1)" \
    "first stderr line of memsweep peaks without PATH"
assert_empty "$T/noarg.out" "stdout of memsweep peaks without PATH"
run_cmd missing "$MS_BIN" peaks "$T/no/such/dir"
assert_eq 1 "$RC" "exit status of memsweep peaks on a missing path"
assert_empty "$T/missing.out" "stdout of memsweep peaks on a missing path"

pass
