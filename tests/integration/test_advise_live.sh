# memsweep advise reads a sweep while the launcher and the shims are still writing it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The workers hold their 24 MiB until the test has done its reads, so that the reads
# overlap the sweep however long they take.
"$MS_BIN" run -j 2 -o "$T/out" -P i=1..4 -- "$WL" --mib 24 --wait-file "$T/go" \
    >"$T/run.out" 2>"$T/run.err" &
launcher=$!
track_pid "$launcher"

# A tick that sees a worker's 24 MiB is due half a second into a run: a minute is ample
# on any machine.
wait_for 60 db_has "$T/out" "SELECT count(*) FROM samples WHERE kind = 'tick'
                             AND rss_kb >= 24 * 1024" || fail "no tick sample within 60 s (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"

for i in 1 2 3; do
    run_cmd advise$i "$MS_BIN" advise "$S"
    assert_eq 0 "$RC" "exit status of advise #$i during the sweep (stderr: $(cat "$T/advise$i.err"))"
    assert_empty "$T/advise$i.err" "stderr of advise #$i"
    # No run has finished: the running ones are counted as running, left out of the
    # statistics, and the peak they reached so far is shown as a lower bound.
    assert_eq 0 "$(post_field "$T/advise$i.out" RunsIncluded)" "RunsIncluded of advise #$i"
    assert_eq 0 "$(post_field "$T/advise$i.out" RunsFailed)" "RunsFailed of advise #$i"
    assert_eq 2 "$(post_field "$T/advise$i.out" RunsRunning)" "RunsRunning of advise #$i"
    assert_eq no "$(post_field "$T/advise$i.out" SweepFinished)" "SweepFinished of advise #$i"
    assert_between "$(post_field "$T/advise$i.out" LeftOutPeakRSS_LowerBound_MB)" 24 \
        $((24 + MIB_TOL)) "LeftOutPeakRSS_LowerBound_MB of advise #$i"
    grep -q '^Note: the sweep has not finished' "$T/advise$i.out" ||
        fail "advise #$i does not say the sweep has not finished"
done
# The launcher still running after the reads proves they overlapped the sweep.
kill -0 "$launcher" 2>/dev/null || fail "the sweep ended before the live reads were done"
touch "$T/go"

RC=0
wait "$launcher" || RC=$?
assert_eq 0 "$RC" "exit status of the sweep (stderr: $(cat "$T/run.err"))"
run_cmd final "$MS_BIN" advise "$S"
assert_eq 0 "$RC" "exit status of advise after the sweep"
assert_eq 4 "$(post_field "$T/final.out" RunsIncluded)" "RunsIncluded after the sweep"

pass
