# The image before an exec: VmHWM restarts in the new image, so an image that calls exec
# takes a reading (VmHWM included) just before it goes. A Perl script that builds a
# 200 MiB string and then runs `exec sleep` keeps its peak: the exec reading's VmHWM is
# at least the kernel's peak of the same script ending without exec, and the run's peak
# is exact (each image's VmHWM known at its exit or its exec). A vfork child's exec,
# which shares its parent's memory, takes none; an image that execs within a millisecond
# of its start (`env A=1 sleep 0.05`) keeps its row, every time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PERL=/usr/bin/perl
SCRIPT='$x = "a" x (200 << 20); exec "sleep", "0.1" if $ARGV[0] eq "exec"; exit 0'

# The kernel's peak of the Perl image alone (no exec), without the shim.
ref_kb="$(/usr/bin/python3 -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$PERL" -e "$SCRIPT" end)"
assert_ge "$ref_kb" $((200 * 1024)) "the kernel's peak of a 200 MiB Perl string (KiB)"

# check_exec DB WHAT: the perl row has one exec reading, the last of its readings, whose
# VmHWM is the kernel's peak of the image (at least ref_kb, less than 16 MiB above it);
# the sleep row follows; the run's peak is exact and at least ref_kb.
check_exec() {
    local hwm last peak
    assert_eq 1 "$(kind_count "$1" exec "p.exe = '$PERL'")" "$2: exec readings of the perl image"
    assert_eq 0 "$(kind_count "$1" exec "p.exe LIKE '%/sleep'")" "$2: exec readings of sleep"
    hwm="$(sql "$1" "SELECT s.hwm_kb FROM samples s JOIN processes p USING (proc_id)
                     WHERE p.exe = '$PERL' AND s.kind = 'exec'")"
    assert_ge "$hwm" "$ref_kb" "$2: VmHWM at exec (KiB) against the kernel's peak"
    assert_le "$hwm" $((ref_kb + MIB_TOL * 1024)) "$2: VmHWM at exec (KiB)"
    # Of the image's own readings: under memsweep run the collector reads the process
    # from outside too (ticks, growth), and on a loaded machine such a reading can land
    # between the exec reading and the execve that follows it, still of the same image.
    last="$(sql "$1" "SELECT s.kind FROM samples s JOIN processes p USING (proc_id)
                      WHERE p.exe = '$PERL' AND s.kind NOT IN ('tick', 'growth')
                      ORDER BY s.t_ns DESC LIMIT 1")"
    assert_eq exec "$last" "$2: the perl image's last reading of its own"
    assert_eq 1 "$(sql "$1" "SELECT count(*) FROM processes WHERE exe LIKE '%/sleep'")" \
        "$2: rows of the exec'd sleep"
    "$MS_BIN" peaks "$1" >"$T/peaks.out" 2>"$T/peaks.err" ||
        fail "$2: memsweep peaks failed: $(cat "$T/peaks.err")"
    assert_contains "$T/peaks.out" "PeakRSS_MB: " "$2: peaks output"
    peak="$(awk '/PeakRSS_MB: / && !/Periodic|AllSamples/ { print $2; exit }' "$T/peaks.out")"
    assert_ge "$(awk -v p="$peak" 'BEGIN { printf "%d", p * 1024 + 0.5 }')" $((ref_kb - 102)) \
        "$2: run peak (KiB, to the MiB's rounding)"
    grep -q "PeakRSS_MB: $peak (exact)" "$T/peaks.out" ||
        fail "$2: the run's peak is not exact: $(grep PeakRSS_MB "$T/peaks.out")"
}

note "standalone"
run_shim alone "$T/alone.db" "$PERL" -e "$SCRIPT" exec
assert_eq 0 "$(cat "$T/alone.rc")" "exit status (stderr: $(cat "$T/alone.err"))"
check_exec "$T/alone.db" standalone

note "under memsweep run"
run_cmd run "$MS_BIN" run -o "$T/out" -- "$PERL" -e "$SCRIPT" exec
assert_eq 0 "$RC" "memsweep run (stderr: $(head -c 2000 "$T/run.err"))"
check_exec "$(sweep_dir_of "$T/out")/memsweep.db" "memsweep run"

note "a vfork child's exec, or failed exec, takes no reading in its parent"
# ms_spawn's children share its memory until they exec (posix_spawn, vfork then execve,
# vfork then an execve that fails); the parent itself never execs.
run_ref spawn_ref "$MS_BUILD_DIR/ms_spawn" --dir "$T" --mib 8 "$WL" --mib 1
run_shim spawn "$T/spawn.db" "$MS_BUILD_DIR/ms_spawn" --dir "$T" --mib 8 "$WL" --mib 1
same_run spawn_ref spawn "ms_spawn under the shim"
assert_eq 0 "$(kind_count "$T/spawn.db" exec "p.exe LIKE '%/ms_spawn'")" \
    "exec readings of a parent whose vfork and posix_spawn children exec"
assert_ge "$(sql "$T/spawn.db" "SELECT count(*) FROM processes WHERE exe LIKE '%/ms_workload'")" 2 \
    "rows of the exec'd children"

note "an image that execs at once keeps its row, in each of 20 runs"
run_cmd quick "$MS_BIN" run -j 2 -P i=1..20 -o "$T/quick" -- env A=1 sleep 0.05
assert_eq 0 "$RC" "memsweep run (stderr: $(head -c 2000 "$T/quick.err"))"
DB="$(sweep_dir_of "$T/quick")/memsweep.db"
assert_eq 20 "$(sql "$DB" "SELECT count(*) FROM runs r WHERE
    (SELECT count(*) FROM processes p WHERE p.run_id = r.run_id AND p.exe LIKE '%/env') = 1 AND
    (SELECT count(*) FROM processes p WHERE p.run_id = r.run_id AND p.exe LIKE '%/sleep') = 1")" \
    "runs with both their env and their sleep row"
assert_eq 20 "$(kind_count "$DB" exec "p.exe LIKE '%/env'")" "exec readings of env"
pass
