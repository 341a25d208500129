#!/usr/bin/env bash
# A pool whose fold fails for a reason of its own (here a worker scribbled a run id of
# no run over its pool's header) loses its own records, with one line, and nothing of
# the other runs: their rows and the collector's ticks are in the database.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MS_NO_AUTO_COLLECT=1

use_spoolwrite

# The worker writes a run id of no run into its pool's header and makes the database
# forget which run the pool belongs to, so that every later fold of the pool reads the
# header's run id and refuses the pool.
cat >"$T/scribble.py" <<'PY'
import os, sqlite3, struct
path = os.environ["MEMSWEEP_SPOOL"]
at = struct.calcsize("<QIIII")  # offset of run_id
fd = os.open(path, os.O_RDWR)
os.pwrite(fd, struct.pack("<q", 999999), at)
os.close(fd)
db = sqlite3.connect(os.environ["MEMSWEEP_DB"], timeout=60)
with db:
    db.execute("DELETE FROM spool_pools WHERE pool = ?", (os.path.basename(path),))
db.close()
PY
cat >"$T/commands" <<EOF
python3 $T/scribble.py && exec $SW --samples 1 --hold-ms 300
$SW --samples 1 --hold-ms 400
$SW --samples 1 --hold-ms 400
EOF
run_cmd run "$MS_BIN" run -j 3 -o "$T/out" --interval-ms 20 --preload "$INERT" \
    --commands "$T/commands"
assert_eq 0 "$RC" "memsweep run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
assert_eq 1 "$(grep -c '^memsweep: .*run 999999 is not in' "$T/run.err")" \
    "one line about the scribbled pool (stderr: $(cat "$T/run.err"))"
for run in 2 3; do
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE run_id = $run
                             AND ended_ns IS NOT NULL")" "run $run's process"
    # The collector's readings have the process's real RSS, the writer's its made-up 5000+.
    assert_ge "$(sql "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                           WHERE run_id = $run AND kind = 'tick' AND rss_kb < 5000")" 1 \
        "run $run's ticks read from outside"
done
pass
