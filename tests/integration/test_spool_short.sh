#!/usr/bin/env bash
# A short process measured without the launcher, with MEMSWEEP_DB only: the shim creates
# the spool directory "<db>.spool" (mode 0700) and one pool in it, and the process leaves
# one image there with its identity, a START reading and its end. A shell exports the
# pool to its children, which join the same run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_spool.sh"

SLEEP="$(command -v sleep)"
env MEMSWEEP_DB="$T/m.db" LD_PRELOAD="$MS_SHIM" "$SLEEP" 0.01 2>"$T/err" &
pid=$!
rc=0
wait "$pid" || rc=$?
assert_eq 0 "$rc" "sleep: exit status"
assert_empty "$T/err" "sleep: stderr"
[ -d "$T/m.db.spool" ] || fail "no spool directory $T/m.db.spool"
assert_eq 700 "$(stat -c %a "$T/m.db.spool")" "spool directory mode"
pool="$(pool_in "$T/m.db.spool")" || fail "not exactly one pool in $T/m.db.spool"
assert_eq 600 "$(stat -c %a "$pool")" "pool mode"
dump_pool "$pool" "$T/d"
cat "$T/d"
head -n 1 "$T/d" | grep -q '^pool ' || fail "no pool line"
assert_eq 0 "$(val "$(head -n 1 "$T/d")" flags)" "pool flags (unwatched)"
assert_eq 1 "$(count_in "$T/d" '^proc ')" "processes"
line="$(proc_line "$T/d" "$pid")"
[ -n "$line" ] || fail "no process with pid $pid"
assert_eq "$(readlink -f "$SLEEP")" "$(echo "$line" | sed -n 's/.* exe=\(.*\) cmdline=.*/\1/p')" "exe"
[[ "$line" == *" cmdline=$SLEEP 0.01" ]] || fail "cmdline: $line"
assert_eq 2 "$(val "$line" end_state)" "end_state (DONE)"
assert_eq 1 "$(val "$line" flags)" "process flags (self-sampled)"
assert_eq 0 "$(val "$line" unstored)" "unstored"
[ "$(val "$line" end_hwm_kb)" -gt 0 ] || fail "end_hwm_kb not positive: $line"
[ "$(val "$line" end_rss_kb)" -gt 0 ] || fail "end_rss_kb not positive: $line"
[ "$(val "$line" end_hwm_kb)" -ge "$(val "$line" end_rss_kb)" ] || fail "VmHWM below VmRSS"
[ "$(val "$line" start_ticks)" -gt 0 ] || fail "start_ticks not positive"
assert_eq "$(stat -L -c %i /proc/self/ns/pid)" "$(val "$line" pidns)" "pid namespace inode"
assert_eq 1 "$(count_in "$T/d" ' kind=start ')" "START samples"
start="$(grep ' kind=start ' "$T/d")"
[ "$(val "$start" rss_kb)" -gt 0 ] || fail "START without RSS: $start"
[ "$(val "$line" end_t_ns)" -ge "$(val "$start" t_ns)" ] || fail "end before start"

# The command line is the one the kernel gives in /proc/<pid>/cmdline (arguments joined by
# spaces, trailing NULs dropped), here with a space inside an argument and an empty one.
mkdir "$T/args"
env MEMSWEEP_DB="$T/args/m.db" LD_PRELOAD="$MS_SHIM" sh -c \
    'tr "\0" " " </proc/$$/cmdline' 'x  y' '' z >"$T/args.out" &
apid=$!
wait "$apid" || fail "sh (args): exit status $?"
dump_pool "$(pool_in "$T/args/m.db.spool")" "$T/args.d"
line="$(proc_line "$T/args.d" "$apid")"
assert_eq "$(sed 's/ *$//' "$T/args.out")" "${line#* cmdline=}" "cmdline as /proc/<pid>/cmdline has it"

# A program that writes a longer title over its arguments (Perl's $0, as postgres and nginx
# do) and then forks: the child, recorded at its first allocation, has the command line
# /proc gives it then, not the bytes the arguments had.
mkdir "$T/title"
env MEMSWEEP_DB="$T/title/m.db" LD_PRELOAD="$MS_SHIM" perl -e '
    $0 = "worker: a title longer than the command line it replaces";
    if (fork() == 0) {
        open(my $f, "<", "/proc/self/cmdline") or die; local $/; my $c = <$f>;
        $c =~ tr/\0/ /; $c =~ s/ +$//; print "$$ $c\n"; my $x = "y" x 100000; exit 0;
    }
    wait;' >"$T/title.out"
dump_pool "$(pool_in "$T/title/m.db.spool")" "$T/title.d"
read -r cpid ctitle <"$T/title.out"
line="$(proc_line "$T/title.d" "$cpid")"
[ -n "$line" ] || fail "no record of the retitled program's child (pid $cpid)"
assert_eq "$ctitle" "${line#* cmdline=}" "the child's command line after the title was written"

# A shell and its child: the pool's path is exported, and the child joins the same pool.
mkdir "$T/sh"
env MEMSWEEP_DB="$T/sh/m.db" LD_PRELOAD="$MS_SHIM" sh -c \
    'echo "$MEMSWEEP_SPOOL"; "$0" 0; exit 0' "$SLEEP" >"$T/sh.out" &
shpid=$!
wait "$shpid" || fail "sh: exit status $?"
pool="$(pool_in "$T/sh/m.db.spool")" || fail "not exactly one pool for the shell and its child"
assert_eq "$pool" "$(cat "$T/sh.out")" "MEMSWEEP_SPOOL exported to the program"
dump_pool "$pool" "$T/sh.d"
assert_eq 2 "$(count_in "$T/sh.d" '^proc ')" "processes of sh and its child"
child="$(grep '^proc ' "$T/sh.d" | grep -v " pid=$shpid " || true)"
assert_eq "$shpid" "$(val "$child" ppid)" "the child's ppid"
assert_eq 2 "$(val "$child" end_state)" "the child's end_state"
pass
