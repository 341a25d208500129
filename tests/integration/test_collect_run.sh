# The collector of `memsweep run`: each run gets a pool before its worker starts
# (MEMSWEEP_SPOOL, and no MEMSWEEP_RUN_ID), the processes' records and the collector's own
# `tick` readings are folded while the sweep runs, finished pools are removed, a pool
# whose process outlives the sweep is kept and read in place by `memsweep advise`, and
# `memsweep collect` removes it once that process is gone. The workers are ms_spoolwrite
# under an inert preload, so that the test does not depend on the shim.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# These tests fold the spools themselves, when they mean to.
MS_NO_AUTO_COLLECT=1

use_spoolwrite
export MEMSWEEP_RUN_ID=999 # inherited from an enclosing sweep: must not reach the workers

cat >"$T/commands" <<EOF
$SW --samples 2 --children 2 --hold-ms 400
env
true
$SW --samples 1 --hold-ms 300
EOF
run_cmd run "$MS_BIN" run -j 4 -o "$T/out" --interval-ms 20 --preload "$INERT" \
    --commands "$T/commands"
assert_eq 0 "$RC" "memsweep run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
assert_eq "$S/spool" "$(sql "$DB" 'SELECT spool_dir FROM sweeps')" "sweeps.spool_dir"
[ ! -e "$S/spool" ] || fail "spool directory left: $(ls -la "$S/spool")"
assert_eq delete "$(sql "$DB" 'PRAGMA journal_mode')" "journal mode"
assert_contains "$S/logs/run-0002.out" "MEMSWEEP_SPOOL=$S/spool/" "the worker's pool"
if grep -q '^MEMSWEEP_RUN_ID=' "$S/logs/run-0002.out"; then
    fail "MEMSWEEP_RUN_ID reached a worker"
fi
assert_eq 3 "$(sql "$DB" "SELECT count(*) FROM processes WHERE run_id = 1")" "run 1's images"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE run_id = 4")" "run 4's image"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM processes WHERE run_id IN (2, 3)")" \
    "runs that wrote no pool"
assert_eq 4 "$(sql "$DB" "SELECT count(*) FROM processes WHERE ended_ns IS NOT NULL")" "ends"
# The collector's readings have the process's real RSS, the writer's its made-up 5000+.
ticks="$(sql "$DB" "SELECT count(*) FROM samples WHERE kind = 'tick' AND rss_kb < 5000")"
assert_ge "$ticks" 10 "ticks read from outside"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                         WHERE s.kind = 'tick' AND (s.t_ns < p.started_ns
                                                    OR s.t_ns > p.ended_ns)")" \
    "ticks inside their process's life"
assert_eq 2 "$(sql "$DB" "SELECT count(*) FROM runs WHERE uninstrumented IS NOT NULL")" \
    "runs without a process are not measured"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM spool_pools WHERE removed_ns IS NULL")" \
    "every pool removed"

note "a process that outlives its sweep keeps its pool"
run_cmd run2 "$MS_BIN" run -j 1 -o "$T/out2" --interval-ms 20 --preload "$INERT" -- \
    sh -c "$SW --samples 1 --wait-file $T/go --started-file $T/started &
           while [ ! -e $T/started ]; do sleep 0.01; done"
assert_eq 0 "$RC" "memsweep run with a straggler (stderr: $(cat "$T/run2.err"))"
S2="$(sweep_dir_of "$T/out2")"
assert_eq 1 "$(find "$S2/spool" -name '*.msp' | wc -l)" "the straggler's pool"
run_cmd adv "$MS_BIN" advise "$S2"
assert_eq 0 "$RC" "advise with a pending pool (stderr: $(cat "$T/adv.err"))"
touch "$T/go"
for _ in $(seq 1 2000); do
    run_cmd collect "$MS_BIN" collect "$S2"
    assert_eq 0 "$RC" "collect (stderr: $(cat "$T/collect.err"))"
    [ -e "$S2/spool" ] || break
done
[ ! -e "$S2/spool" ] || fail "the straggler's pool is kept after it ended"
assert_eq 1 "$(sql "$S2/memsweep.db" "SELECT count(*) FROM processes WHERE ended_ns IS NOT NULL")" \
    "the straggler's end"
pass
