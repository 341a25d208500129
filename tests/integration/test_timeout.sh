# --timeout 1 on a run that would hold 20 s: the run's group is killed after about 1 s,
# the run is `timeout`, the launcher exits 1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

t0="$(now_ms)"
run_cmd run "$MS_BIN" run -j 1 --timeout 1 -o "$T/out" -- "$WL" --mib 16 --hold-ms 20000
elapsed=$(($(now_ms) - t0))
assert_eq 1 "$RC" "exit status of memsweep run with a timed-out run (stderr: $(cat "$T/run.err"))"
assert_le "$elapsed" 6000 "ms taken by a sweep whose only run times out after 1 s"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"

assert_eq timeout "$(sql "$DB" "SELECT status FROM runs")" "run status"
dur="$(sql "$DB" "SELECT (finished_ns - started_ns) / 1e6 FROM runs")"
assert_between "$dur" 900 5000 "ms between the run's start and finish"
assert_eq 1 "$(post_field "$S/memory_advisory.txt" RunsFailed)" "RunsFailed"
assert_eq 1 "$(post_field "$S/memory_advisory.txt" RunsIncluded)" "RunsIncluded"

pass
