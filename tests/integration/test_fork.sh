# A worker that forks: parent (40 MiB) and child (60 MiB) have their own process rows, the
# child points at the parent, and the run's peak is both alive at once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The child holds its 60 MiB for 1500 ms and then until the test has seen, in the
# database, a tick of each process with its memory: the run's peak and end are both
# alive at once only if each was sampled while they were, which a fixed hold leaves to
# the machine's speed.
"$MS_BIN" run -j 1 -o "$T/out" -- "$WL" --mib 40 --fork-mib 60 --hold-ms 1500 \
    --wait-file "$T/go" >"$T/run.out" 2>"$T/run.err" &
launcher=$!
track_pid "$launcher"

# both_ticked: the sweep's database holds a tick of the child with its 60 MiB and one of
# its parent with its 40.
both_ticked() {
    db_has "$T/out" "SELECT (SELECT count(*) FROM samples s JOIN processes c USING (proc_id)
                             JOIN processes p ON c.ppid = p.pid
                             WHERE s.kind = 'tick' AND s.rss_kb >= 60 * 1024) > 0
                        AND (SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                             JOIN processes c ON c.ppid = p.pid
                             WHERE s.kind = 'tick' AND s.rss_kb >= 40 * 1024) > 0"
}
wait_for 60 both_ticked ||
    fail "no tick of both processes with their memory within 60 s (stderr: $(cat "$T/run.err"))"
touch "$T/go"
RC=0
wait "$launcher" || RC=$?
assert_eq 0 "$RC" "exit status of memsweep run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
ADV="$S/memory_advisory.txt"

assert_eq 2 "$(sql "$DB" "SELECT count(*) FROM processes")" "process rows of the run"
parent="$(sql "$DB" "SELECT proc_id FROM processes ORDER BY started_ns, proc_id LIMIT 1")"
child="$(sql "$DB" "SELECT proc_id FROM processes ORDER BY started_ns DESC, proc_id DESC LIMIT 1")"
assert_ne "$parent" "$child" "parent and child rows"
ppid="$(sql "$DB" "SELECT ppid FROM processes WHERE proc_id = $child")"
ppid_pid="$(sql "$DB" "SELECT pid FROM processes WHERE proc_id = $parent")"
assert_eq "$ppid_pid" "$ppid" "the child's ppid (the parent's pid)"

note "per-process rows"
for row in "$parent 40" "$child 60"; do
    set -- $row
    hwm="$(sql "$DB" "SELECT hwm_kb / 1024.0 FROM processes WHERE proc_id = $1")"
    endrss="$(sql "$DB" "SELECT end_rss_kb / 1024.0 FROM processes WHERE proc_id = $1")"
    assert_between "$hwm" "$2" $(($2 + MIB_TOL)) "hwm_kb of the $2 MiB process (MiB)"
    assert_between "$endrss" "$2" $(($2 + MIB_TOL)) "end_rss_kb of the $2 MiB process (MiB)"
    assert_ge "$(sql "$DB" "SELECT count(*) FROM samples WHERE proc_id = $1 AND kind = 'tick'
                            AND rss_kb >= $2 * 1024")" 1 \
        "tick samples of the $2 MiB process that see its memory"
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM samples WHERE proc_id = $1 AND kind = 'end'")" \
        "end samples of the $2 MiB process"
done
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes c, processes p
                          WHERE c.proc_id = $child AND p.proc_id = $parent
                          AND c.started_ns >= p.started_ns AND c.ended_ns <= p.ended_ns")" \
    "the child's lifetime lies within the parent's"

# However many ticks each got, none has more than its life holds, and every one missing
# between written ones is counted in unstored.
check_ticks "$DB" 500 "parent and child"

note "the run: both processes at once"
run_figures "$DB" >"$T/fig.txt"
line="$(cat "$T/fig.txt")"
# Two processes, so twice the per-process allowance.
assert_between "$(fig "$line" 4)" 100 $((100 + 2 * MIB_TOL)) "peak RSS of the run (MiB)"
# The end: the largest sum just before an exit, which is the child's, with both alive.
assert_between "$(fig "$line" 3)" 100 $((100 + 2 * MIB_TOL)) "end RSS of the run (MiB)"
assert_between "$(post_field "$ADV" MaxPeakRSS_MB)" 100 $((100 + 2 * MIB_TOL)) "MaxPeakRSS_MB"
expected_advisory "$T/fig.txt" "$(mem_total_mb)" >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "memory_advisory.txt"

pass
