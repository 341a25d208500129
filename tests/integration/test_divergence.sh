# The specification's divergence warning (MaxPeakRSS_MB above 1.2x MeanRSS_End_MB) fires
# both for runs that spike and for a grid of sizes whose runs differ but end at their
# peak. The warning line stays as specified; memsweep's Divergence line right after it
# says which it is, with the largest peak/end ratio within one run and the largest run
# peak against the smallest, each naming its runs, as the database's figures give them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SPIKE_WL="$MS_BUILD_DIR/ms_spike"
need_exe "$SPIKE_WL"
WARNING="Warning: MaxPeakRSS_MB is more than 1.2x MeanRSS_End_MB; prefer the conservative recommendation and consider staggering worker starts."

# expected_divergence FIGURES: "within|within_run|across|largest_run|smallest_run" from
# run_figures output, computed here: the largest peak/end of one run (first run on a
# tie), and the largest peak over the smallest.
expected_divergence() {
    python3 - "$1" <<'PY'
import sys
rows = [l.rstrip("\n").split("|", 7) for l in open(sys.argv[1]) if l.strip()]
runs = [(int(r[0]), float(r[2]), float(r[3])) for r in rows if int(r[4]) > 0]
within = max(((p / e, s) for s, e, p in runs if e > 0), key=lambda x: (x[0], -x[1]))
big = max(runs, key=lambda r: (r[2], -r[0]))
small = min(runs, key=lambda r: (r[2], r[0]))
print("%r|%d|%r|%d|%d" % (within[0], within[1], big[2] / small[2], big[0], small[0]))
PY
}

# check_divergence ADVISORY FIGURES KIND WHAT: the warning, then exactly one Divergence
# line of that kind whose ratios (two decimals) and runs are those of the figures.
check_divergence() {
    local adv="$1" exp line re
    assert_eq 1 "$(grep -cxF "$WARNING" "$adv")" "$4: the specification's warning"
    assert_eq 1 "$(grep -c '^Divergence: ' "$adv")" "$4: Divergence lines"
    line="$(grep -A1 -xF "$WARNING" "$adv" | sed -n 2p)"
    re='^Divergence: (.*) \(the largest peak within one run is ([0-9.]+)x its end RSS, in run ([0-9]+); the largest run peak is ([0-9.]+)x the smallest, run ([0-9]+) against run ([0-9]+)\)$'
    [[ "$line" =~ $re ]] || fail "$4: the line after the warning is not a Divergence line: '$line'"
    note "$4: $line"
    assert_eq "$3" "${BASH_REMATCH[1]}" "$4: what the divergence is"
    exp="$(expected_divergence "$2")"
    assert_near "${BASH_REMATCH[2]}" "$(echo "$exp" | cut -d'|' -f1)" 0.0051 "$4: peak/end within a run"
    assert_eq "$(echo "$exp" | cut -d'|' -f2)" "${BASH_REMATCH[3]}" "$4: the run with it"
    assert_near "${BASH_REMATCH[4]}" "$(echo "$exp" | cut -d'|' -f3)" 0.0051 "$4: largest over smallest peak"
    assert_eq "$(echo "$exp" | cut -d'|' -f4)" "${BASH_REMATCH[5]}" "$4: the run with the largest peak"
    assert_eq "$(echo "$exp" | cut -d'|' -f5)" "${BASH_REMATCH[6]}" "$4: the run with the smallest peak"
}

note "a grid of sizes whose runs end at their peak"
run_cmd grid "$MS_BIN" run -j 2 -o "$T/grid" -P mib=8,96 -- "$WL" --mib '{mib}'
assert_eq 0 "$RC" "exit status of the grid (stderr: $(cat "$T/grid.err"))"
S="$(sweep_dir_of "$T/grid")"
run_figures "$S/memsweep.db" >"$T/grid.fig"
check_divergence "$S/memory_advisory.txt" "$T/grid.fig" \
    "runs differ from each other, and do not spike" "grid"
