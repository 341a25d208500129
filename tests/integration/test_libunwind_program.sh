# A program linked with its own libunwind that walks its own stack in a loop (unw_step
# and unw_backtrace) while it allocates and frees 24 MiB blocks, so that the shim takes
# samples and captures stacks in the same thread, between the program's own walks. The
# output (the call chains both walks find, and the descriptor its log got) and the log
# are those of the uninstrumented run; the samples, allocation-driven ones with a stack
# naming the program's functions included, are recorded.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

UW="$MS_BUILD_DIR/ms_unwinder"
if [ ! -x "$UW" ]; then
    skip_missing libunwind-dev "$UW was not built (libunwind-dev was missing at configure time)"
fi

# Forty iterations with four blocks of 24 MiB and more alive: every free is a release of
# 24 MiB or more (the shim samples releases of 16 MiB and more), the live heap passes the
# 64 MiB allocation step, and since the blocks grow, each release is a new peak of the
# process, the samples that get a stack. Ticks every 50 ms, so that periodic readings too
# fall between the program's walks.
ARGS=(--iterations 40 --mib 24 --pause-ms 10)
run_ref ref "$UW" --log "$T/ref.log" "${ARGS[@]}"
assert_eq 0 "$RC" "exit status without the shim (stderr: $(cat "$T/ref.err"))"
# The lowest number free in this test's process tree; the shim must leave it free too.
[[ "$(head -n 1 "$T/ref.out")" =~ ^log\ descriptor:\ [0-9]+$ ]] ||
    fail "first line without the shim: '$(head -n 1 "$T/ref.out")'"
assert_eq 40 "$(grep -c '^iteration [0-9]*: leaf_alloc<level_c<level_b<level_a<iterate<main$' "$T/ref.out")" \
    "iterations whose two walks found the whole chain without the shim"

DB="$T/uw.db"
run_shim shim "$DB" MEMSWEEP_INTERVAL_MS=50 "$UW" --log "$T/shim.log" "${ARGS[@]}"
same_run ref shim "ms_unwinder under the shim"
cmp -s "$T/ref.log" "$T/shim.log" || fail "the program's log differs:
$(diff "$T/ref.log" "$T/shim.log" | head -10)"

P="proc_id = (SELECT proc_id FROM processes WHERE exe LIKE '%/ms_unwinder')"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE exe LIKE '%/ms_unwinder'")" \
    "ms_unwinder rows"
assert_eq "1|1" "$(sql "$DB" "SELECT (SELECT count(*) FROM samples WHERE $P AND kind = 'start'),
                                    (SELECT count(*) FROM samples WHERE $P AND kind = 'end')")" \
    "start and end samples"
# How many ticks fall in the run depends on the machine; their bookkeeping does not: none
# beyond what the process's life holds, and every one missing between written ones
# counted in unstored. (The allocation-driven samples below are taken in the program's
# own thread, at its frees, whatever the machine's speed.)
check_ticks "$DB" 50 "ms_unwinder" "p.exe LIKE '%/ms_unwinder'"
assert_ge "$(sql "$DB" "SELECT count(*) FROM samples WHERE $P AND kind = 'release'")" 1 \
    "release samples"
largest="$(awk '/^largest live total: [0-9]+ KiB$/ { print int($4 / 1024) }' "$T/shim.out")"
assert_int "$largest" "the program's largest live total (MiB)"
assert_between "$(sql "$DB" "SELECT hwm_kb / 1024.0 FROM processes WHERE $P")" \
    "$largest" $((largest + MIB_TOL)) "hwm_kb (the largest four blocks at once, MiB)"
# A stack captured inside the program's free(), by the C library's unwinder, while the
# program's libunwind is loaded and in use in the same thread: it names the program's
# own functions (exported with -rdynamic).
n="$(sql "$DB" "SELECT count(*) FROM samples s JOIN stacks st USING (stack_id)
                WHERE s.$P AND st.frames LIKE '%leaf_alloc%' AND st.frames LIKE '%iterate%'")"
note "$n samples with a stack through the program's functions"
assert_ge "$n" 1 "samples with a stack through leaf_alloc and iterate"
check_heap_sane "$DB" "ms_unwinder"
check_drops "$DB" "ms_unwinder"

pass
