# Allocation from many threads at once under the shim: 8 and 64 threads allocating and
# freeing random sizes (some of 16 MiB and more), handing blocks to each other so that one
# thread frees what another allocated. No crash, no deadlock (each run has a time limit
# far above its duration), the same checksum as without the shim, allocation-driven
# samples recorded, and heap figures that stay sane across threads.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_exe "$THREADS_WL"

# Uninstrumented, 8 threads take about 1 s and 64 threads about 2 s here.
LIMIT=60

for spec in "8 10000" "64 2000"; do
    set -- $spec
    threads=$1 ops=$2
    name="t$threads"
    note "$threads threads x $ops operations"
    run_ref "$name.ref" timeout -k 5 "$LIMIT" "$THREADS_WL" --threads "$threads" --ops "$ops"
    assert_eq 0 "$RC" "$name: exit status without the shim (stderr: $(cat "$T/$name.ref.err"))"
    db="$T/$name.db"
    start=$(now_ms)
    run_shim "$name.shim" "$db" timeout -k 5 "$LIMIT" "$THREADS_WL" --threads "$threads" --ops "$ops"
    took=$(($(now_ms) - start))
    [ "$RC" -ne 124 ] && [ "$RC" -ne 137 ] ||
        fail "$name: ms_threads under the shim did not finish within $LIMIT s (exit $RC): deadlock?"
    same_run "$name.ref" "$name.shim" "$name: ms_threads under the shim"
    note "$name: $(cat "$T/$name.shim.out") in $took ms under the shim"

    proc="$(sql "$db" "SELECT proc_id FROM processes WHERE exe LIKE '%/ms_threads'")"
    assert_int "$proc" "$name: the ms_threads process row"
    assert_eq 1 "$(sql "$db" "SELECT alloc_tracking FROM processes WHERE proc_id = $proc")" \
        "$name: processes.alloc_tracking"
    assert_eq 1 "$(sql "$db" "SELECT count(*) FROM samples WHERE proc_id = $proc AND kind = 'end'")" \
        "$name: end samples"
    check_drops "$db" "$name"
    check_heap_sane "$db" "$name"
    n_alloc="$(kind_count "$db" alloc "p.proc_id = $proc")"
    n_release="$(kind_count "$db" release "p.proc_id = $proc")"
    note "$name: $n_alloc alloc, $n_release release samples; dropped" \
        "$(sql "$db" "SELECT alloc_dropped || ' (rate ' || alloc_dropped_rate || ', queue '
                      || alloc_dropped_queue || ')' FROM processes WHERE proc_id = $proc")"
    # Blocks of 16 MiB and more are freed throughout, and the threads together hold
    # several hundred MiB at their peak, far past the 64 MiB step.
    assert_ge "$n_release" 1 "$name: release samples"
    assert_ge "$n_alloc" 1 "$name: alloc samples"
done

pass
