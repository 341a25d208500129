# A signal that arrives while the fork handlers run in a child (another library's child
# handler raises it, before the shim's handler has run) ends the child as itself: the
# shim keeps the child's signals blocked until its own child handler has made the child
# a process of its own, so the handler's _exit records the child's end, never its
# parent's. The parent lives on with its ticks and its own end.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FS="$MS_BUILD_DIR/ms_forksignal"
need_exe "$FS"

run_ref ref "$FS" --mib 64 --hold-ms 1200
run_shim shim "$T/a.db" "$FS" --mib 64 --hold-ms 1200
same_run ref shim "ms_forksignal under the shim"
assert_eq "child 0: exit 7
child 1: exit 7
child 2: exit 7" "$(cat "$T/shim.out")" "how the children ended"
DB="$T/a.db"
P="$(sql "$DB" "SELECT pid FROM processes ORDER BY started_ns LIMIT 1")"
# The parent's row ends last, at its own exit, after its hold; it kept its ticks.
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE pid = $P")" "rows of the parent"
assert_eq 1 "$(sql "$DB" "SELECT ended_ns > (SELECT max(coalesce(ended_ns, 0)) FROM processes
                          WHERE pid <> $P) + 1000000000 FROM processes WHERE pid = $P")" \
    "the parent's end is its own, over a second after its children's"
assert_ge "$(kind_count "$DB" tick "p.pid = $P")" 1 "ticks of the parent after its children ended"
# Each child that recorded itself did so as a child of the parent.
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM processes WHERE pid <> $P AND ppid <> $P")" \
    "children recorded with another parent"
pass
