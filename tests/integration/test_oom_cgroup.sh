# A worker that grows until the kernel's OOM killer stops it at a cgroup memory limit
# (cgroup v1's memory.limit_in_bytes or cgroup v2's memory.max, whichever this machine
# has and lets us set). The run is `oom`, signal 9 as without the shim, the ticks
# committed before the kill are kept, and the run's peak in the advisory is at least
# what the worker touched, by the kernel's ru_maxrss. The worker pauses at 120 MiB until
# a committed tick shows them, so that the peak is known to be at least that whatever the
# machine's load; what the sampler catches of the growth after it, before the kernel's
# kill, depends on its timeliness and is not asserted (ru_maxrss has it). Skipped, with the reason, where no memory cgroup can be created (not
# root, a read-only or delegated-away hierarchy).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

GROW="$MS_BUILD_DIR/ms_grow"
need_exe "$GROW"

# Under the launcher, memsweep itself (a sanitizer build included) shares the limit with
# the worker: room for both beside the 120 MiB pause.
LIMIT_MIB=256
PAUSE_MIB=120
INTERVAL=50
# 4 MiB every 40 ms up to 1 GiB, pausing at 120 MiB until the go-file given as the last
# argument exists: well below the limit, so the kill can only come after the pause.
GROW_CMD=("$GROW" --step-mib 4 --step-ms 40 --max-mib 1024 --pause-at-mib "$PAUSE_MIB"
          --wait-file)

make_memory_cgroup "$LIMIT_MIB"
note "cgroup v$CG_VERSION at $CG, limit $LIMIT_MIB MiB"
[ -n "$(oom_kills)" ] || skip "$CG reports no oom_kill count (kernel too old to tell an OOM kill)"

note "uninstrumented reference"
kills0="$(oom_kills)"
# Its go-file exists from the start: it grows into the limit without a pause.
touch "$T/go-ref"
run_ref ref sh -c "$INTO_CG" sh "$CG" "${GROW_CMD[@]}" "$T/go-ref"
assert_eq 137 "$RC" "exit status without the shim (128 + SIGKILL; stderr: $(cat "$T/ref.err"))"
assert_eq $((kills0 + 1)) "$(oom_kills)" "OOM kills in the group after the reference run"
last_ref="$(tail -n 1 "$T/ref.out")"
[[ "$last_ref" =~ ^grew\ to\ [0-9]+\ MiB$ ]] || fail "the reference's last line: '$last_ref'"

# Under the launcher, memsweep itself runs in the group, as in a job or a container
# with a memory limit: the workers inherit the group, and the group's count of
# out-of-memory kills is what tells this SIGKILL from any other.
note "under the launcher, inside the group"
kills0="$(oom_kills)"
sh -c "$INTO_CG" sh "$CG" "$MS_BIN" run -j 1 --interval-ms "$INTERVAL" -o "$T/out" -- \
    "${GROW_CMD[@]}" "$T/go" >"$T/run.out" 2>"$T/run.err" &
launcher=$!
track_pid "$launcher"
G="exe LIKE '%/ms_grow'"
# paused_tick: a committed tick of ms_grow shows the 120 MiB it pauses at.
paused_tick() {
    db_has "$T/out" "SELECT count(*) FROM samples WHERE kind = 'tick'
                     AND rss_kb >= $PAUSE_MIB * 1024 AND proc_id IN
                     (SELECT proc_id FROM processes WHERE $G)"
}
wait_for 60 paused_tick ||
    fail "no committed tick of $PAUSE_MIB MiB within 60 s (stderr: $(cat "$T/run.err"))"
touch "$T/go"
RC=0
wait "$launcher" || RC=$?
assert_eq 1 "$RC" "exit status of memsweep run with a killed run (stderr: $(cat "$T/run.err"))"
assert_eq $((kills0 + 1)) "$(oom_kills)" "OOM kills in the group after the measured run"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
ADV="$S/memory_advisory.txt"
assert_eq ok "$(sql "$DB" "PRAGMA integrity_check")" "integrity_check of the database"
assert_eq "oom|9|" "$(sql "$DB" "SELECT status, term_signal, exit_code FROM runs")" \
    "status, term_signal and exit_code of the run"
last="$(tail -n 1 "$S/logs/run-0001.out")"
[[ "$last" =~ ^grew\ to\ ([0-9]+)\ MiB$ ]] || fail "the worker's last line: '$last'"
grown="${BASH_REMATCH[1]}"
# It printed its growth to 120 MiB before the pause, and touched memory is charged to the
# group, so it cannot have grown past the limit.
assert_between "$grown" "$PAUSE_MIB" "$LIMIT_MIB" "MiB the worker reported before the kill"
# The kernel's peak of the killed worker, as wait4 gave it to the launcher, is at least
# what it reported having touched, whatever the sampler saw of the last growth.
maxrss="$(sql "$DB" "SELECT maxrss_kb FROM runs")"
assert_int "$maxrss" "runs.maxrss_kb of the killed run"
assert_ge "$maxrss" $((grown * 1024)) "ru_maxrss (KiB) of the worker killed after growing to $grown MiB"

assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE $G")" "ms_grow rows"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE $G AND ended_ns IS NULL")" \
    "ms_grow without an exit record"
P="proc_id = (SELECT proc_id FROM processes WHERE $G)"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM samples WHERE $P AND kind = 'end'")" \
    "end samples of the killed worker"
# The tick of 120 MiB seen before the pause ended is kept through the kill.
assert_ge "$(sql "$DB" "SELECT count(*) FROM samples WHERE $P AND kind = 'tick'
                        AND rss_kb >= $PAUSE_MIB * 1024")" 1 \
    "ticks of $PAUSE_MIB MiB of the killed worker"
# Without an exit record only the lower bound of unstored applies (see check_ticks).
check_ticks "$DB" "$INTERVAL" "the killed worker" "p.$G"

# At least the 120 MiB tick seen before the pause ended. At most the limit: touched
# memory is charged to the group, and shared library pages first charged to another
# group, which count in the worker's RSS but not in its group, are within MIB_TOL.
run_figures "$DB" >"$T/fig.txt"
line="$(cat "$T/fig.txt")"
peak="$(fig "$line" 4)"
assert_between "$peak" "$grown" $((LIMIT_MIB + MIB_TOL)) "peak RSS of the run (MiB)"
note "peak $peak MiB, last reported growth $grown MiB, limit $LIMIT_MIB MiB"
assert_eq 1 "$(post_field "$ADV" RunsIncluded)" "RunsIncluded"
assert_eq 1 "$(post_field "$ADV" RunsFailed)" "RunsFailed"
assert_between "$(post_field "$ADV" MaxPeakRSS_MB)" "$PAUSE_MIB" $((LIMIT_MIB + MIB_TOL)) \
    "MaxPeakRSS_MB"
# The sweep may use the group's limit, less the reserve for what runs in it beside the
# workers (docs/advisory.md).
assert_eq "$LIMIT_MIB" "$(pre_field "$ADV" MemTotal_MB)" "MemTotal_MB of the sweep in the group"
reserve="$(pre_field "$ADV" Reserve_MB)"
assert_int "$reserve" "Reserve_MB"
expected_advisory "$T/fig.txt" "$LIMIT_MIB" "$reserve" >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "memory_advisory.txt"
run_cmd advise "$MS_BIN" advise "$S"
assert_eq 0 "$RC" "exit status of memsweep advise (stderr: $(cat "$T/advise.err"))"
check_advisory "$T/expected.txt" "$T/advise.out" "memsweep advise"

pass
