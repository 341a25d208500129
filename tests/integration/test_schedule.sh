# The scheduling options of `memsweep run` against a real memory cgroup with a hard limit
# (cgroup v2 memory.max or v1 memory.limit_in_bytes, no swap), memsweep itself running
# inside it as it would in a job or a container:
#   a) a fixed -j 4 of runs whose memory together exceeds the limit: the kernel kills
#      runs, which end `oom`, and the group's count of kills rises;
#   b) the same sweep with --mem-budget auto (-j 4, then -j auto): every run ends `ok`,
#      the count does not rise, and every admission obeys its rule;
#   c) --stagger 1.5: starts at least 1.5 s apart, where the same sweep without it starts
#      runs closer than that (outside the group: memory plays no part);
#   d) --retry-oom 1: a run killed only because it ran beside another is run again alone
#      and succeeds, both attempts are recorded, and the advisory counts the run once;
#   e) the workers' oom_score_adj, read by each worker itself, is raised with
#      --mem-budget or --retry-oom and not otherwise.
# Nothing here depends on speed: runs that must overlap hold their memory until the test
# has seen what it waits for, with generous deadlines, and the only time asserted is the
# lower bound of the stagger. Skipped, with the reason, where no memory cgroup can be made.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

LIMIT_MIB=600
BIG_MIB=250
SMALL_MIB=150
# Two runs of 350 MiB exceed the limit together, and one fits alone beside memsweep.
RETRY_MIB=350

make_memory_cgroup "$LIMIT_MIB"
note "cgroup v$CG_VERSION at $CG, limit $LIMIT_MIB MiB"
[ -n "$(oom_kills)" ] || skip "$CG reports no oom_kill count (kernel too old to tell an OOM kill)"

# The oom_score_adj memsweep inherits from this shell, and what the workers of a sweep
# with --mem-budget or --retry-oom get: 500 above it, at most 1000 (docs/usage.md).
OWN_ADJ="$(cat /proc/self/oom_score_adj)"
assert_int "$OWN_ADJ" "oom_score_adj of the test"
RAISED_ADJ=$((OWN_ADJ + 500))
[ "$RAISED_ADJ" -le 1000 ] || RAISED_ADJ=1000

# check_adj SWEEP EXPECTED WHAT: the first line of the stdout log of every run (the
# worker's own /proc/self/oom_score_adj, read by the shell that then becomes the
# workload) is EXPECTED. Only a run that the OOM killer ended may have left it empty.
check_adj() {
    local seq attempt status f n=0
    while IFS='|' read -r seq attempt status; do
        f="$1/logs/$(printf 'run-%04d' "$seq")"
        if [ "${attempt:-1}" -gt 1 ]; then
            f="$f.attempt$attempt.out"
        else
            f="$f.out"
        fi
        [ -f "$f" ] || fail "$3: run $seq (attempt ${attempt:-1}) has no stdout log $f"
        [ -s "$f" ] || [ "$status" != oom ] || continue
        assert_eq "$2" "$(head -n 1 "$f")" "$3: oom_score_adj in $(basename "$f") (run $status)"
        n=$((n + 1))
    done < <(sql "$1/memsweep.db" "SELECT seq, COALESCE(attempt, ''), status FROM runs ORDER BY run_id")
    [ "$n" -gt 0 ] || fail "$3: no run printed its oom_score_adj"
}

# status_counts DB: "status count" of the runs, one per line, sorted.
status_counts() {
    sql "$1" "SELECT status || ' ' || count(*) FROM runs GROUP BY status ORDER BY status"
}

