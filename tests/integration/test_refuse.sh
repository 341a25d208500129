# What `memsweep run` refuses before a sweep starts, so that a sweep that could only run
# unmeasured or fail in every run never runs: a --preload that is not this memsweep's shim
# (a text file, a program, another library, a copy of the shim without its marker or of
# another version), and a program that cannot be started (COMMAND without a placeholder,
# the plain first word of a --commands line). Each refusal is one `memsweep: ...` line,
# exit status 1, nothing on stdout, no command run and no sweep directory; a refusal
# found once the directory exists (a spool directory or a database that cannot be
# created) removes it. What is not refused still runs: the shim itself, shell built-ins
# and functions, a program named by a parameter. A sweep whose every run went unmeasured ends with exit status 1
# and says so.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ran="$T/ran-marker"
OUT="$T/out"
n_case=0

# refused LINE CMD...: CMD exits 1 with exactly LINE on stderr (LINE ending in '*' is
# a prefix), nothing on stdout, the sweep's command never ran, and $OUT holds nothing.
refused() {
    local line="$1" err
    shift
    n_case=$((n_case + 1))
    run_cmd case$n_case "$@"
    err="$T/case$n_case.err"
    note "case $n_case: status $RC: $(head -n 1 "$err")"
    assert_eq 1 "$RC" "case $n_case: exit status (stderr: $(cat "$err"))"
    assert_empty "$T/case$n_case.out" "case $n_case: stdout"
    assert_eq 1 "$(wc -l <"$err")" "case $n_case: stderr lines ($(cat "$err"))"
    if [[ "$line" == *'*' ]]; then
        [[ "$(cat "$err")" == "${line%'*'}"* ]] ||
            fail "case $n_case: expected a line starting '${line%'*'}', got '$(cat "$err")'"
    else
        assert_eq "$line" "$(cat "$err")" "case $n_case: the message"
    fi
    [ ! -e "$ran" ] || fail "case $n_case: the sweep's command ran"
    if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ]; then
        fail "case $n_case: left behind in $OUT: $(ls -A "$OUT")"
    fi
}

