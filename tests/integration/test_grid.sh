# A 2x2 parameter grid run two at a time: the sweep directory and its files, the recorded
# memory of each run against what the workload touched, the ticks at the default interval,
# and the advisory against a recomputation from the database, as text, from `advise` and
# as JSON.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Each run holds for its {hold} and then until the test has seen one of its ticks in the
# database, so that every run has a tick however slowly this machine schedules the
# sampler; a fixed hold alone would make that a matter of speed.
"$MS_BIN" run -j 2 -o "$T/out" -P mib=32,96 -P hold=600,1200 -- \
    "$WL" --mib '{mib}' --hold-ms '{hold}' --wait-file "$T/go-{run}" \
    --print 'out-{mib}-{hold}-{run}' >"$T/run.out" 2>"$T/run.err" &
launcher=$!
track_pid "$launcher"

# run_ticked SEQ: a tick of run SEQ is in the sweep's database.
run_ticked() {
    db_has "$T/out" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                     JOIN runs r USING (run_id) WHERE r.seq = $1 AND s.kind = 'tick'"
}
# Runs 1 and 2 start together, 3 and 4 as those end; a tick is due half a second into a
# run, so a minute is ample on any machine.
for seq in 1 2 3 4; do
    wait_for 60 run_ticked "$seq" ||
        fail "no tick of run $seq in the database within 60 s (stderr: $(cat "$T/run.err"))"
    touch "$T/go-$seq"
done
RC=0
wait "$launcher" || RC=$?
assert_eq 0 "$RC" "exit status of memsweep run (stderr: $(cat "$T/run.err"))"

S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
ADV="$S/memory_advisory.txt"
[ -f "$DB" ] || fail "expected $DB"
[ -f "$ADV" ] || fail "expected $ADV"

note "pre-run section, blank line, post-run section"
MT="$(mem_total_mb)"
assert_eq "Pre-run Memory Advisory" "$(sed -n 1p "$ADV")" "advisory line 1"
assert_eq "MemTotal_MB: $MT" "$(sed -n 2p "$ADV")" "advisory line 2"
assert_eq "Reserve_MB: 1024" "$(sed -n 3p "$ADV")" "advisory line 3"
assert_eq "Usable_MB: $((MT - 1024))" "$(sed -n 4p "$ADV")" "advisory line 4"
assert_eq "SafetyFactor: 0.85" "$(sed -n 5p "$ADV")" "advisory line 5"
# memsweep's own lines after the specification's, then the blank line between the sections.
assert_eq "MemSource: /proc/meminfo
HostMemTotal_MB: $MT
ReserveRule: $RULE_MACHINE
CPUs: $(affinity_cpus)" "$(sed -n 6,9p "$ADV")" "advisory lines 6-9"
assert_eq "" "$(sed -n 10p "$ADV")" "advisory line 10 (the blank line between the sections)"
assert_eq "Post-run Observed Advisory" "$(sed -n 11p "$ADV")" "advisory line 11"
assert_eq 1 "$(grep -c '^Post-run Observed Advisory$' "$ADV")" "number of post-run sections"
assert_eq "0.85" "$(post_field "$ADV" SafetyFactor)" "post-run SafetyFactor"

note "memsweep run prints the sweep directory and the post-run section"
assert_contains "$T/run.out" "$S" "stdout of memsweep run"
post_section "$ADV" >"$T/post.txt"
while IFS= read -r line; do
    grep -qxF -- "$line" "$T/run.out" || fail "stdout of memsweep run lacks the advisory line '$line'"
done <"$T/post.txt"

note "runs table"
sql "$DB" "SELECT seq, label, status, exit_code FROM runs ORDER BY seq" >"$T/runs.txt"
printf '%s\n' "1|mib=32 hold=600|ok|0" "2|mib=32 hold=1200|ok|0" \
    "3|mib=96 hold=600|ok|0" "4|mib=96 hold=1200|ok|0" >"$T/runs.expected"
