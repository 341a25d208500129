# A worker that grows until the kernel's OOM killer stops it at a cgroup memory limit
# (cgroup v1's memory.limit_in_bytes or cgroup v2's memory.max, whichever this machine
# has and lets us set). The run is `killed` by signal 9 as without the shim, the samples
# up to the last interval are kept, and the peak they show (near the limit) is the
# run's peak in the advisory. Skipped, with the reason, where no memory cgroup can be
# created (not root, a read-only or delegated-away hierarchy).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

GROW="$MS_BUILD_DIR/ms_grow"
need_exe "$GROW"

LIMIT_MIB=160
INTERVAL=50
# 4 MiB every 40 ms, 100 MiB/s: the limit is reached in under two seconds, in about
# forty steps and thirty ticks, and consecutive ticks are 5 MiB apart.
GROW_CMD=("$GROW" --step-mib 4 --step-ms 40 --max-mib 1024)

# Creates the group and sets CG and CG_VERSION, or skips.
make_cgroup() {
    local root
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        root=/sys/fs/cgroup
        grep -qw memory "$root/cgroup.controllers" ||
            skip "cgroup v2 at $root has no memory controller"
        if ! grep -qw memory "$root/cgroup.subtree_control"; then
            echo +memory >"$root/cgroup.subtree_control" 2>/dev/null ||
                skip "cannot enable the memory controller for the children of $root"
        fi
        CG="$(mktemp -d "$root/memsweep-test.XXXXXX" 2>/dev/null)" ||
            skip "cannot create a cgroup under $root (not root, or read-only)"
        CG_VERSION=2
        echo "$((LIMIT_MIB << 20))" >"$CG/memory.max" 2>/dev/null ||
            skip "cannot set memory.max in $CG"
        # Without swap the limit is a hard one: the worker cannot escape it by swapping.
        [ ! -f "$CG/memory.swap.max" ] || echo 0 >"$CG/memory.swap.max" 2>/dev/null ||
            skip "cannot set memory.swap.max in $CG"
    elif [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
        root=/sys/fs/cgroup/memory
        CG="$(mktemp -d "$root/memsweep-test.XXXXXX" 2>/dev/null)" ||
            skip "cannot create a cgroup under $root (not root, or read-only)"
        CG_VERSION=1
        echo "$((LIMIT_MIB << 20))" >"$CG/memory.limit_in_bytes" 2>/dev/null ||
            skip "cannot set memory.limit_in_bytes in $CG"
        # Memory plus swap at the same limit: no swap either.
        [ ! -f "$CG/memory.memsw.limit_in_bytes" ] ||
            echo "$((LIMIT_MIB << 20))" >"$CG/memory.memsw.limit_in_bytes" 2>/dev/null ||
            skip "cannot set memory.memsw.limit_in_bytes in $CG"
    else
        skip "no memory cgroup hierarchy at /sys/fs/cgroup (neither v2 nor v1's memory/)"
    fi
}

# OOM kills in the group so far.
oom_kills() {
    if [ "$CG_VERSION" = 2 ]; then
        awk '$1 == "oom_kill" { print $2 }' "$CG/memory.events"
    else
        awk '$1 == "oom_kill" { print $2 }' "$CG/memory.oom_control"
    fi
}

CG=
CG_VERSION=
_remove_cgroup() {
    # The group can be removed once its processes are gone; the killed worker is.
    [ -z "$CG" ] || rmdir "$CG" 2>/dev/null || true
}
trap '_remove_cgroup; _cleanup' EXIT
make_cgroup
note "cgroup v$CG_VERSION at $CG, limit $LIMIT_MIB MiB"
[ -n "$(oom_kills)" ] || skip "$CG reports no oom_kill count (kernel too old to tell an OOM kill)"

# The worker is a shell that moves itself into the group and then becomes ms_grow, so
# that only the worker is limited, not the launcher or this test.
INTO_CG='echo $$ >"$1/cgroup.procs" && shift && exec "$@"'

note "uninstrumented reference"
kills0="$(oom_kills)"
run_ref ref sh -c "$INTO_CG" sh "$CG" "${GROW_CMD[@]}"
assert_eq 137 "$RC" "exit status without the shim (128 + SIGKILL; stderr: $(cat "$T/ref.err"))"
assert_eq $((kills0 + 1)) "$(oom_kills)" "OOM kills in the group after the reference run"
last_ref="$(tail -n 1 "$T/ref.out")"
[[ "$last_ref" =~ ^grew\ to\ [0-9]+\ MiB$ ]] || fail "the reference's last line: '$last_ref'"

note "under the launcher"
kills0="$(oom_kills)"
run_cmd run "$MS_BIN" run -j 1 --interval-ms "$INTERVAL" -o "$T/out" -- sh -c "$INTO_CG" sh "$CG" \
    "${GROW_CMD[@]}"
assert_eq 1 "$RC" "exit status of memsweep run with a killed run (stderr: $(cat "$T/run.err"))"
assert_eq $((kills0 + 1)) "$(oom_kills)" "OOM kills in the group after the measured run"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
ADV="$S/memory_advisory.txt"
assert_eq "killed|9|" "$(sql "$DB" "SELECT status, term_signal, exit_code FROM runs")" \
    "status, term_signal and exit_code of the run"
last="$(tail -n 1 "$S/logs/run-0001.out")"
[[ "$last" =~ ^grew\ to\ ([0-9]+)\ MiB$ ]] || fail "the worker's last line: '$last'"
grown="${BASH_REMATCH[1]}"
assert_le "$grown" "$LIMIT_MIB" "MiB the worker reported before the kill"

G="exe LIKE '%/ms_grow'"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE $G")" "ms_grow rows"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE $G AND ended_ns IS NULL")" \
    "ms_grow without an exit record"
P="proc_id = (SELECT proc_id FROM processes WHERE $G)"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM samples WHERE $P AND kind = 'end'")" \
    "end samples of the killed worker"
# Thirty-odd intervals of growth: ten ticks even if the sampler is often held up.
assert_ge "$(sql "$DB" "SELECT count(*) FROM samples WHERE $P AND kind = 'tick'")" 10 \
    "ticks of the killed worker"
# Each tick is committed as it is taken: the last is within an interval of the kill,
# plus the second of scheduling slack test_sigkill.sh allows.
gap="$(sql "$DB" "SELECT (r.finished_ns - max(s.t_ns)) / 1e6 FROM samples s, runs r WHERE s.$P")"
assert_between "$gap" 0 $((INTERVAL + 1000)) "ms between the last sample and the kill"

# The kill comes when the group's charge reaches the limit: the worker's RSS then is the
# limit less what else is charged (page tables, the database pages the shim wrote: a few
# MiB). The last kept reading may be older than one interval: 48 MiB below the limit
# allows 400 ms of growth (eight intervals, a sampler held up that long on a busy
# machine) and 8 MiB of other charges. Above: shared library pages first charged to
# another group count in the worker's RSS but not in its group.
run_figures "$DB" >"$T/fig.txt"
line="$(cat "$T/fig.txt")"
peak="$(fig "$line" 4)"
assert_between "$peak" $((LIMIT_MIB - 48)) $((LIMIT_MIB + MIB_TOL)) "peak RSS of the run (MiB)"
note "peak $peak MiB, last reported growth $grown MiB, limit $LIMIT_MIB MiB"
assert_eq 1 "$(post_field "$ADV" RunsIncluded)" "RunsIncluded"
assert_eq 1 "$(post_field "$ADV" RunsFailed)" "RunsFailed"
assert_between "$(post_field "$ADV" MaxPeakRSS_MB)" $((LIMIT_MIB - 48)) $((LIMIT_MIB + MIB_TOL)) \
    "MaxPeakRSS_MB"
expected_advisory "$T/fig.txt" "$(mem_total_mb)" >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "memory_advisory.txt"
run_cmd advise "$MS_BIN" advise "$S"
assert_eq 0 "$RC" "exit status of memsweep advise (stderr: $(cat "$T/advise.err"))"
check_advisory "$T/expected.txt" "$T/advise.out" "memsweep advise"

pass
