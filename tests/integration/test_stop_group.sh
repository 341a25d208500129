# A worker that ignores SIGTERM and SIGINT behind a wrapper shell: when memsweep stops the
# run (--timeout, or Ctrl-C of the sweep), the worker lives on in the run's process group.
# On SIGTERM the shell dies at once and leaves the worker in a group without its leader;
# on SIGINT a shell running -c waits for its child. Either way memsweep must SIGKILL the
# group when the grace period ends instead of leaving the worker running after the run
# is recorded, and it does so no sooner.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The worker's hold, far longer than the timeout and the grace periods: a worker that
# ends before it was killed, and a memsweep that waits for it, are told apart from the
# kill by a wide margin.
HOLD_S=120
# The timeout is also how long the worker has to start and ignore SIGTERM (two shells,
# each with the shim: tens of milliseconds, a few hundred on a busy machine).
TIMEOUT_S=3

# Ignores both signals, says so in the file named by its first argument, and becomes
# the rest of its arguments, which inherit the ignored dispositions.
cat >"$T/stubborn.sh" <<'SH'
trap '' TERM INT
: >"$1"
shift
exec "$@"
SH

# cmds_for NAME: a commands file whose one run is a wrapper shell (the group's leader)
# around the stubborn worker. The worker says in $T/trapped-NAME that it ignores the
# signals, and writes $T/marker-NAME if it ever outlives its hold; its command line names
# that file, which tells its processes apart from those of any other test.
cmds_for() {
    local worker="sleep $HOLD_S; echo survived >$T/marker-$1"
    echo "sh $T/stubborn.sh $T/trapped-$1 sh -c '$worker' ; echo after" >"$T/cmds-$1"
}

# no_survivor NAME: no process of the worker writing $T/marker-NAME is left.
no_survivor() {
    ! pgrep -f "$T/marker-$1" >/dev/null
}

# check_no_survivor NAME WHAT: memsweep sent the SIGKILL before it exited; the processes
# are gone once the kernel has delivered it, which a busy machine may take a while to do.
# A survivor's whole process group (its sleep too) is killed before the test fails.
check_no_survivor() {
    local p pg
    if ! wait_for 30 no_survivor "$1"; then
        pgrep -af "$T/marker-$1" >&2 || true
        for p in $(pgrep -f "$T/marker-$1"); do
            pg="$(ps -o pgid= -p "$p" | tr -d ' ')"
            [ -z "$pg" ] || kill -KILL -- "-$pg" 2>/dev/null || true
        done
        fail "a worker of the $2 run is still running 30 s after memsweep exited"
    fi
}

note "--timeout: SIGTERM to the group, SIGKILL to what is left 2 s later"
cmds_for timeout
t0="$(now_ms)"
run_cmd run "$MS_BIN" run -j 1 --timeout "$TIMEOUT_S" -o "$T/out" --commands "$T/cmds-timeout"
elapsed=$(($(now_ms) - t0))
assert_eq 1 "$RC" "exit status of memsweep run with a timed-out run"
# The worker had set its traps before the timeout fired, so what follows tests the grace
# period, not a worker that SIGTERM ended.
[ -e "$T/trapped-timeout" ] ||
    fail "the worker had not started within the $TIMEOUT_S s timeout (stderr: $(cat "$T/run.err"))"
# The timeout cannot fire early, nor the SIGKILL before 2 s more (launcher/supervise.h:
# MS_TIMEOUT_GRACE_MS), and memsweep waits for it; the upper bound is an outcome: the
# worker's 120 s hold was cut short.
assert_between "$elapsed" $(((TIMEOUT_S + 2) * 1000)) $((HOLD_S * 1000 / 2)) \
    "ms until memsweep ends ($TIMEOUT_S s timeout + 2 s grace)"
S="$(sweep_dir_of "$T/out")"
assert_eq timeout "$(sql "$S/memsweep.db" "SELECT status FROM runs")" "run status"
check_no_survivor timeout timed-out

note "Ctrl-C: the signal to the group, SIGKILL to what is left after the grace period"
cmds_for int
set -m
"$MS_BIN" run -j 1 -o "$T/out-int" --commands "$T/cmds-int" >"$T/int.out" 2>"$T/int.err" &
pid=$!
set +m
track_pid "$pid"
# The signal goes once the worker ignores it, so that the grace period is what ends it.
wait_for 60 test -e "$T/trapped-int" ||
    fail "the worker of the sweep to interrupt did not start within 60 s (stderr: $(cat "$T/int.err"))"
t0="$(now_ms)"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
elapsed=$(($(now_ms) - t0))
assert_eq 130 "$rc" "exit status of an interrupted memsweep run"
# At least the 3 s grace period of a stop signal (launcher/supervise.h: MS_STOP_GRACE_MS)
# before the SIGKILL that memsweep waits for; at most, as an outcome, half the hold.
assert_between "$elapsed" 3000 $((HOLD_S * 1000 / 2)) \
    "ms from SIGINT until memsweep ends (3 s grace)"
check_no_survivor int interrupted
[ ! -e "$T/marker-timeout" ] || fail "the timed-out worker finished its hold"
[ ! -e "$T/marker-int" ] || fail "the interrupted worker finished its hold"

pass
