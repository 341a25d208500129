# The sampler thread of a program measured alone that does not run when its ticks fall
# due (here: the whole process stopped with SIGSTOP, as a loaded machine starves it) loses
# those readings without any record failing to be written. The shim counts them in
# processes.unstored, takes none of them late in a burst, and leaves no note; the analyzer
# names that cause, not a failed write.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

INTERVAL=50
DB="$T/starved.db"

env MEMSWEEP_DB="$DB" MEMSWEEP_INTERVAL_MS="$INTERVAL" LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 8 --wait-file "$T/go" --print hello >"$T/starved.out" 2>"$T/starved.err" &
pid=$!
track_pid "$pid"

# has_tick: the process has its row and a committed tick.
has_tick() {
    db_has "$DB" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                  WHERE p.pid = $pid AND s.kind = 'tick'"
}
wait_for 60 has_tick || fail "no tick of pid $pid within 60 s (stderr: $(cat "$T/starved.err"))"

# Stopped, no thread of the process runs, however fast or slow the machine: each interval
# that passes is a tick the sampler cannot take. Twenty intervals pass before it resumes.
t0="$(now_ms)"
kill -STOP "$pid"
stopped_long_enough() {
    [ $(($(now_ms) - t0)) -ge $((20 * INTERVAL)) ]
}
wait_for 60 stopped_long_enough || fail "the clock did not advance"
kill -CONT "$pid"
touch "$T/go"
RC=0
wait "$pid" || RC=$?
assert_eq 0 "$RC" "exit status of the stopped program"
assert_eq hello "$(cat "$T/starved.out")" "stdout of the stopped program"
assert_empty "$T/starved.err" "stderr of the stopped program"

IFS='|' read -r unstored note_text <<<"$(sql "$DB" "SELECT coalesce(unstored, 0), coalesce(note, '')
                                                   FROM processes WHERE pid = $pid")"
note "the stopped process: unstored $unstored, note '$note_text'"
# At least the twenty intervals of the stop, less one that may have been due as it began.
assert_ge "$unstored" 19 "readings counted as not stored"
# Every tick missing between written ones is counted, and none was taken in a burst after
# the stop.
check_ticks "$DB" "$INTERVAL" "stopped" "p.pid = $pid"
assert_eq "" "$note_text" "note of the stopped process (no write failed)"
total="$(sql "$DB" "SELECT coalesce(sum(unstored), 0) FROM processes")"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM processes WHERE coalesce(note, '') <> ''")" \
    "processes with a note"

run_cmd advise "$MS_BIN" advise "$DB"
assert_eq 0 "$RC" "exit status of advise (stderr: $(cat "$T/advise.err"))"
grep "^Note: $total readings were not stored " "$T/advise.out" >"$T/advise.note" ||
    fail "advise: no note counting the $total readings not stored: $(grep '^Note: ' "$T/advise.out")"
assert_contains "$T/advise.note" "the shim's sampler thread did not run when they fell due" \
    "advise: the cause of the readings not stored"
assert_eq 0 "$(grep -cE 'writes to the database failed|full, read-only' "$T/advise.out")" \
    "advise: lines naming a failed write"

run_cmd peaks "$MS_BIN" peaks "$DB"
assert_eq 0 "$RC" "exit status of peaks (stderr: $(cat "$T/peaks.err"))"
assert_contains "$T/peaks.out" "  Unstored: $unstored (not taken in time or held up by a busy database; no write failed)" \
    "peaks: the run's unstored readings"
run_cmd peaks_json "$MS_BIN" peaks --json "$DB"
python3 - "$T/peaks_json.out" "$total" <<'PY' || fail "peaks --json: Unstored figures: $(cat "$T/peaks_json.out")"
import json, sys
d = json.load(open(sys.argv[1]))
total = int(sys.argv[2])
assert d["summary"]["Unstored"] == total and d["summary"]["UnstoredWriteFailed"] == 0, d["summary"]
assert sum(r["Unstored"] for r in d["runs"]) == total
assert all(r["UnstoredWriteFailed"] == 0 for r in d["runs"])
PY

pass