diff -u "$T/runs.expected" "$T/runs.txt" >&2 || fail "runs table differs from the grid (diff above)"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM sweeps")" "sweeps rows"
assert_eq "launcher|2" "$(sql "$DB" "SELECT origin, jobs FROM sweeps")" "sweeps origin and jobs"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM runs WHERE started_ns IS NULL OR finished_ns IS NULL
                          OR finished_ns < started_ns")" "runs without a sane start and finish"

note "logs hold each run's stdout and stderr"
log_files "$S" out >"$T/outlogs"
log_files "$S" err >"$T/errlogs"
assert_eq 4 "$(wc -l <"$T/outlogs")" "number of logs/*.out files"
assert_eq 4 "$(wc -l <"$T/errlogs")" "number of logs/*.err files"
cat $(cat "$T/outlogs") | sort >"$T/outlog.txt"
printf '%s\n' out-32-1200-2 out-32-600-1 out-96-1200-4 out-96-600-3 >"$T/outlog.expected"
diff -u "$T/outlog.expected" "$T/outlog.txt" >&2 || fail "the stdout logs do not hold the runs' output (diff above)"
while IFS= read -r f; do
    assert_empty "$f" "stderr log $f"
done <"$T/errlogs"

note "each run's end RSS and peak against --mib"
run_figures "$DB" >"$T/fig.txt"
assert_eq 4 "$(wc -l <"$T/fig.txt")" "runs in the figures"
while IFS= read -r line; do
    label="$(fig "$line" 8)"
    mib="${label#mib=}"
    mib="${mib%% *}"
    hold="${label##*hold=}"
    check_run_mib "$line" "$mib" "$mib" "run '$label'"
    assert_eq 1 "$(fig "$line" 7)" "run '$label': process rows"
    # Each run was held until one of its ticks was in the database.
    assert_ge "$(fig "$line" 6)" 1 "run '$label': tick samples"
    # The shim records the start before main runs and the end after it returns, so the
    # recorded life spans at least the hold.
    assert_ge "$(sql "$DB" "SELECT (p.ended_ns - p.started_ns) / 1000000 FROM processes p
                            JOIN runs r USING (run_id) WHERE r.label = '$label'")" "$hold" \
        "run '$label': recorded life of its process (ms)"
done <"$T/fig.txt"

# The processes row's VmHWM agrees with the samples: the workload's peak is its base block.
sql "$DB" "SELECT r.label, p.hwm_kb / 1024.0, p.end_rss_kb / 1024.0 FROM processes p
           JOIN runs r USING (run_id) ORDER BY r.seq" >"$T/procs.txt"
assert_eq 4 "$(wc -l <"$T/procs.txt")" "process rows"
while IFS='|' read -r label hwm endrss; do
    mib="${label#mib=}"
    mib="${mib%% *}"
    assert_between "$hwm" "$mib" "$((mib + MIB_TOL))" "run '$label': processes.hwm_kb (MiB)"
    assert_between "$endrss" "$mib" "$((mib + MIB_TOL))" "run '$label': processes.end_rss_kb (MiB)"
done <"$T/procs.txt"

note "ticks at the default interval"
# How many ticks a run gets depends on how the machine schedules the sampler; what does
# not is its bookkeeping: no process has more ticks than its lifetime holds at 500 ms,
# and every tick missing between written ones is counted in processes.unstored.
assert_eq 500 "$(sql "$DB" "SELECT interval_ms FROM sweeps")" "sweeps.interval_ms (the default)"
check_ticks "$DB" 500 "grid"
assert_eq 4 "$(sql "$DB" "SELECT count(DISTINCT proc_id) FROM samples WHERE kind = 'start'")" \
    "processes with a start sample"
assert_eq 4 "$(sql "$DB" "SELECT count(DISTINCT proc_id) FROM samples WHERE kind = 'end'")" \
    "processes with an end sample"

