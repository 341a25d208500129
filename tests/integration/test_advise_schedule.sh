# What `memsweep advise`, `peaks`, `export` and `merge` say of a sweep scheduled by
# `memsweep run -j auto --mem-budget auto` (schema 9), checked against the database with
# sqlite3: the Schedule line from the sweeps row; Admissions, the budget, the highest
# predicted memory in use at an admission, the rules and the waits from the admissions
# table; the highest measured total RSS against a time-aligned sum of the samples
# computed here; the peaks of the runs against their predictions; each run's admission
# in `peaks`; the attempt columns of `export`; and the admissions carried by `merge`.
# Nothing here depends on how the launcher decides: every figure is read back from what
# it recorded.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Three sizes of run that hold their memory long enough to overlap.
run_cmd sweep "$MS_BIN" run -j auto --mem-budget auto -o "$T/out" -P mib=40,80,160 -- \
    "$WL" --mib '{mib}' --hold-ms 700
assert_eq 0 "$RC" "exit status of the scheduled sweep (stderr: $(cat "$T/sweep.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
run_cmd adv "$MS_BIN" advise "$S"
assert_eq 0 "$RC" "exit status of memsweep advise (stderr: $(cat "$T/adv.err"))"
A="$T/adv.out"

note "the Schedule line and the admissions' figures"
n_adm="$(sql "$DB" "SELECT count(*) FROM admissions")"
assert_eq 3 "$n_adm" "admissions rows"
jobs="$(sql "$DB" "SELECT jobs FROM sweeps")"
assert_int "$jobs" "sweeps.jobs"
budget_kb="$(sql "$DB" "SELECT mem_budget_kb FROM sweeps")"
assert_int "$budget_kb" "sweeps.mem_budget_kb"
# --mem-budget auto is Usable_MB: a whole number of MiB.
assert_eq 0 $((budget_kb % 1024)) "the budget in whole MiB"
assert_eq "-j auto (at most $jobs), --mem-budget $((budget_kb / 1024)) MiB, --order plan" \
    "$(post_field "$A" Schedule)" "Schedule"
assert_eq "$n_adm" "$(post_field "$A" Admissions)" "Admissions"
assert_eq "$(sql "$DB" "SELECT printf('%.1f', mem_budget_kb / 1024.0) FROM sweeps")" \
    "$(post_field "$A" Admission_Budget_MB)" "Admission_Budget_MB"
assert_eq "$(sql "$DB" "SELECT printf('%.1f', max(coalesce(running_predicted_kb, 0) + predicted_kb)
                        / 1024.0) FROM admissions WHERE predicted_kb IS NOT NULL")" \
    "$(post_field "$A" Admission_HighestPredicted_MB)" "Admission_HighestPredicted_MB"
assert_eq "$(sql "$DB" "SELECT printf('%.1f', max(coalesce(running_predicted_kb, 0) + predicted_kb)
                        * 100.0 / (SELECT mem_budget_kb FROM sweeps)) FROM admissions
                        WHERE predicted_kb IS NOT NULL")" \
    "$(post_field "$A" Admission_HighestPredicted_PctOfBudget)" "Admission_HighestPredicted_PctOfBudget"
assert_eq "$(sql "$DB" "SELECT printf('%.1f', sum(waited_ms) / 1000.0) FROM admissions")" \
    "$(post_field "$A" Admission_Waited_s)" "Admission_Waited_s"
# The rules with their counts; the order (most frequent first) is the unit tests' to check.
assert_eq "$(sql "$DB" "SELECT rule || ' ' || count(*) FROM admissions GROUP BY rule ORDER BY rule")" \
    "$(post_field "$A" Admission_Rules | tr ',' '\n' | sed 's/^ //' | LC_ALL=C sort)" "Admission_Rules"
# Every run finished ok: each with a prediction compares its peak with it.
assert_eq "$(sql "$DB" "SELECT count(*) FROM admissions WHERE predicted_kb IS NOT NULL")" \
    "$(post_field "$A" Admission_PeakVsPredicted_Runs)" "Admission_PeakVsPredicted_Runs"

note "the highest measured total RSS, a time-aligned sum of samples"
# Each process counts its latest reading from its first sample to its last; readings at
# one instant come before the ends at that instant.
want="$(python3 - "$DB" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ev = []
for proc, first, last in db.execute("SELECT proc_id, min(t_ns), max(t_ns) FROM samples GROUP BY proc_id"):
    ev.append((last, 1, proc, 0))
for proc, t, rss in db.execute("SELECT proc_id, t_ns, rss_kb FROM samples"):
    ev.append((t, 0, proc, rss))
ev.sort()
cur, total, best = {}, 0, 0
for t, end, proc, rss in ev:
    v = 0 if end else rss
    total += v - cur.get(proc, 0)
    cur[proc] = v
    best = max(best, total)
