# A worker that ignores SIGTERM and SIGINT behind a wrapper shell: when memsweep stops the
# run (--timeout, or Ctrl-C of the sweep), the shell dies at once but the worker lives on
# in the run's process group; memsweep must still SIGKILL the group when the grace period
# ends instead of leaving the worker running after the run is recorded.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cat >"$T/stubborn.sh" <<'SH'
trap '' TERM INT
exec "$@"
SH
# The worker ignores both signals; it writes a marker if it ever outlives its hold.
cat >"$T/cmds" <<CMDS
sh $T/stubborn.sh sh -c 'sleep 15; echo survived >$T/marker-timeout' ; echo after
CMDS

note "--timeout: SIGTERM to the group, SIGKILL to what is left 2 s later"
t0="$(now_ms)"
run_cmd run "$MS_BIN" run -j 1 --timeout 1 -o "$T/out" --commands "$T/cmds"
elapsed=$(($(now_ms) - t0))
assert_eq 1 "$RC" "exit status of memsweep run with a timed-out run"
assert_between "$elapsed" 2500 8000 "ms until memsweep ends (1 s timeout + 2 s grace)"
S="$(sweep_dir_of "$T/out")"
assert_eq timeout "$(sql "$S/memsweep.db" "SELECT status FROM runs")" "run status"
sleep 0.5
if pgrep -f "marker-timeout" >/dev/null; then
    pkill -KILL -f "marker-timeout" || true
    fail "a worker of the timed-out run is still running after memsweep exited"
fi

note "Ctrl-C: the signal to the group, SIGKILL to what is left after the grace period"
sed "s/marker-timeout/marker-int/" "$T/cmds" >"$T/cmds-int"
set -m
"$MS_BIN" run -j 1 -o "$T/out-int" --commands "$T/cmds-int" >"$T/int.out" 2>"$T/int.err" &
pid=$!
set +m
track_pid "$pid"
worker_running() { pgrep -f marker-int >/dev/null; }
wait_for 10 worker_running || fail "the worker of the sweep to interrupt did not start"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq 130 "$rc" "exit status of an interrupted memsweep run"
sleep 0.5
if pgrep -f "marker-int" >/dev/null; then
    pkill -KILL -f "marker-int" || true
    fail "a worker of the interrupted run is still running after memsweep exited"
fi
[ ! -e "$T/marker-timeout" ] || fail "the timed-out worker finished its hold"
[ ! -e "$T/marker-int" ] || fail "the interrupted worker finished its hold"

pass
