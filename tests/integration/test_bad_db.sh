# Damaged and unusual sweep databases: `memsweep advise` and `memsweep peaks`, as text and
# as --json, either refuse one with a single `memsweep: <path>: ...` line and exit status
# 1, or give the figures of the rows they could use and say, after the specification's
# lines, what they skipped, ignored or excluded. Every damaged copy is made here from one
# real sweep, so that each figure can be compared with the undamaged database's (or with
# that of a copy holding NULL where the damaged one holds a value that must be ignored).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SUBS=("advise" "advise --json" "peaks" "peaks --json")

# A small real sweep: a plain worker, one that kills itself with SIGKILL (no exit record),
# and one that forks a child. --commands runs each line through /bin/sh -c.
cat >"$T/commands" <<EOF
$WL --mib 8 --hold-ms 300
$WL --mib 16 --hold-ms 300 --kill-self
$WL --mib 12 --hold-ms 300 --fork-mib 4
EOF
run_cmd run "$MS_BIN" run -j 3 -o "$T/out" --interval-ms 50 --commands "$T/commands"
assert_eq 1 "$RC" "exit status of memsweep run (run 2 kills itself; stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
CLEAN="$T/clean.db"
sqlite3 "$S/memsweep.db" ".backup '$CLEAN'"

# damage NAME SQL: a copy of the clean database with SQL applied, as $T/NAME.db.
damage() {
    cp "$CLEAN" "$T/$1.db"
    sqlite3 -bail "$T/$1.db" "$2"
}

# The samples table without types or constraints, so that it holds what a damaged or
# hand-made database can: NULL, text and blobs where numbers belong.
LOOSE_SAMPLES="CREATE TABLE s2 AS SELECT * FROM samples; DROP TABLE samples;
CREATE TABLE samples(proc_id, t_ns, rss_kb, hwm_kb, kind, heap_kb, stack_id,
                     rss_anon_kb, rss_file_kb, rss_shmem_kb, pss_kb, pss_anon_kb, pss_shmem_kb);
INSERT INTO samples SELECT * FROM s2; DROP TABLE s2;
CREATE INDEX samples_by_proc ON samples(proc_id, t_ns);"

# refuse NAME PATH MESSAGE: every subcommand exits 1, prints nothing on stdout and exactly
# "memsweep: MESSAGE" on stderr.
refuse() {
    local name="$1" path="$2" want="memsweep: $3" i=0 sub
    for sub in "${SUBS[@]}"; do
        i=$((i + 1))
        # shellcheck disable=SC2086
        run_cmd "$name.$i" "$MS_BIN" $sub "$path"
        assert_eq 1 "$RC" "$name: exit status of 'memsweep $sub' (stderr: $(cat "$T/$name.$i.err"))"
        assert_empty "$T/$name.$i.out" "$name: stdout of 'memsweep $sub'"
        assert_eq "$want" "$(cat "$T/$name.$i.err")" "$name: stderr of 'memsweep $sub'"
    done
    note "$name: $want"
}

# analyze NAME [OPTION...]: every subcommand on $T/NAME.db exits 0 with nothing on stderr;
# their outputs are $T/NAME.adv, .advj, .pk and .pkj. The JSON outputs must parse.
analyze() {
    local name="$1" i=0 sub ext exts=(adv advj pk pkj)
    shift
    for sub in "${SUBS[@]}"; do
        ext="${exts[$i]}"
        i=$((i + 1))
        # shellcheck disable=SC2086
        run_cmd "$name.$ext" "$MS_BIN" $sub "$@" "$T/$name.db"
        assert_eq 0 "$RC" "$name: exit status of 'memsweep $sub' (stderr: $(cat "$T/$name.$ext.err"))"
        assert_empty "$T/$name.$ext.err" "$name: stderr of 'memsweep $sub'"
        mv "$T/$name.$ext.out" "$T/$name.$ext"
    done
    python3 -c 'import json, sys; [json.load(open(p)) for p in sys.argv[1:]]' \
        "$T/$name.advj" "$T/$name.pkj" || fail "$name: a --json output does not parse"
    check_order "$T/$name.adv" "$name"
}

# report FILE: memsweep's report lines of an advisory or of the summary of peaks. The note
# that the sweep's CPUs, not memory, limit its workers is about the machine, not about the
# database, and is left out.
report() {
    grep -E '^(Excluded|Skipped|Ignored|Note): ' "$1" | grep -vE '^Note: memory admits ' || true
}

