# Garbage in the shim's variables: MEMSWEEP_ALLOC_STEP_MB, MEMSWEEP_RELEASE_MB,
# MEMSWEEP_ALLOC_MAX_PER_S and MEMSWEEP_INTERVAL_MS set to a word, a negative number, a
# number of MiB whose byte count overflows 64 bits, and nothing; and MEMSWEEP_RUN_ID, which
# the shim no longer reads (a pool's header names its run). The program runs with its
# output and exit status unchanged, the shim says at most one line per variable on stderr
# and nothing else, and it still records the process with allocation tracking on. A word,
# a negative number or nothing leaves the default in force, so the 96 MiB spikes (past
# the default 64 MiB step and 16 MiB release size) still get alloc and release samples.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_exe "$SPIKE"

CMD=("$SPIKE" --count 2 --mib 96 --hold-ms 20 --pause-ms 50)
run_ref ref "${CMD[@]}"
assert_eq 0 "$RC" "exit status without the shim"

# check_garbage NAME DEFAULTS VAR=VALUE...: one run with those settings; DEFAULTS=1 when
# the values must leave the defaults in force.
check_garbage() {
    local name="$1" defaults="$2" a var
    shift 2
    local db="$T/$name.db"
    run_shim "$name" "$db" "$@" "${CMD[@]}"
    assert_eq 0 "$RC" "$*: exit status"
    cmp -s "$T/ref.out" "$T/$name.out" ||
        fail "$*: stdout differs from the uninstrumented run: $(diff "$T/ref.out" "$T/$name.out" | head -5)"
    # Every stderr line is the shim's warning about one of the variables set, and no
    # variable is warned about twice.
    local lines=0
    for a in "$@"; do
        var="${a%%=*}"
        local n
        n="$(grep -c -- "$var=" "$T/$name.err" || true)"
        assert_le "$n" 1 "$*: stderr lines about $var (stderr: $(cat "$T/$name.err"))"
        lines=$((lines + n))
    done
    assert_eq "$lines" "$(grep -c . "$T/$name.err" || true)" \
        "$*: stderr lines, all of them about the variables set (stderr: $(cat "$T/$name.err"))"
    bad="$(grep -v '^memsweep: ' "$T/$name.err" || true)"
    assert_eq "" "$bad" "$*: stderr lines without the 'memsweep: ' prefix"
    # Still measured: the process has its start and end samples.
    assert_eq 1 "$(kind_count "$db" start "p.exe LIKE '%/ms_spike'")" "$*: start samples"
    assert_eq 1 "$(kind_count "$db" end "p.exe LIKE '%/ms_spike'")" "$*: end samples"
    assert_eq 1 "$(sql "$db" "SELECT alloc_tracking FROM processes WHERE exe LIKE '%/ms_spike'")" \
        "$*: processes.alloc_tracking"
    if [ "$defaults" = 1 ]; then
        assert_ge "$(kind_count "$db" alloc "p.exe LIKE '%/ms_spike'")" 1 "$*: alloc samples"
        assert_ge "$(kind_count "$db" release "p.exe LIKE '%/ms_spike'")" 1 "$*: release samples"
    fi
    note "$*: $(grep -c . "$T/$name.err" || true) stderr line(s); samples" \
        "$(sql "$db" "SELECT group_concat(kind || ' ' || n, ', ') FROM
                      (SELECT kind, count(*) AS n FROM samples GROUP BY kind ORDER BY kind)")"
}

i=0
for var in MEMSWEEP_ALLOC_STEP_MB MEMSWEEP_RELEASE_MB MEMSWEEP_ALLOC_MAX_PER_S; do
    for value in abc -5 '' 99999999999999; do
        i=$((i + 1))
        defaults=1
        [ "$value" != 99999999999999 ] || defaults=0
        check_garbage "g$i" "$defaults" "$var=$value"
    done
done
# The sampling interval: a word, a negative number, nothing, or out of range leave the
# 500 ms default. MEMSWEEP_RUN_ID, whatever it holds (99999999999999 is a well-formed run
# id that names no run), is not read: not a word about it, and a run of the program's own.
for var in MEMSWEEP_INTERVAL_MS MEMSWEEP_RUN_ID; do
    for value in abc -5 '' 99999999999999; do
        i=$((i + 1))
        check_garbage "g$i" 1 "$var=$value"
        if [ "$var" = MEMSWEEP_RUN_ID ]; then
            assert_empty "$T/g$i.err" "$var=$value: stderr"
        fi
        assert_eq 1 "$(sql "$T/g$i.db" "SELECT count(*) FROM runs")" "$var=$value: runs recorded"
        assert_eq "$(sql "$T/g$i.db" "SELECT run_id FROM runs")" \
            "$(sql "$T/g$i.db" "SELECT run_id FROM processes WHERE exe LIKE '%/ms_spike'")" \
            "$var=$value: the process is filed under the run"
    done
done

note "all three at once, with words in the two switches (only \"0\" turns anything off)"
check_garbage all 1 MEMSWEEP_ALLOC_STEP_MB=abc MEMSWEEP_RELEASE_MB=-5 \
    MEMSWEEP_ALLOC_MAX_PER_S=99999999999999 MEMSWEEP_ALLOC=maybe MEMSWEEP_STACKS=x

pass
