# An installed memsweep finds the installed shim under the prefix's lib directory by itself.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PREFIX="$T/prefix"
run_cmd install cmake --install "$MS_BUILD_DIR" --prefix "$PREFIX"
assert_eq 0 "$RC" "exit status of cmake --install (stderr: $(cat "$T/install.err"))"
[ -x "$PREFIX/bin/memsweep" ] || fail "expected $PREFIX/bin/memsweep"
shim="$(find "$PREFIX" -name libmemsweep.so -type f | head -n 1)"
[ -n "$shim" ] || fail "no libmemsweep.so under $PREFIX"

run_cmd run "$PREFIX/bin/memsweep" run -j 1 -o "$T/out" -- /bin/true
assert_eq 0 "$RC" "exit status of the installed memsweep run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
assert_eq ok "$(sql "$S/memsweep.db" "SELECT status FROM runs")" "run status"
assert_ge "$(sql "$S/memsweep.db" "SELECT count(*) FROM samples")" 1 "samples of /bin/true"

# The worker maps the installed shim, not the build tree's.
run_cmd run2 "$PREFIX/bin/memsweep" run -j 1 -o "$T/out2" -- \
    grep -o '/[^ ]*libmemsweep[^ ]*' /proc/self/maps
assert_eq 0 "$RC" "exit status of the maps run (stderr: $(cat "$T/run2.err"))"
S2="$(sweep_dir_of "$T/out2")"
sort -u $(log_files "$S2" out) >"$T/maps.txt"
assert_eq "$(realpath "$shim")" "$(cat "$T/maps.txt")" "the shim mapped into the worker"

pass
