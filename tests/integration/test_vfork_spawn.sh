# Children that share the parent's memory until they exec or exit: glibc's posix_spawn
# (clone with CLONE_VM | CLONE_VFORK, with a file action redirecting the child's stdout),
# vfork() called by the program followed by execve, by _exit, and by a failed execve, and
# a posix_spawn of a missing program. The children run as without the shim, the two
# exec'd images are recorded as children of the parent, nothing is recorded for the
# children that never exec'd, and the parent's own figures are untouched.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SP="$MS_BUILD_DIR/ms_spawn"
need_exe "$SP"

mkdir "$T/ref" "$T/shim"
CHILD=("$WL" --mib 24 --hold-ms 400)
run_ref ref "$SP" --dir "$T/ref" --mib 40 "${CHILD[@]}"
assert_eq 0 "$RC" "exit status without the shim (stderr: $(cat "$T/ref.err"))"
# The expected lines, so that a broken reference run cannot make the comparison pass.
assert_eq "posix_spawn: exit 0
vfork-exec
vfork-exec: exit 0
vfork-exit: exit 5
vfork-fail: exit 127
spawn-fail: No such file or directory
parent: 40 MiB intact" "$(cat "$T/ref.out")" "stdout without the shim"
assert_eq posix_spawn "$(cat "$T/ref/posix_spawn.out")" "posix_spawn child's redirected stdout"

DB="$T/spawn.db"
run_shim shim "$DB" MEMSWEEP_INTERVAL_MS=100 "$SP" --dir "$T/shim" --mib 40 "${CHILD[@]}"
same_run ref shim "ms_spawn under the shim"
cmp -s "$T/ref/posix_spawn.out" "$T/shim/posix_spawn.out" ||
    fail "posix_spawn child's redirected stdout: '$(cat "$T/shim/posix_spawn.out")'"

note "the parent and the two exec'd images, nothing else"
parent="$(sql "$DB" "SELECT pid FROM processes WHERE exe LIKE '%/ms_spawn'")"
assert_int "$parent" "pid of the single ms_spawn row"
assert_eq 3 "$(sql "$DB" "SELECT count(*) FROM processes")" \
    "process rows (no row for the vfork children that _exit without exec)"
for how in posix_spawn vfork-exec; do
    w="cmdline LIKE '%/ms_workload % --print $how'"
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE $w")" "rows of the $how child"
    assert_eq "$parent" "$(sql "$DB" "SELECT ppid FROM processes WHERE $w")" "ppid of the $how child"
    assert_between "$(sql "$DB" "SELECT hwm_kb / 1024.0 FROM processes WHERE $w")" \
        24 $((24 + MIB_TOL)) "hwm_kb of the $how child (MiB)"
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                              WHERE $w AND kind = 'end'")" "end samples of the $how child"
done

note "the parent's own figures"
P="pid = $parent AND exe LIKE '%/ms_spawn'"
assert_between "$(sql "$DB" "SELECT hwm_kb / 1024.0 FROM processes WHERE $P")" \
    40 $((40 + MIB_TOL)) "hwm_kb of the parent (MiB)"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                          WHERE $P AND kind = 'end' AND ended_ns IS NOT NULL")" \
    "the parent's end sample and exit record"
# The parent's live heap is its 40 MiB block and stdio's buffers: a vfork child runs the
# hooks on the parent's memory, and anything it counted there would show here.
assert_between "$(sql "$DB" "SELECT max(heap_kb) / 1024.0 FROM samples JOIN processes USING (proc_id)
                             WHERE $P")" 40 $((40 + MIB_TOL)) "the parent's largest heap_kb (MiB)"
assert_eq "" "$(sql "$DB" "SELECT note FROM processes WHERE note IS NOT NULL")" "notes on the rows"
check_heap_sane "$DB" "ms_spawn"
check_drops "$DB" "ms_spawn"

pass
