# `memsweep report`: one HTML file that Debian's headless Chromium loads with no console
# error, no exception and no request but the file itself (observed by Chromium over the
# DevTools protocol, tests/integration/cdp_page.py), whose screenshot is not blank, and
# whose drawn points of each run are that run's samples in the database, exactly. Labels
# cannot break out of the page's data. A sweep scheduled with a budget (schema 9) gets the
# budget and the predicted memory in use drawn on its timeline and a table of its
# admissions, one row per admission in the database; one without gets neither. Bad uses
# are refused with one line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BL="$MS_BUILD_DIR/ms_blocks"
need_exe "$BL"
CHROMIUM="${MS_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
    [ "${CI:-}" = true ] && fail "$CHROMIUM is missing (scripts/deps.sh installs the chromium package)"
    skip "no $CHROMIUM: install Debian's chromium package"
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

"$MS_BIN" run -j 2 -o "$T/out" -P mib=24,48 -P spike=0,32 -- "$WL" --mib '{mib}' --hold-ms 300 \
    --spike-mib '{spike}' --spike-ms 200 >/dev/null 2>"$T/run.err" || fail "the sweep failed: $(cat "$T/run.err")"
S="$(sweep_dir_of "$T/out")"
# A run with large blocks, and a label that tries to end the page's data and run a script.
EVIL='who=</script><script>document.title="pwned"</script><!--'
"$MS_BIN" exec --sweep "$T/shards" --label "$EVIL" -- "$BL" --mid-mib 24 >/dev/null 2>"$T/exec.err" ||
    fail "exec failed: $(cat "$T/exec.err")"
"$MS_BIN" merge "$T/all.db" "$S" "$T/shards" >/dev/null 2>"$T/merge.err" || fail "merge: $(cat "$T/merge.err")"

note "usage"
"$MS_BIN" report -o "$T/r.html" "$T/all.db" 2>"$T/rep.err" || fail "report failed: $(cat "$T/rep.err")"
[ -s "$T/r.html" ] || fail "no report written"
assert_eq "" "$(ls "$T" | grep 'r.html.tmp' || true)" "temporary files left beside the report"
set +e
"$MS_BIN" report -o "$T/r.html" "$T/all.db" 2>"$T/e1"; rc1=$?
"$MS_BIN" report -o "$T/x.html" "$T/nonexistent" 2>"$T/e2"; rc2=$?
"$MS_BIN" report --bogus "$T/all.db" 2>"$T/e3"; rc3=$?
"$MS_BIN" report -o "$T/no/such/dir/r.html" "$T/all.db" 2>"$T/e4"; rc4=$?
set -e
assert_eq 1 "$rc1" "exit status when the output exists"
assert_contains "$T/e1" "memsweep: $T/r.html: file exists (use --force to replace it)" "message when the output exists"
assert_ne 0 "$rc2" "exit status for a missing sweep"
assert_contains "$T/e2" "memsweep: " "message for a missing sweep"
assert_eq 2 "$rc3" "exit status for an unknown option"
assert_eq 1 "$rc4" "exit status for an output directory that does not exist"
assert_contains "$T/e4" "memsweep: $T/no/such/dir/r.html: No such file or directory" "message for a missing directory"
for e in e1 e2 e4; do assert_eq 1 "$(wc -l <"$T/$e")" "lines of the message in $e"; done
"$MS_BIN" report -f -o "$T/r.html" "$T/all.db" || fail "report --force failed"
"$MS_BIN" report -o - "$S" >"$T/stdout.html" || fail "report to standard output failed"
grep -q '<script id="ms-data" type="application/json">' "$T/stdout.html" || fail "no data in the report on stdout"
"$MS_BIN" report -o "$T/shards.html" "$T/shards" || fail "report of a sweep of shards failed"

note "loaded in Chromium"
EVAL='(function () {
  var R = window.msReport, D = R.data, runs = {};
  D.runs.forEach(function (r) { runs[r.id] = R.showRun(r.id); });
  return JSON.stringify({t0: D.t0_ns, title: document.title, runs: runs,
    labels: D.runs.map(function (r) { return [r.id, r.label]; }),
    blocks: D.runs.map(function (r) { return [r.id, r.blocks ? r.blocks.list.length : 0]; }),
    text: document.getElementById("blockview").textContent,
    schedule: D.schedule, tl: R.drawn.timeline,
    adm: getComputedStyle(document.getElementById("admissions")).display});
})()'
"$PY" "$MS_SOURCE_DIR/tests/integration/cdp_page.py" --chromium "$CHROMIUM" --html "$T/r.html" \
    --wait-expr 'document.body.dataset.ready === "1"' --eval "$EVAL" --screenshot "$T/shot.png" \
    --timeout 300 >"$T/cdp.json" 2>"$T/cdp.err" || fail "Chromium did not load the report: $(cat "$T/cdp.json" "$T/cdp.err")"
