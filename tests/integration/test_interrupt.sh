# SIGINT to the launcher while two of four 120 s runs are going: it stops the workers,
# marks the started runs `interrupted`, writes the post-run section and exits 130, long
# before the runs' hold would have ended.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

marker="interrupt-marker-$$-$RANDOM"
HOLD_MS=120000
# A background job of a shell without job control starts with SIGINT ignored; job control
# gives the launcher the default disposition that an interactive Ctrl-C would meet.
set -m
"$MS_BIN" run -j 2 -o "$T/out" -P i=1..4 -- \
    "$WL" --mib 24 --hold-ms "$HOLD_MS" --print "$marker-{i}" >"$T/run.out" 2>"$T/run.err" &
launcher=$!
set +m
track_pid "$launcher"

# Two runs are going once each has a sample showing its 24 MiB touched.
two_running() {
    db_has "$T/out" "SELECT count(DISTINCT p.run_id) FROM processes p JOIN runs r USING (run_id)
                     WHERE r.status = 'running' AND EXISTS (SELECT 1 FROM samples s
                     WHERE s.proc_id = p.proc_id AND s.rss_kb >= 24 * 1024)" 2
}
wait_for 60 two_running ||
    fail "two runs with 24 MiB samples did not appear within 60 s (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
pids="$(sql "$DB" "SELECT pid FROM processes")"
assert_eq 2 "$(echo "$pids" | wc -l)" "worker processes before the interrupt"

t0="$(now_ms)"
kill -INT "$launcher"
RC=0
wait "$launcher" || RC=$?
elapsed=$(($(now_ms) - t0))
assert_eq 130 "$RC" "exit status of the interrupted launcher (stderr: $(cat "$T/run.err"))"
# An outcome, not a latency: the workers were stopped, not left to end their 120 s hold.
assert_le "$elapsed" $((HOLD_MS / 2)) "ms from SIGINT to the launcher's exit"

note "no worker survives"
for p in $pids; do
    if [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF "$marker"; then
        fail "worker $p is still alive: $(tr '\0' ' ' <"/proc/$p/cmdline")"
    fi
done
if pgrep -f "$marker" >"$T/survivors"; then
    fail "processes of the sweep survive: $(cat "$T/survivors")"
fi

note "the started runs are interrupted, nothing is left running"
assert_eq 2 "$(sql "$DB" "SELECT count(*) FROM runs WHERE status = 'interrupted'")" "interrupted runs"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM runs WHERE status NOT IN ('interrupted')
                          AND started_ns IS NOT NULL")" "started runs that are not interrupted"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM runs WHERE status = 'running'")" "runs left running"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM runs WHERE status = 'interrupted'
                          AND finished_ns IS NULL")" "interrupted runs without finished_ns"
assert_ne "" "$(sql "$DB" "SELECT finished_ns FROM sweeps")" "sweeps.finished_ns"

note "the post-run section leaves the stopped runs out, with the peak they reached"
ADV="$S/memory_advisory.txt"
assert_eq 1 "$(grep -c '^Post-run Observed Advisory$' "$ADV")" "post-run sections"
assert_eq 0 "$(post_field "$ADV" RunsIncluded)" "RunsIncluded"
assert_eq 2 "$(post_field "$ADV" RunsStopped)" "RunsStopped"
assert_eq "" "$(post_field "$ADV" MaxPeakRSS_MB)" "MaxPeakRSS_MB of no included run"
assert_eq "" "$(post_field "$ADV" RecommendedMaxWorkers_Conservative)" \
    "a recommendation from runs that were stopped"
assert_between "$(post_field "$ADV" LeftOutPeakRSS_LowerBound_MB)" 24 $((24 + MIB_TOL)) \
    "LeftOutPeakRSS_LowerBound_MB"
grep -q '^Warning: 2 of 2 runs (100%) were left out' "$ADV" ||
    fail "no warning that every run was left out: $(grep '^Warning' "$ADV")"
assert_contains "$T/run.out" "Post-run Observed Advisory" "stdout of the interrupted launcher"

pass
