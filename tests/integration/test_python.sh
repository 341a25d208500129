# A Python worker under the launcher: its 100 MiB bytearray is measured, as its peak and
# as its end RSS (Python frees its objects before the process exits; the end RSS is what
# the worker held, not what the teardown left), its output and exit status untouched.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
    skip_missing python3 "python3 is not installed"
fi

# ticked_100 OUTDIR: a tick that sees the worker's 100 MiB is in the sweep's database.
ticked_100() {
    db_has "$1" "SELECT count(*) FROM samples WHERE kind = 'tick' AND rss_kb >= 100 * 1024"
}

# sweep NAME OUTDIR ARGS...: `memsweep run -j 1 -o OUTDIR ARGS...` in the background, its
# worker holding the bytearray until the test has seen a tick of it ($T/go-NAME): the run's
# end RSS is that of its last tick while the worker held it, since Python frees it before
# the process exits, and a fixed hold would leave that tick to the machine's speed.
sweep() {
    local name="$1" out="$2" pid
    shift 2
    "$MS_BIN" run -j 1 -o "$out" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    pid=$!
    track_pid "$pid"
    wait_for 60 ticked_100 "$out" || fail "$name: no tick of the worker within 60 s (stderr: $(cat "$T/$name.err"))"
    touch "$T/go-$name"
    RC=0
    wait "$pid" || RC=$?
}

# The worker: 100 MiB in a bytearray, held until the file named by GO exists.
cat >"$T/worker.py" <<'PY'
import os, time
b = bytearray(100 << 20)
while not os.path.exists(os.environ["GO"]):
    time.sleep(0.01)
print("python says", len(b))
PY
sweep run "$T/out" -- env GO="$T/go-run" python3 "$T/worker.py"
assert_eq 0 "$RC" "exit status of memsweep run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"

assert_eq "ok|0" "$(sql "$DB" "SELECT status, exit_code FROM runs")" "run status and exit code"
run_figures "$DB" >"$T/fig.txt"
line="$(cat "$T/fig.txt")"
# The interpreter itself takes about 10 MiB, hence the wider upper bound.
assert_between "$(fig "$line" 4)" 100 $((100 + 2 * MIB_TOL)) "peak RSS of the Python run (MiB)"
assert_between "$(fig "$line" 3)" 100 $((100 + 2 * MIB_TOL)) "end RSS of the Python run (MiB)"
# The worker held its memory until a tick of it was in the database.
assert_ge "$(fig "$line" 6)" 1 "tick samples of the Python run"
assert_ge "$(post_field "$S/memory_advisory.txt" MaxPeakRSS_MB)" 100 "MaxPeakRSS_MB"
assert_ge "$(post_field "$S/memory_advisory.txt" MeanRSS_End_MB)" 100 "MeanRSS_End_MB"

note "the same worker behind a wrapper shell has the same end RSS"
printf '%s\n' "GO='$T/go-wrapped' python3 '$T/worker.py'; true" >"$T/cmds"
sweep wrapped "$T/out2" --commands "$T/cmds"
assert_eq 0 "$RC" "exit status of the wrapped run (stderr: $(cat "$T/wrapped.err"))"
S2="$(sweep_dir_of "$T/out2")"
assert_between "$(post_field "$S2/memory_advisory.txt" MeanRSS_End_MB)" 100 $((100 + 3 * MIB_TOL)) \
    "MeanRSS_End_MB of the wrapped Python run"

log_files "$S" out >"$T/outlogs"
assert_eq 1 "$(wc -l <"$T/outlogs")" "stdout logs"
assert_eq "python says 104857600" "$(cat "$(cat "$T/outlogs")")" "the Python worker's stdout"
assert_empty "$(log_files "$S" err)" "the Python worker's stderr"

pass