# figures FILE: an output without the report lines, without the run counts (and the sbatch
# line, whose --array counts the runs), and without per-run Note/Unstored lines and lines
# on processes without an exit record (the figures proper).
figures() {
    grep -vE '^(Excluded|Skipped|Ignored|Note|RunsTotal|RunsFailed|RunsExcluded|RunsIncluded|RunsStopped|RunsRunning|RunsCompared|ProcessesWithoutExitRecord|MainProcessesWithoutExitRecord|Unstored|Paste_sbatch): |^  (Note|Unstored|ProcessesWithoutExitRecord|MainProcessEnd|OtherProcessesWithoutExitRecord): |^Warning: [0-9]+ of [0-9]+ runs \([0-9]+%\) were left out' "$1"
}

# check_order ADVISORY WHAT: the post-run section keeps the specification's lines first,
# in their order, then memsweep's keys, then the report, then notes, then warnings (with
# the Divergence line that follows the divergence warning), then the suggested safety
# factor (SuggestedSafetyFactor*), then the runner lines (Paste*) and the table by
# parameter value (ParamMemory*).
check_order() {
    post_section "$1" | python3 -c '
import sys
spec = ["Post-run Observed Advisory", "MeanRSS_End_MB", "MedianRSS_End_MB", "P95RSS_End_MB",
        "MaxRSS_End_MB", "MeanPeakRSS_MB", "P95PeakRSS_MB", "MaxPeakRSS_MB", "SafetyFactor",
        "RecommendedMaxWorkers_Aggressive", "RecommendedMaxWorkers_Conservative"]
stage = {"Excluded": 3, "Skipped": 3, "Ignored": 3, "Note": 4, "Warning": 5, "Divergence": 5}
last, pos = 0, -1
for line in sys.stdin.read().splitlines():
    key = line.split(":")[0]
    if key in spec:
        s = 1
        if spec.index(key) <= pos:
            sys.exit("%r is out of the specification'"'"'s order" % line)
        pos = spec.index(key)
    elif key.startswith("SuggestedSafetyFactor"):
        s = 5.5
    elif key.startswith("Paste"):
        s = 6
    elif key.startswith("ParamMemory"):
        s = 7
    else:
        s = stage.get(key, 2)
    if s < last:
        sys.exit("%r comes after a later kind of line" % line)
    last = s
' || fail "$2: order of the post-run section"
}

# jq_eq FILE EXPR EXPECTED WHAT: the Python expression EXPR on the JSON document d.
jq_eq() {
    local got
    got="$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2")"
    assert_eq "$3" "$got" "$4"
}

# ---- the clean database -------------------------------------------------------------
note "the clean database: figures as recomputed here, nothing to report"
cp "$CLEAN" "$T/clean0.db"
analyze clean0
run_figures "$CLEAN" >"$T/clean.figures"
expected_advisory "$T/clean.figures" "$(mem_total_mb)" >"$T/clean.expected"
check_advisory "$T/clean.expected" "$T/clean0.adv" "clean database"
# On a loaded machine the workers' samplers may have been kept from storing a reading or
# two; the report then says so, with the count the database holds and the cause it shows
# (no write failed: no process has a note), and nothing else.
unstored="$(sql "$CLEAN" "SELECT coalesce(sum(unstored), 0) FROM processes")"
assert_int "$unstored" "readings the clean sweep's workers could not store"
if [ "$unstored" = 0 ]; then
    assert_eq "" "$(report "$T/clean0.adv")" "report lines of the clean database's advisory"
else
    assert_eq 1 "$(report "$T/clean0.adv" | wc -l)" "report lines of the clean database's advisory (with $unstored unstored)"
    report "$T/clean0.adv" | grep -qE "^Note: $unstored readings? (was|were) not stored though no write to the database failed: " ||
        fail "the clean database's only report line is not about its $unstored unstored readings: $(report "$T/clean0.adv")"
fi
# The killed worker has no exit record: its samples up to its end count (the
# recomputation above holds it at its last sample), and peaks reports it.
pid_killed="$(sql "$CLEAN" "SELECT p.pid FROM processes p JOIN runs r USING (run_id)
    WHERE r.seq = 2 AND p.ended_ns IS NULL
      AND NOT EXISTS (SELECT 1 FROM samples s WHERE s.proc_id = p.proc_id AND s.kind = 'end')
      AND NOT EXISTS (SELECT 1 FROM processes q WHERE q.run_id = p.run_id AND q.pid = p.pid
                      AND q.started_ns > p.started_ns)")"
assert_int "$pid_killed" "pid of the worker that killed itself"
assert_eq 1 "$(grep -c '^  ProcessesWithoutExitRecord: 1$' "$T/clean0.pk")" \
    "runs of the clean database with a process without an exit record"
