# An exit never waits: it writes its end into the process header, which stays mapped, and
# waits for no thread and no file. So an exit that cannot record everything (the spool's
# filesystem is full, or the pool was deleted) still ends with the program's own exit
# status and output, and what could not be recorded is counted: the readings in the
# process's unstored with the reason in its note, the processes that could not have a
# chunk at all in the pool's lost_processes. Exits through exit() and dash's _exit, while
# the sampler writes every millisecond.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_spool.sh"

mount_tiny_tmpfs

DB="$T/m.db"
SP="$T/tiny/sp"
# full: the pool's own process has noted that no chunk could be had.
full() {
    local p
    p="$(pool_in "$SP")" || return 1
    "$DUMP" "$p" 2>/dev/null | grep -q '^note .*no space left'
}

note "a process whose spool fills while it runs exits with its own status"
run_ref plain "$WL" --mib 4 --print hello --exit 7
assert_eq 7 "$RC" "exit status without the shim"
env MEMSWEEP_DB="$DB" MEMSWEEP_SPOOL_DIR="$SP" MEMSWEEP_INTERVAL_MS=1 LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 4 --print hello --exit 7 --wait-file "$T/go" >"$T/full.out" 2>"$T/full.err" &
pid=$!
track_pid "$pid"
wait_for 300 full || fail "the spool never filled (ticks so far: $(dumped_ticks "$SP"))"
pool="$(pool_in "$SP")"
touch "$T/go"
RC=0
wait "$pid" || RC=$?
assert_eq 7 "$RC" "exit status of the process whose spool filled"
cmp -s "$T/plain.out" "$T/full.out" || fail "stdout differs from the run without the shim"
assert_empty "$T/full.err" "stderr of the process whose spool filled"

note "processes of the same run that cannot have a chunk at all"
# The process that filled the spool may have left a few pages (as many as its last chunk
# lacked); a first chunk needs only one.
fill_tiny_tmpfs
run_cmd late env MEMSWEEP_SPOOL="$pool" LD_PRELOAD="$MS_SHIM" "$WL" --mib 1 --print hello --exit 7
assert_eq 7 "$RC" "a process with no room for its first chunk: exit status"
cmp -s "$T/plain.out" "$T/late.out" || fail "a process with no room: stdout differs"
assert_empty "$T/late.err" "a process with no room: stderr"
run_cmd dash env MEMSWEEP_SPOOL="$pool" LD_PRELOAD="$MS_SHIM" dash -c 'echo hello; exit 3'
assert_eq 3 "$RC" "dash with no room for its first chunk: exit status"
assert_eq hello "$(cat "$T/dash.out")" "dash with no room: stdout"
assert_empty "$T/dash.err" "dash with no room: stderr"
dump_pool "$pool" "$T/d"
assert_eq 2 "$(val "$(head -n 1 "$T/d")" lost_processes)" "processes counted as without a chunk"
assert_eq 1 "$(count_in "$T/d" '^proc ')" "processes in the full pool"

note "memsweep collect folds what was recorded, and the counts"
MEMSWEEP_SPOOL_DIR="$SP" run_cmd collect "$MS_BIN" collect "$DB"
assert_eq 0 "$RC" "memsweep collect (stderr: $(cat "$T/collect.err"))"
assert_empty "$T/collect.err" "stderr of memsweep collect"
IFS='|' read -r ended unstored note_text ends <<<"$(sql "$DB" "SELECT ended_ns IS NOT NULL,
    unstored, note, (SELECT count(*) FROM samples s WHERE s.proc_id = p.proc_id AND kind = 'end')
    FROM processes p WHERE pid = $pid")"
note "the process whose spool filled: unstored $unstored, note '$note_text'"
assert_eq "1|1" "$ended|$ends" "its exit record and end sample"
assert_ge "$unstored" 1 "readings counted as not recorded"
assert_contains <(echo "$note_text") "no space left for the spool" "its note"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes")" "process rows"
run_cmd peaks "$MS_BIN" peaks "$DB"
assert_eq 0 "$RC" "memsweep peaks (stderr: $(cat "$T/peaks.err"))"
assert_contains "$T/peaks.out" "  Unstored: $unstored " "peaks: the run's unrecorded readings"

note "a process whose pool is deleted while it runs exits with its own status"
rm -rf "${SP:?}"/*
env MEMSWEEP_DB="$T/gone.db" MEMSWEEP_INTERVAL_MS=1 LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 4 --print hello --exit 7 --wait-file "$T/go2" >"$T/gone.out" 2>"$T/gone.err" &
pid=$!
track_pid "$pid"
wait_for 120 has_ticks "$T/gone.db.spool" 1 || fail "no tick in the pool within 120 s"
# The test keeps the pool open to read it once deleted; the process cannot find it again.
gone_pool="$(pool_in "$T/gone.db.spool")"
exec 9<"$gone_pool"
rm -rf "$T/gone.db.spool"
# A chunk holds 585 ticks (56 bytes in 32 KiB): within a few seconds of ticks at 1 ms the
# process asks the deleted pool for another chunk, cannot have it, and notes why.
extend_failed() {
    "$DUMP" "/proc/$$/fd/9" 2>/dev/null | grep -q '^note .*could not be extended'
}
wait_for 300 extend_failed || fail "the process never noted that its pool could not be extended"
touch "$T/go2"
RC=0
wait "$pid" || RC=$?
assert_eq 7 "$RC" "exit status of the process whose pool was deleted"
cmp -s "$T/plain.out" "$T/gone.out" || fail "stdout differs (pool deleted)"
assert_empty "$T/gone.err" "stderr of the process whose pool was deleted"
[ ! -e "$T/gone.db.spool" ] || fail "the shim made a new spool directory: $(ls -la "$T/gone.db.spool")"
[ ! -e "$T/gone.db" ] || fail "a database appeared"
dump_pool "/proc/$$/fd/9" "$T/gone.d"
exec 9<&-
line="$(proc_line "$T/gone.d" "$pid")"
assert_eq 2 "$(val "$line" end_state)" "the end written into the deleted pool"
[ "$(val "$line" unstored)" -ge 1 ] || fail "no reading counted as not recorded: $line"

pass
