#!/usr/bin/env bash
# A full filesystem under the spool must never hurt the program: a chunk is mapped only
# once its blocks exist, so no store of the shim's can fault (SIGBUS). The process goes on
# and exits as it would; the readings it could not write are counted in `unstored`, the
# chunks that could not be had in the pool's lost_chunks, the reason is in a NOTE, and the
# end is still written (the process header stays mapped). A process that cannot have even
# its first chunk is counted in lost_processes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_spool.sh"

mount_tiny_tmpfs

env MEMSWEEP_DB="$T/m.db" MEMSWEEP_SPOOL_DIR="$T/tiny/sp" MEMSWEEP_INTERVAL_MS=1 \
    LD_PRELOAD="$MS_SHIM" "$WL" --mib 4 --hold-ms 0 --wait-file "$T/go" >"$T/out" 2>"$T/err" &
pid=$!
track_pid "$pid"
full() {
    local p
    p="$(pool_in "$T/tiny/sp")" || return 1
    "$DUMP" "$p" 2>/dev/null | grep -q '^note .*no space left'
}
wait_for 300 full || fail "the spool never filled (ticks so far: $(dumped_ticks "$T/tiny/sp"))"
touch "$T/go"
rc=0
wait "$pid" || rc=$?
assert_eq 0 "$rc" "exit status of the process whose spool filled (138 would be SIGBUS)"
pool="$(pool_in "$T/tiny/sp")"
dump_pool "$pool" "$T/d"
line="$(proc_line "$T/d" "$pid")"
head -n 1 "$T/d"
echo "$line" | cut -c1-300
note "ticks written: $(count_in "$T/d" ' kind=tick '), chunks: $(val "$line" chunks)"
assert_eq 2 "$(val "$line" end_state)" "end written"
[ "$(val "$line" end_hwm_kb)" -gt 4096 ] || fail "end without its reading: $line"
[ "$(val "$line" unstored)" -gt 0 ] || fail "no reading counted as not written: $line"
[ "$(val "$(head -n 1 "$T/d")" lost_chunks)" -ge 1 ] || fail "no lost chunk counted"
assert_eq 1 "$(count_in "$T/d" '^note ')" "notes"

# Another process of the same run: no room for its first chunk at all (the process that
# filled the spool may have left a few pages, as many as its last chunk lacked).
fill_tiny_tmpfs
rc=0
env MEMSWEEP_SPOOL="$pool" LD_PRELOAD="$MS_SHIM" "$WL" --mib 1 --print ok >"$T/late.out" \
    2>"$T/late.err" || rc=$?
assert_eq 0 "$rc" "a process with no room for its first chunk: exit status"
assert_eq ok "$(cat "$T/late.out")" "a process with no room for its first chunk: stdout"
dump_pool "$pool" "$T/d2"
[ "$(val "$(head -n 1 "$T/d2")" lost_processes)" -ge 1 ] || fail "no lost process counted"
assert_eq 1 "$(count_in "$T/d2" '^proc ')" "processes in the full pool"
pass
