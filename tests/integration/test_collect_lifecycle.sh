# Which pools `memsweep collect` removes: a pool whose process still runs is folded as far
# as it is written and kept; one whose processes all ended, or were killed, is removed; a
# collect killed with SIGKILL in the middle of a fold loses and duplicates nothing, as the
# next collect shows against a copy of the same pools collected in one go.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# These tests fold the spools themselves, when they mean to.
MS_NO_AUTO_COLLECT=1

SW="$MS_BUILD_DIR/ms_spoolwrite"
DB="$T/prog.db"
SPOOL="$DB.spool"
export MEMSWEEP_DB="$DB"
unset MEMSWEEP_SPOOL MEMSWEEP_SPOOL_DIR

note "a live process's pool is kept, a finished one and a killed one removed"
"$SW" --samples 5 --wait-file "$T/go" &
live=$!
track_pid "$live"
"$SW" --samples 7 --rss 20000
RC=0
"$SW" --samples 9 --kill-after 4 --rss 40000 || RC=$?
assert_eq 137 "$RC" "the writer killed itself"
# The live writer has written its samples once its pool holds a committed end of them:
# collect until its five ticks are in, which needs no sleep of a guessed length.
for _ in $(seq 1 2000); do
    run_cmd collect1 "$MS_BIN" collect "$DB"
    assert_eq 0 "$RC" "collect with a live process (stderr: $(cat "$T/collect1.err"))"
    n="$(sql "$DB" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                    WHERE p.pid = $live AND s.kind = 'tick'")"
    [ "$n" = 5 ] && break
done
assert_eq 5 "$n" "ticks of the live process folded"
assert_eq 1 "$(find "$SPOOL" -name '*.msp' | wc -l)" "pools left: the live one"
assert_eq "" "$(sql "$DB" "SELECT ended_ns FROM processes WHERE pid = $live")" "live process not ended"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE ended_ns IS NULL AND pid != $live")" \
    "the killed process has no end"
assert_eq 4 "$(sql "$DB" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                         WHERE p.ended_ns IS NULL AND p.pid != $live AND s.kind = 'tick'")" \
    "ticks the killed process wrote before its death"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM runs WHERE status = 'ok'")" "the finished run"
assert_eq 2 "$(sql "$DB" "SELECT count(*) FROM runs WHERE status = 'running'")" \
    "the live run and the killed one"
touch "$T/go"
wait "$live"
run_cmd collect2 "$MS_BIN" collect "$DB"
assert_eq 0 "$RC" "collect after the end"
[ ! -e "$SPOOL" ] || fail "spool directory left: $(ls -la "$SPOOL")"
assert_eq 2 "$(sql "$DB" "SELECT count(*) FROM runs WHERE status = 'ok'")" "runs finished"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                         WHERE p.pid = $live AND s.kind = 'end'")" "end of the live process, once"

note "a collect killed in the middle loses and duplicates nothing"
DB2="$T/big.db"
export MEMSWEEP_DB="$DB2"
for i in 1 2 3; do
    "$SW" --samples 60000 --allocs 20 --rss $((i * 1000))
done
cp -a "$DB2.spool" "$T/ref.db.spool"
"$MS_BIN" collect "$DB2" &
victim=$!
# SIGKILL as soon as some, but not all, of the fold is committed.
for _ in $(seq 1 100000); do
    n="$(sql "$DB2" "SELECT count(*) FROM spool_chunks" 2>/dev/null || echo 0)"
    [ "${n:-0}" -gt 0 ] && break
    kill -0 "$victim" 2>/dev/null || break
done
kill -9 "$victim" 2>/dev/null || true
wait "$victim" || true
partial="$(sql "$DB2" "SELECT count(*) FROM samples" 2>/dev/null || echo 0)"
note "samples committed when the collect was killed: $partial"
run_cmd collect3 "$MS_BIN" collect "$DB2"
assert_eq 0 "$RC" "collect after the kill (stderr: $(cat "$T/collect3.err"))"
run_cmd collect_ref "$MS_BIN" collect "$T/ref.db"
assert_eq 0 "$RC" "reference collect"
q="SELECT count(*), sum(rss_kb), sum(t_ns % 1000003), count(stack_id) FROM samples"
assert_eq "$(sql "$T/ref.db" "$q")" "$(sql "$DB2" "$q")" "samples after kill and re-collect"
assert_eq 180066 "$(sql "$DB2" "SELECT count(*) FROM samples")" "every sample, once"
q="SELECT count(*), sum(ended_ns IS NOT NULL) FROM processes"
assert_eq "$(sql "$T/ref.db" "$q")" "$(sql "$DB2" "$q")" "processes after kill and re-collect"
pass
