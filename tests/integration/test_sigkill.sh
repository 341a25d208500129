# A worker that SIGKILLs itself, and one killed from outside while it grows: `killed` with
# signal 9, no exit record, the ticks committed before the kill are still in an intact
# database, and its peak counts in the advisory. Each kill comes once a committed tick
# shows the worker's memory, so what the database must keep is known to exist whatever
# the machine's load.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# db_of OUTDIR: the sweep's database, once the launcher has created it (else empty).
db_of() {
    find "$1" -name memsweep.db 2>/dev/null | head -n 1
}

# committed_ticks OUTDIR MIB: ticks in the database of OUTDIR's sweep that show at least
# MIB MiB resident (empty while there is no database).
committed_ticks() {
    local db
    db="$(db_of "$1")"
    [ -n "$db" ] || return 0
    sql "$db" "SELECT count(*) FROM samples WHERE kind = 'tick' AND rss_kb >= $2 * 1024" \
        2>/dev/null || true
}

# has_tick OUTDIR MIB: a committed tick shows at least MIB MiB.
has_tick() {
    [ "$(committed_ticks "$1" "$2")" -ge 1 ] 2>/dev/null
}

# check_killed_db DB WHAT TICKS_BEFORE MIB: what a SIGKILL leaves of the only process of
# a sweep. No exit handler runs under SIGKILL: there is no end sample and no exit record,
# and the samples are the start and the ticks, committed as they were taken, so the
# TICKS_BEFORE ticks of at least MIB MiB seen before the kill are all still there.
check_killed_db() {
    local db="$1" what="$2"
    assert_eq ok "$(sql "$db" "PRAGMA integrity_check")" "$what: integrity_check"
    assert_eq 0 "$(sql "$db" "SELECT count(*) FROM samples WHERE kind = 'end'")" \
        "$what: end samples"
    assert_eq 1 "$(sql "$db" "SELECT count(*) FROM processes")" "$what: process rows"
    assert_eq 1 "$(sql "$db" "SELECT count(*) FROM samples WHERE kind = 'start'")" \
        "$what: start samples"
    assert_eq 1 "$(sql "$db" "SELECT count(*) FROM processes WHERE ended_ns IS NULL")" \
        "$what: processes without an exit record (ended_ns NULL)"
    assert_ge "$(sql "$db" "SELECT count(*) FROM samples WHERE kind = 'tick'
                            AND rss_kb >= $4 * 1024")" "$3" \
        "$what: ticks of $4 MiB, of which $3 were committed before the kill"
    # Without an exit record only the lower bound of unstored applies (see check_ticks).
    check_ticks "$db" "$(sql "$db" "SELECT interval_ms FROM sweeps")" "$what"
}

note "a worker that SIGKILLs itself once a tick shows its 64 MiB"
# The worker holds its 64 MiB until the go-file exists, then raises SIGKILL.
"$MS_BIN" run -j 1 -o "$T/out" -- "$WL" --mib 64 --wait-file "$T/go" --kill-self \
    >"$T/run.out" 2>"$T/run.err" &
launcher=$!
track_pid "$launcher"
wait_for 60 has_tick "$T/out" 64 ||
    fail "no committed tick of 64 MiB within 60 s (stderr: $(cat "$T/run.err"))"
before="$(committed_ticks "$T/out" 64)"
touch "$T/go"
RC=0
wait "$launcher" || RC=$?
assert_eq 1 "$RC" "exit status of memsweep run with a killed run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
ADV="$S/memory_advisory.txt"

assert_eq "killed|9" "$(sql "$DB" "SELECT status, term_signal FROM runs")" "status and term_signal"
assert_eq "" "$(sql "$DB" "SELECT exit_code FROM runs")" "exit_code of a killed run"
check_killed_db "$DB" "the self-killed worker" "$before" 64

run_figures "$DB" >"$T/fig.txt"
line="$(cat "$T/fig.txt")"
# Its last sample is a tick taken while the 64 MiB were held: end RSS and peak are both
# the 64 MiB.
check_run_mib "$line" 64 64 "the killed run"
assert_eq 1 "$(post_field "$ADV" RunsIncluded)" "RunsIncluded"
assert_eq 1 "$(post_field "$ADV" RunsFailed)" "RunsFailed"
assert_between "$(post_field "$ADV" MaxPeakRSS_MB)" 64 $((64 + MIB_TOL)) "MaxPeakRSS_MB"
expected_advisory "$T/fig.txt" "$(mem_total_mb)" >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "memory_advisory.txt"

note "killed from outside while it grows"
GROW="$MS_BUILD_DIR/ms_grow"
need_exe "$GROW"
# 8 MiB every 100 ms up to 2 GiB, pausing at 96 MiB until the go-file exists: the test
# sees a committed tick of 96 MiB, lets the worker grow on, and kills it at once, 24 s
# of growth before it could reach 2 GiB and end by itself.
"$MS_BIN" run -j 1 --interval-ms 100 -o "$T/out2" -- "$GROW" --step-mib 8 --step-ms 100 \
    --max-mib 2048 --pause-at-mib 96 --wait-file "$T/go2" >"$T/run2.out" 2>"$T/run2.err" &
launcher=$!
track_pid "$launcher"
wait_for 60 has_tick "$T/out2" 96 ||
    fail "no committed tick of 96 MiB within 60 s (stderr: $(cat "$T/run2.err"))"
before="$(committed_ticks "$T/out2" 96)"
S2="$(sweep_dir_of "$T/out2")"
DB2="$S2/memsweep.db"
wpid="$(sql "$DB2" "SELECT pid FROM processes WHERE exe LIKE '%/ms_grow'")"
assert_int "$wpid" "pid of the growing worker"
touch "$T/go2"
kill -KILL "$wpid"
RC=0
wait "$launcher" || RC=$?
assert_eq 1 "$RC" "exit status of memsweep run with a killed run (stderr: $(cat "$T/run2.err"))"
assert_eq "killed|9" "$(sql "$DB2" "SELECT status, term_signal FROM runs")" \
    "status and term_signal of the run killed from outside"
check_killed_db "$DB2" "the worker killed from outside" "$before" 96
grown="$(tail -n 1 "$S2/logs/run-0001.out" | awk '$1 == "grew" { print $3 }')"
assert_int "$grown" "MiB the worker reported last"
assert_ge "$grown" 96 "MiB the worker reported last (it paused at 96)"
run_figures "$DB2" >"$T/fig2.txt"
# At least the 96 MiB tick seen before the kill; at most what the worker had grown to.
assert_between "$(fig "$(cat "$T/fig2.txt")" 4)" 96 $((grown + MIB_TOL)) \
    "peak RSS of the run killed from outside (MiB)"
expected_advisory "$T/fig2.txt" "$(mem_total_mb)" >"$T/expected2.txt"
check_advisory "$T/expected2.txt" "$S2/memory_advisory.txt" \
    "memory_advisory.txt of the run killed from outside"

pass
