# A dormant fork child that wakes only at its exit records itself without starting a
# sampler thread: the exit may run in a signal handler that interrupted malloc, where
# pthread_create could hang, and a thread started then would have nothing to sample.
# With MEMSWEEP_ALLOC=0 the hooks only forward, so dash's subshell child wakes at its
# _exit; MEMSWEEP_DEBUG=1 says what each process did.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_spool.sh"

command -v dash >/dev/null || skip "dash is not installed"
SP="$T/sp"
run_cmd sh env MEMSWEEP_DB="$T/m.db" MEMSWEEP_SPOOL_DIR="$SP" MEMSWEEP_ALLOC=0 \
    MEMSWEEP_DEBUG=1 LD_PRELOAD="$MS_SHIM" dash -c 'echo $$ >"$0"; (exit 3); echo $?' "$T/dash.pid"
assert_eq 0 "$RC" "exit status of dash"
assert_eq 3 "$(cat "$T/sh.out")" "exit status of the subshell child"
pool="$(pool_in "$SP")" || fail "no pool in $SP"
dump_pool "$pool" "$T/d"
assert_eq 2 "$(count_in "$T/d" '^proc ')" "processes in the pool"
parent_pid="$(cat "$T/dash.pid")"
child="$(grep "^proc .* ppid=$parent_pid " "$T/d" | head -n 1)"
[ -n "$child" ] || fail "no child of $parent_pid in the pool: $(cat "$T/d")"
child_pid="$(val "$child" pid)"
assert_eq 2 "$(val "$child" end_state)" "the child's end"
assert_contains "$T/sh.err" "memsweep[$parent_pid]: recording, sampling every ms" \
    "the parent's sampler thread"
assert_contains "$T/sh.err" "memsweep[$child_pid]: recording at the exit only; no sampler thread" \
    "the child, woken at its exit"
if grep -q "memsweep\[$child_pid\]: recording, sampling" "$T/sh.err"; then
    fail "the child woken at its exit started a sampler thread: $(cat "$T/sh.err")"
fi

pass
