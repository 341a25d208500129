# An exit that cannot wait for its last write: another connection holds the database's
# write lock while the program exits. The program's exit waits a bounded time (2 s), then
# goes on exactly as without the shim; the readings the shim could not store are counted
# in one line on stderr, and none of them is in the database, then or after the lock is
# released: a loss is either stored or counted, never both and never neither. Two cases:
# a process registered long before its exit (its row stays without an exit record), and
# one that exits before its first write (no row at all).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export MEMSWEEP_ALLOC=0 # ticks only, so that every reading is the sampler's own

# A database with its schema and run, made by a first short program, for the others to
# join (a run id makes the shim use the file as it is, never create one).
DB="$T/m.db"
env MEMSWEEP_DB="$DB" LD_PRELOAD="$MS_SHIM" "$WL" --mib 0 >/dev/null
run_id="$(sql "$DB" "SELECT run_id FROM runs")"
assert_int "$run_id" "the run made by the first program"

# hold_lock NAME: another connection takes the write lock and keeps it until
# $T/NAME.release exists; $T/NAME.held appears once the lock is held.
hold_lock() {
    python3 - "$DB" "$T/$1.held" "$T/$1.release" <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.01)
db.execute("ROLLBACK")
PY
    locker=$!
    track_pid "$locker"
    wait_for 60 test -e "$T/$1.held" || fail "$1: the lock holder did not get the write lock"
}

# release_lock NAME: lets the lock holder go and waits for it.
release_lock() {
    touch "$T/$1.release"
    wait "$locker" || fail "$1: the lock holder failed"
}

# lost_of FILE: the count of the shim's line in FILE, checking that it is the only line.
LINE_RE="^memsweep: $DB: its last write did not finish within the time an exit may wait \(a busy database or an overloaded machine\); ([0-9]+) readings? of this process not stored\$"
lost_of() {
    assert_eq 1 "$(wc -l <"$1")" "lines on stderr ($(cat "$1"))"
    [[ "$(cat "$1")" =~ $LINE_RE ]] || fail "the shim's line: '$(cat "$1")'"
    echo "${BASH_REMATCH[1]}"
}

run_cmd plain "$WL" --mib 20 --print hello

note "registered, then the lock is taken before the exit"
env MEMSWEEP_DB="$DB" MEMSWEEP_RUN_ID="$run_id" LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 20 --print hello --wait-file "$T/go" >"$T/reg.out" 2>"$T/reg.err" &
pid=$!
track_pid "$pid"
# Registered, with a tick written: what was stored before the lock stays stored.
registered() {
    [ "$(sql "$DB" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                    WHERE p.pid = $pid AND s.kind = 'tick'" 2>/dev/null)" -ge 1 ] 2>/dev/null
}
wait_for 120 registered || fail "no tick of the program within 120 s"
hold_lock reg
before="$(sql "$DB" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id) WHERE p.pid = $pid")"
t0="$(now_ms)"
touch "$T/go"
RC=0
wait "$pid" || RC=$?
end_ms="$(now_ms)"
took=$((end_ms - t0))
# The readings held at the exit are those taken after the last one stored, which may have
# been taken well before the lock was (a starved sampler writes late).
last_ms="$(sql "$DB" "SELECT max(t_ns) / 1000000 FROM samples s JOIN processes p USING (proc_id)
                      WHERE p.pid = $pid")"
release_lock reg
assert_eq 0 "$RC" "exit status of the program"
cmp -s "$T/plain.out" "$T/reg.out" || fail "stdout differs from the run without the shim"
lost="$(lost_of "$T/reg.err")"
note "$(cat "$T/reg.err") (exit took $took ms)"
# The exit waited its full bound before it gave up (a lower bound the code guarantees).
assert_ge "$took" 2000 "ms the exit waited for the locked database"
# At least the end; at most the end and the ticks due between the last reading stored and
# the exit, and one for rounding.
assert_between "$lost" 1 $(((end_ms - last_ms) / 500 + 2)) "readings counted as not stored"
assert_eq "$before|" "$(sql "$DB" "SELECT (SELECT count(*) FROM samples s WHERE s.proc_id = p.proc_id),
                                          p.ended_ns FROM processes p WHERE p.pid = $pid")" \
    "samples and exit record after the lock was released (none of the counted ones stored)"
check_ticks "$DB" 500 "registered" "p.pid = $pid" lower-only

note "no write before the exit: the process has no row"
hold_lock new
t0="$(now_ms)"
run_cmd new env MEMSWEEP_DB="$DB" MEMSWEEP_RUN_ID="$run_id" LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 20 --print hello
took=$(($(now_ms) - t0))
release_lock new
assert_eq 0 "$RC" "exit status of the program that never wrote"
cmp -s "$T/plain.out" "$T/new.out" || fail "stdout differs from the run without the shim"
lost="$(lost_of "$T/new.err")"
note "$(cat "$T/new.err") (ran $took ms)"
# Its start and its end, and the ticks of its life (a program started on a busy machine
# may live past its first tick).
assert_between "$lost" 2 $((took / 500 + 3)) "readings counted as not stored"
assert_eq 2 "$(sql "$DB" "SELECT count(*) FROM processes")" \
    "process rows (the first program's and the registered one's)"

pass