"$PY" - "$T/cdp.json" "$T/all.db" "$T/r.html" "$EVIL" <<'PY' || fail "what Chromium saw: $(head -c 3000 "$T/cdp.json")"
import json, os, sqlite3, sys
c = json.load(open(sys.argv[1]))
db = sqlite3.connect(sys.argv[2])
page = "file://" + os.path.abspath(sys.argv[3])
assert c["ok"] and c["status"] == "ready", c["status"]
assert c["exceptions"] == [], c["exceptions"]
assert c["console_errors"] == [] and c["log_errors"] == [], (c["console_errors"], c["log_errors"])
assert [r["url"] for r in c["requests"]] == [page], c["requests"]
assert c["failed_requests"] == [], c["failed_requests"]
shot = c["screenshot"]
assert shot["distinct_colors"] >= 50 and shot["nonbackground_fraction"] >= 0.05, shot
v = json.loads(c["eval"]["value"])
assert v["title"] == "memsweep report", v["title"]
labels = dict(v["labels"])
assert sys.argv[4] in labels.values(), labels
t0 = int(v["t0"])
kinds = {}
runs = [r for (r,) in db.execute("SELECT run_id FROM runs")]
assert len(runs) == 5 and len(v["runs"]) == 5, (runs, list(v["runs"]))
total = 0
for run in runs:
    want = sorted(((t - t0) // 1000, rss, kind, proc) for proc, t, rss, kind in db.execute(
        "SELECT s.proc_id, s.t_ns, s.rss_kb, s.kind FROM samples s JOIN processes p"
        " ON p.proc_id = s.proc_id WHERE p.run_id = ?", (run,)))
    got = sorted(tuple(x) for x in v["runs"][str(run)])
    assert len(want) >= 2, (run, want)
    total += len(want)
    assert got == [tuple(x) for x in want], (run, got[:5], want[:5])
assert total >= 20, total
blocks = dict(v["blocks"])
with_blocks = [r for (r,) in db.execute(
    "SELECT DISTINCT p.run_id FROM blocks b JOIN processes p ON p.proc_id = b.proc_id")]
assert with_blocks and all(blocks[r] > 0 for r in with_blocks), (blocks, with_blocks)
assert "fill_buffer at ms_blocks.c:" in v["text"], v["text"][:500]
# Not scheduled: no schedule, nothing of it drawn, its section hidden.
assert v["schedule"] is None and v["adm"] == "none", (v["schedule"], v["adm"])
assert v["tl"] == {"budget_y": None, "pred_points": 0}, v["tl"]
PY
note "$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print("first contentful paint %s ms, ready %s ms after navigation" % (c["timings"]["first_contentful_paint_ms"], c["timings"]["navigate_to_ready_ms"]))' "$T/cdp.json")"

note "a sweep scheduled with a budget: the budget, the predicted memory in use, the admissions"
# A budget well inside the scale of the timeline (the runs' total and N x P95PeakRSS).
"$MS_BIN" run -j auto --mem-budget 200 -o "$T/sched" -P mib=24,48,96 -- "$WL" --mib '{mib}' \
    --hold-ms 400 >/dev/null 2>"$T/sched.err" || fail "the scheduled sweep failed: $(cat "$T/sched.err")"
