# A process that has used up its descriptors when it exits: the shim cannot open
# /proc/self/status for the end reading (EMFILE), and needs no descriptor to write the
# end (it goes through the page of the process header that the start mapped; an image
# that wrote nothing after its start has no chunk mapped), so it still ends with the
# program's own status and writes its end, with its time and -1 for the figures it could
# not read ("not reported"), never a made-up figure and never no end at all. Likewise
# under `memsweep run`, and for a process whose pool no longer has its path when it exits.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_spool.sh"

SP="$T/sp"
# bash fills every descriptor up to a limit of 16, shows that one more open fails, exits 5.
prog='ulimit -n 16
n=3
while [ $n -lt 16 ]; do eval "exec $n</dev/null"; n=$((n + 1)); done
exec 16</dev/null
exit 5'

note "without the shim"
run_ref plain bash -c "$prog"
assert_eq 5 "$RC" "exit status without the shim"
assert_contains "$T/plain.err" "Too many open files" "the program's last open fails"

note "under the shim"
run_cmd shim env MEMSWEEP_DB="$T/m.db" MEMSWEEP_SPOOL_DIR="$SP" LD_PRELOAD="$MS_SHIM" \
    bash -c "$prog"
assert_eq 5 "$RC" "exit status of the process with no descriptor left"
cmp -s "$T/plain.out" "$T/shim.out" || fail "stdout differs from the run without the shim"
assert_contains "$T/shim.err" "Too many open files" "the program's last open fails"
assert_eq 1 "$(wc -l <"$T/shim.err")" "stderr lines (the shim must add none)"
pool="$(pool_in "$SP")" || fail "no pool in $SP"
dump_pool "$pool" "$T/d"
assert_eq 1 "$(count_in "$T/d" '^proc ')" "processes in the pool"
line="$(grep '^proc ' "$T/d")"
assert_eq 2 "$(val "$line" end_state)" "end_state (2: the end is written)"
assert_eq -1 "$(val "$line" end_rss_kb)" "end_rss_kb: not reported"
assert_eq -1 "$(val "$line" end_hwm_kb)" "end_hwm_kb: not reported"
[ "$(val "$line" end_t_ns)" -gt "$(val "$line" started_ns)" ] ||
    fail "the end's time is not after the start: $line"
assert_ge "$(val "$line" end_heap_kb)" 0 "end_heap_kb: the hooks' own figure"

note "under memsweep run: a worker of a watched run"
run_cmd run "$MS_BIN" run -j 1 -o "$T/out" -- bash -c "$prog"
assert_eq 1 "$RC" "memsweep run of a failing worker (stderr: $(head -c 300 "$T/run.err"))"
db="$(sweep_dir_of "$T/out")/memsweep.db"
assert_eq "1|1|1" "$(sql "$db" "SELECT count(*), ended_ns IS NOT NULL, hwm_kb IS NULL
    FROM processes")" "one process, ended, its peak not reported"
assert_eq 5 "$(sql "$db" "SELECT exit_code FROM runs")" "the run's exit code"

note "a process whose pool was moved away before it exits"
mkdir "$T/mv"
run_cmd moved env MEMSWEEP_DB="$T/mv/m.db" MEMSWEEP_SPOOL_DIR="$T/mv/sp" \
    LD_PRELOAD="$MS_SHIM" bash -c 'mv "$1" "$1.moved"; exit 3' moved "$T/mv/sp"
assert_eq 3 "$RC" "exit status of the process whose pool moved"
assert_empty "$T/moved.err" "stderr of the process whose pool moved"
pool="$(pool_in "$T/mv/sp.moved")" || fail "no pool in $T/mv/sp.moved"
dump_pool "$pool" "$T/d2"
line="$(grep '^proc ' "$T/d2" | grep -v 'exe=/usr/bin/mv\|exe=/bin/mv' | head -n 1)"
assert_eq 2 "$(val "$line" end_state)" "end_state (2: the end is written through the mapped page)"
[ "$(val "$line" end_hwm_kb)" -gt 0 ] || fail "the end without its reading: $line"

pass
