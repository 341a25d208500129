# A Python worker under the launcher: its 100 MiB bytearray is measured, its output and
# exit status are untouched.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP: python3 is not installed"
    exit 0
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
assert_ge "$(fig "$line" 6)" 1 "tick samples of the Python run"
assert_ge "$(post_field "$S/memory_advisory.txt" MaxPeakRSS_MB)" 100 "MaxPeakRSS_MB"

log_files "$S" out >"$T/outlogs"
assert_eq 1 "$(wc -l <"$T/outlogs")" "stdout logs"
assert_eq "python says 104857600" "$(cat "$(cat "$T/outlogs")")" "the Python worker's stdout"
assert_empty "$(log_files "$S" err)" "the Python worker's stderr"

echo "PASS"
