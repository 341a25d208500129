# Runs the shim cannot enter: the dynamic loader ignores LD_PRELOAD for a statically linked
# program, and for a setuid program of another owner (secure mode). Such runs still run
# and keep their status, and runs.uninstrumented says why they have no process row;
# measured runs keep it NULL; memsweep prints one warning line for the lot. A setuid
# program of the user memsweep runs as is not in secure mode, and is measured.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

STATIC="$MS_BUILD_DIR/ms_workload_static"

# warning_lines FILE: the lines of FILE that are memsweep warnings.
warning_lines() {
    grep '^memsweep: warning:' "$1" || true
}

# check_excluded ADVISE_OUT N WHAT: the analyzer's line about runs it left out, when this
# analyzer prints one.
check_excluded() {
    if grep -q '^Excluded:' "$1"; then
        assert_eq 1 "$(grep -c '^Excluded:' "$1")" "$3: Excluded lines"
        assert_contains "$1" "Excluded: $2 run$([ "$2" = 1 ] || echo s) not measured" \
            "$3: Excluded line"
    else
        note "$3: this analyzer prints no Excluded line; not checked"
    fi
}

if [ -x "$STATIC" ]; then
    note "statically linked runs among measured ones"
    readelf -l "$STATIC" | grep -q INTERP && fail "$STATIC has a PT_INTERP: it is not static"
    run_cmd static "$MS_BIN" run -j 2 -o "$T/static" -P "prog=$WL,$STATIC" -P i=1,2 -- \
        '{prog}' --mib 4 --hold-ms 100 --print 'run {run}'
    assert_eq 0 "$RC" "exit status (the runs succeeded; stderr: $(cat "$T/static.err"))"
    S="$(sweep_dir_of "$T/static")"
    DB="$S/memsweep.db"
    sql "$DB" "SELECT seq, status, COALESCE(uninstrumented, 'NULL'),
                      (SELECT count(*) FROM processes p WHERE p.run_id = r.run_id)
               FROM runs r ORDER BY seq" >"$T/static.runs"
    printf '%s\n' "1|ok|NULL|1" "2|ok|NULL|1" \
        "3|ok|statically linked: $STATIC|0" "4|ok|statically linked: $STATIC|0" \
        >"$T/static.expected"
    diff -u "$T/static.expected" "$T/static.runs" >&2 ||
        fail "runs: seq, status, uninstrumented, process rows (diff above)"
    # The unmeasured runs ran all the same: their output is in their logs.
    assert_eq "run 3" "$(cat "$S/logs/run-0003.out")" "stdout of run 3"
    warning_lines "$T/static.err" >"$T/static.warn"
    assert_eq 1 "$(wc -l <"$T/static.warn")" "warning lines"
    assert_eq "memsweep: warning: 2 runs were not measured (statically linked: $STATIC); the advisory leaves them out" \
        "$(cat "$T/static.warn")" "the warning"
    run_cmd static_advise "$MS_BIN" advise "$S"
    assert_eq 0 "$RC" "exit status of memsweep advise"
    assert_eq 4 "$(post_field "$T/static_advise.out" RunsTotal)" "RunsTotal"
    assert_eq 2 "$(post_field "$T/static_advise.out" RunsIncluded)" "RunsIncluded"
    check_excluded "$T/static_advise.out" 2 "advise on the static sweep"

    note "a shell line that runs a static program: the shell is measured, the program not"
    # A second command keeps any shell from replacing itself with the program.
    printf '%s\n' "$STATIC --mib 32 --hold-ms 300; true" >"$T/cmds.txt"
    run_cmd cmds "$MS_BIN" run -o "$T/cmds" --commands "$T/cmds.txt"
    assert_eq 0 "$RC" "exit status of the commands sweep (stderr: $(cat "$T/cmds.err"))"
    DB="$(sweep_dir_of "$T/cmds")/memsweep.db"
    # The run has the shell's row, so it counts as measured, with the shell's memory only
    # (docs/usage.md says so): nothing of the 32 MiB the program touched is recorded.
    assert_eq "NULL" "$(sql "$DB" "SELECT COALESCE(uninstrumented, 'NULL') FROM runs")" \
        "uninstrumented of the shell's run"
    assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM processes WHERE exe = '$STATIC'")" \
        "process rows of the static program"
    assert_ge "$(sql "$DB" "SELECT count(*) FROM processes")" 1 "process rows (the shell's)"
    assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM processes WHERE hwm_kb >= 32 * 1024")" \
        "process rows with the 32 MiB the program touched"
    assert_eq "" "$(warning_lines "$T/cmds.err")" "warnings of the commands sweep"