# When sh -c exec'd into the worker (some shells do, for a line of one command), it is the
# run's main process, and the run's row says how it ended; when the shell forked it, it is
# a child, and nothing in the database says how it ended.
first_pid="$(sql "$CLEAN" "SELECT p.pid FROM processes p JOIN runs r USING (run_id) WHERE r.seq = 2
                           ORDER BY p.started_ns, p.proc_id LIMIT 1")"
if [ "$first_pid" = "$pid_killed" ]; then
    note "the shell exec'd the killed worker: it is the run's main process"
    assert_contains "$T/clean0.pk" "  ProcessesWithoutExitRecord: 1
  MainProcessEnd: pid $pid_killed, killed by signal 9 (SIGKILL)
" "run 2 in peaks on the clean database"
    mains=1 others="[0, 0, 0]" main_json="{'Pid': $pid_killed, 'Signal': 9, 'ExitCode': None}"
else
    note "the shell forked the killed worker: it is a child of the run's main process"
    assert_contains "$T/clean0.pk" "  ProcessesWithoutExitRecord: 1
  OtherProcessesWithoutExitRecord: 1 (killed by a signal, crashed or ended by a raw exit system call; the database does not say which)
" "run 2 in peaks on the clean database"
    mains=0 others="[0, 1, 0]" main_json=None
fi
assert_eq 0 "$(grep -c 'SIGKILL\|MainProcessEnd' <(grep -v "pid $pid_killed" "$T/clean0.pk"))" \
    "peaks: how a process other than the killed worker ended"
assert_contains "$T/clean0.pk" "ProcessesWithoutExitRecord: 1
MainProcessesWithoutExitRecord: $mains
Unstored: $unstored" "summary of peaks on the clean database"
jq_eq "$T/clean0.pkj" '[r["ProcessesWithoutExitRecord"] for r in d["runs"]]' "[0, 1, 0]" \
    "ProcessesWithoutExitRecord of each run (JSON)"
jq_eq "$T/clean0.pkj" '[r["OtherProcessesWithoutExitRecord"] for r in d["runs"]]' "$others" \
    "OtherProcessesWithoutExitRecord of each run (JSON)"
jq_eq "$T/clean0.pkj" '[r["MainProcessEnd"] for r in d["runs"]]' "[None, $main_json, None]" \
    "MainProcessEnd of each run (JSON)"
jq_eq "$T/clean0.pkj" '(d["summary"]["ProcessesWithoutExitRecord"], d["summary"]["MainProcessesWithoutExitRecord"])' \
    "(1, $mains)" "summary ProcessesWithoutExitRecord and MainProcessesWithoutExitRecord (JSON)"
jq_eq "$T/clean0.advj" '(d["Skipped"]["Samples"]["Count"], d["Ignored"]["Count"], d["Excluded"]["Count"], d["Unstored"])' \
    "(0, 0, 0, $unstored)" "report of the clean database (JSON)"

# ---- refused ------------------------------------------------------------------------
note "databases that are refused"
: >"$T/empty.db"
refuse empty "$T/empty.db" "$T/empty.db: empty file, not a memsweep database"
python3 -c 'import random, sys; r = random.Random(7); sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(8192)))' >"$T/random.bin"
refuse random "$T/random.bin" "$T/random.bin: not a memsweep database (not an SQLite database file)"
sqlite3 "$T/foreign.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
refuse foreign "$T/foreign.db" "$T/foreign.db: not a memsweep database"
size="$(stat -c %s "$CLEAN")"
page="$(sql "$CLEAN" "PRAGMA page_size")"
assert_eq "$size" "$((page * $(sql "$CLEAN" "PRAGMA page_count")))" "size of the clean database"
head -c "$((size / page / 2 * page))" "$CLEAN" >"$T/truncated.db"
refuse truncated "$T/truncated.db" \
    "$T/truncated.db: damaged database file (truncated: $((size / page / 2 * page)) of $size bytes)"
mkdir "$T/truncdir"
cp "$T/truncated.db" "$T/truncdir/memsweep.db"
refuse truncdir "$T/truncdir" \
    "$T/truncdir/memsweep.db: damaged database file (truncated: $((size / page / 2 * page)) of $size bytes)"
cp "$CLEAN" "$T/corrupt.db"
root="$(sql "$CLEAN" "SELECT rootpage FROM sqlite_master WHERE name = 'samples'")"
printf '\377\377\377\377\377\377\377\377' |
    dd of="$T/corrupt.db" bs=1 seek="$(((root - 1) * page))" conv=notrunc 2>/dev/null
