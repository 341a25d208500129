# A spike of 200 MiB on top of a 32 MiB base, held for 1.5 s, then 1.2 s back at the
# base, each for as long again as it takes a 500 ms tick to see it: the ticks see the
# spike, the peak holds it, the end RSS (exit and last tick) does not, and the advisory
# warns about the divergence.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_exe "$SPIKE"

# The program moves on from the spike, and from the base after it, only once the test has
# seen a tick of each in the database: how many ticks fall in a fixed span depends on how
# the machine schedules the sampler.
"$MS_BIN" run -j 1 -o "$T/out" -- "$SPIKE" --count 1 --base-mib 32 --mib 200 \
    --hold-ms 1500 --hold-file "$T/go.spike" --pause-ms 1200 --pause-file "$T/go.tail" \
    >"$T/run.out" 2>"$T/run.err" &
launcher=$!
track_pid "$launcher"

# tick_count WHERE: at least one tick matching the SQL condition WHERE is in the sweep's
# database.
tick_count() {
    db_has "$T/out" "SELECT count(*) FROM samples WHERE kind = 'tick' AND ($1)"
}
SEES_SPIKE="rss_kb >= 232 * 1024"
# A tick taken after the last one that saw the spike, back at the base.
AFTER_SPIKE="rss_kb < 100 * 1024 AND t_ns > (SELECT max(t_ns) FROM samples
                                             WHERE kind = 'tick' AND $SEES_SPIKE)"
wait_for 60 tick_count "$SEES_SPIKE" ||
    fail "no tick seeing the spike within 60 s (stderr: $(cat "$T/run.err"))"
touch "$T/go.spike"
wait_for 60 tick_count "$AFTER_SPIKE" ||
    fail "no tick after the spike within 60 s (stderr: $(cat "$T/run.err"))"
touch "$T/go.tail"
RC=0
wait "$launcher" || RC=$?
assert_eq 0 "$RC" "exit status of memsweep run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
ADV="$S/memory_advisory.txt"

run_figures "$DB" >"$T/fig.txt"
assert_eq 1 "$(wc -l <"$T/fig.txt")" "runs"
line="$(cat "$T/fig.txt")"
assert_eq ok "$(fig "$line" 2)" "run status"
check_run_mib "$line" 32 232 "the spiking run"

# Not only the kernel's high-water mark: a periodic tick caught the spike itself (the
# program held the spike until one had).
tick_max="$(sql "$DB" "SELECT max(rss_kb) / 1024.0 FROM samples WHERE kind = 'tick'")"
assert_ge "$tick_max" 232 "largest RSS of a tick sample (MiB)"
# And the last sample is after the spike was unmapped.
last="$(sql "$DB" "SELECT rss_kb / 1024.0 FROM samples ORDER BY t_ns DESC LIMIT 1")"
assert_between "$last" 32 $((32 + MIB_TOL)) "RSS of the last sample (MiB)"

MT="$(mem_total_mb)"
expected_advisory "$T/fig.txt" "$MT" >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "memory_advisory.txt"
max_peak="$(post_field "$ADV" MaxPeakRSS_MB)"
mean_end="$(post_field "$ADV" MeanRSS_End_MB)"
assert_ge "$max_peak" 232 "MaxPeakRSS_MB"
assert_between "$mean_end" 32 $((32 + MIB_TOL)) "MeanRSS_End_MB"
awk -v p="$max_peak" -v e="$mean_end" 'BEGIN { exit !(p > 1.2 * e) }' ||
    fail "MaxPeakRSS_MB $max_peak should exceed 1.2 x MeanRSS_End_MB $mean_end"
assert_eq 1 "$(grep -c '^Warning: MaxPeakRSS_MB is more than 1.2x MeanRSS_End_MB' "$ADV")" \
    "divergence warnings in the advisory"
assert_eq p95_peak "$(post_field "$ADV" ConservativeBasis)" "ConservativeBasis"
# The conservative recommendation sizes workers by the spike, the aggressive one by the end.
agg="$(post_field "$ADV" RecommendedMaxWorkers_Aggressive)"
con="$(post_field "$ADV" RecommendedMaxWorkers_Conservative)"
assert_int "$agg" RecommendedMaxWorkers_Aggressive
assert_int "$con" RecommendedMaxWorkers_Conservative
[ "$con" -lt "$agg" ] || fail "conservative recommendation $con should be below the aggressive $agg"

pass
