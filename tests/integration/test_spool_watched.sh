#!/usr/bin/env bash
# A pool whose header says a live collector in the process's pid namespace watches it
# (MS_SPOOL_WATCHED, its pidns inode, its pid): the process starts no sampler thread and
# writes no tick; the collector reads its status from outside. When the watcher is gone,
# the process samples itself again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_spool.sh"

# watched_pool PATH WATCHER_PID: a pool header (format version 2) of a watched run, 20 ms interval.
watched_pool() {
    python3 - "$1" "$2" "$(stat -L -c %i /proc/self/ns/pid)" <<'PY'
import os, struct, sys, time
path, watcher, ino = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
h = struct.pack("<QIIIIqqQiIQQ64sQQQ", 0x4C4F4F5053575345, 2, 4096, 32768, 1, 7,
                time.time_ns(), ino, watcher, 20, 0, 0, b"test", 0, 0, 0)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, h + bytes(4096 - len(h)))
os.close(fd)
PY
}
mkdir -m 0700 "$T/sp"
watched_pool "$T/sp/w.msp" $$
env MEMSWEEP_SPOOL="$T/sp/w.msp" LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 2 --hold-ms 0 --wait-file "$T/go" >"$T/out" 2>"$T/err" &
pid=$!
track_pid "$pid"
started() { "$DUMP" "$T/sp/w.msp" 2>/dev/null | grep -q "^proc .* pid=$pid "; }
wait_for 60 started || fail "the watched process never started its image"
assert_eq 1 "$(ls /proc/"$pid"/task | wc -l)" "threads of a watched process"
touch "$T/go"
wait "$pid" || fail "watched: exit status $?"
dump_pool "$T/sp/w.msp" "$T/d"
line="$(proc_line "$T/d" "$pid")"
assert_eq 0 "$(val "$line" flags)" "a watched process does not sample itself"
assert_eq 20 "$(val "$line" interval_ms)" "the run's interval is the pool's"
assert_eq 0 "$(count_in "$T/d" ' kind=tick ')" "ticks of a watched process"
assert_eq 2 "$(val "$line" end_state)" "watched: end_state"

# The watcher is gone: a pid that no process has.
sh -c 'exit 0' &
gone=$!
wait "$gone"
watched_pool "$T/sp/g.msp" "$gone"
env MEMSWEEP_SPOOL="$T/sp/g.msp" LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 2 --hold-ms 0 --wait-file "$T/go2" >"$T/out2" 2>"$T/err2" &
pid=$!
track_pid "$pid"
ticked() { "$DUMP" "$T/sp/g.msp" 2>/dev/null | grep -q ' kind=tick '; }
wait_for 60 ticked || fail "a process whose watcher is gone took no tick"
touch "$T/go2"
wait "$pid" || fail "unwatched: exit status $?"
dump_pool "$T/sp/g.msp" "$T/d2"
assert_eq 1 "$(val "$(proc_line "$T/d2" "$pid")" flags)" "a process whose watcher is gone samples itself"
pass
