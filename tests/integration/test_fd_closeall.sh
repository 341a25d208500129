# A program that closes every descriptor from 3 up and then writes its own files on those
# numbers. Its files must be byte-identical to a run without the shim and its opens must
# still start at 3 (no descriptor of the shim's was left at a low number). The sampler
# thread normally keeps its descriptors in a table of its own, which the program's close
# cannot reach: nothing is lost. With MEMSWEEP_PRIVATE_FDS=0 (the fallback where the
# kernel refuses a private table) the program closes the shim's database, its spares and
# its /proc descriptor; the shim must reopen them inside one of the program's allocations
# and go on measuring. Either way the 64 MiB the program touches only after the close
# must be in the samples and the end figures.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CA="$MS_BUILD_DIR/ms_closeall"
mkdir "$T/plain" "$T/plain4" "$T/alone" "$T/sweep1" "$T/sweep4"

run_cmd plain "$CA" "$T/plain" 64
assert_eq 0 "$RC" "exit status without the shim"
assert_eq "lowest fd 3 failed 0" "$(cat "$T/plain.out")" "the program's report without the shim"

# The shim on its own (it creates the database), single-threaded program.
run_cmd alone env MEMSWEEP_DB="$T/alone.db" LD_PRELOAD="$MS_SHIM" "$CA" "$T/alone" 64
assert_eq 0 "$RC" "exit status with the shim"
assert_empty "$T/alone.err" "stderr of the program"
assert_eq "lowest fd 3 failed 0" "$(cat "$T/alone.out")" "the program's report with the shim"
diff -r "$T/plain" "$T/alone" >/dev/null || fail "the program's files differ from the run without the shim"

check_db() { # DB WHAT SHARED
    local db="$1" what="$2" shared="$3"
    # The first reading after the close: the program touched 16 MiB before and 64 more
    # after, so only readings taken after the shim reopened its descriptors exceed 70 MiB.
    assert_ge "$(sql "$db" "SELECT count(*) FROM samples WHERE kind = 'tick' AND rss_kb > 70 * 1024")" 1 \
        "$what: ticks taken after the close that see the 64 MiB"
    assert_eq 1 "$(sql "$db" "SELECT count(*) FROM samples WHERE kind = 'end'")" "$what: end samples"
    assert_ge "$(sql "$db" "SELECT hwm_kb FROM processes")" $((80 * 1024)) "$what: VmHWM at exit (KiB)"
    if [ "$shared" = 1 ]; then
        sql "$db" "SELECT note FROM processes" >"$T/note"
        assert_contains "$T/note" "closed" "$what: the process's note"
        # At most the ticks due between the close and the next allocation count of the
        # program (it allocates every few milliseconds after the close): a handful.
        assert_le "$(sql "$db" "SELECT unstored FROM processes")" 3 "$what: readings lost"
    else
        assert_eq "|0" "$(sql "$db" "SELECT coalesce(note, ''), unstored FROM processes")" \
            "$what: note and readings lost"
    fi
}
check_db "$T/alone.db" "shim alone" 0

# The same with the sampler sharing the program's table.
mkdir "$T/shared"
run_cmd shared env MEMSWEEP_PRIVATE_FDS=0 MEMSWEEP_DB="$T/shared.db" LD_PRELOAD="$MS_SHIM" \
    "$CA" "$T/shared" 64
assert_eq 0 "$RC" "exit status with the shim sharing the table"
assert_empty "$T/shared.err" "stderr of the program (shared table)"
assert_eq "lowest fd 3 failed 0" "$(cat "$T/shared.out")" "the program's report (shared table)"
diff -r "$T/plain" "$T/shared" >/dev/null || fail "the program's files differ (shared table)"
check_db "$T/shared.db" "shim alone, shared table" 1

# Through the launcher (the database exists and is held open), with one writer thread and
# with four: each run's files must equal the plain run's.
run_cmd sweep1 "$MS_BIN" run -j 1 -o "$T/s1" -- "$CA" "$T/sweep1" 64 1
assert_eq 0 "$RC" "memsweep run, one thread"
diff -r "$T/plain" "$T/sweep1" >/dev/null || fail "files of the launched run differ"
check_db "$(sweep_dir_of "$T/s1")/memsweep.db" "launched, one thread" 0

run_cmd plain4 "$CA" "$T/plain4" 64 4
assert_eq 0 "$RC" "exit status without the shim, four threads"
run_cmd sweep4 "$MS_BIN" run -j 1 -o "$T/s4" -- "$CA" "$T/sweep4" 64 4
assert_eq 0 "$RC" "memsweep run, four threads"
diff -r "$T/plain4" "$T/sweep4" >/dev/null || fail "files of the four-thread run differ"
assert_eq "lowest fd 3 failed 0" "$(cat "$(sweep_dir_of "$T/s4")/logs/run-0001.out")" \
    "the four-thread run's report"
check_db "$(sweep_dir_of "$T/s4")/memsweep.db" "launched, four threads" 0

# Four threads, shared table, through the launcher.
mkdir "$T/sweep4s"
run_cmd sweep4s env MEMSWEEP_PRIVATE_FDS=0 "$MS_BIN" run -j 1 -o "$T/s4s" -- "$CA" "$T/sweep4s" 64 4
assert_eq 0 "$RC" "memsweep run, four threads, shared table"
diff -r "$T/plain4" "$T/sweep4s" >/dev/null || fail "files of the four-thread run differ (shared table)"
check_db "$(sweep_dir_of "$T/s4s")/memsweep.db" "launched, four threads, shared table" 1

pass