# One line per run: a workload that holds its memory (every page touched) for 2 s and,
# while --wait-file's file is missing, beyond. It first prints the oom_score_adj it runs
# with. Big and small runs alternate, so that the first four together (800 MiB) exceed
# the limit, and a big run and a small one (400 MiB) fit beside each other.
GO_A="$T/go-a"
{
    for _ in 1 2 3; do
        for mib in "$BIG_MIB" "$SMALL_MIB"; do
            printf 'exec %q --mib %d --hold-ms 2000 --wait-file %q --print "$(cat /proc/self/oom_score_adj)"\n' \
                "$WL" "$mib" "$GO_A"
        done
    done
} >"$T/mixed.txt"
N_MIXED=6

# ---- a) fixed -j 4: out-of-memory kills ---------------------------------------------------
note "a) -j 4 without scheduling, inside the group"
kills0="$(oom_kills)"
sh -c "$INTO_CG" sh "$CG" "$MS_BIN" run -j 4 -o "$T/a" --commands "$T/mixed.txt" \
    >"$T/a.out" 2>"$T/a.err" &
launcher=$!
track_pid "$launcher"
# The first four runs touch 800 MiB and hold it until the go-file exists: the limit is
# crossed while they hold, so a kill is certain, however slowly they are scheduled.
wait_for 120 kills_above "$kills0" || true
touch "$GO_A"
RC=0
wait "$launcher" || RC=$?
kills1="$(oom_kills)"
assert_ge "$kills1" $((kills0 + 1)) "OOM kills counted by the group during the sweep of -j 4 (stderr: $(cat "$T/a.err"))"
assert_eq 1 "$RC" "exit status of the sweep of -j 4 with killed runs (stderr: $(cat "$T/a.err"))"
S_A="$(sweep_dir_of "$T/a")"
DB_A="$S_A/memsweep.db"
assert_eq ok "$(sql "$DB_A" "PRAGMA integrity_check")" "a) integrity_check"
assert_eq "$N_MIXED" "$(sql "$DB_A" "SELECT count(*) FROM runs")" "a) runs rows"
n_oom="$(sql "$DB_A" "SELECT count(*) FROM runs WHERE status = 'oom'")"
assert_ge "$n_oom" 1 "a) runs ended oom"
# A run is oom only for a kill the group counted, and each kill is given to one run.
assert_le "$n_oom" $((kills1 - kills0)) "a) runs ended oom against the group's kills"
assert_eq 0 "$(sql "$DB_A" "SELECT count(*) FROM runs WHERE status NOT IN ('ok', 'oom')")" \
    "a) runs that ended neither ok nor oom ($(status_counts "$DB_A"))"
assert_eq "9|" "$(sql "$DB_A" "SELECT DISTINCT term_signal || '|' || COALESCE(exit_code, '')
                                FROM runs WHERE status = 'oom'")" "a) signal of the oom runs"
# Without a scheduling option nothing is scheduled, recorded or changed.
assert_eq 0 "$(sql "$DB_A" "SELECT count(*) FROM admissions")" "a) admissions rows"
assert_eq "||||" "$(sql "$DB_A" "SELECT COALESCE(mem_budget_kb, '') || '|' || COALESCE(jobs_auto, '')
                                 || '|' || COALESCE(stagger_ms, '') || '|' || COALESCE(run_order, '')
                                 || '|' || COALESCE(retry_oom, '') FROM sweeps")" \
    "a) the sweep's scheduling columns"
assert_eq 0 "$(sql "$DB_A" "SELECT count(*) FROM runs WHERE attempt IS NOT NULL
                                                          OR superseded IS NOT NULL")" \
    "a) runs with an attempt or superseded"
# e) Every worker that printed anything was not raised above memsweep.
check_adj "$S_A" "$OWN_ADJ" "a) -j 4"
note "a) $n_oom of $N_MIXED runs ended oom, $((kills1 - kills0)) kills counted"

