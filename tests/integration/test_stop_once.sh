# One stop request delivered twice is one request: `timeout -s INT` signals memsweep and
# then its process group, and the second delivery must not be taken for a second Ctrl-C
# that cuts the workers' grace period short. A second signal from someone else still
# escalates to SIGKILL at once. The worker catches SIGINT and needs a moment to clean up
# (it exits 7 after a short sleep in its handler), so a run that got its grace ends with
# exit 7, and one cut short is SIGKILLed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v timeout >/dev/null || skip "timeout (coreutils) is not installed"
# A worker that holds for 120 s unless SIGINT comes, and then takes 300 ms to exit 7.
cat >"$T/worker.py" <<'EOF'
import signal, sys, time
def stop(signum, frame):
    time.sleep(0.3)
    sys.exit(7)
signal.signal(signal.SIGINT, stop)
b = bytearray(16 << 20)
print("worker ready", flush=True)
time.sleep(120)
EOF
command -v python3 >/dev/null || skip "python3 is not installed"

# workers_ready OUT N: N workers of the sweep in OUT have their SIGINT handler in place
# (they print "worker ready" after installing it) and a sample in the database.
workers_ready() {
    local d
    d="$(sweep_dir_of "$1" 2>/dev/null)" || return 1
    [ "$(cat "$d"/logs/*.out 2>/dev/null | grep -c '^worker ready$')" -ge "$2" ] &&
        db_has "$1" "SELECT count(DISTINCT p.run_id) FROM processes p
                     WHERE EXISTS (SELECT 1 FROM samples s WHERE s.proc_id = p.proc_id)" "$2"
}

note "timeout -s INT: two deliveries of one stop"
# timeout signals only when its time is up, and the workers must be measured by then:
# a long timeout keeps that true on a loaded machine, and the test ends it early by
# sending timeout itself the signal it would send (it then signals its child twice).
set -m
timeout -s INT 600 "$MS_BIN" run -j 2 -o "$T/out" -P i=1,2 -- \
    python3 "$T/worker.py" >"$T/run.out" 2>"$T/run.err" &
tpid=$!
set +m
track_pid "$tpid"
wait_for 120 workers_ready "$T/out" 2 ||
    fail "two measured workers did not appear within 120 s (stderr: $(cat "$T/run.err"))"
# timeout relays a SIGINT it receives to its child the same way as at expiry: to the
# child, then to its own process group.
kill -INT "$tpid"
RC=0
wait "$tpid" || RC=$?
assert_eq 130 "$RC" "exit status through timeout (stderr: $(cat "$T/run.err"))"
assert_eq 1 "$(grep -c 'SIGINT received' "$T/run.err")" "lines about a received SIGINT"
assert_eq 0 "$(grep -c 'received again' "$T/run.err")" "lines about a second stop signal"
S="$(sweep_dir_of "$T/out")"
assert_eq "interrupted|7|
interrupted|7|" "$(sql "$S/memsweep.db" "SELECT status, exit_code, term_signal FROM runs ORDER BY seq")" \
    "status, exit code and signal of the runs (each had its grace and exited 7)"

note "a second SIGINT from another sender kills at once"
set -m
"$MS_BIN" run -j 1 -o "$T/out2" -- python3 "$T/worker.py" >"$T/run2.out" 2>"$T/run2.err" &
launcher=$!
set +m
track_pid "$launcher"
wait_for 120 workers_ready "$T/out2" 1 ||
    fail "a measured worker did not appear within 120 s (stderr: $(cat "$T/run2.err"))"
# The worker's handler takes 300 ms; the second signal comes from another process once
# the launcher has taken the first, which it says on stderr.
sh -c 'kill -INT "$1"' sh "$launcher"
first_taken() { grep -q 'SIGINT received' "$T/run2.err"; }
wait_for 60 first_taken || fail "the launcher did not take the first SIGINT within 60 s"
sh -c 'kill -INT "$1"' sh "$launcher"
RC=0
wait "$launcher" || RC=$?
assert_eq 130 "$RC" "exit status of the twice-interrupted launcher (stderr: $(cat "$T/run2.err"))"
status="$(sql "$(sweep_dir_of "$T/out2")/memsweep.db" "SELECT status, exit_code, term_signal FROM runs")"
# Either the second signal came while the handler slept (SIGKILL, the escalation), or the
# worker had already finished its 300 ms and exited 7; it is never left running.
case "$status" in
"interrupted||9")
    assert_eq 1 "$(grep -c 'received again' "$T/run2.err")" "lines about the second signal"
    ;;
"interrupted|7|") note "the worker exited before the second signal came" ;;
*) fail "status of the twice-interrupted run: '$status'" ;;
esac

pass
