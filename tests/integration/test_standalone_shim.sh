# The shim without the launcher: MEMSWEEP_DB alone makes a database with a `shim` sweep
# and one run per top-level program; the program's output, stderr and exit status are
# unchanged; without MEMSWEEP_DB the shim does nothing at all.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DB="$T/x.db"
mkdir "$T/cwd"
cd "$T/cwd"

note "uninstrumented reference run"
run_cmd ref "$WL" --mib 50 --hold-ms 700 --print "hello from the workload" --exit 5
assert_eq 5 "$RC" "exit status without the shim"
assert_eq "hello from the workload" "$(cat "$T/ref.out")" "stdout without the shim"

# run_ticked SEQ: a tick of run SEQ that sees the worker's 50 MiB is in the database.
run_ticked() {
    db_has "$DB" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                  JOIN runs r USING (run_id)
                  WHERE r.seq = $1 AND s.kind = 'tick' AND s.rss_kb >= 50 * 1024"
}

# shim_run NAME SEQ CMD...: run_cmd of CMD under the shim, in the background; CMD's worker
# holds its 50 MiB until the file $T/go-SEQ exists, which the test makes once it has seen
# a tick of run SEQ, so that every run has one however slowly the machine runs.
shim_run() {
    local name="$1" seq="$2" pid
    shift 2
    env MEMSWEEP_DB="$DB" LD_PRELOAD="$MS_SHIM" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    pid=$!
    track_pid "$pid"
    wait_for 60 run_ticked "$seq" || fail "no tick of run $seq within 60 s"
    touch "$T/go-$seq"
    RC=0
    wait "$pid" || RC=$?
}

note "two direct runs and one sh -c run under the shim"
for i in 1 2; do
    shim_run shim$i $i "$WL" --mib 50 --hold-ms 700 --wait-file "$T/go-$i" \
        --print "hello from the workload" --exit 5
    assert_eq 5 "$RC" "exit status under the shim (run $i)"
    cmp -s "$T/ref.out" "$T/shim$i.out" ||
        fail "stdout under the shim (run $i): expected '$(cat "$T/ref.out")', got '$(cat "$T/shim$i.out")'"
    assert_empty "$T/shim$i.err" "stderr under the shim (run $i)"
done
# `; true` keeps the shell alive while the worker runs, so the run has two processes.
shim_run shsh 3 sh -c "\"$WL\" --mib 50 --hold-ms 700 --wait-file '$T/go-3' --print 'from sh'; true"
assert_eq 0 "$RC" "exit status of the sh -c run"
assert_eq "from sh" "$(cat "$T/shsh.out")" "stdout of the sh -c run"
assert_empty "$T/shsh.err" "stderr of the sh -c run"
[ -z "$(ls -A "$T/cwd")" ] || fail "the shim wrote into the working directory: $(ls -A "$T/cwd")"

note "the database"
[ -f "$DB" ] || fail "expected the shim to create $DB"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM sweeps")" "sweeps rows"
assert_eq shim "$(sql "$DB" "SELECT origin FROM sweeps")" "sweeps.origin"
assert_eq 3 "$(sql "$DB" "SELECT count(*) FROM runs")" "runs (one per top-level program)"
assert_eq 3 "$(sql "$DB" "SELECT count(DISTINCT seq) FROM runs")" "distinct run seq numbers"
assert_eq 4 "$(sql "$DB" "SELECT count(*) FROM processes")" "process rows (1 + 1 + sh and worker)"
sh_run="$(sql "$DB" "SELECT run_id FROM processes WHERE exe LIKE '%sh' AND exe NOT LIKE '%ms_workload'")"
assert_int "$sh_run" "run of the shell process"
assert_eq 2 "$(sql "$DB" "SELECT count(*) FROM processes WHERE run_id = $sh_run")" \
    "processes in the sh -c run (shell and worker in ONE run)"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes w, processes s WHERE w.run_id = $sh_run
                          AND s.run_id = $sh_run AND w.exe LIKE '%/ms_workload'
                          AND w.ppid = s.pid")" "the worker's parent is the shell of its run"

run_figures "$DB" >"$T/fig.txt"
assert_eq 3 "$(wc -l <"$T/fig.txt")" "runs in the figures"
while IFS= read -r line; do
    # Each run's worker was let go only once a tick of its run was in the database.
    assert_ge "$(fig "$line" 6)" 1 "tick samples of run $(fig "$line" 1)"
    check_run_mib "$line" 50 50 "run $(fig "$line" 1)"
done <"$T/fig.txt"

note "memsweep advise on the shim's database"
run_cmd advise "$MS_BIN" advise "$DB"
assert_eq 0 "$RC" "exit status of memsweep advise (stderr: $(cat "$T/advise.err"))"
assert_eq 3 "$(post_field "$T/advise.out" RunsTotal)" "RunsTotal"
assert_eq 3 "$(post_field "$T/advise.out" RunsIncluded)" "RunsIncluded"
assert_between "$(post_field "$T/advise.out" MaxPeakRSS_MB)" 50 $((50 + MIB_TOL)) "MaxPeakRSS_MB"
assert_eq "MemTotal_MB: $(mem_total_mb)" "$(sed -n 2p "$T/advise.out")" "advise line 2"

note "MEMSWEEP_DB unset or empty: inert and silent"
mkdir "$T/inert"
cd "$T/inert"
run_cmd inert env -u MEMSWEEP_DB LD_PRELOAD="$MS_SHIM" "$WL" --mib 8 --print quiet --exit 4
assert_eq 4 "$RC" "exit status with MEMSWEEP_DB unset"
assert_eq quiet "$(cat "$T/inert.out")" "stdout with MEMSWEEP_DB unset"
assert_empty "$T/inert.err" "stderr with MEMSWEEP_DB unset"
run_cmd inert2 env MEMSWEEP_DB= LD_PRELOAD="$MS_SHIM" "$WL" --mib 8 --print quiet
assert_eq 0 "$RC" "exit status with MEMSWEEP_DB empty"
assert_eq quiet "$(cat "$T/inert2.out")" "stdout with MEMSWEEP_DB empty"
assert_empty "$T/inert2.err" "stderr with MEMSWEEP_DB empty"
[ -z "$(ls -A "$T/inert")" ] || fail "files created without MEMSWEEP_DB: $(ls -A "$T/inert")"
# The shim really was loaded in those runs: the same program maps it.
LD_PRELOAD="$MS_SHIM" env -u MEMSWEEP_DB grep -qF "$(basename "$MS_SHIM")" /proc/self/maps ||
    fail "the shim is not mapped into a program started with LD_PRELOAD=$MS_SHIM"

pass
