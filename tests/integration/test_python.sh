# A Python worker under the launcher: its 100 MiB bytearray is measured, as its peak and
# as its end RSS (Python frees its objects before the process exits; the end RSS is what
# the worker held, not what the teardown left), its output and exit status untouched.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
    skip_missing python3 "python3 is not installed"
fi

run_cmd run "$MS_BIN" run -j 1 -o "$T/out" -- python3 -c \
    'b = bytearray(100 << 20); import time; time.sleep(1); print("python says", len(b))'
assert_eq 0 "$RC" "exit status of memsweep run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"

assert_eq "ok|0" "$(sql "$DB" "SELECT status, exit_code FROM runs")" "run status and exit code"
run_figures "$DB" >"$T/fig.txt"
line="$(cat "$T/fig.txt")"
# The interpreter itself takes about 10 MiB, hence the wider upper bound.
assert_between "$(fig "$line" 4)" 100 $((100 + 2 * MIB_TOL)) "peak RSS of the Python run (MiB)"
assert_between "$(fig "$line" 3)" 100 $((100 + 2 * MIB_TOL)) "end RSS of the Python run (MiB)"
assert_ge "$(fig "$line" 6)" 1 "tick samples of the Python run"
assert_ge "$(post_field "$S/memory_advisory.txt" MaxPeakRSS_MB)" 100 "MaxPeakRSS_MB"
assert_ge "$(post_field "$S/memory_advisory.txt" MeanRSS_End_MB)" 100 "MeanRSS_End_MB"

note "the same worker behind a wrapper shell has the same end RSS"
printf '%s\n' "python3 -c 'b = bytearray(100 << 20); import time; time.sleep(1)'; true" >"$T/cmds"
run_cmd wrapped "$MS_BIN" run -j 1 -o "$T/out2" --commands "$T/cmds"
assert_eq 0 "$RC" "exit status of the wrapped run (stderr: $(cat "$T/wrapped.err"))"
S2="$(sweep_dir_of "$T/out2")"
assert_between "$(post_field "$S2/memory_advisory.txt" MeanRSS_End_MB)" 100 $((100 + 3 * MIB_TOL)) \
    "MeanRSS_End_MB of the wrapped Python run"

log_files "$S" out >"$T/outlogs"
assert_eq 1 "$(wc -l <"$T/outlogs")" "stdout logs"
assert_eq "python says 104857600" "$(cat "$(cat "$T/outlogs")")" "the Python worker's stdout"
assert_empty "$(log_files "$S" err)" "the Python worker's stderr"

pass