# patch_shim SRC DST MODE ARG: a copy of the shim whose marker (the exported
# memsweep_shim_version) is renamed (MODE name: its last letter becomes ARG) or holds
# another version (MODE version: ARG, no longer than the real one). Reads the ELF64
# little-endian tables itself; exits 3 for another kind of file.
patch_shim() {
    python3 - "$@" <<'PY'
import struct, sys
src, dst, mode, arg = sys.argv[1:5]
b = bytearray(open(src, "rb").read())
if b[:4] != b"\x7fELF" or b[4] != 2 or b[5] != 1:
    sys.exit(3)
shoff, = struct.unpack_from("<Q", b, 0x28)
shentsize, shnum = struct.unpack_from("<HH", b, 0x3a)
# (name, type, flags, addr, offset, size, link, info, align, entsize)
secs = [struct.unpack_from("<IIQQQQIIQQ", b, shoff + i * shentsize) for i in range(shnum)]
dynsym = next(s for s in secs if s[1] == 11)
strtab = secs[dynsym[6]]
name = b"memsweep_shim_version"
done = False
for k in range(dynsym[5] // dynsym[9]):
    st_name, _, _, shndx, value, size = struct.unpack_from("<IBBHQQ", b, dynsym[4] + k * dynsym[9])
    at = strtab[4] + st_name
    if b[at:at + len(name) + 1] != name + b"\0" or shndx == 0:
        continue
    if mode == "name":
        b[at + len(name) - 1] = ord(arg)
    else:
        sec = secs[shndx]
        text = arg.encode() + b"\0"
        assert len(text) <= size, "the new version is longer than the marker"
        off = sec[4] + value - sec[3]
        b[off:off + size] = text + b"\0" * (size - len(text))
    done = True
if not done:
    sys.exit(4)
open(dst, "wb").write(b)
PY
}

version="$(sed -n 's/^#define MS_VERSION "\(.*\)"$/\1/p' "$MS_SOURCE_DIR/include/memsweep/version.h")"
[ -n "$version" ] || fail "no MS_VERSION in include/memsweep/version.h"
CMD=(touch "$ran")

note "--preload: what is not this memsweep's shim"
printf 'not a library\n' >"$T/text.so"
refused "memsweep: $T/text.so: not the memsweep shim (not an ELF file)" \
    "$MS_BIN" run -o "$OUT" --preload "$T/text.so" -- "${CMD[@]}"
# An ELF program of the right machine, and a shared library: neither has the marker.
refused "memsweep: $WL: not the memsweep shim (*" \
    "$MS_BIN" run -o "$OUT" --preload "$WL" -- "${CMD[@]}"
libc="$(ldd "$WL" | awk '$1 ~ /^libc\.so/ { print $3 }')"
[ -f "$libc" ] || fail "no libc found in 'ldd $WL': $(ldd "$WL")"
refused "memsweep: $libc: not the memsweep shim (it does not export memsweep_shim_version)" \
    "$MS_BIN" run -o "$OUT" --preload "$libc" -- "${CMD[@]}"
prc=0
patch_shim "$MS_SHIM" "$T/renamed.so" name X || prc=$?
if [ "$prc" = 0 ]; then
    patch_shim "$MS_SHIM" "$T/older.so" version 0.0.1
    # The copies differ from the shim only where the marker is.
    assert_eq 1 "$(cmp -l "$MS_SHIM" "$T/renamed.so" | wc -l)" "bytes changed in the renamed copy"
    refused "memsweep: $T/renamed.so: not the memsweep shim (it does not export memsweep_shim_version)" \
        "$MS_BIN" run -o "$OUT" --preload "$T/renamed.so" -- "${CMD[@]}"
    refused "memsweep: $T/older.so: not the memsweep shim of this version (it is 0.0.1, memsweep is $version)" \
        "$MS_BIN" run -o "$OUT" --preload "$T/older.so" -- "${CMD[@]}"
elif [ "$prc" = 3 ]; then
    skip_part "the patched copies of the shim: it is not an ELF64 little-endian file"
else
    fail "could not patch a copy of the shim (status $prc)"
fi

note "--preload: the shim itself, given by path, is taken"
run_cmd taken "$MS_BIN" run -o "$T/taken" --preload "$MS_SHIM" -- "$WL" --mib 1
assert_eq 0 "$RC" "exit status with --preload of the shim (stderr: $(cat "$T/taken.err"))"
assert_eq 1 "$(post_field "$(sweep_dir_of "$T/taken")/memory_advisory.txt" RunsIncluded)" \
    "RunsIncluded with --preload of the shim"

note "a program that cannot be started"
refused "memsweep: memsweep-no-such-program-$$: command not found in PATH" \
    "$MS_BIN" run -o "$OUT" -P x=1,2 -- "memsweep-no-such-program-$$" '{x}'
refused "memsweep: $T/absent: No such file or directory" \
    "$MS_BIN" run -o "$OUT" -- "$T/absent" --flag
printf '#!/bin/sh\ntouch "%s"\n' "$ran" >"$T/not-executable"
chmod 644 "$T/not-executable"
refused "memsweep: $T/not-executable: Permission denied" \
    "$MS_BIN" run -o "$OUT" -- "$T/not-executable"
# The first plain word of each line is checked; built-ins, functions and words that
# need the shell to be read are not. The fourth line's program does not exist.
printf '%s\n' "echo one" "f() { touch '$ran'; }; f" "cd / && true" \
    "exec memsweep-no-such-program-$$ --flag" "touch '$ran'" >"$T/cmds.txt"
refused "memsweep: $T/cmds.txt: run 4: memsweep-no-such-program-$$: command not found in PATH" \
    "$MS_BIN" run -o "$OUT" --commands "$T/cmds.txt"

note "what cannot be told before a run starts is not refused"
printf '%s\n' "echo one" "f() { '$WL' --mib 1; }; f" "X=1 '$WL' --mib 1" \
    "set -e; '$WL' --mib 1" >"$T/ok-cmds.txt"
run_cmd shell_ok "$MS_BIN" run -o "$T/shell-ok" --commands "$T/ok-cmds.txt"
assert_eq 0 "$RC" "exit status of a --commands sweep of built-ins and functions (stderr: $(cat "$T/shell_ok.err"))"
assert_eq "4|4" "$(sql "$(sweep_dir_of "$T/shell-ok")/memsweep.db" \
    "SELECT count(*), sum(status = 'ok') FROM runs")" "runs and ok runs of the --commands sweep"
run_cmd by_param "$MS_BIN" run -o "$T/by-param" -P "prog=memsweep-no-such-program-$$" -- '{prog}'
assert_eq 1 "$RC" "exit status of a sweep whose program a parameter names"
assert_eq "failed|127" "$(sql "$(sweep_dir_of "$T/by-param")/memsweep.db" \
    "SELECT status, exit_code FROM runs")" "the run whose program a parameter names"

note "a sweep whose every run went unmeasured fails and says so"
STATIC="$MS_BUILD_DIR/ms_workload_static"
if [ -x "$STATIC" ]; then
    run_cmd unmeasured "$MS_BIN" run -o "$T/unmeasured" -P i=1,2 -- "$STATIC" --mib 4 --print 'run {i}'
    assert_eq 1 "$RC" "exit status when no run was measured (stderr: $(cat "$T/unmeasured.err"))"
    assert_eq "memsweep: no run was measured; the advisory has no figures (2 runs left out)" \
        "$(tail -n 1 "$T/unmeasured.err")" "the last line on stderr"
    S="$(sweep_dir_of "$T/unmeasured")"
    # The runs did run, and the advisory was written, with nothing included.
    assert_eq "run 2" "$(cat "$S/logs/run-0002.out")" "stdout of run 2"
    assert_eq "2|2" "$(sql "$S/memsweep.db" "SELECT count(*), sum(status = 'ok') FROM runs")" \
        "runs and ok runs"
    assert_eq 0 "$(post_field "$S/memory_advisory.txt" RunsIncluded)" "RunsIncluded"
    assert_contains "$T/unmeasured.out" "Post-run Observed Advisory" "stdout of the unmeasured sweep"
else
    skip_part_missing libc6-dev "the unmeasured sweep: $STATIC was not built (no static C library)"
fi

note "refused once the sweep directory exists: it is removed"
# A tmpfs with room for N inodes: the mount's root, the sweep directory and its logs
# directory take three. With three the spool directory cannot be created, with four the
# database: either refusal names what could not be made, in one line.
if [ "$(id -u)" != 0 ]; then
    skip_part "the full filesystem: mounting a tmpfs needs root"
else
    _cleanup_mount() {
        local m
        for m in "$T"/mnt*; do
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        done
    }
    trap '_cleanup_mount; _cleanup' EXIT
    for inodes_what in "3 spool" "4 memsweep.db"; do
        read -r inodes what <<<"$inodes_what"
        M="$T/mnt$inodes"
        mkdir "$M"
        if ! mount -t tmpfs -o size=1m,nr_inodes="$inodes" memsweep-test "$M" 2>"$T/mount.err"; then
            skip_part "the full filesystem: cannot mount a tmpfs here ($(head -c 200 "$T/mount.err"))"
            break
        fi
        OUT="$M"
        refused "memsweep: $M/sweep_*" "$MS_BIN" run -o "$M" -- "${CMD[@]}"
        [[ "$(cat "$T/case$n_case.err")" =~ ^memsweep:\ $M/sweep_[0-9]{8}-[0-9]{6}/$what[.:] ]] ||
            fail "case $n_case: the message does not name the sweep's $what: $(cat "$T/case$n_case.err")"
        assert_eq "" "$(find "$M" -mindepth 1)" "what the refused sweep left in $M"
    done
fi

note "$n_case refusals checked"
pass
