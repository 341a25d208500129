# `memsweep export --csv runs|samples`: CSV that Python's csv module reads back whole, one
# row per run with the figures `peaks` shows, one row per sample of the database (counted
# by SQL independently), labels with commas, quotes and newlines kept byte for byte, a
# sweep of shards read like a database; bad options refused.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$MS_BIN" run -j 2 -o "$T/out" -P mib=24,64 -- "$WL" --mib '{mib}' --hold-ms 100 \
    >/dev/null 2>"$T/run.err" || fail "the sweep failed: $(cat "$T/run.err")"
S="$(sweep_dir_of "$T/out")"

note "runs"
"$MS_BIN" export --csv runs "$S" >"$T/runs.csv"
python3 - "$T/runs.csv" <<'PY' || fail "runs.csv: $(cat "$T/runs.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) == 2, rows
for r in rows:
    mib = int(r["label"].split("=")[1])
    assert r["status"] == "ok" and r["measured"] == "1", r
    assert mib * 1024 <= int(r["peak_rss_kb"]) <= (mib + 16) * 1024, r
    assert int(r["all_samples_peak_kb"]) <= int(r["peak_rss_kb"]), r
    assert r["peak_is"] in ("exact", "lower_bound"), r
    assert r["command"].endswith("--mib %d --hold-ms 100" % mib), r
    assert int(r["samples"]) > 0 and int(r["processes"]) == 1, r
PY
"$MS_BIN" peaks "$S" >"$T/peaks.txt"
for seq in 1 2; do
    want="$(awk -v s="Run $seq:" 'index($0, s) == 1 { p = 1 } p && /PeakRSS_MB: / && !/Periodic|AllSamples/ { print $2; exit }' "$T/peaks.txt")"
    got="$(python3 -c 'import csv,sys; r=[x for x in csv.DictReader(open(sys.argv[1], newline="")) if x["seq"] == sys.argv[2]][0]; print("%.1f" % (int(r["peak_rss_kb"]) / 1024))' "$T/runs.csv" "$seq")"
    assert_eq "$want" "$got" "run $seq's peak in MiB, from peaks and from the CSV"
done

note "samples"
"$MS_BIN" export --csv samples "$S" -o "$T/samples.csv"
want="$(sqlite3 "$S/memsweep.db" "SELECT count(*) FROM samples")"
got="$(python3 -c 'import csv,sys; print(len(list(csv.DictReader(open(sys.argv[1], newline="")))))' "$T/samples.csv")"
assert_eq "$want" "$got" "rows of samples.csv against the database's samples"
want="$(sqlite3 "$S/memsweep.db" "SELECT sum(rss_kb) FROM samples")"
got="$(python3 -c 'import csv,sys; print(sum(int(r["rss_kb"]) for r in csv.DictReader(open(sys.argv[1], newline=""))))' "$T/samples.csv")"
assert_eq "$want" "$got" "sum of rss_kb in samples.csv against the database"
RC=0
"$MS_BIN" export --csv samples "$S" -o "$T/samples.csv" 2>"$T/exists.err" || RC=$?
assert_eq 1 "$RC" "export over an existing file"

note "labels with commas, quotes and newlines; a sweep of shards"
label="$(printf 'x=a,"b"\nc')"
"$MS_BIN" exec --sweep "$T/shards" --label "$label" -- "$WL" --mib 8
"$MS_BIN" export --csv runs "$T/shards" >"$T/shards.csv"
got="$(python3 -c 'import csv,sys; print(list(csv.DictReader(open(sys.argv[1], newline="")))[0]["label"], end="")' "$T/shards.csv")"
assert_eq "$label" "$got" "a label with a comma, quotes and a newline, read back by Python"

note "bad options"
RC=0
"$MS_BIN" export "$S" >/dev/null 2>"$T/e1.err" || RC=$?
assert_eq 2 "$RC" "export without --csv"
RC=0
"$MS_BIN" export --csv procs "$S" >/dev/null 2>"$T/e2.err" || RC=$?
assert_eq 2 "$RC" "export --csv procs"
assert_contains "$T/e2.err" "memsweep: --csv: expected runs or samples" "the message"

pass
