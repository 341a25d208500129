# A program that closes the lowest free descriptor number and reuses it with dup2 in a
# tight loop, sampled every millisecond: the shim's readings of /proc and its database
# must never take that number, even for a moment, or the program's close or write would
# hit the shim's file instead of its own. Run with the sampler's own descriptor table
# (the default) and sharing the program's (MEMSWEEP_PRIVATE_FDS=0, the fallback).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FD="$MS_BUILD_DIR/ms_fdreuse"
for private in 1 0; do
    env MEMSWEEP_PRIVATE_FDS=$private MEMSWEEP_INTERVAL_MS=1 MEMSWEEP_DB="$T/fd$private.db" \
        LD_PRELOAD="$MS_SHIM" "$FD" "$T/log$private" 3 >"$T/out" 2>"$T/err" || true
    note "private table $private: $(cat "$T/out")"
    assert_empty "$T/err" "stderr of the program"
    failed="$(awk '{ print $4 }' "$T/out")"
    writes="$(awk '{ print $2 }' "$T/out")"
    assert_eq 0 "$failed" "writes of the program that failed on its reused descriptor"
    assert_eq "$writes" "$(stat -c %s "$T/log$private")" "bytes in the program's file (one per write)"
    # And the shim kept measuring: up to one sample a millisecond for 2 to 3 s (fewer on a
    # loaded machine, but far more than the 500 ms default would give).
    assert_ge "$(sql "$T/fd$private.db" "SELECT count(*) FROM samples")" 100 "samples recorded"
done

pass
