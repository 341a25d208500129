# Every interposed allocation function, under the shim with allocation sampling on: a C
# program calling each one (and checking contents, alignment and errno itself), a C++
# program using operator new/delete and a growing std::vector, a Python program that
# allocates a 96 MiB block and then builds and serializes a large structure, and a bash
# script growing a 64 MB string. Each prints exactly what it prints without the shim,
# exits the same, and the shim adds nothing on stderr; the recorded heap figures are sane,
# and allocation-driven samples exist where the live heap passed the 64 MiB step.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_exe "$ALLOCF"

# check_program NAME EXE-PATTERN MIN-ALLOC MIN-RELEASE CMD...: runs CMD without and with
# the shim (database $T/NAME.db) and checks the above; EXE-PATTERN (SQL LIKE) picks the
# process whose alloc and release samples are counted.
check_program() {
    local name="$1" exe="$2" min_alloc="$3" min_release="$4"
    shift 4
    local db="$T/$name.db"

    note "$name"
    run_ref "$name.ref" "$@"
    assert_eq 0 "$RC" "$name: exit status without the shim (stderr: $(head -c 500 "$T/$name.ref.err"))"
    run_shim "$name.shim" "$db" "$@"
    same_run "$name.ref" "$name.shim" "$name under the shim"
    [ -f "$db" ] || fail "$name: the shim wrote no database"

    local proc
    proc="$(sql "$db" "SELECT proc_id FROM processes WHERE exe LIKE '$exe'
                       ORDER BY started_ns LIMIT 1")"
    assert_int "$proc" "$name: process row of $exe"
    assert_eq 1 "$(sql "$db" "SELECT alloc_tracking FROM processes WHERE proc_id = $proc")" \
        "$name: processes.alloc_tracking"
    assert_eq 1 "$(sql "$db" "SELECT count(*) FROM samples WHERE proc_id = $proc AND kind = 'end'")" \
        "$name: end samples (the process exited normally)"
    check_drops "$db" "$name"
    check_heap_sane "$db" "$name"
    local n_alloc n_release
    n_alloc="$(kind_count "$db" alloc "p.proc_id = $proc")"
    n_release="$(kind_count "$db" release "p.proc_id = $proc")"
    note "$name: $n_alloc alloc and $n_release release samples, largest heap_kb" \
        "$(sql "$db" "SELECT max(heap_kb) FROM samples WHERE proc_id = $proc")," \
        "VmHWM $(sql "$db" "SELECT hwm_kb FROM processes WHERE proc_id = $proc") KiB"
    assert_ge "$n_alloc" "$min_alloc" "$name: alloc samples"
    assert_ge "$n_release" "$min_release" "$name: release samples"
}

# Every function, 128 MiB of realloc growth, a 120 MiB shrink, 160 MiB of mremap.
check_program allocfuncs '%/ms_allocfuncs' 1 1 "$ALLOCF"
assert_contains "$T/allocfuncs.shim.out" "errno kept by 47 of 47 successful calls" \
    "ms_allocfuncs under the shim"
assert_eq 15 "$(wc -l <"$T/allocfuncs.shim.out")" "lines printed by ms_allocfuncs"
# The release sample before the shrink of the 128 MiB block sees it whole.
assert_ge "$(sql "$T/allocfuncs.db" "SELECT max(heap_kb) FROM samples WHERE kind = 'release'")" \
    $((128 * 1024)) "largest heap_kb of a release sample of ms_allocfuncs (KiB)"

if [ -x "$CXX_WL" ]; then
    # A 100 MiB std::vector grown by doubling and a 64 MiB string.
    check_program cxx '%/ms_cxx_workload' 1 1 "$CXX_WL"
    assert_contains "$T/cxx.shim.out" "huge new[] threw std::bad_alloc" "ms_cxx_workload output"
else
    skip_part_missing g++ "$CXX_WL was not built (no C++ compiler at configure time)"
fi

if command -v python3 >/dev/null 2>&1; then
    # The interpreter itself, not a version manager's wrapper script.
    PY="$(python3 -c 'import sys; print(sys.executable)')"
    # An alloc sample is due when the live heap has grown by the 64 MiB step since the
    # last reading, and every tick moves that level up to the heap of its moment. How much
    # the structure below grows between two ticks depends on how fast the machine runs it,
    # so on a busy one it may never grow 64 MiB between readings, and no sample is due.
    # One 96 MiB block passes the step in a single call whatever the speed; it comes first,
    # while the rate limit's budget is untouched, so the sample it makes due is taken.
    cat >"$T/big.py" <<'PY'
import hashlib, json, pickle
block = bytearray(96 << 20)
print(len(block))
del block
d = {i: [i, str(i) * 3, i * 0.5] for i in range(500000)}
s = json.dumps(d)
p = pickle.dumps(d, protocol=4)
back = pickle.loads(p)
assert back == d
print(len(d), len(s), len(p), hashlib.sha256(s.encode()).hexdigest()[:16])
PY
    check_program python '%/python3%' 1 0 "$PY" "$T/big.py"
else
    skip_part_missing python3 "python3 is not installed"
fi

# Command substitution reads 64 MB into one growing buffer (realloc) and the string is
# copied into a variable, then released; the pipeline runs in processes of the same run.
check_program bash '%/bash' 1 1 bash -c \
    's=$(head -c 64000000 /dev/zero | tr "\0" x); echo "${#s} ${s:1000:5}"; s=; echo done'

pass