note "post-run figures against a recomputation from the database"
expected_advisory "$T/fig.txt" "$MT" >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "memory_advisory.txt"
# Mixing 32 and 96 MiB runs puts the largest peak above 1.2x the mean end RSS, which is
# what the divergence warning is about; no run is too large to fit.
max_peak="$(post_field "$ADV" MaxPeakRSS_MB)"
mean_end="$(post_field "$ADV" MeanRSS_End_MB)"
awk -v p="$max_peak" -v e="$mean_end" 'BEGIN { exit !(p > 1.2 * e) }' ||
    fail "MaxPeakRSS_MB $max_peak should exceed 1.2 x MeanRSS_End_MB $mean_end in this grid"
# Four runs are few for percentiles, which the advisory says too.
assert_eq 2 "$(grep -c '^Warning: ' "$ADV")" "warning lines"
assert_eq 1 "$(grep -c '^Warning: only 4 runs entered the statistics' "$ADV")" \
    "few-runs warning lines"
assert_eq 1 "$(grep -c '^Warning: MaxPeakRSS_MB is more than 1.2x MeanRSS_End_MB' "$ADV")" \
    "divergence warning lines"

note "memsweep advise prints the same post-run section"
run_cmd advise "$MS_BIN" advise "$S"
assert_eq 0 "$RC" "exit status of memsweep advise (stderr: $(cat "$T/advise.err"))"
assert_empty "$T/advise.err" "stderr of memsweep advise"
post_section "$T/advise.out" >"$T/advise.post"
diff -u "$T/post.txt" "$T/advise.post" >&2 || fail "advise's post-run section differs from the file's (diff above)"
head -n 6 "$ADV" >"$T/pre.txt"
head -n 6 "$T/advise.out" >"$T/advise.pre"
diff -u "$T/pre.txt" "$T/advise.pre" >&2 || fail "advise's pre-run section differs from the file's (diff above)"
run_cmd advise_db "$MS_BIN" advise "$DB"
assert_eq 0 "$RC" "exit status of memsweep advise on the database file"
cmp -s "$T/advise.out" "$T/advise_db.out" || fail "advise on the directory and on its database differ"

note "memsweep advise --json has the same figures"
run_cmd json "$MS_BIN" advise --json "$S"
assert_eq 0 "$RC" "exit status of memsweep advise --json"
python3 - "$T/json.out" "$ADV" "$MT" <<'PY' || fail "JSON and text advisory differ (see above)"
import json, sys
j = json.load(open(sys.argv[1]))
text = {}
for line in open(sys.argv[2]):
    if ": " in line:
        k, v = line.rstrip("\n").split(": ", 1)
        text.setdefault(k, v)
bad = []
keys = ["MemTotal_MB", "Reserve_MB", "Usable_MB", "SafetyFactor", "MeanRSS_End_MB",
        "MedianRSS_End_MB", "P95RSS_End_MB", "MaxRSS_End_MB", "MeanPeakRSS_MB",
        "P95PeakRSS_MB", "MaxPeakRSS_MB", "RecommendedMaxWorkers_Aggressive",
        "RecommendedMaxWorkers_Conservative", "RunsTotal", "RunsIncluded", "RunsFailed",
        "RunsExcluded"]
for k in keys:
    if k not in j:
        bad.append("%s missing from the JSON" % k)
    elif k not in text:
        bad.append("%s missing from the text" % k)
    elif not isinstance(j[k], (int, float)) or float(text[k]) != float(j[k]):
        bad.append("%s: text %s, JSON %r" % (k, text[k], j[k]))
if j.get("MemTotal_MB") != int(sys.argv[3]):
    bad.append("MemTotal_MB: expected %s, JSON %r" % (sys.argv[3], j.get("MemTotal_MB")))
if j.get("ConservativeBasis") != text.get("ConservativeBasis"):
    bad.append("ConservativeBasis: text %r, JSON %r" % (text.get("ConservativeBasis"),
                                                        j.get("ConservativeBasis")))
