# A program that brings its own malloc: jemalloc preloaded after the shim (the shim's
# hooks forward to jemalloc) and before it (jemalloc's malloc wins; the shim still sees
# mmap and its own startup). C workloads and Python print what they print with jemalloc
# alone, exit the same, and nothing crashes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_exe "$SPIKE"
need_exe "$THREADS_WL"
need_exe "$ALLOCF"

JE=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
if [ ! -f "$JE" ]; then
    skip_missing libjemalloc2 "$JE is missing"
fi

# The programs. ms_allocfuncs --portable leaves out pvalloc, which jemalloc does not
# define (glibc's would hand jemalloc's free a block it never made); it keeps
# reallocarray, which jemalloc does not define either, and which must reach jemalloc's
# realloc whether jemalloc is preloaded before the shim or after it.
progs=(
    "spike|$SPIKE --count 2 --mib 128 --pause-ms 100"
    "threads|$THREADS_WL --threads 8 --ops 5000"
    "allocfuncs|$ALLOCF --portable"
)
if command -v python3 >/dev/null 2>&1; then
    PY="$(python3 -c 'import sys; print(sys.executable)')"
    cat >"$T/je.py" <<'PY'
import json
d = {i: str(i) * 4 for i in range(300000)}
s = json.dumps(d)
print(len(s), sum(map(len, d.values())))
PY
    progs+=("python|$PY $T/je.py")
else
    skip_part_missing python3 "python3 is not installed"
fi

for entry in "${progs[@]}"; do
    name="${entry%%|*}"
    read -r -a cmd <<<"${entry#*|}"
    # The reference: the program with jemalloc alone, which must itself work.
    run_cmd "$name.ref" env -u MEMSWEEP_DB LD_PRELOAD="$JE" "${cmd[@]}"
    echo "$RC" >"$T/$name.ref.rc"
    assert_eq 0 "$RC" "$name with jemalloc alone: exit status (stderr: $(head -c 500 "$T/$name.ref.err"))"
    for order in after before; do
        if [ "$order" = after ]; then
            pre="$MS_SHIM $JE"
        else
            pre="$JE $MS_SHIM"
        fi
        db="$T/$name.$order.db"
        note "$name, jemalloc $order the shim: LD_PRELOAD='$pre'"
        run_cmd "$name.$order" env MEMSWEEP_DB="$db" LD_PRELOAD="$pre" \
            timeout -k 5 60 "${cmd[@]}"
        echo "$RC" >"$T/$name.$order.rc"
        [ "$RC" -ne 124 ] && [ "$RC" -ne 137 ] ||
            fail "$name, jemalloc $order the shim: did not finish within 60 s"
        same_run "$name.ref" "$name.$order" "$name, jemalloc $order the shim"
        # The shim measured the program all the same.
        assert_ge "$(sql "$db" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                                WHERE s.kind = 'end' AND p.exe NOT LIKE '%/timeout'")" 1 \
            "$name, jemalloc $order the shim: end samples of the program"
        check_drops "$db" "$name, jemalloc $order the shim"
        # With jemalloc underneath, the shim may see both a block and the mapping jemalloc
        # carved it from; only a negative live heap is certainly wrong.
        assert_eq 0 "$(sql "$db" "SELECT count(*) FROM samples WHERE heap_kb < 0")" \
            "$name, jemalloc $order the shim: samples with a negative heap_kb"
        note "$name, jemalloc $order the shim: samples" \
            "$(sql "$db" "SELECT group_concat(kind || ' ' || n, ', ') FROM
                          (SELECT kind, count(*) AS n FROM samples GROUP BY kind ORDER BY kind)")"
    done
    # jemalloc after the shim: every malloc passes through the hooks, so the spike's
    # frees of 128 MiB are preceded by release samples.
    if [ "$name" = spike ]; then
        assert_ge "$(kind_count "$T/spike.after.db" release)" 1 \
            "spike, jemalloc after the shim: release samples"
    fi
done

pass
