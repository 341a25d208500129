#!/usr/bin/env bash
# A chunk claimed but never written (a claim that failed after its add, a process killed
# between its claim and its header) must not hide the processes that claimed later chunks
# of the pool from the collector: they get its `tick` readings all the same.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MS_NO_AUTO_COLLECT=1

use_spoolwrite

# The worker claims chunk 0 of its pool and never writes it, then writes as a process does.
cat >"$T/claim.py" <<'PY'
import os, struct
path = os.environ["MEMSWEEP_SPOOL"]
at = struct.calcsize("<QIIIIqqQiIQQ64s")  # offset of next_chunk
fd = os.open(path, os.O_RDWR)
(n,) = struct.unpack("<Q", os.pread(fd, 8, at))
os.pwrite(fd, struct.pack("<Q", n + 1), at)
os.close(fd)
PY
run_cmd run "$MS_BIN" run -j 1 -o "$T/out" --interval-ms 20 --preload "$INERT" -- \
    sh -c "python3 $T/claim.py && exec $SW --samples 1 --hold-ms 400"
assert_eq 0 "$RC" "memsweep run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE ended_ns IS NOT NULL")" \
    "the process after the unwritten chunk"
# The collector's readings have the process's real RSS, the writer's its made-up 5000+.
ticks="$(sql "$DB" "SELECT count(*) FROM samples WHERE kind = 'tick' AND rss_kb < 5000")"
assert_ge "$ticks" 1 "ticks read from outside past an unwritten chunk"
pass