refuse corrupt "$T/corrupt.db" "$T/corrupt.db: damaged database file (database disk image is malformed)"
damage no_table "DROP TABLE samples"
refuse no_table "$T/no_table.db" "$T/no_table.db: damaged memsweep database: no table samples"
damage no_column "ALTER TABLE samples DROP COLUMN rss_kb"
refuse no_column "$T/no_column.db" \
    "$T/no_column.db: damaged memsweep database: table samples has no column rss_kb"
damage no_pid "ALTER TABLE processes DROP COLUMN pid"
refuse no_pid "$T/no_pid.db" "$T/no_pid.db: damaged memsweep database: table processes has no column pid"
# A view could yield rows without end: only stored tables are read.
damage view "ALTER TABLE samples RENAME TO s0; CREATE VIEW samples(proc_id, t_ns, rss_kb, hwm_kb, kind, heap_kb, stack_id) AS
 WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT 1, x, x, x, 'tick', NULL, NULL FROM c"
refuse view "$T/view.db" "$T/view.db: damaged memsweep database: no table samples"
damage version0 "PRAGMA user_version = 0"
refuse version0 "$T/version0.db" "$T/version0.db: not a complete memsweep database (schema version 0)"

# ---- samples that cannot be readings ------------------------------------------------
note "samples with NULL, text, blobs, out-of-range numbers or no process: skipped and counted"
P1="(SELECT min(proc_id) FROM processes)"
damage bad_samples "$LOOSE_SAMPLES
INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind) VALUES
 ($P1, 1795944278000000000, NULL, 1, 'tick'), ($P1, 1795944278000000001, NULL, 1, 'end'),
 ($P1, 1795944278000000002, 'abc', 1, 'tick'), ($P1, 1795944278000000003, x'00ff', 1, 'tick'),
 ($P1, 1795944278000000004, 5.5, 1, 'tick'), ($P1, 1795944278000000005, -5, 1, 'tick'),
 ($P1, 1795944278000000006, 4611686018427387904, 1, 'release'),
 ($P1, -1, 5, 5, 'tick'), ($P1, 9000000000000000000, 5, 5, 'tick'), ($P1, NULL, 5, 5, 'tick'),
 ('1', 1795944278000000007, 5, 5, 'tick'), (999999, 1795944278000000008, 5, 5, 'tick');"
analyze bad_samples
want="Skipped: 12 samples (proc_id not a whole number: 1, no such process: 1, NULL t_ns: 1, t_ns before 1970: 1, t_ns after 2099: 1, NULL rss_kb: 2, rss_kb not a whole number: 3, negative rss_kb: 1, rss_kb over 4 PiB: 1)"
assert_eq "$want" "$(report "$T/bad_samples.adv")" "report of the advisory"
assert_eq "$want" "$(report "$T/bad_samples.pk")" "report of peaks"
assert_eq "$(figures "$T/clean0.adv")" "$(figures "$T/bad_samples.adv")" "advisory figures with bad samples"
assert_eq "$(figures "$T/clean0.pk")" "$(figures "$T/bad_samples.pk")" "peaks figures with bad samples"
for f in advj pkj; do
    pre=""
    [ "$f" = pkj ] && pre='["summary"]'
    jq_eq "$T/bad_samples.$f" "d$pre[\"Skipped\"][\"Samples\"][\"Count\"]" 12 "$f: Skipped.Samples.Count"
    jq_eq "$T/bad_samples.$f" "sorted(d$pre[\"Skipped\"][\"Samples\"][\"Reasons\"].items())" \
        "[('NULL rss_kb', 2), ('NULL t_ns', 1), ('negative rss_kb', 1), ('no such process', 1), ('proc_id not a whole number', 1), ('rss_kb not a whole number', 3), ('rss_kb over 4 PiB', 1), ('t_ns after 2099', 1), ('t_ns before 1970', 1)]" \
        "$f: Skipped.Samples.Reasons"
done

