# Growth after an allocation is followed: a program that allocates 100 MiB, fills it at C
# speed and is then SIGKILLed leaves a reading within 10% of the kernel's peak of the same
# program run to its end (its ru_maxrss, from an uninstrumented run), though the `alloc`
# sample was taken when the block was allocated, before its pages were touched, and no
# tick need fall inside the fill. Run standalone (the process's own sampler thread
# follows) and as one of two processes of a run of `memsweep run`, where the process has
# no thread of its own: its `alloc` sample asks the collector, through its FIFO, to read
# the process from outside (and the launcher's wait4 figure covers the shell, not the
# killed process's own row).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
cat >"$T/fill.py" <<'PY'
import os, sys
b = b'\1' * (100 << 20)  # one malloc, then a memset: the fill runs at C speed
if sys.argv[1] == 'kill':
    os.kill(os.getpid(), 9)
PY

# The kernel's peak of the fill run to its end, without the shim: ru_maxrss of the child.
ref_kb="$("$PY" -c '
import resource, subprocess, sys
subprocess.run([sys.argv[1], sys.argv[2], "end"], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$PY" "$T/fill.py")"
assert_ge "$ref_kb" $((100 * 1024)) "the kernel's peak of filling 100 MiB (KiB)"

# check_followed DB WHERE WHAT: the process selected by WHERE has growth readings, its
# largest reading is within 10% of ref_kb, and none is above ref_kb + MIB_TOL.
check_followed() {
    local n best
    n="$(kind_count "$1" growth "$2")"
    assert_ge "$n" 1 "$3: growth readings"
    best="$(sql "$1" "SELECT max(s.rss_kb) FROM samples s JOIN processes p USING (proc_id)
                      WHERE $2")"
    assert_int "$best" "$3: largest reading"
    assert_ge $((best * 10)) $((ref_kb * 9)) "$3: largest reading $best KiB within 10% of the kernel's peak $ref_kb KiB"
    assert_le "$best" $((ref_kb + MIB_TOL * 1024)) "$3: largest reading (KiB) against the kernel's peak"
    # The process was killed: it has no end, only what was written before the kill.
    assert_eq 0 "$(kind_count "$1" end "$2")" "$3: end samples of a SIGKILLed process"
}

note "standalone: the sampler thread follows the fill"
run_shim alone "$T/alone.db" "$PY" "$T/fill.py" kill
assert_eq 137 "$(cat "$T/alone.rc")" "exit status of the killed program (via env)"
check_followed "$T/alone.db" "p.exe = '$PY' OR p.exe LIKE '%/python3%'" "standalone"
# Every reading is counted: what the per-second limit refused is in alloc_dropped_rate.
assert_int "$(sql "$T/alone.db" "SELECT alloc_dropped_rate FROM processes LIMIT 1")" \
    "standalone: alloc_dropped_rate"

note "under memsweep run, one of two processes of the run"
run_cmd run "$MS_BIN" run -j 1 -o "$T/out" -- sh -c "$PY $T/fill.py kill; exit 0"
assert_eq 0 "$RC" "memsweep run (stderr: $(head -c 2000 "$T/run.err"))"
DB="$(sweep_dir_of "$T/out")/memsweep.db"
check_followed "$DB" "p.exe LIKE '%python3%'" "under memsweep run"
# Read from outside: the watched process started no thread (its readings carry no heap,
# which only the process itself knows), and the collector's FIFO is gone with the sweep.
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM samples WHERE kind = 'growth'
                          AND heap_kb IS NOT NULL")" "growth readings with a heap figure"
assert_eq "" "$(find "$(dirname "$DB")" -name 'follow-*')" "the collector's FIFO after the sweep"
pass
