#!/usr/bin/env bash
# The exit waits for no thread of the shim's. Processes whose sampler thread writes every
# millisecond, and whose own threads write allocation samples meanwhile, exit at random
# moments of those writes: each exits with its own status and leaves its end written, and
# every pool stays whole. Outcomes are asserted, never a latency.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_spool.sh"

THREADS_BIN="$MS_BUILD_DIR/ms_threads"
need_exe "$THREADS_BIN"
for i in $(seq 10); do
    rc=0
    env MEMSWEEP_DB="$T/m$i.db" MEMSWEEP_INTERVAL_MS=1 MEMSWEEP_ALLOC_STEP_MB=1 \
        MEMSWEEP_RELEASE_MB=1 MEMSWEEP_ALLOC_MAX_PER_S=100000 LD_PRELOAD="$MS_SHIM" \
        "$THREADS_BIN" --threads 4 --ops 500 >"$T/out$i" 2>"$T/err$i" || rc=$?
    assert_eq 0 "$rc" "run $i: exit status ($(head -c 500 "$T/err$i"))"
    pool="$(pool_in "$T/m$i.db.spool")" || fail "run $i: not exactly one pool"
    dump_pool "$pool" "$T/d$i"
    line="$(grep '^proc ' "$T/d$i")"
    assert_eq 2 "$(val "$line" end_state)" "run $i: end_state"
    [ "$(val "$line" end_hwm_kb)" -gt 0 ] || fail "run $i: no end reading: $line"
done
note "samples in the last run: $(count_in "$T/d10" '^sample '), written while the writer was busy: $(val "$line" dropped_queue) dropped"
# _exit from a thread while the sampler writes: dash ends every shell with _exit.
for i in $(seq 20); do
    rc=0
    env MEMSWEEP_DB="$T/s$i.db" MEMSWEEP_INTERVAL_MS=1 LD_PRELOAD="$MS_SHIM" \
        dash -c 'i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; exit 3' || rc=$?
    assert_eq 3 "$rc" "dash $i: exit status"
    pool="$(pool_in "$T/s$i.db.spool")" || fail "dash $i: not exactly one pool"
    dump_pool "$pool" "$T/s$i"
    assert_eq 2 "$(val "$(grep '^proc ' "$T/s$i")" end_state)" "dash $i: end_state"
done
pass