else
    skip_part_missing libc6-dev "the static part: $STATIC was not built (no static C library)"
fi

note "a program that cannot be executed, named by a parameter"
# A COMMAND without a placeholder is checked before the sweep starts (test_refuse.sh); one
# that a parameter names is known only when its run starts.
run_cmd missing "$MS_BIN" run -o "$T/missing" -P "prog=memsweep-no-such-program-$$" -- '{prog}'
assert_eq 1 "$RC" "exit status (the run failed)"
DB="$(sweep_dir_of "$T/missing")/memsweep.db"
assert_eq "failed|127|cannot be executed: memsweep-no-such-program-$$: No such file or directory" \
    "$(sql "$DB" "SELECT status, exit_code, uninstrumented FROM runs")" "the run"
assert_eq "memsweep: warning: 1 run was not measured (cannot be executed: memsweep-no-such-program-$$: No such file or directory); the advisory leaves it out" \
    "$(warning_lines "$T/missing.err")" "the warning"

if [ "$(id -u)" != 0 ]; then
    skip_part "the setuid part: it needs root to give a program to another owner"
elif findmnt -n -o OPTIONS -T "$T" | tr ',' '\n' | grep -qx nosuid; then
    skip_part "the setuid part: $T is on a nosuid mount, where set-id bits do nothing"
elif ! nobody_uid="$(id -u nobody 2>/dev/null)"; then
    skip_part "the setuid part: there is no user nobody"
else
    note "setuid: owned by nobody (secure mode) and owned by root (not secure for root)"
    mkdir "$T/bin"
    cp "$WL" "$T/bin/wl_nobody"
    cp "$WL" "$T/bin/wl_root"
    chown nobody "$T/bin/wl_nobody"
    chmod 4755 "$T/bin/wl_nobody" "$T/bin/wl_root"
    run_cmd suid "$MS_BIN" run -j 2 -o "$T/suid" -P "prog=$T/bin/wl_nobody,$T/bin/wl_root" -- \
        '{prog}' --mib 4 --hold-ms 100 --print 'run {run}'
    assert_eq 0 "$RC" "exit status (stderr: $(cat "$T/suid.err"))"
    S="$(sweep_dir_of "$T/suid")"
    DB="$S/memsweep.db"
    sql "$DB" "SELECT seq, status, COALESCE(uninstrumented, 'NULL'),
                      (SELECT count(*) FROM processes p WHERE p.run_id = r.run_id)
               FROM runs r ORDER BY seq" >"$T/suid.runs"
    printf '%s\n' "1|ok|setuid: $T/bin/wl_nobody (owned by uid $nobody_uid)|0" "2|ok|NULL|1" \
        >"$T/suid.expected"
    diff -u "$T/suid.expected" "$T/suid.runs" >&2 ||
        fail "runs: seq, status, uninstrumented, process rows (diff above)"
    assert_eq "run 1" "$(cat "$S/logs/run-0001.out")" "stdout of the setuid run"
    assert_eq "memsweep: warning: 1 run was not measured (setuid: $T/bin/wl_nobody (owned by uid $nobody_uid)); the advisory leaves it out" \
        "$(warning_lines "$T/suid.err")" "the warning"
    run_cmd suid_advise "$MS_BIN" advise "$S"
    assert_eq 0 "$RC" "exit status of memsweep advise"
    assert_eq 1 "$(post_field "$T/suid_advise.out" RunsIncluded)" "RunsIncluded"
    check_excluded "$T/suid_advise.out" 1 "advise on the setuid sweep"
fi

pass