print("%.1f" % (best / 1024.0))
PY
)"
assert_eq "$want" "$(post_field "$A" Admission_HighestMeasured_MB)" "Admission_HighestMeasured_MB"
# Time-aligned, not the peaks summed: no more than the sum of the runs' peaks.
assert_le "${want%.*}" "$(sql "$DB" "SELECT sum(m) / 1024 + 1 FROM (SELECT max(s.rss_kb) AS m
                                     FROM samples s GROUP BY s.proc_id)")" \
    "the measured total against the sum of every process's largest sample"

note "the same in JSON"
run_cmd json "$MS_BIN" advise --json "$S"
assert_eq 0 "$RC" "exit status of memsweep advise --json"
python3 - "$T/json.out" "$A" <<'PY' || fail "the JSON keys do not match the text lines"
import json, sys
j = json.load(open(sys.argv[1]))
text = dict(l.split(": ", 1) for l in open(sys.argv[2]).read().splitlines() if ": " in l)
for k in ("Schedule", "Admissions", "Admission_Budget_MB", "Admission_HighestPredicted_MB",
          "Admission_HighestMeasured_MB", "Admission_Waited_s", "Admission_PeakVsPredicted_Runs"):
    assert str(j[k]) == text[k], (k, j[k], text[k])
rules = ", ".join("%s %d" % kv for kv in j["Admission_Rules"].items())
assert rules == text["Admission_Rules"], (rules, text["Admission_Rules"])
assert "RetriedAfterOOM_Runs" not in j and "RetriedAfterOOM_Runs" not in text, "retries"
PY

note "peaks: each run's admission"
run_cmd peaks "$MS_BIN" peaks "$S"
assert_eq 0 "$RC" "exit status of memsweep peaks"
for seq in 1 2 3; do
    rule="$(sql "$DB" "SELECT a.rule FROM admissions a JOIN runs r USING (run_id) WHERE r.seq = $seq")"
    got="$(awk -v s="Run $seq:" 'index($0, s) == 1 { p = 1; next } /^Run / { p = 0 }
                                 p && /^  Admission: / { print $2; exit }' "$T/peaks.out")"
    assert_eq "$rule" "${got%,}" "run $seq: the rule of its Admission line"
done
assert_eq 3 "$(grep -c '^  AdmittedBeside: ' "$T/peaks.out")" "AdmittedBeside lines"
run_cmd pj "$MS_BIN" peaks --json "$S"
python3 - "$T/pj.out" "$DB" <<'PY' || fail "peaks --json: the admissions"
import json, sqlite3, sys
runs = json.load(open(sys.argv[1]))["runs"]
db = sqlite3.connect(sys.argv[2])
want = dict(db.execute("SELECT run_id, rule FROM admissions"))
got = {r["RunId"]: r["Admission"]["Rule"] for r in runs}
assert got == want, (got, want)
for r in runs:
    a = r["Admission"]
    pred = db.execute("SELECT predicted_kb FROM admissions WHERE run_id = ?", (r["RunId"],)).fetchone()[0]
    if pred is None:
        assert a["Predicted_MB"] is None and a["PeakOfPredicted_Pct"] is None, a
    else:
        # PeakRSS_MB is rounded to 0.1 MiB: the share it gives may differ in its last digit.
        assert abs(a["PeakOfPredicted_Pct"] - r["PeakRSS_MB"] * 1024 * 100 / pred) < 0.5, (a, r)
    assert "EarlierAttempts" not in r, r
PY

note "export: the attempt columns"
run_cmd csv "$MS_BIN" export --csv runs "$S"
assert_eq 0 "$RC" "exit status of memsweep export"
assert_eq "1,0
1,0
1,0" "$(python3 -c 'import csv, sys
for r in csv.DictReader(open(sys.argv[1])): print(r["attempt"] + "," + r["superseded"])' "$T/csv.out")" \
    "attempt and superseded of each run"

note "merge carries the admissions"
run_cmd merge "$MS_BIN" merge "$T/all.db" "$S" "$S"
assert_eq 0 "$RC" "exit status of memsweep merge (stderr: $(cat "$T/merge.err"))"
ADM_Q="SELECT group_concat(x, ' ') FROM (SELECT r.seq || ':' || a.rule || ':'
       || coalesce(a.predicted_kb, '') AS x FROM admissions a JOIN runs r USING (run_id) ORDER BY r.seq)"
assert_eq "$(sql "$DB" "$ADM_Q")" "$(sql "$T/all.db" "$ADM_Q")" "the admissions of the merged database"
run_cmd adv2 "$MS_BIN" advise "$T/all.db"
for k in Schedule Admissions Admission_HighestPredicted_MB Admission_HighestMeasured_MB Admission_Rules; do
    assert_eq "$(post_field "$A" "$k")" "$(post_field "$T/adv2.out" "$k")" "$k of the merged database"
done
pass