# ---- b) --mem-budget auto: no kill ---------------------------------------------------------
# check_budget_sweep NAME CAP: the sweep in $T/NAME ran with a budget of Usable_MB and at
# most CAP runs at once, every run ended ok, and every admission obeys its rule.
check_budget_sweep() {
    local name="$1" cap="$2" s db usable budget bad
    s="$(sweep_dir_of "$T/$name")"
    db="$s/memsweep.db"
    assert_eq ok "$(sql "$db" "PRAGMA integrity_check")" "$name: integrity_check"
    assert_eq "ok $N_MIXED" "$(status_counts "$db")" "$name: status of the runs"
    # auto is Usable_MB of the pre-run section, which follows the group's limit.
    assert_eq "$LIMIT_MIB" "$(pre_field "$s/memory_advisory.txt" MemTotal_MB)" "$name: MemTotal_MB"
    usable="$(pre_field "$s/memory_advisory.txt" Usable_MB)"
    assert_int "$usable" "$name: Usable_MB"
    budget=$((usable * 1024))
    assert_eq "$budget" "$(sql "$db" "SELECT mem_budget_kb FROM sweeps")" "$name: sweeps.mem_budget_kb"
    assert_eq "$N_MIXED" "$(sql "$db" "SELECT count(*) FROM admissions")" "$name: admissions rows"
    assert_eq "$N_MIXED" "$(sql "$db" "SELECT count(*) FROM admissions a JOIN runs r USING (run_id)")" \
        "$name: admissions rows of a run"
    bad="$(sql "$db" "SELECT run_id || ':' || rule FROM admissions
                      WHERE rule NOT IN ('fit', 'idle', 'alone', 'first')")"
    assert_eq "" "$bad" "$name: admissions with a rule outside fit/idle/alone/first"
    bad="$(sql "$db" "SELECT run_id FROM admissions WHERE budget_kb IS NOT $budget")"
    assert_eq "" "$bad" "$name: admissions whose budget_kb is not $budget"
    # fit: the running runs' predictions (or RSS, where higher) and its own fit the budget,
    # with something running beside it, and the memory available holds its prediction.
    bad="$(sql "$db" "SELECT run_id || ': ' || running_predicted_kb || ' + ' || predicted_kb
                             || ' of ' || budget_kb || ', running ' || running
                             || ', available ' || COALESCE(available_kb, 'NULL')
                      FROM admissions WHERE rule = 'fit'
                      AND (predicted_kb IS NULL OR running < 1
                           OR running_predicted_kb + predicted_kb > budget_kb
                           OR (available_kb IS NOT NULL AND available_kb < predicted_kb))")"
    assert_eq "" "$bad" "$name: fit admissions beyond the budget or the memory available"
    # idle, alone and first start with nothing running; no more than CAP at once.
    bad="$(sql "$db" "SELECT run_id || ':' || rule || ' beside ' || running FROM admissions
                      WHERE (rule <> 'fit' AND running <> 0) OR running >= $cap")"
    assert_eq "" "$bad" "$name: admissions beside too many runs"
    # The first run starts alone, and the next only once it has ended and been measured.
    assert_eq "1|first" "$(sql "$db" "SELECT r.seq || '|' || a.rule FROM admissions a
                                      JOIN runs r USING (run_id) WHERE a.rule = 'first'")" \
        "$name: the only run started with nothing measured"
    bad="$(sql "$db" "SELECT r.seq FROM runs r, runs f WHERE f.seq = 1 AND r.seq > 1
                      AND r.started_ns < f.finished_ns")"
    assert_eq "" "$bad" "$name: runs started before run 1 had ended"
    bad="$(sql "$db" "SELECT run_id FROM admissions WHERE rule <> 'first'
                      AND (predicted_kb IS NULL OR basis IS NULL OR predicted_kb <= 0)")"
    assert_eq "" "$bad" "$name: admissions after the first without a prediction"
    # e) Workers are the out-of-memory killer's first choice under a budget.
    check_adj "$s" "$RAISED_ADJ" "$name"
    note "$name: rules $(sql "$db" "SELECT group_concat(rule, ' ') FROM
                                    (SELECT a.rule FROM admissions a JOIN runs r USING (run_id)
                                     ORDER BY r.started_ns)")"
}