# ---- values that are ignored --------------------------------------------------------
note "bad values in kept rows: read as absent, and counted"
# A process that exited normally and is not its run's largest: its values can be made
# absent without making it end abnormally.
PX="(SELECT proc_id FROM processes WHERE ended_ns IS NOT NULL ORDER BY proc_id LIMIT 1)"
damage ignored "UPDATE processes SET hwm_kb = -4, ended_ns = 'soon', alloc_dropped = -1 WHERE proc_id = $PX;
UPDATE samples SET hwm_kb = 4611686018427387904 WHERE proc_id = $PX AND kind = 'start';
UPDATE sweeps SET interval_ms = -5;"
damage as_null "UPDATE processes SET hwm_kb = NULL, ended_ns = NULL, alloc_dropped = NULL WHERE proc_id = $PX;
UPDATE samples SET hwm_kb = NULL WHERE proc_id = $PX AND kind = 'start';
UPDATE sweeps SET interval_ms = 500;"
analyze ignored
analyze as_null
assert_eq "Ignored: 5 values (sweeps.interval_ms not in 1..3600000: 1, processes.ended_ns not a whole number: 1, processes.hwm_kb negative or over 4 PiB: 1, processes.alloc_dropped* not a count: 1, samples.hwm_kb negative or over 4 PiB: 1)" \
    "$(report "$T/ignored.adv")" "report of the advisory"
assert_eq "" "$(report "$T/as_null.adv")" "report of the copy with NULLs"
assert_eq "$(figures "$T/as_null.adv")" "$(figures "$T/ignored.adv")" "advisory figures: ignored = NULL"
assert_eq "$(figures "$T/as_null.pk")" "$(figures "$T/ignored.pk")" "peaks figures: ignored = NULL"
jq_eq "$T/ignored.advj" 'd["Ignored"]["Count"]' 5 "Ignored.Count (JSON)"

note "an absurd MemTotal is ignored: the advice needs --mem-total-mb"
damage memtotal "UPDATE sweeps SET mem_total_kb = 4611686018427387904"
analyze memtotal
assert_eq "Ignored: 1 value (sweeps.mem_total_kb not in 1 KiB..4 PiB: 1)
Note: MemTotal unknown; recommendations omitted (see --mem-total-mb)." \
    "$(report "$T/memtotal.adv")" "report of the advisory"
assert_eq "" "$(grep '^Recommended' "$T/memtotal.adv" || true)" "recommendations without MemTotal"
assert_eq "$(grep -E '^(Mean|Median|P95|Max)' "$T/clean0.adv" | sort)" \
    "$(grep -E '^(Mean|Median|P95|Max)' "$T/memtotal.adv" | sort)" "RSS statistics without MemTotal"

# ---- order and duplicates -----------------------------------------------------------
note "samples out of time order are sorted; exact duplicates count once"
n_dup="$(sql "$CLEAN" "SELECT count(*) FROM samples WHERE proc_id = $P1")"
damage order_dups "INSERT INTO samples SELECT * FROM samples WHERE proc_id = $P1;
CREATE TABLE s2 AS SELECT * FROM samples ORDER BY t_ns DESC; DELETE FROM samples;
INSERT INTO samples SELECT * FROM s2; DROP TABLE s2;"
analyze order_dups
assert_eq "Skipped: $n_dup samples (duplicate: $n_dup)" "$(report "$T/order_dups.adv")" "report of the advisory"
assert_eq "$(figures "$T/clean0.adv")" "$(figures "$T/order_dups.adv")" "advisory figures"
# Sample counts included: the duplicates are not counted.
assert_eq "$(grep -v '^Skipped: ' "$T/clean0.pk")" "$(grep -v '^Skipped: ' "$T/order_dups.pk")" "peaks"

# ---- runs and processes without rows below them, rows without rows above them ---------
note "a run without processes, a process without samples, rows of no run or process"
damage orphans "INSERT INTO runs(run_id, sweep_id, seq, status) VALUES (1000, (SELECT sweep_id FROM sweeps), 4, 'failed');
INSERT INTO processes(proc_id, run_id, pid, started_ns) VALUES
 (1000, (SELECT run_id FROM runs WHERE seq = 1), 4000000, (SELECT min(started_ns) FROM processes)),
 (1001, 999999, 4000001, (SELECT min(started_ns) FROM processes));
INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind) VALUES
 (1001, (SELECT min(t_ns) FROM samples), 500000, 500000, 'tick'),
 (1001, (SELECT max(t_ns) FROM samples), 500000, 500000, 'tick'),
 (888888, (SELECT min(t_ns) FROM samples), 500000, 500000, 'tick');"
analyze orphans
assert_eq "Excluded: 1 run not measured (no memory sample: 1)
Skipped: 1 process (no such run: 1)
Skipped: 3 samples (no such process: 1, process skipped: 2)" "$(report "$T/orphans.adv")" "report of the advisory"
assert_eq "4|3|2|1" "$(post_field "$T/orphans.adv" RunsTotal)|$(post_field "$T/orphans.adv" RunsIncluded)|$(post_field "$T/orphans.adv" RunsFailed)|$(post_field "$T/orphans.adv" RunsExcluded)" \
    "RunsTotal|RunsIncluded|RunsFailed|RunsExcluded"
