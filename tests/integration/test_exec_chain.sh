# A chain of fork and exec through three different programs under the launcher: sh runs
# python3, whose subprocess runs a C program that allocates 96 MiB. Output and exit
# status are those of the uninstrumented chain; the run has three process rows, each the
# child of the one before; and the C program's peak is the run's peak.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
    skip_missing python3 "python3 is not installed"
fi
# The interpreter itself, not a wrapper script that might stand in for it on PATH (pyenv).
PY="$(python3 -c 'import sys; print(sys.executable)')"
SH="$(command -v sh)"
cat >"$T/chain.py" <<'PY'
import subprocess, sys
print("python: running", sys.argv[1].rsplit("/", 1)[-1], flush=True)
r = subprocess.run(sys.argv[1:])
print("python: the C program exited with", r.returncode, flush=True)
PY
# The echo after python3 keeps sh alive (a shell execs its last command instead of forking).
CHAIN='"$1" "$2" "$3" --mib 96 --hold-ms 800 --print "C program" --exit 3; echo "sh: python3 exited with $?"'
CMD=("$SH" -c "$CHAIN" sh "$PY" "$T/chain.py" "$WL")

run_ref ref "${CMD[@]}"
assert_eq 0 "$RC" "exit status of the chain without the shim (stderr: $(cat "$T/ref.err"))"
assert_eq "python: running ms_workload
C program
python: the C program exited with 3
sh: python3 exited with 0" "$(cat "$T/ref.out")" "stdout of the chain without the shim"

run_cmd run "$MS_BIN" run -j 1 --interval-ms 100 -o "$T/out" -- "${CMD[@]}"
assert_eq 0 "$RC" "exit status of memsweep run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
ADV="$S/memory_advisory.txt"
assert_eq "ok|0" "$(sql "$DB" "SELECT status, exit_code FROM runs")" "run status and exit code"
cmp -s "$T/ref.out" "$S/logs/run-0001.out" ||
    fail "stdout of the chain under the launcher differs:
$(diff "$T/ref.out" "$S/logs/run-0001.out" | head -20)"
assert_empty "$S/logs/run-0001.err" "stderr of the chain under the launcher"

note "three processes, each the child of the one before"
assert_eq 3 "$(sql "$DB" "SELECT count(*) FROM processes")" "process rows of the run"
c_pid="$(sql "$DB" "SELECT pid FROM processes WHERE exe LIKE '%/ms_workload'")"
assert_int "$c_pid" "pid of the C program's row"
py_pid="$(sql "$DB" "SELECT ppid FROM processes WHERE pid = $c_pid")"
sh_pid="$(sql "$DB" "SELECT ppid FROM processes WHERE pid = $py_pid AND pid <> $c_pid")"
assert_int "$sh_pid" "ppid of the process that is the C program's parent"
# /proc/self/exe names the binary after symbolic links (/bin/sh is dash on Debian).
assert_eq "$(readlink -f "$PY")" "$(sql "$DB" "SELECT exe FROM processes WHERE pid = $py_pid")" \
    "exe of the C program's parent (python3)"
assert_eq "$(readlink -f "$SH")" "$(sql "$DB" "SELECT exe FROM processes WHERE pid = $sh_pid")" \
    "exe of python3's parent (sh)"
assert_eq 3 "$(sql "$DB" "SELECT count(*) FROM processes WHERE ended_ns IS NOT NULL")" \
    "processes with an exit record"

note "the C program's peak is the run's peak"
assert_between "$(sql "$DB" "SELECT hwm_kb / 1024.0 FROM processes WHERE pid = $c_pid")" \
    96 $((96 + MIB_TOL)) "hwm_kb of the C program (MiB)"
run_figures "$DB" >"$T/fig.txt"
line="$(cat "$T/fig.txt")"
# The 96 MiB of the C program while sh (1-2 MiB) and python3 (about 10 MiB) wait for it,
# each with the shim: three processes' allowance.
assert_between "$(fig "$line" 4)" 96 $((96 + 3 * MIB_TOL)) "peak RSS of the run (MiB)"
assert_between "$(post_field "$ADV" MaxPeakRSS_MB)" 96 $((96 + 3 * MIB_TOL)) "MaxPeakRSS_MB"
expected_advisory "$T/fig.txt" "$(mem_total_mb)" >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "memory_advisory.txt"

pass