note "b) --mem-budget auto -j 4, inside the group"
kills0="$(oom_kills)"
run_cmd b1 sh -c "$INTO_CG" sh "$CG" "$MS_BIN" run -j 4 --mem-budget auto -o "$T/b1" \
    --commands "$T/mixed.txt"
assert_eq 0 "$RC" "exit status of the sweep with --mem-budget auto (stderr: $(cat "$T/b1.err"))"
assert_eq "$kills0" "$(oom_kills)" "OOM kills counted by the group during the sweep with --mem-budget auto"
check_budget_sweep b1 4
# A big run (about 300 MiB predicted) and a small one (about 180 MiB) fit the budget of
# about 536 MiB together: the budget lets runs share the group, it does not only serialize.
assert_ge "$(sql "$(sweep_dir_of "$T/b1")/memsweep.db" \
    "SELECT count(*) FROM admissions WHERE rule = 'fit'")" 1 "b1: fit admissions"
assert_eq "||plan" "$(sql "$(sweep_dir_of "$T/b1")/memsweep.db" \
    "SELECT COALESCE(jobs_auto, '') || '|' || COALESCE(stagger_ms, '') || '|' || run_order
     FROM sweeps")" "b1: sweeps.jobs_auto, stagger_ms and run_order"

note "b) -j auto (--mem-budget auto implied), inside the group"
CPUS="$(affinity_cpus)"
kills0="$(oom_kills)"
run_cmd b2 sh -c "$INTO_CG" sh "$CG" "$MS_BIN" run -j auto -o "$T/b2" --commands "$T/mixed.txt"
assert_eq 0 "$RC" "exit status of the sweep with -j auto (stderr: $(cat "$T/b2.err"))"
assert_eq "$kills0" "$(oom_kills)" "OOM kills counted by the group during the sweep with -j auto"
check_budget_sweep b2 "$CPUS"
assert_eq "1|$CPUS" "$(sql "$(sweep_dir_of "$T/b2")/memsweep.db" "SELECT jobs_auto || '|' || jobs FROM sweeps")" \
    "b2: sweeps.jobs_auto and jobs (the CPUs)"
if [ "$CPUS" -ge 2 ]; then
    assert_ge "$(sql "$(sweep_dir_of "$T/b2")/memsweep.db" \
        "SELECT count(*) FROM admissions WHERE rule = 'fit'")" 1 "b2: fit admissions"
fi

# ---- c) --stagger ------------------------------------------------------------------------
# Runs much shorter than the stagger, more of them than one: without --stagger, -j 4
# starts four at once.
STAGGER_CMD=(sh -c 'cat /proc/self/oom_score_adj && exec "$0" --mib 1 --hold-ms 300' "$WL")

# min_gap DB: the smallest difference between two consecutive runs.started_ns, in ns.
min_gap() {
    sql "$1" "SELECT min(d) FROM (SELECT started_ns - lag(started_ns) OVER (ORDER BY started_ns)
                                  AS d FROM runs) WHERE d IS NOT NULL"
}

note "c) --stagger 1.5 -j 4"
run_cmd c1 "$MS_BIN" run -j 4 --stagger 1.5 -o "$T/c1" -P n=1..5 -- "${STAGGER_CMD[@]}"
assert_eq 0 "$RC" "exit status of the sweep with --stagger 1.5 (stderr: $(cat "$T/c1.err"))"
S_C1="$(sweep_dir_of "$T/c1")"
assert_eq "ok 5" "$(status_counts "$S_C1/memsweep.db")" "c1: status of the runs"
assert_eq 5 "$(sql "$S_C1/memsweep.db" "SELECT count(DISTINCT started_ns) FROM runs
                                         WHERE started_ns IS NOT NULL")" "c1: distinct started_ns"