assert_eq "$(figures "$T/clean0.adv")" "$(figures "$T/orphans.adv")" "advisory figures"
assert_contains "$T/orphans.pk" "Run 4
  Status: failed
  Processes: 0
  Samples: 0 (no memory sample; not compared)" "the run without processes in peaks"
# The process row without samples has no exit record either; nothing says how it ended.
jq_eq "$T/orphans.pkj" '[(r["Seq"], r["Processes"], r["ProcessesWithoutExitRecord"]) for r in d["runs"]]' \
    "[(1, $(($(sql "$CLEAN" "SELECT count(*) FROM processes p JOIN runs r USING (run_id) WHERE r.seq = 1") + 1)), 1), (2, $(sql "$CLEAN" "SELECT count(*) FROM processes p JOIN runs r USING (run_id) WHERE r.seq = 2"), 1), (3, $(sql "$CLEAN" "SELECT count(*) FROM processes p JOIN runs r USING (run_id) WHERE r.seq = 3"), 0), (4, 0, 0)]" \
    "Seq, Processes and ProcessesWithoutExitRecord of each run"
jq_eq "$T/orphans.pkj" '[(r["Seq"], r["OtherProcessesWithoutExitRecord"]) for r in d["runs"]]' \
    "[(1, 1), (2, $((1 - mains))), (3, 0), (4, 0)]" "OtherProcessesWithoutExitRecord of each run"
assert_contains "$T/orphans.pk" "ProcessesWithoutExitRecord: 2
MainProcessesWithoutExitRecord: $mains
Unstored: 0" "summary of peaks"

# ---- the sweeps table ---------------------------------------------------------------
note "no sweeps row: MemTotal unknown, the RSS figures stand"
damage no_sweep "DELETE FROM sweeps"
analyze no_sweep
assert_eq "Note: MemTotal unknown; recommendations omitted (see --mem-total-mb).
Note: the database has no sweeps row; the machine's MemTotal and the sampling interval are unknown." \
    "$(report "$T/no_sweep.adv")" "report of the advisory"
assert_eq "$(grep -E '^(Mean|Median|P95|Max)' "$T/clean0.adv")" \
    "$(grep -E '^(Mean|Median|P95|Max)' "$T/no_sweep.adv")" "RSS statistics without a sweeps row"
run_cmd no_sweep_mem "$MS_BIN" advise --mem-total-mb "$(mem_total_mb)" "$T/no_sweep.db"
assert_eq 0 "$RC" "exit status of advise --mem-total-mb without a sweeps row"
assert_eq "$(grep '^Recommended' "$T/clean0.adv")" "$(grep '^Recommended' "$T/no_sweep_mem.out")" \
    "recommendations with --mem-total-mb"

note "two sweeps rows: the first sweep is read, the other's rows are skipped"
damage two_sweeps "INSERT INTO sweeps(sweep_id, started_ns, reserve_mb, safety_factor, interval_ms, mem_total_kb)
 VALUES ((SELECT sweep_id FROM sweeps) + 1, 0, 1024, 0.85, 500, 1024);
INSERT INTO runs(run_id, sweep_id, seq, status) VALUES (2000, (SELECT max(sweep_id) FROM sweeps), 1, 'ok');
INSERT INTO processes(proc_id, run_id, pid, started_ns) VALUES (2000, 2000, 5, 1795944278000000000);
INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind) VALUES (2000, 1795944278000000000, 999999, 999999, 'start');"
analyze two_sweeps
assert_eq "Skipped: 1 run (of another sweep: 1)
Skipped: 1 process (run skipped: 1)
Skipped: 1 sample (process skipped: 1)" "$(report "$T/two_sweeps.adv")" "report of the advisory"
assert_eq "$(figures "$T/clean0.adv")" "$(figures "$T/two_sweeps.adv")" "advisory figures"
assert_eq "3" "$(post_field "$T/two_sweeps.adv" RunsTotal)" "RunsTotal"

# ---- runs ---------------------------------------------------------------------------
note "a status this version does not know counts as failed, and is said"
damage status "PRAGMA ignore_check_constraints = 1; UPDATE runs SET status = 'exploded' WHERE seq = 1"
analyze status
assert_eq "Note: 1 run has a status this version does not know (exploded: 1); counted as failed." \
    "$(report "$T/status.adv")" "report of the advisory"
