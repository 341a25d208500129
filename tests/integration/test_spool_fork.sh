#!/usr/bin/env bash
# Children in the spool. A child forked without exec records itself as its own process
# image (its own key, its ppid the parent's pid), waking at its first allocation, and the
# parent's records stay the parent's. A child that shares the parent's memory (vfork,
# posix_spawn) writes nothing for itself before its exec, and nothing into the parent's
# image; after its exec the new image records itself.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_spool.sh"

# fork without exec: ms_workload's --fork-mib child allocates 20 MiB and holds.
env MEMSWEEP_DB="$T/f.db" MEMSWEEP_INTERVAL_MS=20 LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 4 --fork-mib 20 --hold-ms 200 >"$T/f.out" 2>"$T/f.err" &
pid=$!
track_pid "$pid"
wait "$pid" || fail "fork: exit status $? ($(cat "$T/f.err"))"
pool="$(pool_in "$T/f.db.spool")" || fail "fork: not exactly one pool"
dump_pool "$pool" "$T/f.d"
grep '^proc ' "$T/f.d"
assert_eq 2 "$(count_in "$T/f.d" '^proc ')" "fork: processes"
parent="$(proc_line "$T/f.d" "$pid")"
child="$(grep '^proc ' "$T/f.d" | grep -v " pid=$pid " || true)"
[ -n "$parent" ] && [ -n "$child" ] || fail "fork: parent or child missing"
assert_eq "$pid" "$(val "$child" ppid)" "fork: the child's ppid"
assert_ne "$(val "$parent" key)" "$(val "$child" key)" "fork: keys"
assert_eq 2 "$(val "$child" end_state)" "fork: the child's end"
assert_eq 2 "$(val "$parent" end_state)" "fork: the parent's end"
assert_eq 1 "$(val "$child" flags)" "fork: the child samples itself"
[ "$(val "$child" end_hwm_kb)" -ge $((20 * 1024)) ] ||
    fail "fork: the child's VmHWM is below the 20 MiB it touched: $child"
[ "$(val "$child" end_hwm_kb)" -lt $((20 * 1024 + MIB_TOL * 1024)) ] ||
    fail "fork: the child's VmHWM is too large: $child"
ckey="$(val "$child" key)"
assert_eq 1 "$(grep -c " key=$ckey .* kind=start " "$T/f.d" || true)" "fork: the child's START"
assert_eq 1 "$(grep -c " key=$(val "$parent" key) .* kind=start " "$T/f.d" || true)" \
    "fork: the parent's START"
grep -q "^sample key=$ckey .* kind=tick " "$T/f.d" || fail "fork: the child took no tick"
# The child's readings were written by the child into its own chunks: their RSS is the
# child's 20 MiB, never the parent's 4 (plus program) at the same time.
[ "$(val "$(grep "^sample key=$ckey .* kind=tick " "$T/f.d" | tail -n 1)" rss_kb)" -ge \
    $((20 * 1024)) ] || fail "fork: the child's last tick is not the child's"

# vfork and posix_spawn: only exec'd images appear, each with its own identity.
env MEMSWEEP_DB="$T/v.db" LD_PRELOAD="$MS_SHIM" \
    "$MS_BUILD_DIR/ms_spawn" --dir "$T" --mib 8 "$WL" --mib 1 >"$T/v.out" 2>"$T/v.err" &
pid=$!
track_pid "$pid"
wait "$pid" || fail "spawn: exit status $? ($(cat "$T/v.err"))"
cat "$T/v.out"
pool="$(pool_in "$T/v.db.spool")" || fail "spawn: not exactly one pool"
dump_pool "$pool" "$T/v.d"
grep '^proc ' "$T/v.d"
parent="$(proc_line "$T/v.d" "$pid")"
[ -n "$parent" ] || fail "spawn: no parent image"
assert_eq 2 "$(val "$parent" end_state)" "spawn: the parent's end"
[ "$(val "$parent" end_hwm_kb)" -ge $((8 * 1024)) ] || fail "spawn: the parent's end: $parent"
# posix_spawn and vfork-exec exec ms_workload; vfork-exit, vfork-fail and spawn-fail
# exec nothing and so record nothing.
others="$(grep '^proc ' "$T/v.d" | grep -v " pid=$pid " || true)"
assert_eq 2 "$(echo "$others" | grep -c . || true)" "spawn: exec'd children recorded"
echo "$others" | while read -r l; do
    assert_eq "$pid" "$(val "$l" ppid)" "spawn: an exec'd child's ppid"
    [[ "$l" == *" exe=$(readlink -f "$WL") "* ]] || fail "spawn: a child that is not ms_workload: $l"
    assert_eq 2 "$(val "$l" end_state)" "spawn: an exec'd child's end"
done
assert_eq 1 "$(grep -c "^sample key=$(val "$parent" key) .* kind=start " "$T/v.d" || true)" \
    "spawn: the parent's one START"
pass
