# Where the peak came from: the stack recorded for ms_spike's peak (the stacks row of the
# allocation-driven sample with the highest RSS that has one) names ms_spike_allocate, the
# function that allocates, touches and frees each spike. Frames are "module+0xOFF symbol"
# lines, with the module's build-id after them when it has one. MEMSWEEP_STACKS=0 records no stack at all.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_exe "$SPIKE"

DB="$T/stack.db"
run_ref ref "$SPIKE" --count 3
# A stack is captured by a sample that reads an RSS above every reading before it, ticks
# included. A tick that fell inside a spike's hold would take the spike's height first,
# and the release sample after it, reading the same height, would get no stack; whether
# one does is a matter of timing. With ticks an hour apart, none falls in the run, and the
# first spike's release sample is the first reading of its height.
run_shim spike "$DB" MEMSWEEP_INTERVAL_MS=3600000 "$SPIKE" --count 3
assert_eq 0 "$RC" "exit status of ms_spike under the shim (stderr: $(cat "$T/spike.err"))"
same_run ref spike "ms_spike under the shim"

n_linked="$(sql "$DB" "SELECT count(*) FROM samples WHERE stack_id IS NOT NULL")"
assert_ge "$n_linked" 1 "samples linked to a stack"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM samples WHERE stack_id IS NOT NULL
                          AND kind NOT IN ('alloc', 'release')")" \
    "periodic samples linked to a stack (only allocation-driven peaks capture one)"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM samples s WHERE stack_id IS NOT NULL AND
                          NOT EXISTS (SELECT 1 FROM stacks k WHERE k.stack_id = s.stack_id)")" \
    "samples linked to a missing stacks row"
assert_eq "$(sql "$DB" "SELECT count(*) FROM stacks")" \
    "$(sql "$DB" "SELECT count(DISTINCT hash) FROM stacks")" "stacks deduplicated by hash"

# The heaviest allocation-driven sample with a stack: the peak the analyzer would show.
peak_stack="$(sql "$DB" "SELECT stack_id FROM samples WHERE kind IN ('alloc', 'release')
                         AND stack_id IS NOT NULL ORDER BY rss_kb DESC, t_ns LIMIT 1")"
assert_int "$peak_stack" "stack_id of the peak"
peak_rss="$(sql "$DB" "SELECT max(rss_kb) FROM samples WHERE stack_id = $peak_stack")"
hwm="$(sql "$DB" "SELECT hwm_kb FROM processes")"
# The stack belongs to the spike itself, not to some earlier, smaller allocation.
awk -v a="$peak_rss" -v h="$hwm" 'BEGIN { exit !(a >= 0.95 * h) }' ||
    fail "RSS of the sample with the peak's stack: expected >= 95% of VmHWM $hwm KiB, got $peak_rss KiB"

sql "$DB" "SELECT frames FROM stacks WHERE stack_id = $peak_stack" >"$T/frames"
depth="$(sql "$DB" "SELECT depth FROM stacks WHERE stack_id = $peak_stack")"
note "peak stack ($depth frames):"
sed 's/^/     /' "$T/frames"
assert_between "$depth" 2 64 "depth of the peak's stack"
assert_eq "$depth" "$(grep -c . "$T/frames")" "stacks.depth against the lines of stacks.frames"
bad="$(grep -vE '^[^ ]+\+0x[0-9a-f]+( .+)?$' "$T/frames" || true)"
assert_eq "" "$bad" "frames not of the form 'module+0xoff [symbol]'"
grep -qE '^([^ ]*/)?ms_spike\+0x[0-9a-f]+ ms_spike_allocate(\+0x[0-9a-f]+)?( [0-9a-f]+)?$' "$T/frames" ||
    fail "the peak's stack does not name ms_spike_allocate in ms_spike: $(cat "$T/frames")"
# The allocating function is called from main, so main's frame follows it.
grep -qE '^([^ ]*/)?ms_spike\+0x[0-9a-f]+ main(\+0x[0-9a-f]+)?( [0-9a-f]+)?$' "$T/frames" ||
    fail "the peak's stack does not name main in ms_spike: $(cat "$T/frames")"

note "MEMSWEEP_STACKS=0"
NODB="$T/nostack.db"
run_shim nostack "$NODB" MEMSWEEP_STACKS=0 "$SPIKE" --count 3
assert_eq 0 "$RC" "exit status with MEMSWEEP_STACKS=0"
same_run ref nostack "ms_spike with MEMSWEEP_STACKS=0"
assert_ge "$(kind_count "$NODB" release)" 1 "release samples with MEMSWEEP_STACKS=0"
assert_eq 0 "$(sql "$NODB" "SELECT count(*) FROM samples WHERE stack_id IS NOT NULL")" \
    "samples linked to a stack with MEMSWEEP_STACKS=0"
assert_eq 0 "$(sql "$NODB" "SELECT count(*) FROM stacks")" "stacks with MEMSWEEP_STACKS=0"

pass
