# A program that closes every descriptor from 3 up and then writes its own files on those
# numbers. Its files must be byte-identical to a run without the shim and its opens must
# still start at 3 (no descriptor of the shim's was left at a low number). The shim holds
# no descriptor while the program runs (its pool is mapped and closed before main);
# measured alone, its sampler thread reads /proc in a descriptor table of its own, which
# the program's close cannot reach; under `memsweep run` the collector reads the process's
# status from outside. Either way nothing is lost: the 64 MiB the program touches only
# after the close must be in the samples and the end figures.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CA="$MS_BUILD_DIR/ms_closeall"
need_exe "$CA"
mkdir "$T/plain" "$T/plain4" "$T/alone" "$T/sweep1" "$T/sweep4"

run_cmd plain "$CA" "$T/plain" 64
assert_eq 0 "$RC" "exit status without the shim"
assert_eq "lowest fd 3 failed 0" "$(cat "$T/plain.out")" "the program's report without the shim"
run_cmd plain4 "$CA" "$T/plain4" 64 4
assert_eq 0 "$RC" "exit status without the shim, four threads"

# ---- Watching a run while it goes ---------------------------------------------------
# Given GO, ms_closeall closes its descriptors only once GO.close exists and frees its
# 64 MiB only once GO.free exists. The test lets it close once the shim has registered
# the process (so that the close comes after everything the shim opened before main), and
# lets it free once a tick has seen the 64 MiB (so that the process was measured after the
# close while it ran, not only at its exit).

# watch WHERE GO WHAT: moves the program on as described above.
watch() {
    wait_for 60 db_has "$1" "SELECT count(*) FROM processes" ||
        fail "$3: the shim registered no process within 60 s"
    touch "$2.close"
    wait_for 60 db_has "$1" "SELECT count(*) FROM samples WHERE kind = 'tick'
                             AND rss_kb > 70 * 1024" ||
        fail "$3: no tick seeing the 64 MiB within 60 s of the close"
    touch "$2.free"
}

# bg NAME CMD...: run_cmd in the background; its process id in BG.
bg() {
    local name="$1"
    shift
    "$@" >"$T/$name.out" 2>"$T/$name.err" &
    BG=$!
    track_pid "$BG"
}

# bg_wait: RC of the process bg started last.
bg_wait() {
    RC=0
    wait "$BG" || RC=$?
}

check_db() { # DB WHAT LAUNCHED
    local db="$1" what="$2" launched="$3"
    # The program touched 16 MiB before the close and 64 more after it, so only readings
    # taken after the close exceed 70 MiB. The release sample taken just before the
    # 64 MiB is freed is one, in every run: the shim read /proc again after the close.
    assert_ge "$(sql "$db" "SELECT count(*) FROM samples WHERE kind = 'release'
                            AND rss_kb > 70 * 1024")" 1 \
        "$what: release samples taken after the close that see the 64 MiB"
    # The program freed them only once such a tick was in the database.
    assert_ge "$(sql "$db" "SELECT count(*) FROM samples WHERE kind = 'tick'
                            AND rss_kb > 70 * 1024")" 1 \
        "$what: ticks taken after the close that see the 64 MiB"
    assert_eq 1 "$(sql "$db" "SELECT count(*) FROM samples WHERE kind = 'end'")" "$what: end samples"
    assert_ge "$(sql "$db" "SELECT hwm_kb FROM processes")" $((80 * 1024)) "$what: VmHWM at exit (KiB)"
    assert_eq "" "$(sql "$db" "SELECT coalesce(note, '') FROM processes")" "$what: note"
    # A busy machine may hold the sampler up: every tick missing between written ones is
    # counted in unstored, and no more ticks were written than the process's life holds.
    # Under the launcher the collector takes the ticks, and the process loses none.
    if [ "$launched" = 1 ]; then
        check_collector_ticks "$db" 500 "$what"
    else
        check_ticks "$db" 500 "$what"
    fi
}

# The shim on its own (it creates the database), single-threaded program.
bg alone env MEMSWEEP_DB="$T/alone.db" LD_PRELOAD="$MS_SHIM" "$CA" "$T/alone" 64 1 "$T/go-alone"
watch "$T/alone.db" "$T/go-alone" "shim alone"
bg_wait
assert_eq 0 "$RC" "exit status with the shim"
assert_empty "$T/alone.err" "stderr of the program"
assert_eq "lowest fd 3 failed 0" "$(cat "$T/alone.out")" "the program's report with the shim"
diff -r "$T/plain" "$T/alone" >/dev/null || fail "the program's files differ from the run without the shim"
check_db "$T/alone.db" "shim alone" 0

# Through the launcher, with one writer thread and with four: each run's files must
# equal the plain run's.
bg sweep1 "$MS_BIN" run -j 1 -o "$T/s1" -- "$CA" "$T/sweep1" 64 1 "$T/go-sweep1"
watch "$T/s1" "$T/go-sweep1" "launched, one thread"
bg_wait
assert_eq 0 "$RC" "memsweep run, one thread (stderr: $(cat "$T/sweep1.err"))"
diff -r "$T/plain" "$T/sweep1" >/dev/null || fail "files of the launched run differ"
check_db "$(sweep_dir_of "$T/s1")/memsweep.db" "launched, one thread" 1

bg sweep4 "$MS_BIN" run -j 1 -o "$T/s4" -- "$CA" "$T/sweep4" 64 4 "$T/go-sweep4"
watch "$T/s4" "$T/go-sweep4" "launched, four threads"
bg_wait
assert_eq 0 "$RC" "memsweep run, four threads (stderr: $(cat "$T/sweep4.err"))"
diff -r "$T/plain4" "$T/sweep4" >/dev/null || fail "files of the four-thread run differ"
assert_eq "lowest fd 3 failed 0" "$(cat "$(sweep_dir_of "$T/s4")/logs/run-0001.out")" \
    "the four-thread run's report"
check_db "$(sweep_dir_of "$T/s4")/memsweep.db" "launched, four threads" 1

pass