assert_eq "$(($(post_field "$T/clean0.adv" RunsFailed) + 1))" "$(post_field "$T/status.adv" RunsFailed)" "RunsFailed"
assert_contains "$T/status.pk" "  Status: exploded (unknown; counted as failed)" "the run's status in peaks"
jq_eq "$T/status.pkj" '(d["runs"][0]["Status"], d["runs"][0]["StatusKnown"])' "('exploded', False)" \
    "Status and StatusKnown (JSON)"

note "runs with a NULL or text seq, or a duplicate run_id, are skipped"
damage bad_runs "CREATE TABLE r2 AS SELECT * FROM runs; DROP TABLE runs;
CREATE TABLE runs(run_id, sweep_id, seq, label, command, started_ns, finished_ns, exit_code, term_signal, status, uninstrumented, maxrss_kb, maxrss_floor_kb, utime_us, stime_us, uid, host, node_mem_kb, node_mem_source, node_reserve_mb, node_cpus, batch_job, batch_state, recorder, attempt, superseded);
INSERT INTO runs SELECT * FROM r2; DROP TABLE r2;
INSERT INTO runs SELECT * FROM runs WHERE seq = 1;
INSERT INTO runs(run_id, sweep_id, seq, status) VALUES (3000, (SELECT sweep_id FROM sweeps), NULL, 'ok'),
 (3001, (SELECT sweep_id FROM sweeps), 'x', 'ok'), ('r', (SELECT sweep_id FROM sweeps), 10, 'ok');"
analyze bad_runs
assert_eq "Skipped: 4 runs (run_id not a whole number: 1, duplicate run_id: 1, NULL seq: 1, seq not a whole number: 1)" \
    "$(report "$T/bad_runs.adv")" "report of the advisory"
assert_eq "$(figures "$T/clean0.adv")" "$(figures "$T/bad_runs.adv")" "advisory figures"

# ---- schema version 3: not measured, unstored, notes --------------------------------
note "runs not measured, readings not stored, the shim's notes"
PR1="(SELECT min(proc_id) FROM processes p JOIN runs r USING (run_id) WHERE r.seq = 1)"
LONG_REASON_PATH=/opt/a/directory/deep/enough/that/the/reason/is/longer/than/sixty-four/bytes/x
PR3="(SELECT proc_id FROM processes p JOIN runs r USING (run_id) WHERE r.seq = 3 ORDER BY proc_id"
damage v3 "INSERT INTO runs(run_id, sweep_id, seq, status, uninstrumented) VALUES
 (4000, (SELECT sweep_id FROM sweeps), 4, 'ok', 'statically linked: /opt/solver/bin/solve'),
 (4001, (SELECT sweep_id FROM sweeps), 5, 'failed', 'setuid'),
 (4002, (SELECT sweep_id FROM sweeps), 6, 'ok', 'statically linked: $LONG_REASON_PATH');
UPDATE processes SET unstored = 5, note = 'database is busy' WHERE proc_id = $PR1;
UPDATE processes SET unstored = 2, note = 'descriptors closed by the program' WHERE proc_id IN $PR3 LIMIT 2);"
analyze v3
pid_r1="$(sql "$CLEAN" "SELECT pid FROM processes WHERE proc_id = $PR1")"
pid_r3="$(sql "$CLEAN" "SELECT pid FROM processes WHERE proc_id IN $PR3 LIMIT 1)")"
# The note named is that of the first process (by proc_id) that lost readings to it.
first_note="$(sql "$T/v3.db" "SELECT note FROM processes WHERE unstored > 0 AND note <> ''
                              ORDER BY proc_id LIMIT 1")"
assert_eq "Excluded: 3 runs not measured (statically linked: 2, setuid: 1)
Note: 9 readings were lost by processes whose writes to the database failed (the first reason noted: $first_note); no figure includes them." \
    "$(report "$T/v3.adv")" "report of the advisory"
assert_eq "6|3|$(($(post_field "$T/clean0.adv" RunsFailed) + 1))|3" "$(post_field "$T/v3.adv" RunsTotal)|$(post_field "$T/v3.adv" RunsIncluded)|$(post_field "$T/v3.adv" RunsFailed)|$(post_field "$T/v3.adv" RunsExcluded)" \
    "RunsTotal|RunsIncluded|RunsFailed|RunsExcluded"
assert_eq "$(grep -E '_MB: ' "$T/clean0.adv")" "$(grep -E '_MB: ' "$T/v3.adv")" "RSS statistics"
assert_contains "$T/v3.pk" "  Unstored: 5 (writes to the database failed; see the notes)" "run 1's unstored readings"
assert_contains "$T/v3.pk" "  Note: pid $pid_r1: database is busy" "run 1's note"
assert_contains "$T/v3.pk" "  Unstored: 4 (writes to the database failed; see the notes)" "run 3's unstored readings"
assert_contains "$T/v3.pk" "  Note: 2 processes, first pid $pid_r3: descriptors closed by the program" "run 3's note"
assert_contains "$T/v3.pk" "Run 5
  Status: failed
  Processes: 0
  NotMeasured: setuid
  Samples: 0 (run not measured; not compared)" "a run not measured in peaks"
