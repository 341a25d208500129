# --timeout on a run that would hold 120 s: the run's group is killed once the timeout is
# up, never before, and long before the hold ends; the run is `timeout`, the launcher
# exits 1, and the peak it reached until the kill is shown beside the advisory's figures.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

HOLD_MS=120000
# The timeout is also how long the worker has to start and store its first sample (tens
# of milliseconds, a few hundred on a busy machine), so that the run is measured.
TIMEOUT_S=3
t0="$(now_ms)"
run_cmd run "$MS_BIN" run -j 1 --timeout "$TIMEOUT_S" -o "$T/out" -- "$WL" --mib 16 \
    --hold-ms "$HOLD_MS"
elapsed=$(($(now_ms) - t0))
assert_eq 1 "$RC" "exit status of memsweep run with a timed-out run (stderr: $(cat "$T/run.err"))"
# An outcome, not a latency: the sweep was cut short, ending long before the 120 s hold.
assert_le "$elapsed" $((HOLD_MS / 2)) \
    "ms taken by a sweep whose only run times out after $TIMEOUT_S s"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"

assert_eq timeout "$(sql "$DB" "SELECT status FROM runs")" "run status"
# The launcher takes started_ns before it forks the worker and arms the timeout after
# the fork, and takes finished_ns after reaping the worker it signalled once the timeout
# had expired: the run cannot have lasted less than the timeout. Its upper bound is the
# outcome above.
dur="$(sql "$DB" "SELECT (finished_ns - started_ns) / 1e6 FROM runs")"
assert_between "$dur" $((TIMEOUT_S * 1000)) $((HOLD_MS / 2)) "ms between the run's start and finish"
# A run stopped by --timeout did not finish: left out of the statistics, its peak so far
# shown as a lower bound.
assert_eq 1 "$(post_field "$S/memory_advisory.txt" RunsFailed)" "RunsFailed"
assert_eq 0 "$(post_field "$S/memory_advisory.txt" RunsIncluded)" "RunsIncluded"
assert_eq 1 "$(post_field "$S/memory_advisory.txt" RunsStopped)" "RunsStopped"
# What the run reached before the kill depends on when its samples came; at most what
# it touched. The line is there for any stopped run with samples.
assert_ne "" "$(post_field "$S/memory_advisory.txt" LeftOutPeakRSS_LowerBound_MB)" \
    "LeftOutPeakRSS_LowerBound_MB line"
assert_between "$(post_field "$S/memory_advisory.txt" LeftOutPeakRSS_LowerBound_MB)" 0 \
    $((16 + MIB_TOL)) "LeftOutPeakRSS_LowerBound_MB"

pass