gap="$(min_gap "$S_C1/memsweep.db")"
assert_int "$gap" "c1: smallest gap between starts"
assert_ge "$gap" 1500000000 "c1: smallest gap between two starts (ns) with --stagger 1.5"
assert_eq "1500||" "$(sql "$S_C1/memsweep.db" "SELECT stagger_ms || '|' || COALESCE(mem_budget_kb, '')
                                               || '|' || COALESCE(retry_oom, '') FROM sweeps")" \
    "c1: sweeps.stagger_ms, mem_budget_kb and retry_oom"
# Without a budget every start is a worker slot's, on no prediction.
assert_eq "slot 5" "$(sql "$S_C1/memsweep.db" "SELECT rule || ' ' || count(*) FROM admissions
                                                GROUP BY rule")" "c1: admissions by rule"
# e) Staggering alone leaves the workers' score as memsweep's.
check_adj "$S_C1" "$OWN_ADJ" "c1: --stagger"
note "c1: smallest gap $gap ns"

note "c) the same sweep without --stagger"
run_cmd c2 "$MS_BIN" run -j 4 -o "$T/c2" -P n=1..5 -- "${STAGGER_CMD[@]}"
assert_eq 0 "$RC" "exit status of the sweep without --stagger (stderr: $(cat "$T/c2.err"))"
S_C2="$(sweep_dir_of "$T/c2")"
gap="$(min_gap "$S_C2/memsweep.db")"
assert_int "$gap" "c2: smallest gap between starts"
[ "$gap" -lt 1500000000 ] ||
    fail "c2: without --stagger the runs started at least 1.5 s apart too (smallest gap $gap ns), so c1 shows nothing"
assert_eq 0 "$(sql "$S_C2/memsweep.db" "SELECT count(*) FROM admissions")" "c2: admissions rows"
check_adj "$S_C2" "$OWN_ADJ" "c2: no option"
note "c2: smallest gap $gap ns"

# ---- d) --retry-oom ----------------------------------------------------------------------
# Two big runs that exceed the limit together and hold until the test has seen a kill, and
# a small one; three at a time, no budget. The kernel kills one of the big ones (the
# largest process in the group); the other then fits, and so does the killed one alone.
GO_D="$T/go-d"
{
    printf 'exec %q --mib %d --hold-ms 1000 --wait-file %q --print "$(cat /proc/self/oom_score_adj)"\n' \
        "$WL" "$RETRY_MIB" "$GO_D"
    printf 'exec %q --mib 30 --hold-ms 1000 --print "$(cat /proc/self/oom_score_adj)"\n' "$WL"
    printf 'exec %q --mib %d --hold-ms 1000 --wait-file %q --print "$(cat /proc/self/oom_score_adj)"\n' \
        "$WL" "$RETRY_MIB" "$GO_D"
} >"$T/retry.txt"

note "d) --retry-oom 1 -j 3, inside the group"
kills0="$(oom_kills)"
sh -c "$INTO_CG" sh "$CG" "$MS_BIN" run -j 3 --retry-oom 1 -o "$T/d" --commands "$T/retry.txt" \
    >"$T/d.out" 2>"$T/d.err" &
launcher=$!
track_pid "$launcher"
wait_for 120 kills_above "$kills0" || true
touch "$GO_D"
RC=0
wait "$launcher" || RC=$?
kills1="$(oom_kills)"
assert_ge "$kills1" $((kills0 + 1)) "OOM kills counted by the group during the sweep with --retry-oom (stderr: $(cat "$T/d.err"))"
assert_eq 0 "$RC" "exit status of the sweep whose killed run succeeded alone (stderr: $(cat "$T/d.err"))"
S_D="$(sweep_dir_of "$T/d")"
DB_D="$S_D/memsweep.db"
assert_eq ok "$(sql "$DB_D" "PRAGMA integrity_check")" "d) integrity_check"
assert_eq 1 "$(sql "$DB_D" "SELECT retry_oom FROM sweeps")" "d) sweeps.retry_oom"
retried="$(sql "$DB_D" "SELECT seq FROM runs WHERE status = 'oom' ORDER BY seq")"
[ -n "$retried" ] || fail "d) no run ended oom ($(status_counts "$DB_D"))"
n_retried=0
for seq in $retried; do
    n_retried=$((n_retried + 1))
    # Only the big runs could be killed: the small one is far from the largest.
    [ "$seq" = 1 ] || [ "$seq" = 3 ] || fail "d) run $seq, the small one, ended oom"
    assert_eq "oom|1|1|9
