# A --commands file run through /bin/sh -c: a shell that forks the worker and outlives it,
# and a nested `sh -c` that ends in the worker. The runs' figures are the worker's, not the
# shell's 1-2 MiB; blank and comment lines are not runs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cat >"$T/commands.txt" <<CMDS
# two runs; this line and the blank lines are skipped

$WL --mib 80 --hold-ms 800 --print first; true
   # an indented comment
sh -c '$WL --mib 40 --hold-ms 800 --print second'

CMDS

run_cmd run "$MS_BIN" run -j 2 -o "$T/out" --commands "$T/commands.txt"
assert_eq 0 "$RC" "exit status of memsweep run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
ADV="$S/memory_advisory.txt"

assert_eq 2 "$(sql "$DB" "SELECT count(*) FROM runs")" "runs (blank and # lines skipped)"
assert_eq "$WL --mib 80 --hold-ms 800 --print first; true" \
    "$(sql "$DB" "SELECT command FROM runs WHERE seq = 1")" "command of run 1"
assert_eq "sh -c '$WL --mib 40 --hold-ms 800 --print second'" \
    "$(sql "$DB" "SELECT command FROM runs WHERE seq = 2")" "command of run 2"

run_figures "$DB" >"$T/fig.txt"
assert_eq 2 "$(wc -l <"$T/fig.txt")" "runs in the figures"
l1="$(sed -n 1p "$T/fig.txt")"
l2="$(sed -n 2p "$T/fig.txt")"
assert_eq ok "$(fig "$l1" 2)" "status of run 1"
assert_eq ok "$(fig "$l2" 2)" "status of run 2"
# Run 1: the shell forks the worker, so both are alive together; the run counts both.
check_run_mib "$l1" 80 80 "run 1 (shell forks the worker)"
check_run_mib "$l2" 40 40 "run 2 (nested sh -c)"

# The worker has its own process row in each run, with its own footprint, and the shell
# of run 1 is the worker's parent.
for seq in 1 2; do
    mib=$((seq == 1 ? 80 : 40))
    n="$(sql "$DB" "SELECT count(*) FROM processes JOIN runs USING (run_id)
                    WHERE seq = $seq AND exe LIKE '%/ms_workload'")"
    assert_eq 1 "$n" "run $seq: ms_workload process rows"
    hwm="$(sql "$DB" "SELECT hwm_kb / 1024.0 FROM processes JOIN runs USING (run_id)
                      WHERE seq = $seq AND exe LIKE '%/ms_workload'")"
    assert_between "$hwm" "$mib" $((mib + MIB_TOL)) "run $seq: the worker's hwm_kb (MiB)"
done
assert_ge "$(fig "$l1" 7)" 2 "run 1: process rows (shell and worker)"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes w JOIN processes s USING (run_id)
                          JOIN runs r USING (run_id)
                          WHERE r.seq = 1 AND w.exe LIKE '%/ms_workload'
                          AND s.exe LIKE '%sh' AND w.ppid = s.pid")" \
    "run 1: shell rows that are the worker's parent"

# The analyzer's figures are the workers' too: with two runs the max is one and the mean
# the average of both.
MT="$(mem_total_mb)"
expected_advisory "$T/fig.txt" "$MT" >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "memory_advisory.txt"
assert_between "$(post_field "$ADV" MaxRSS_End_MB)" 80 $((80 + MIB_TOL)) "MaxRSS_End_MB"
assert_between "$(post_field "$ADV" MeanRSS_End_MB)" 60 $((60 + MIB_TOL)) "MeanRSS_End_MB"
assert_between "$(post_field "$ADV" MaxPeakRSS_MB)" 80 $((80 + MIB_TOL)) "MaxPeakRSS_MB"

# The workers' output reached the logs.
cat $(log_files "$S" out) | sort >"$T/outlog.txt"
printf '%s\n' first second >"$T/outlog.expected"
diff -u "$T/outlog.expected" "$T/outlog.txt" >&2 || fail "stdout logs (diff above)"

pass
