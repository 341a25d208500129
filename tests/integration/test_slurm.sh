# SLURM job arrays on a real single-node SLURM (munged, slurmctld, slurmd from Debian's
# packages, started here as root by lib_slurm.sh): `memsweep run --slurm` submits a grid
# of xz runs as arrays of at most MaxArraySize tasks (set to 5, so six runs take two
# arrays) at -j 2, and each run's peak matches /usr/bin/time's; a task over its --mem is
# killed by SLURM (OverMemoryKill) together with its exec, and its run is `oom` with the
# samples it took; tasks cancelled before they started, or while they ran, become runs
# `cancelled`; an array
# written by hand with `memsweep exec` in its batch script is read as one sweep; advise on
# the shards equals advise on their merge.
#
# What SLURM says is read here through `scontrol show job` (MinJobAge keeps finished jobs)
# and the jobcomp/filetxt log; `sacct` needs slurmdbd and a database, which this test does
# not start, so that path is not covered. Time limits (a minute at least, checked up to
# 30 s late) are left out to keep the suite short; their state is a unit test's.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_slurm.sh"

if ! slurm_usable; then
    [ "$(id -u)" -eq 0 ] || skip "SLURM's daemons are started as root"
    skip_missing "slurmctld slurmd slurm-client munge" "SLURM is not installed"
fi
# munged refuses a socket in a directory others cannot search, as mktemp's $T is.
chmod 755 "$T"
mkdir -p "$T/slurm"
trap 'rc=$?; slurm_stop; _cleanup; exit $rc' EXIT
SLURM_LIB_EXTRA_CONF="MaxArraySize=5" slurm_start "$T/slurm"
note "cluster up in ${SLURM_START_SECONDS}s"

head -c 1500000 /dev/urandom | base64 >"$T/input"

note "six xz runs, two arrays, at most two at once"
RC=0
"$MS_BIN" run --slurm -j 2 -o "$T/out" --sbatch-arg=--mem=400M -P level=4..9 -- \
    xz -'{level}' -T1 -k -c "$T/input" >"$T/xz.out" 2>"$T/xz.err" || RC=$?
assert_eq 0 "$RC" "exit status of run --slurm (stderr: $(cat "$T/xz.err"))"
S="$(sweep_dir_of "$T/out")"
assert_eq 2 "$(wc -l <"$S/slurm/jobs")" "arrays submitted for 6 runs with MaxArraySize=5"
assert_contains "$T/xz.out" "Post-run Observed Advisory" "the advisory on standard output"
assert_eq 6 "$(post_field "$S/memory_advisory.txt" RunsIncluded)" "runs included"
assert_eq "SLURM_MEM_PER_NODE=400" "$(pre_field "$S/memory_advisory.txt" MemSource)" \
    "the pre-run section's memory is the task's job allocation"
"$MS_BIN" merge "$T/xz.db" "$S" 2>/dev/null
# At most two tasks at once: no run starts while two others are between start and end.
over="$(sqlite3 "$T/xz.db" "SELECT count(*) FROM runs a WHERE (SELECT count(*) FROM runs b
    WHERE b.started_ns <= a.started_ns AND b.finished_ns > a.started_ns) > 2")"
assert_eq 0 "$over" "runs that started while two others ran"
for level in 4 5 6 7 8 9; do
    want="$(/usr/bin/time -f %M xz -"$level" -T1 -k -c "$T/input" 2>&1 >/dev/null | tail -n 1)"
    got="$(sqlite3 "$T/xz.db" "SELECT max(v) FROM (SELECT max(s.rss_kb) AS v FROM samples s
        JOIN processes p USING (proc_id) JOIN runs r USING (run_id) WHERE r.label = 'level=$level'
        UNION ALL SELECT max(p.hwm_kb) FROM processes p JOIN runs r USING (run_id)
        WHERE r.label = 'level=$level')")"
    assert_between "$got" "$((want * 95 / 100))" "$((want * 105 / 100))" \
        "peak KiB of xz -$level under SLURM against /usr/bin/time's $want"
    assert_eq "$((level - 3))" "$(sqlite3 "$T/xz.db" "SELECT seq FROM runs WHERE label = 'level=$level'")" \
        "the run number of xz -$level ({run}, whatever its array)"
done

note "advise on the shards equals advise on their merge"
"$MS_BIN" advise "$S" >"$T/shards.adv"
"$MS_BIN" advise "$T/xz.db" >"$T/merged.adv"
diff "$T/shards.adv" "$T/merged.adv" >/dev/null || fail "advise differs: $(diff "$T/shards.adv" "$T/merged.adv")"
"$MS_BIN" advise "$S" "$T/xz.db" "$S/shards/"*.db >"$T/twice.adv"
diff "$T/shards.adv" "$T/twice.adv" >/dev/null || fail "shards given twice are counted twice"

note "a task over its --mem, killed by SLURM with its exec"
RC=0
"$MS_BIN" run --slurm -j 2 -o "$T/oom" --sbatch-arg=--mem=60M -P mib=16,300 -- \
    "$WL" --mib '{mib}' --hold-ms 4000 >"$T/oom.out" 2>"$T/oom.err" || RC=$?
