# A run that `memsweep run --retry-oom 1` ran again after the kernel's out-of-memory
# killer ended it (inside a memory cgroup with a hard limit), as the readers show it: the
# advisory counts the run once, with the attempt that finished, and says how many were
# retried; `peaks` shows the killed attempt inside its run's block, not as a run;
# `export --csv runs` keeps it, marked; the report's data marks it too. Skipped, with
# the reason, where no memory cgroup can be made.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

LIMIT_MIB=600
# Two runs of 350 MiB exceed the limit together; one fits alone beside memsweep.
BIG_MIB=350

make_memory_cgroup "$LIMIT_MIB"
note "cgroup v$CG_VERSION at $CG, limit $LIMIT_MIB MiB"
[ -n "$(oom_kills)" ] || skip "$CG reports no oom_kill count (kernel too old to tell an OOM kill)"

# The big runs hold their memory until the test has seen a kill, so that they overlap
# however slowly they start; the small one ends by itself.
GO="$T/go"
{
    printf 'exec %q --mib %d --hold-ms 500 --wait-file %q\n' "$WL" "$BIG_MIB" "$GO"
    printf 'exec %q --mib 30 --hold-ms 500\n' "$WL"
    printf 'exec %q --mib %d --hold-ms 500 --wait-file %q\n' "$WL" "$BIG_MIB" "$GO"
} >"$T/cmds.txt"
kills0="$(oom_kills)"
sh -c "$INTO_CG" sh "$CG" "$MS_BIN" run -j 3 --retry-oom 1 -o "$T/out" --commands "$T/cmds.txt" \
    >"$T/run.out" 2>"$T/run.err" &
launcher=$!
track_pid "$launcher"
wait_for 120 kills_above "$kills0" || true
touch "$GO"
RC=0
wait "$launcher" || RC=$?
assert_eq 0 "$RC" "exit status of the sweep whose killed run succeeded alone (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
n_sup="$(sql "$DB" "SELECT count(*) FROM runs WHERE superseded = 1")"
assert_ge "$n_sup" 1 "superseded attempts (stderr of the sweep: $(cat "$T/run.err"))"
n_runs="$(sql "$DB" "SELECT count(DISTINCT seq) FROM runs WHERE superseded = 1")"
assert_eq 3 "$(sql "$DB" "SELECT count(*) FROM runs WHERE coalesce(superseded, 0) = 0")" \
    "rows that stand"

note "advise: the run counted once, the retries apart"
run_cmd adv "$MS_BIN" advise "$S"
assert_eq 0 "$RC" "exit status of memsweep advise"
A="$T/adv.out"
assert_eq 3 "$(post_field "$A" RunsTotal)" "RunsTotal"
assert_eq 3 "$(post_field "$A" RunsIncluded)" "RunsIncluded"
assert_eq 0 "$(post_field "$A" RunsFailed)" "RunsFailed: the oom attempt is not a run"
assert_eq "$n_runs" "$(post_field "$A" RetriedAfterOOM_Runs)" "RetriedAfterOOM_Runs"
assert_eq "$n_sup" "$(post_field "$A" RetriedAfterOOM_Attempts)" "RetriedAfterOOM_Attempts"
# The retries were admitted, each by its rule.
post_field "$A" Admission_Rules | grep -q "retry $n_sup" ||
    fail "Admission_Rules lacks 'retry $n_sup': $(post_field "$A" Admission_Rules)"
# The statistics are the standing attempts' alone, as the export's rows give them.
run_cmd csv "$MS_BIN" export --csv runs "$S"
assert_eq 0 "$RC" "exit status of memsweep export"
assert_eq "$(python3 -c 'import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["superseded"] == "0"]
print("%.1f" % (max(int(r["peak_rss_kb"]) for r in rows) / 1024.0))' "$T/csv.out")" \
    "$(post_field "$A" MaxPeakRSS_MB)" "MaxPeakRSS_MB of the standing attempts"

note "export: every attempt, the superseded ones marked, each before its retry"
python3 - "$T/csv.out" "$DB" <<'PY' || fail "the exported rows: $(cat "$T/csv.out")"
import csv, sqlite3, sys
rows = list(csv.DictReader(open(sys.argv[1])))
db = sqlite3.connect(sys.argv[2])
want = [(str(s), st, str(a or 1), str(sup or 0)) for s, st, a, sup in
        db.execute("SELECT seq, status, attempt, superseded FROM runs ORDER BY seq, run_id")]
got = [(r["seq"], r["status"], r["attempt"], r["superseded"]) for r in rows]
assert got == want, (got, want)
for r in rows:
    if r["superseded"] == "1":
        assert r["status"] == "oom" and r["attempt"] == "1", r
PY

note "peaks: the killed attempt inside its run's block"
run_cmd peaks "$MS_BIN" peaks "$S"
assert_eq 0 "$RC" "exit status of memsweep peaks"
assert_eq 3 "$(grep -c '^Run ' "$T/peaks.out")" "run blocks"
assert_eq "$n_sup" "$(grep -c '^  EarlierAttempt: attempt 1 of 2, oom, retried; ' "$T/peaks.out")" \
    "EarlierAttempt lines"
for seq in $(sql "$DB" "SELECT DISTINCT seq FROM runs WHERE superseded = 1"); do
    awk -v s="Run $seq:" 'index($0, s) == 1 { p = 1; next } /^Run / { p = 0 }
                          p && /^  Attempt: 2 of 2 / { found = 1 } END { exit !found }' "$T/peaks.out" ||
        fail "run $seq: no 'Attempt: 2 of 2' line in its block"
done
grep -qx "RetriedAfterOOM_Attempts: $n_sup" "$T/peaks.out" || fail "the summary's RetriedAfterOOM_Attempts"
grep -qx "RunsTotal: 3" "$T/peaks.out" || fail "the summary's RunsTotal"

note "report: the attempt drawn, marked"
run_cmd report "$MS_BIN" report -o "$T/r.html" "$S"
assert_eq 0 "$RC" "exit status of memsweep report (stderr: $(cat "$T/report.err"))"
python3 - "$T/r.html" "$n_sup" <<'PY' || fail "the report's runs"
import json, re, sys
page = open(sys.argv[1]).read()
d = json.loads(re.search(r'<script id="ms-data" type="application/json">(.*?)</script>', page, re.S).group(1))
sup = [r for r in d["runs"] if r["superseded"]]
assert len(sup) == int(sys.argv[2]) and len(d["runs"]) == 3 + len(sup), d["runs"]
assert all(r["status"] == "oom" and r["attempt"] == 1 for r in sup), sup
assert d["advisory"]["RunsTotal"] == 3 and d["advisory"]["RetriedAfterOOM_Attempts"] == len(sup)
assert len(d["schedule"]["admissions"]) == len(d["runs"]), d["schedule"]
PY
pass
