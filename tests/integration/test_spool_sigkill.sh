#!/usr/bin/env bash
# A SIGKILL loses no reading already taken: a process sampling every 20 ms writes each
# tick into the spool at once, so once the spool shows N ticks and the process is killed,
# every one of them is there, whole (ms_spooldump rejects a torn record), and the ticks
# the sampler could not take in time are counted in `unstored`, never missing silently.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_spool.sh"

N=25
INTERVAL=20
env MEMSWEEP_DB="$T/m.db" MEMSWEEP_INTERVAL_MS=$INTERVAL LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 8 --hold-ms 0 --wait-file "$T/never" 2>"$T/err" &
pid=$!
track_pid "$pid"
wait_for 120 has_ticks "$T/m.db.spool" "$N" || fail "fewer than $N ticks within 120 s"
kill -KILL "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq 137 "$rc" "exit status of the killed process"
pool="$(pool_in "$T/m.db.spool")" || fail "not exactly one pool"
dump_pool "$pool" "$T/d"
line="$(proc_line "$T/d" "$pid")"
[ -n "$line" ] || fail "no process with pid $pid"
assert_eq 0 "$(val "$line" end_state)" "end_state of a killed process (no end)"
ticks="$(count_in "$T/d" ' kind=tick ')"
[ "$ticks" -ge "$N" ] || fail "only $ticks ticks after seeing $N"
note "ticks: $ticks, unstored: $(val "$line" unstored)"
# Every tick carries a reading; consecutive ticks are one interval apart, and the ticks
# missing between them (a gap of k intervals misses k - 1) are at most what is counted.
grep ' kind=tick ' "$T/d" | awk -v iv=$((INTERVAL * 1000000)) -v unstored="$(val "$line" unstored)" '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      if (v["rss_kb"] <= 0 || v["hwm_kb"] < v["rss_kb"]) { print "bad reading: " $0; bad = 1 }
      if (n > 0) {
          gap = v["t_ns"] - last
          if (gap <= 0) { print "ticks out of order: " $0; bad = 1 }
          k = int(gap / iv + 0.5) - 1
          if (k > 0) { missed += k; stalls++ }
      }
      last = v["t_ns"]; n++ }
    END { if (missed > unstored + stalls) { print "missed " missed " ticks, unstored " unstored; bad = 1 }
          exit bad }' || fail "tick bookkeeping"

# Every sample the spool holds reaches the database: the count the spool says was written
# (its records, start and ticks and any allocation samples) is the count folded.
written="$(count_in "$T/d" '^sample key='"$(val "$line" key)"' ')"
"$MS_BIN" collect "$T/m.db" >"$T/collect.out" 2>"$T/collect.err" ||
    fail "memsweep collect: $(cat "$T/collect.err")"
MS_NO_AUTO_COLLECT=1
assert_eq "$written" "$(sql "$T/m.db" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                                      WHERE pid = $pid")" "samples of the killed process in the database"
assert_eq "$ticks" "$(sql "$T/m.db" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                                    WHERE pid = $pid AND kind = 'tick'")" "ticks in the database"
assert_eq "" "$(sql "$T/m.db" "SELECT ended_ns FROM processes WHERE pid = $pid")" \
    "the killed process has no exit record"
pass