ok|2||" "$(sql "$DB_D" "SELECT status || '|' || attempt || '|' || COALESCE(superseded, '') || '|'
                                || COALESCE(term_signal, '')
                         FROM runs WHERE seq = $seq ORDER BY run_id")" \
        "d) run $seq: its attempts (status|attempt|superseded|signal)"
    first_id="$(sql "$DB_D" "SELECT run_id FROM runs WHERE seq = $seq AND attempt = 1")"
    retry_id="$(sql "$DB_D" "SELECT run_id FROM runs WHERE seq = $seq AND attempt = 2")"
    assert_eq "retry|0" "$(sql "$DB_D" "SELECT rule || '|' || running FROM admissions
                                        WHERE run_id = $retry_id")" \
        "d) run $seq: the admission of its retry (rule|running)"
    # Alone: every other row ended before the retry started, and none started while it ran.
    assert_eq "" "$(sql "$DB_D" "SELECT o.run_id FROM runs o, runs r WHERE r.run_id = $retry_id
                                 AND o.run_id <> r.run_id
                                 AND o.started_ns < r.finished_ns AND o.finished_ns > r.started_ns")" \
        "d) run $seq: rows that ran beside its retry"
    assert_ge "$(sql "$DB_D" "SELECT r.started_ns - f.finished_ns FROM runs r, runs f
                              WHERE r.run_id = $retry_id AND f.run_id = $first_id")" 0 \
        "d) run $seq: its retry starts after the killed attempt ended"
    log="$S_D/logs/$(printf 'run-%04d' "$seq")"
    for f in "$log.out" "$log.err" "$log.attempt2.out" "$log.attempt2.err"; do
        [ -f "$f" ] || fail "d) run $seq: missing log $f"
    done
done
# Every planned run has exactly one row that stands, and it succeeded.
assert_eq "1|ok
2|ok
3|ok" "$(sql "$DB_D" "SELECT seq || '|' || status FROM runs WHERE COALESCE(superseded, 0) = 0
                       ORDER BY seq")" "d) the rows that stand"
assert_eq $((3 + n_retried)) "$(sql "$DB_D" "SELECT count(*) FROM runs")" "d) runs rows"
assert_eq $((3 + n_retried)) "$(sql "$DB_D" "SELECT count(*) FROM admissions")" "d) admissions rows"
assert_eq "$n_retried" "$(sql "$DB_D" "SELECT count(*) FROM admissions WHERE rule = 'retry'")" \
    "d) retry admissions"
run_cmd d_advise "$MS_BIN" advise --json "$S_D"
assert_eq 0 "$RC" "exit status of memsweep advise --json (stderr: $(cat "$T/d_advise.err"))"
assert_eq 3 "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["RunsTotal"])' \
               "$T/d_advise.out")" "d) RunsTotal of memsweep advise --json"
# e) With --retry-oom every worker, the retries included, gets the raised score.
check_adj "$S_D" "$RAISED_ADJ" "d) --retry-oom"
[ "$OWN_ADJ" -ge 1000 ] || assert_ne "$OWN_ADJ" "$RAISED_ADJ" "the raised oom_score_adj"
note "d) $n_retried run(s) retried, $((kills1 - kills0)) kill(s) counted"

pass