assert_eq 1 "$RC" "exit status of a sweep with a run killed by SLURM"
S2="$(sweep_dir_of "$T/oom")"
"$MS_BIN" merge "$T/oom.db" "$S2" 2>/dev/null
assert_eq ok "$(sqlite3 "$T/oom.db" "SELECT status FROM runs WHERE label = 'mib=16'")" \
    "status of the run within its --mem"
assert_eq oom "$(sqlite3 "$T/oom.db" "SELECT status FROM runs WHERE label = 'mib=300'")" \
    "status of the run SLURM killed over its --mem"
state="$(sqlite3 "$T/oom.db" "SELECT batch_state FROM runs WHERE label = 'mib=300'")"
case "$state" in
FAILED:*"exceeded memory limit"*) ;;
*) fail "batch_state of the killed run: expected FAILED and slurmstepd's line, got '$state'" ;;
esac
"$MS_BIN" peaks "$S2" >"$T/oom.peaks"
assert_contains "$T/oom.peaks" "BatchState: FAILED: " "peaks shows what SLURM said of the killed run"
peak="$(sqlite3 "$T/oom.db" "SELECT max(s.rss_kb) / 1024 FROM samples s JOIN processes p
    USING (proc_id) JOIN runs r USING (run_id) WHERE r.label = 'mib=300'")"
assert_ge "$peak" 60 "MiB the killed run's samples reached before the kill (its --mem is 60M)"
assert_eq 0 "$(find "$S2/spool" -type f | wc -l)" "pools left after the sweep's end"

note "tasks cancelled before they started"
"$MS_BIN" run --slurm --no-wait -o "$T/held" --sbatch-arg=--hold -P n=1,2,3 -- true \
    >"$T/held.out" 2>"$T/held.err"
S3="$(sweep_dir_of "$T/held")"
job="$(cut -d' ' -f1 "$S3/slurm/jobs")"
scancel "$job"
slurm_wait_job "$job" 120 || fail "the cancelled array did not leave the queue"
"$MS_BIN" collect "$S3" 2>"$T/held-collect.err"
"$MS_BIN" merge "$T/held.db" "$S3" 2>/dev/null
assert_eq "cancelled cancelled cancelled" "$(sqlite3 "$T/held.db" "SELECT group_concat(status, ' ')
    FROM (SELECT status FROM runs ORDER BY seq)")" "statuses of tasks cancelled while pending"
assert_eq 3 "$(post_field "$S3/memory_advisory.txt" RunsExcluded)" "cancelled runs left out"

note "a running task cancelled"
"$MS_BIN" run --slurm --no-wait -o "$T/cancel" -P n=1 -- "$WL" --mib 24 --print up \
    --wait-file "$T/never" >"$T/cancel.out" 2>"$T/cancel.err"
S4="$(sweep_dir_of "$T/cancel")"
job="$(cut -d' ' -f1 "$S4/slurm/jobs")"
# The workload touches its 24 MiB and then waits: cancel once its samples say so.
touched() {
    "$MS_BIN" advise "$S4" >"$T/c.adv" 2>/dev/null &&
        [ "$(post_field "$T/c.adv" LeftOutPeakRSS_LowerBound_MB | cut -d. -f1)" -ge 24 ]
}
wait_for 120 touched || fail "the task's samples did not reach 24 MiB within 120 s"
scancel "$job"
slurm_wait_job "$job" 120 || fail "the cancelled task did not leave the queue"
"$MS_BIN" collect "$S4" 2>/dev/null
"$MS_BIN" merge "$T/cancel.db" "$S4" 2>/dev/null
assert_eq cancelled "$(sqlite3 "$T/cancel.db" "SELECT status FROM runs")" "status of a task cancelled while it ran"
assert_contains <(sqlite3 "$T/cancel.db" "SELECT batch_state FROM runs") CANCELLED "its batch state"
assert_ge "$(sqlite3 "$T/cancel.db" "SELECT max(rss_kb) / 1024 FROM samples")" 24 \
    "MiB the cancelled run's samples reached"

note "an array written by hand: memsweep exec in the batch script"
cat >"$T/task.sh" <<EOF
#!/bin/sh
exec "$MS_BIN" exec --sweep "$T/hand" --label mib=\$((SLURM_ARRAY_TASK_ID * 16 + 16)) -- \\
    "$WL" --mib \$((SLURM_ARRAY_TASK_ID * 16 + 16)) --hold-ms 200
EOF
job="$(sbatch --parsable --array=0-2 --mem=200M -o "$T/hand-%a.out" "$T/task.sh")"
slurm_wait_job "$job" 120 || fail "the hand-written array did not finish"
"$MS_BIN" collect "$T/hand" 2>/dev/null
assert_eq 3 "$(post_field "$T/hand/memory_advisory.txt" RunsIncluded)" "runs of the hand-written array"
"$MS_BIN" merge "$T/hand.db" "$T/hand" 2>/dev/null
assert_eq "0 1 2" "$(sqlite3 "$T/hand.db" "SELECT group_concat(seq, ' ') FROM
    (SELECT seq FROM runs ORDER BY seq)")" "run numbers from SLURM_ARRAY_TASK_ID"
assert_eq "${job}_0 ${job}_1 ${job}_2" "$(sqlite3 "$T/hand.db" "SELECT group_concat(batch_job, ' ')
    FROM (SELECT batch_job FROM runs ORDER BY seq)")" "the runs' batch jobs"

pass