SS="$(sweep_dir_of "$T/sched")"
"$MS_BIN" report -o "$T/sched.html" "$SS" || fail "report of the scheduled sweep failed"
"$PY" "$MS_SOURCE_DIR/tests/integration/cdp_page.py" --chromium "$CHROMIUM" --html "$T/sched.html" \
    --wait-expr 'document.body.dataset.ready === "1"' --timeout 300 --eval '(function () {
  var D = window.msReport.data, rows = document.querySelectorAll("#admtab tr[data-run]");
  return JSON.stringify({tl: window.msReport.drawn.timeline, steps: D.schedule.pred_steps.length,
    budget_kb: D.schedule.budget_kb, note: document.getElementById("admnote").textContent,
    adm: getComputedStyle(document.getElementById("admissions")).display,
    rows: Array.prototype.map.call(rows, function (tr) {
      return [Number(tr.dataset.run), tr.children[3].textContent]; })});
})()' >"$T/cdp3.json" 2>"$T/cdp3.err" || fail "Chromium did not load the scheduled report: $(cat "$T/cdp3.json" "$T/cdp3.err")"
"$PY" - "$T/cdp3.json" "$SS/memsweep.db" <<'PY' || fail "the scheduled report: $(head -c 3000 "$T/cdp3.json")"
import json, sqlite3, sys
c = json.load(open(sys.argv[1]))
assert c["ok"] and c["status"] == "ready", c["status"]
assert c["exceptions"] == [], c["exceptions"]
assert c["console_errors"] == [] and c["log_errors"] == [], (c["console_errors"], c["log_errors"])
db = sqlite3.connect(sys.argv[2])
v = json.loads(c["eval"]["value"])
assert v["adm"] != "none", v["adm"]
budget = db.execute("SELECT mem_budget_kb FROM sweeps").fetchone()[0]
assert budget == 200 * 1024 and v["budget_kb"] == budget, (budget, v["budget_kb"])
# The budget's line is drawn, and the step line has a point for each admission and end.
assert v["tl"]["budget_y"] is not None and v["tl"]["budget_y"] > 0, v["tl"]
assert v["tl"]["pred_points"] == v["steps"] and v["steps"] >= 3, (v["tl"], v["steps"])
# One row per admission of the database, with its rule, in the order they were decided.
want = [list(r) for r in db.execute("SELECT run_id, rule FROM admissions ORDER BY decided_ns, run_id")]
assert v["rows"] == want, (v["rows"], want)
assert len(want) == 3, want
assert "Schedule: -j auto" in v["note"] and "% of the budget" in v["note"], v["note"]
PY

note "a run of more samples than the page draws: thinned, its extremes kept"
# Ticks every millisecond; a run longer each time until it has well over 600 samples,
# however slowly this machine lets the collector tick.
for hold in 2000 6000 20000; do
    rm -rf "$T/thin"
    "$MS_BIN" run -j 1 --interval-ms 1 -o "$T/thin" -- "$WL" --mib 16 --hold-ms "$hold" \
        --spike-mib 24 --spike-ms 300 >/dev/null 2>"$T/thin.err" || fail "the thin sweep failed: $(cat "$T/thin.err")"
    TS="$(sweep_dir_of "$T/thin")"
    [ "$(sql "$TS/memsweep.db" "SELECT count(*) FROM samples")" -gt 900 ] && break
done
assert_ge "$(sql "$TS/memsweep.db" "SELECT count(*) FROM samples")" 901 "samples of the long run"
"$MS_BIN" report -o "$T/thin.html" "$TS" || fail "report of the thin sweep failed"
"$PY" "$MS_SOURCE_DIR/tests/integration/cdp_page.py" --chromium "$CHROMIUM" --html "$T/thin.html" \
    --wait-expr 'document.body.dataset.ready === "1"' \
    --eval 'JSON.stringify({t0: window.msReport.data.t0_ns, pts: window.msReport.showRun(window.msReport.data.runs[0].id), note: document.querySelector(".run .m").textContent})' \
    --timeout 300 >"$T/cdp2.json" 2>"$T/cdp2.err" || fail "Chromium did not load the thin report: $(cat "$T/cdp2.json" "$T/cdp2.err")"
"$PY" - "$T/cdp2.json" "$TS/memsweep.db" <<'PY' || fail "the thinned run: $(head -c 2000 "$T/cdp2.json")"
import json, sqlite3, sys
c = json.load(open(sys.argv[1]))
assert c["ok"] and c["exceptions"] == [] and c["console_errors"] == [], c["status"]
v = json.loads(c["eval"]["value"])
t0 = int(v["t0"])
db = sqlite3.connect(sys.argv[2])
rows = [((t - t0) // 1000, rss, kind) for t, rss, kind in db.execute(
    "SELECT s.t_ns, s.rss_kb, s.kind FROM samples s ORDER BY s.proc_id, s.t_ns")]
got = [tuple(x[:3]) for x in v["pts"]]
assert 300 <= len(got) <= 600 < len(rows), (len(got), len(rows))
assert set(got) <= set(rows), "drawn points that are no sample"
assert got[0] == rows[0] and got[-1] == rows[-1], (got[0], rows[0], got[-1], rows[-1])
assert max(g[1] for g in got) == max(r[1] for r in rows), "the highest sample is not drawn"
assert min(g[1] for g in got) == min(r[1] for r in rows), "the lowest sample is not drawn"
assert "%d of %d samples drawn" % (len(got), len(rows)) in v["note"], v["note"]
PY
pass