warnings = [l.rstrip("\n")[len("Warning: "):] for l in open(sys.argv[2])
            if l.startswith("Warning: ")]
if j.get("Warnings") != warnings:
    bad.append("Warnings: text %r, JSON %r" % (warnings, j.get("Warnings")))
for b in bad:
    print("FAIL: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# check_suggested ADVISORY FIGURES JSON WHAT: memsweep's suggested safety factor beside the
# seed's fixed one. The factor is in range and follows from the terms its reason prints
# (1 / (1 + base + m + v), rounded down, clamped to [0.50, 0.95], capped at SafetyFactor
# when v is unknown); v is the widest (max - min) / max peak of one label among the
# figures' runs, m is no more than the largest periodic miss; its worker counts are the
# seed's formulas with the factor; the JSON says the same.
check_suggested() {
    local adv="$1" fig="$2" json="$3" what="$4" sf key
    assert_eq "0.85" "$(post_field "$adv" SafetyFactor)" "$what: the seed's SafetyFactor"
    assert_eq "0.85" "$(pre_field "$adv" SafetyFactor)" "$what: the seed's pre-run SafetyFactor"
    sf="$(post_field "$adv" SuggestedSafetyFactor)"
    [[ "$sf" =~ ^0\.[0-9]{2}$ ]] || fail "$what: SuggestedSafetyFactor '$sf' is not 0.NN"
    assert_between "$sf" 0.50 0.95 "$what: SuggestedSafetyFactor"
    note "$what: SuggestedSafetyFactor: $sf; $(post_field "$adv" SuggestedSafetyFactor_Reason)"
    # The suggestion comes after every line of the seed's.
    [ "$(grep -n '^SuggestedSafetyFactor: ' "$adv" | cut -d: -f1)" -gt \
      "$(grep -n '^RecommendedMaxWorkers_Conservative: ' "$adv" | tail -n 1 | cut -d: -f1)" ] ||
        fail "$what: SuggestedSafetyFactor is not after the seed's lines"
    expected_advisory "$fig" "$MT" 1024 "$sf" >"$T/$what.sugg.expected"
    for key in Aggressive Conservative; do
        assert_eq "$(awk -F': ' -v k="RecommendedMaxWorkers_$key" '$1 == k { print $2 }' \
                     "$T/$what.sugg.expected")" \
            "$(post_field "$adv" "SuggestedSafetyFactor_Workers_$key")" \
            "$what: SuggestedSafetyFactor_Workers_$key (the seed's formula at $sf)"
    done
    python3 - "$adv" "$fig" "$json" <<'PY' || fail "$what: the suggested safety factor (see above)"
import json, math, re, sys
text = {}
for line in open(sys.argv[1]):
    if ": " in line:
        k, v = line.rstrip("\n").split(": ", 1)
        text[k] = v  # the post-run section's value: it comes last
sf = float(text["SuggestedSafetyFactor"])
reason = text["SuggestedSafetyFactor_Reason"]
m = re.match(r"1 / \(1 \+ base ([0-9.]+) \+ m ([0-9.]+) \+ v ([0-9.]+)\) = ([0-9.]+), "
             r"rounded down to ([0-9.]+)", reason)
assert m, reason
base, miss, spread, q, rounded = (float(x) for x in m.groups())
assert base == 0.05, reason
assert abs(q - 1 / (1 + base + miss + spread)) < 2e-4, reason
# The printed quotient has four decimals: rounding it down may land a hundredth lower.
assert rounded in (math.floor(q * 100) / 100, math.floor(q * 100 - 0.01) / 100), reason
want = min(max(rounded, 0.50), 0.95)
# Never more than the largest periodic miss, which is the 100th percentile of the same.
assert 0 <= miss <= float(text["LargestPeriodicMiss_Pct"]) / 100 + 0.0005, (miss, reason)
peaks = {}
for l in open(sys.argv[2]):
    r = l.rstrip("\n").split("|", 7)
    if int(r[4]) > 0:
        peaks.setdefault(r[7], []).append(float(r[3]))
spreads = [(max(p) - min(p)) / max(p) for p in peaks.values() if len(p) >= 2]
if spreads:
    assert "v unknown" not in reason, reason
    assert abs(spread - max(spreads)) < 0.0011, (spread, spreads, reason)
    assert "of %d configuration" % len(spreads) in reason, (spreads, reason)
else:
    assert spread == 0 and "v unknown" in reason and "repeat a configuration" in reason, reason
# A term not measured is no evidence for more than the factor in use.
if (not spreads or "m unknown" in reason) and want > 0.85:
    want = 0.85
    assert ", capped at SafetyFactor 0.85" in reason, reason
assert abs(sf - want) < 1e-9, (sf, want, reason)
j = json.load(open(sys.argv[3]))
assert j["SafetyFactor"] == 0.85, j["SafetyFactor"]
assert j["SuggestedSafetyFactor"] == sf, (j["SuggestedSafetyFactor"], sf)
assert j["SuggestedSafetyFactor_Reason"] == reason, j["SuggestedSafetyFactor_Reason"]
for k in ("Aggressive", "Conservative"):
    key = "SuggestedSafetyFactor_Workers_" + k
    assert j[key] == int(text[key]), (key, j[key], text[key])
t = j["SuggestedSafetyFactor_Terms"]
assert t["Base"] == base and abs(t["PeriodicMiss_P95"] - miss) < 1e-9, t
assert (t["PeakSpread"] is None) == (not spreads), t
assert t["PeakSpread_Configurations"] == len(spreads), t
PY
}

note "the suggested safety factor of a grid without a repeated configuration"
check_suggested "$ADV" "$T/fig.txt" "$T/json.out" grid

note "the suggested safety factor of a sweep that repeats each configuration"
# The same value twice is the same label twice: two runs of one configuration each.
run_cmd repeat "$MS_BIN" run -j 2 -o "$T/repeat" -P mib=24,24,48,48 -- "$WL" --mib '{mib}' \
    --hold-ms 300
assert_eq 0 "$RC" "exit status of the repeated sweep (stderr: $(cat "$T/repeat.err"))"
R="$(sweep_dir_of "$T/repeat")"
run_figures "$R/memsweep.db" >"$T/repeat.fig"
assert_eq 4 "$(wc -l <"$T/repeat.fig")" "runs of the repeated sweep"
run_cmd repeat_json "$MS_BIN" advise --json "$R"
assert_eq 0 "$RC" "exit status of advise --json on the repeated sweep"
check_suggested "$R/memory_advisory.txt" "$T/repeat.fig" "$T/repeat_json.out" repeat
assert_contains "$R/memory_advisory.txt" "of 2 configurations run at least twice" \
    "repeat: the reason names both configurations"
assert_contains "$T/repeat.out" "SuggestedSafetyFactor: $(post_field "$R/memory_advisory.txt" \
    SuggestedSafetyFactor)" "repeat: stdout of memsweep run"

note "a parameter the command does not use repeats each configuration"
# rep=1 and rep=2 are two labels but one command: the same configuration run twice.
run_cmd reps "$MS_BIN" run -j 2 -o "$T/reps" -P mib=24,48 -P rep=1,2 -- "$WL" --mib '{mib}' \
    --hold-ms 300
assert_eq 0 "$RC" "exit status of the sweep with rep (stderr: $(cat "$T/reps.err"))"
R="$(sweep_dir_of "$T/reps")"
assert_contains "$R/memory_advisory.txt" "of 2 configurations run at least twice" \
    "reps: each command ran twice"
! grep -q "v unknown" "$R/memory_advisory.txt" || fail "reps: the spread is not measured"

pass
