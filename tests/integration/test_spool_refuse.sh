#!/usr/bin/env bash
# The shim writes its pool only where nobody but the user can reach it. A spool directory
# that others may write to, or that is a symbolic link, and a MEMSWEEP_SPOOL that is not a
# private regular file of the user's, are refused with one line on stderr; the program
# still runs, unmeasured, and exits as it would have.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_spool.sh"

# refused NAME WHAT VAR=VALUE...: runs ms_workload with those variables and the shim;
# it exits 0, prints its output, and stderr holds exactly one "memsweep: ...; not
# measuring" line naming WHAT.
refused() {
    local name="$1" what="$2" rc=0
    shift 2
    env LD_PRELOAD="$MS_SHIM" "$@" "$WL" --mib 1 --print hello >"$T/$name.out" \
        2>"$T/$name.err" || rc=$?
    assert_eq 0 "$rc" "$name: exit status"
    assert_eq hello "$(cat "$T/$name.out")" "$name: stdout"
    assert_eq 1 "$(grep -c . "$T/$name.err" || true)" "$name: lines on stderr"
    grep -q "^memsweep: $what.*; not measuring\$" "$T/$name.err" ||
        fail "$name: unexpected stderr: $(cat "$T/$name.err")"
    note "$name: $(cat "$T/$name.err")"
}

# A spool directory group members may write to.
mkdir -m 0770 "$T/gw"
refused group_writable "$T/gw: group or others" MEMSWEEP_DB="$T/m.db" MEMSWEEP_SPOOL_DIR="$T/gw"
assert_eq "" "$(ls "$T/gw")" "group_writable: files in the refused directory"

# A spool directory that is a symbolic link (to a directory that would be fine).
mkdir -m 0700 "$T/real"
ln -s "$T/real" "$T/link"
refused symlink "$T/link: a symbolic link" MEMSWEEP_DB="$T/m.db" MEMSWEEP_SPOOL_DIR="$T/link"
assert_eq "" "$(ls "$T/real")" "symlink: files behind the link"

# The default "<db>.spool" as a symbolic link.
mkdir "$T/d2"
ln -s "$T/real" "$T/d2/m.db.spool"
refused default_symlink "$T/d2/m.db.spool: a symbolic link" MEMSWEEP_DB="$T/d2/m.db"
assert_eq "" "$(ls "$T/real")" "default_symlink: files behind the link"

# A pool file others may read, and one that is not a pool.
mkdir -m 0700 "$T/ok"
env MEMSWEEP_DB="$T/ok.db" MEMSWEEP_SPOOL_DIR="$T/ok" LD_PRELOAD="$MS_SHIM" true
pool="$(pool_in "$T/ok")" || fail "no pool made in $T/ok"
chmod 0644 "$pool"
refused pool_mode "$pool: group or others" MEMSWEEP_SPOOL="$pool"
chmod 0600 "$pool"
head -c 8192 /dev/zero >"$T/ok/zeros.msp"
chmod 0600 "$T/ok/zeros.msp"
refused not_a_pool "$T/ok/zeros.msp: not a pool" MEMSWEEP_SPOOL="$T/ok/zeros.msp"
refused missing "$T/ok/missing.msp: No such file" MEMSWEEP_SPOOL="$T/ok/missing.msp"
# The pool itself, once its mode is private again, is taken.
env MEMSWEEP_SPOOL="$pool" LD_PRELOAD="$MS_SHIM" true 2>"$T/again.err"
assert_empty "$T/again.err" "a private pool: stderr"
dump_pool "$pool" "$T/d"
assert_eq 2 "$(count_in "$T/d" '^proc ')" "a private pool: processes"
pass