assert_contains "$T/v3.pk" "RunsCompared: 3
ProcessesWithoutExitRecord: 1
MainProcessesWithoutExitRecord: $mains
Unstored: 9" "summary of peaks"
jq_eq "$T/v3.advj" '(d["Excluded"], d["Unstored"])' \
    "({'Count': 3, 'Reasons': {'statically linked': 2, 'setuid': 1}}, 9)" "Excluded and Unstored (advise JSON)"
# Counted by kind in the summary, each run's reason whole in peaks.
assert_contains "$T/v3.pk" "  NotMeasured: statically linked: $LONG_REASON_PATH" "a long reason in peaks"

note "reasons without ': ' are counted by the words before their path, and never cut inside a word"
DYN_REASON="no process reported by /usr/lib/venv/bin/python3, which is dynamically linked (see the run's log)"
LONG_KIND="the program exited before the shim could write anything at all to the database"
damage kinds "INSERT INTO runs(run_id, sweep_id, seq, status, uninstrumented) VALUES
 (5000, (SELECT sweep_id FROM sweeps), 4, 'ok', '${DYN_REASON//\'/\'\'}'),
 (5001, (SELECT sweep_id FROM sweeps), 5, 'ok', '$LONG_KIND');"
analyze kinds
assert_eq "Excluded: 2 runs not measured (no process reported by: 1, the program exited before the shim could write anything at...: 1)" \
    "$(grep '^Excluded: ' "$T/kinds.adv")" "the advisory's Excluded line"
assert_contains "$T/kinds.pk" "  NotMeasured: $DYN_REASON" "the whole reason in peaks"
jq_eq "$T/kinds.advj" 'd["Excluded"]' \
    "{'Count': 2, 'Reasons': {'no process reported by': 1, 'the program exited before the shim could write anything at...': 1}}" \
    "Excluded (advise JSON)"
jq_eq "$T/v3.pkj" '[(r["Seq"], r["NotMeasured"], r["Unstored"], [(n["Note"], n["Processes"]) for n in r["Notes"]]) for r in d["runs"]]' \
    "[(1, None, 5, [('database is busy', 1)]), (2, None, 0, []), (3, None, 4, [('descriptors closed by the program', 2)]), (4, 'statically linked: /opt/solver/bin/solve', 0, []), (5, 'setuid', 0, []), (6, 'statically linked: $LONG_REASON_PATH', 0, [])]" \
    "NotMeasured, Unstored and Notes of each run (peaks JSON)"

note "schema versions 1 and 2 read as version 3 does"
damage v2 "ALTER TABLE runs DROP COLUMN uninstrumented; ALTER TABLE processes DROP COLUMN unstored;
ALTER TABLE processes DROP COLUMN note; PRAGMA user_version = 2;"
damage v1 "ALTER TABLE runs DROP COLUMN uninstrumented; ALTER TABLE processes DROP COLUMN unstored;
ALTER TABLE processes DROP COLUMN note; ALTER TABLE processes DROP COLUMN alloc_tracking;
ALTER TABLE processes DROP COLUMN alloc_dropped; ALTER TABLE processes DROP COLUMN alloc_dropped_rate;
ALTER TABLE processes DROP COLUMN alloc_dropped_queue; ALTER TABLE samples DROP COLUMN heap_kb;
ALTER TABLE samples DROP COLUMN stack_id; DROP TABLE stacks; PRAGMA user_version = 1;"
analyze v2
analyze v1
assert_eq "$(cat "$T/clean0.adv")" "$(cat "$T/v2.adv")" "advisory of the version 2 copy"
assert_eq "$(cat "$T/clean0.adv")" "$(cat "$T/v1.adv")" "advisory of the version 1 copy"
assert_eq "$(cat "$T/clean0.pk")" "$(cat "$T/v2.pk")" "peaks of the version 2 copy"
assert_eq "$(grep -v '^  AllocTracking: ' "$T/clean0.pk")" "$(grep -v '^  AllocTracking: ' "$T/v1.pk")" \
    "peaks of the version 1 copy, allocation tracking aside"
assert_eq 3 "$(grep -c '^  AllocTracking: not recorded$' "$T/v1.pk")" "tracking of the version 1 copy"

pass
