# A process tree made by fork() alone, never exec: three children of different sizes and
# a grandchild, all holding their memory at the same time as the parent. The program's
# output, exit status and the files each process writes are the same as without the
# shim; every process has its own row with the right parent and its own peak, and the
# run's peak is all of them at once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FT="$MS_BUILD_DIR/ms_forktree"
need_exe "$FT"

# Sizes chosen all different, so that a row showing another process's memory cannot pass:
# children 24, 48 and 72 MiB, the grandchild (a child of child 0) 16 MiB, the parent 32.
ARGS=(--children 3 --step-mib 24 --grandchild-mib 16 --mib 32 --hold-ms 600)
mkdir "$T/ref" "$T/shim"
run_ref ref "$FT" --dir "$T/ref" "${ARGS[@]}"
assert_eq 0 "$RC" "exit status without the shim (stderr: $(cat "$T/ref.err"))"
DB="$T/tree.db"

# ticked_with PID MIB: a tick of the process PID that sees its MIB is in the database.
ticked_with() {
    db_has "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                  WHERE pid = $1 AND kind = 'tick' AND rss_kb >= $2 * 1024"
}

# tree_measured DB PID: each of the five processes has a tick that sees its memory. They
# all hold it until the test lets them go, so from the last of those ticks on the run's
# sum holds all five at once. The children write their pid files once their memory is
# resident; the parent is PID, the process started below (env execs it).
tree_measured() {
    local i pid
    ticked_with "$2" 32 || return 1
    for i in 0 1 2; do
        pid="$(cat "$T/shim/child-$i.pid" 2>/dev/null)" || return 1
        ticked_with "$pid" $(((i + 1) * 24)) || return 1
    done
    pid="$(cat "$T/shim/grandchild.pid" 2>/dev/null)" || return 1
    ticked_with "$pid" 16
}

# The tree holds its memory for 600 ms and then until the test has seen each process
# measured with it, which a fixed hold would leave to the speed of the machine. Ticks
# every 100 ms, so that this comes soon.
run_shim_held shim "$DB" "$T/go" tree_measured MEMSWEEP_INTERVAL_MS=100 \
    "$FT" --dir "$T/shim" "${ARGS[@]}" --wait-file "$T/go"
same_run ref shim "ms_forktree under the shim"
for f in child-0.txt child-1.txt child-2.txt grandchild.txt; do
    cmp -s "$T/ref/$f" "$T/shim/$f" ||
        fail "$f differs from the uninstrumented run: '$(cat "$T/ref/$f")' vs '$(cat "$T/shim/$f")'"
done
assert_contains "$T/shim/child-0.txt" "grandchild exit 7" "child 0's report of the grandchild"

note "one row per process, each with its parent"
assert_eq 5 "$(sql "$DB" "SELECT count(*) FROM processes")" "process rows"
assert_eq 1 "$(sql "$DB" "SELECT count(DISTINCT run_id) FROM processes")" "runs of the tree"
assert_eq ok "$(sql "$DB" "SELECT status FROM runs")" "status of the run"
c0="$(cat "$T/shim/child-0.pid")"
parent="$(sql "$DB" "SELECT ppid FROM processes WHERE pid = $c0")"
assert_int "$parent" "the ppid recorded for child 0"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE pid = $parent
                          AND proc_id = (SELECT min(proc_id) FROM processes)")" \
    "child 0's ppid is the pid of the first process recorded (the parent)"

# check_proc PID PPID MIB WHAT: the row of PID has that parent, its own VmHWM (the
# kernel's exact peak of that process alone) of MIB plus at most MIB_TOL, an exit record
# with its end sample, and a tick that sees its memory.
check_proc() {
    local n
    n="$(sql "$DB" "SELECT count(*) FROM processes WHERE pid = $1")"
    assert_eq 1 "$n" "$4: rows with pid $1"
    assert_eq "$2" "$(sql "$DB" "SELECT ppid FROM processes WHERE pid = $1")" "$4: ppid"
    assert_between "$(sql "$DB" "SELECT hwm_kb / 1024.0 FROM processes WHERE pid = $1")" \
        "$3" $(($3 + MIB_TOL)) "$4: hwm_kb (MiB)"
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                              WHERE pid = $1 AND kind = 'end' AND ended_ns IS NOT NULL")" \
        "$4: end sample and exit record"
    # The tree was let go only once each process had such a tick.
    assert_ge "$(sql "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                            WHERE pid = $1 AND kind = 'tick' AND rss_kb >= $3 * 1024")" 1 \
        "$4: tick samples that see its memory"
}
# The parent was started by this shell (env execs it).
check_proc "$parent" $$ 32 "parent"
for i in 0 1 2; do
    check_proc "$(cat "$T/shim/child-$i.pid")" "$parent" $(((i + 1) * 24)) "child $i"
done
check_proc "$(cat "$T/shim/grandchild.pid")" "$c0" 16 "grandchild"

# However many ticks each got, none has more than its life holds, and every one missing
# between written ones is counted in unstored.
check_ticks "$DB" 100 "the tree"

note "the run: all five at once"
run_figures "$DB" >"$T/fig.txt"
line="$(cat "$T/fig.txt")"
assert_eq 5 "$(fig "$line" 7)" "processes in the figures"
# 32 + 24 + 48 + 72 + 16 = 192 MiB held together; each of the five processes may add up
# to MIB_TOL of its own (program, libc, shim).
assert_between "$(fig "$line" 4)" 192 $((192 + 5 * MIB_TOL)) "peak RSS of the run (MiB)"
run_cmd advise "$MS_BIN" advise "$DB"
assert_eq 0 "$RC" "exit status of memsweep advise (stderr: $(cat "$T/advise.err"))"
expected_advisory "$T/fig.txt" "$(mem_total_mb)" >"$T/expected.txt"
check_advisory "$T/expected.txt" "$T/advise.out" "memsweep advise"

pass