# The figures themselves say so: each run's peak within 1.2x its end, 96 MiB against 8.
assert_le "$(expected_divergence "$T/grid.fig" | cut -d'|' -f1)" 1.2 "grid: peak/end of the figures"
assert_ge "$(expected_divergence "$T/grid.fig" | cut -d'|' -f3)" 3 "grid: peak ratio of the figures"
# What the launcher prints is the file's post-run section.
assert_contains "$T/grid.out" "$(grep '^Divergence: ' "$S/memory_advisory.txt")" "grid: stdout"

note "memsweep advise --json carries the same breakdown"
run_cmd grid_json "$MS_BIN" advise --json "$S"
assert_eq 0 "$RC" "exit status of advise --json"
python3 - "$T/grid_json.out" "$(grep '^Divergence: ' "$S/memory_advisory.txt")" <<'PY' ||
import json, sys
d = json.load(open(sys.argv[1]))["Divergence"]
line = sys.argv[2][len("Divergence: "):]
assert d["Text"] == line, (d["Text"], line)
assert "%.2fx" % d["WithinRun_Ratio"] in line and "run %d;" % d["WithinRun_Run"] in line, d
assert "%.2fx" % d["AcrossRuns_Ratio"] in line, d
assert "run %d against run %d)" % (d["AcrossRuns_LargestPeak_Run"],
                                   d["AcrossRuns_SmallestPeak_Run"]) in line, d
PY
    fail "advise --json: Divergence differs from the text line: $(cat "$T/grid_json.out")"

note "runs alike that spike"
# Each run keeps 16 MiB, spikes by 64 MiB once, and then pauses until the test has seen,
# in the database, a tick well after the spike: then no reading of the spike is close
# enough to the exit to count in the end RSS, however slowly the machine runs.
INTERVAL=100
"$MS_BIN" run -j 2 --interval-ms "$INTERVAL" -o "$T/spike" -P i=1,2 -- "$SPIKE_WL" --count 1 \
    --base-mib 16 --mib 64 --hold-ms 50 --pause-ms 0 --pause-file "$T/go-{i}" \
    >"$T/spike.out" 2>"$T/spike.err" &
launcher=$!
track_pid "$launcher"

# after_spike I: run i=I has a committed tick that shows the spike over (VmHWM has it,
# RSS does not) at least three intervals after its last reading that held the spike.
after_spike() {
    db_has "$T/spike" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                       JOIN runs r USING (run_id)
                       WHERE r.label = 'i=$1' AND s.kind = 'tick'
                       AND s.hwm_kb >= 80 * 1024 AND s.rss_kb < 48 * 1024
                       AND s.t_ns > (SELECT COALESCE(max(s2.t_ns), 0) + 3 * $INTERVAL * 1000000
                                     FROM samples s2 WHERE s2.proc_id = s.proc_id
                                     AND s2.rss_kb >= 48 * 1024)"
}
for i in 1 2; do
    wait_for 120 after_spike "$i" ||
        fail "run i=$i: no tick after its spike within 120 s (stderr: $(cat "$T/spike.err"))"
    touch "$T/go-$i"
done
RC=0
wait "$launcher" || RC=$?
assert_eq 0 "$RC" "exit status of the spiking sweep (stderr: $(cat "$T/spike.err"))"
S="$(sweep_dir_of "$T/spike")"
run_figures "$S/memsweep.db" >"$T/spike.fig"
check_divergence "$S/memory_advisory.txt" "$T/spike.fig" \
    "runs spike, and differ little from each other" "spike"
assert_ge "$(expected_divergence "$T/spike.fig" | cut -d'|' -f1)" 3 "spike: peak/end of the figures"
assert_le "$(expected_divergence "$T/spike.fig" | cut -d'|' -f3)" 1.2 "spike: peak ratio of the figures"

pass
