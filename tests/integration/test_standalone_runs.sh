#!/usr/bin/env bash
# Programs measured alone, one after the other into one database: each is a run of its
# own, numbered in the order the programs started, and a run ends with its first process
# even when that process became another program by exec (env, a shell's exec, a pyenv
# shim): its last image's end ends the run. The sweep's command line is the first run's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
MS_NO_AUTO_COLLECT=1
unset MEMSWEEP_SPOOL MEMSWEEP_SPOOL_DIR

DB="$T/m.db"
TRUE="$(command -v true)"
ENV="$(command -v env)"
env MEMSWEEP_DB="$DB" LD_PRELOAD="$MS_SHIM" sh -c 'exec sleep 0.05'
env MEMSWEEP_DB="$DB" LD_PRELOAD="$MS_SHIM" "$ENV" "$TRUE" one
env MEMSWEEP_DB="$DB" LD_PRELOAD="$MS_SHIM" "$TRUE" two

run_cmd adv "$MS_BIN" advise "$DB"
assert_eq 0 "$RC" "advise on the pending spools (stderr: $(cat "$T/adv.err"))"
assert_contains "$T/adv.out" "RunsTotal: 3" "runs read in place"
assert_contains "$T/adv.out" "RunsRunning: 0" "no run left running"

run_cmd collect "$MS_BIN" collect "$DB"
assert_eq 0 "$RC" "collect (stderr: $(cat "$T/collect.err"))"
assert_eq "1|ok|sh -c exec sleep 0.05
2|ok|$ENV $TRUE one
3|ok|$TRUE two" "$(sql "$DB" 'SELECT seq, status, command FROM runs ORDER BY seq')" \
    "runs in the order they started, each ended"
assert_eq 0 "$(sql "$DB" 'SELECT count(*) FROM runs WHERE label IS NOT command')" \
    "runs whose label is not their command line"
assert_eq 0 "$(sql "$DB" 'SELECT count(*) FROM runs r WHERE finished_ns IS NULL
                           OR finished_ns < started_ns')" "runs without a sane end time"
assert_eq "sh -c exec sleep 0.05" "$(sql "$DB" 'SELECT argv FROM sweeps')" "the sweep's command line"
# Each exec'ing process left two images of one pid: the first without an end, the last with.
assert_eq "1|2|1
2|2|1" "$(sql "$DB" 'SELECT r.seq, count(*), count(p.ended_ns) FROM processes p JOIN runs r
                     USING (run_id) WHERE r.seq < 3 GROUP BY r.seq ORDER BY r.seq')" \
    "images of the processes that called exec"
pass
