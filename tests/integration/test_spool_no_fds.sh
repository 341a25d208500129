# A process that has used up its descriptors when it exits: the shim cannot open
# /proc/self/status for the end reading (EMFILE), and still ends with the program's own
# status and writes its end, with its time and -1 for the figures it could not read
# ("not reported"), never a made-up figure and never no end at all.
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

pass
