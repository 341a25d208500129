# Helpers of the spool tests (test_spool_*.sh), sourced after lib.sh: they run programs
# under the shim without the launcher and read the pools it writes with ms_spooldump.

DUMP="$MS_BUILD_DIR/ms_spooldump"
[ -x "$DUMP" ] || fail "ms_spooldump is missing (build the tests/workloads targets)"

# pool_in DIR: prints the one pool file in DIR; false when there is none or several.
pool_in() {
    local f
    f=("$1"/*.msp)
    [ "${#f[@]}" -eq 1 ] && [ -f "${f[0]}" ] || return 1
    echo "${f[0]}"
}

# dump_pool POOL OUT: ms_spooldump POOL into OUT; fails when the pool breaks the format.
dump_pool() {
    "$DUMP" "$1" >"$2" || fail "ms_spooldump $1 found the pool broken:
$(grep '^bad' "$2" | head -5)"
}

# val LINE KEY: the value of KEY=... in a line of ms_spooldump.
val() {
    echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# proc_line DUMPFILE PID: the proc line of that pid (empty when none).
proc_line() {
    grep "^proc .* pid=$2 " "$1" | head -n 1
}

# count_in DUMPFILE PATTERN: lines matching the extended regular expression.
count_in() {
    grep -cE "$2" "$1" || true
}

# dumped_ticks DIR: ticks in the pool of DIR so far (0 while there is none); for wait_for.
dumped_ticks() {
    local p
    p="$(pool_in "$1")" || { echo 0; return; }
    "$DUMP" "$p" 2>/dev/null | grep -c ' kind=tick ' || true
}

# has_ticks DIR N: DIR's pool holds at least N ticks.
has_ticks() {
    [ "$(dumped_ticks "$1")" -ge "$2" ]
}

# mount_tiny_tmpfs: a 256 KiB tmpfs at $T/tiny (root only; skips the test otherwise),
# unmounted when the test ends: a filesystem a pool fills within a few chunks.
mount_tiny_tmpfs() {
    [ "$(id -u)" -eq 0 ] || skip "mounting a tmpfs needs root"
    mkdir "$T/tiny"
    mount -t tmpfs -o size=256k,mode=0700 memsweep-test "$T/tiny" 2>"$T/mount.err" ||
        skip "cannot mount a tmpfs on $T/tiny: $(head -c 200 "$T/mount.err")"
    trap '_cleanup_mount' EXIT
}
# fill_tiny_tmpfs: takes what is left of that filesystem (a file "$T/tiny/filler"), so that
# not even one more page can be written there; unfill_tiny_tmpfs gives it back.
fill_tiny_tmpfs() {
    cat /dev/zero >"$T/tiny/filler" 2>/dev/null || true
}
unfill_tiny_tmpfs() {
    rm -f "$T/tiny/filler"
}
_cleanup_mount() {
    umount "$T/tiny" 2>/dev/null || umount -l "$T/tiny" 2>/dev/null || true
    _cleanup
}
