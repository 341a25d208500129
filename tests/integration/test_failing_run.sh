# A run that exits 3 is `failed` and still measured; a command that does not exist (named
# by a parameter, so that it is known only when the run starts) is `failed` with 127, says
# why in its .err log, and has no sample to count.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

note "a run exiting with 3 next to an ok run"
run_cmd run "$MS_BIN" run -j 2 -o "$T/out" -P code=3,0 -- \
    "$WL" --mib 24 --hold-ms 700 --exit '{code}'
assert_eq 1 "$RC" "exit status of memsweep run with a failed run"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
ADV="$S/memory_advisory.txt"
assert_eq "1|code=3|failed|3" "$(sql "$DB" "SELECT seq, label, status, exit_code FROM runs WHERE seq = 1")" \
    "the failing run"
assert_eq "2|code=0|ok|0" "$(sql "$DB" "SELECT seq, label, status, exit_code FROM runs WHERE seq = 2")" \
    "the ok run"
assert_eq "" "$(sql "$DB" "SELECT term_signal FROM runs WHERE seq = 1")" "term_signal of the failing run"

run_figures "$DB" >"$T/fig.txt"
failed="$(sed -n 1p "$T/fig.txt")"
check_run_mib "$failed" 24 24 "the failing run"
assert_eq 2 "$(post_field "$ADV" RunsTotal)" "RunsTotal"
assert_eq 1 "$(post_field "$ADV" RunsFailed)" "RunsFailed"
assert_eq 2 "$(post_field "$ADV" RunsIncluded)" "RunsIncluded (a failed run with samples counts)"
assert_eq 0 "$(post_field "$ADV" RunsExcluded)" "RunsExcluded"
expected_advisory "$T/fig.txt" "$(mem_total_mb)" >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "memory_advisory.txt"

note "a command that does not exist, named by a parameter"
missing="$T/no-such-program"
run_cmd run2 "$MS_BIN" run -j 1 -o "$T/out2" -P "prog=$missing" -- '{prog}' --flag
assert_eq 1 "$RC" "exit status of memsweep run with a missing command"
S2="$(sweep_dir_of "$T/out2")"
DB2="$S2/memsweep.db"
assert_eq "failed|127" "$(sql "$DB2" "SELECT status, exit_code FROM runs")" "status and exit code"
assert_eq 0 "$(sql "$DB2" "SELECT count(*) FROM samples")" "samples of a command that never ran"
log_files "$S2" err >"$T/errlogs"
assert_eq 1 "$(wc -l <"$T/errlogs")" ".err logs"
assert_contains "$(cat "$T/errlogs")" "$missing" "the .err log of the missing command"
grep -qiE "no such file|not found" "$(cat "$T/errlogs")" ||
    fail "the .err log should say the command was not found, it holds: $(cat "$(cat "$T/errlogs")")"
ADV2="$S2/memory_advisory.txt"
assert_eq 1 "$(post_field "$ADV2" RunsTotal)" "RunsTotal (missing command)"
assert_eq 1 "$(post_field "$ADV2" RunsFailed)" "RunsFailed (missing command)"
assert_eq 0 "$(post_field "$ADV2" RunsIncluded)" "RunsIncluded (missing command)"
assert_eq 1 "$(post_field "$ADV2" RunsExcluded)" "RunsExcluded (missing command)"
assert_eq "" "$(post_field "$ADV2" MeanRSS_End_MB)" "MeanRSS_End_MB with no sample (omitted)"

pass
