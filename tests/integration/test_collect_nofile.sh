#!/usr/bin/env bash
# The collector holds two descriptors for every live process it watches. It raises its
# soft descriptor limit to the hard one, so that a run of more processes than the user's
# soft limit allows still gets a `tick` reading of each, while the workers get the limit
# the user gave memsweep.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MS_NO_AUTO_COLLECT=1

use_spoolwrite
hard="$(ulimit -Hn)"
if [ "$hard" != unlimited ] && [ "$hard" -lt 512 ]; then
    skip "hard descriptor limit $hard too low"
fi
ulimit -Sn 64
N=48 # 2 * (N + 1) descriptors: more than the soft limit
run_cmd run "$MS_BIN" run -j 1 -o "$T/out" --interval-ms 20 --preload "$INERT" -- \
    sh -c "echo nofile=\$(ulimit -Sn); exec $SW --samples 1 --children $N --hold-ms 1500"
assert_eq 0 "$RC" "memsweep run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
assert_contains "$S/logs/run-0001.out" "nofile=64" "the worker's soft descriptor limit"
assert_eq $((N + 1)) "$(sql "$DB" "SELECT count(*) FROM processes")" "processes"
# The collector's readings have the process's real RSS, the writer's its made-up 5000+.
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM processes p WHERE NOT EXISTS
                         (SELECT 1 FROM samples s WHERE s.proc_id = p.proc_id
                          AND s.kind = 'tick' AND s.rss_kb < 5000)")" \
    "processes without a tick read from outside"
pass
