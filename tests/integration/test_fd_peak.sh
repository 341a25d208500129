# The stack of a new peak is captured in the program's own thread, inside its malloc or
# free. A program that closed the descriptors it did not open and reopened its own files
# on those numbers must find its input unread and its output holding only its own bytes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

printf 'abc\n' >"$T/in"
# No wait before the close: the shim can capture a stack from its first sample on, and
# the peak's sample is the release of the program's 300 MiB, taken inside its free().
env MEMSWEEP_DB="$T/p.db" LD_PRELOAD="$MS_SHIM" \
    "$MS_BUILD_DIR/ms_fdpeak" "$T/in" "$T/out" 0 >"$T/stdout" 2>"$T/stderr"
note "$(cat "$T/stdout")"
assert_empty "$T/stderr" "stderr of the program"
assert_eq "in 3 out 4 read 1 'a' out_size 3" "$(cat "$T/stdout")" \
    "the program's descriptors, its first input byte and its output size"
assert_eq "ok" "$(cat "$T/out")" "the program's output file"
# The peak did get its stack, so the capture really ran in the program's thread.
assert_ge "$(sql "$T/p.db" "SELECT count(*) FROM samples WHERE stack_id IS NOT NULL")" 1 \
    "allocation-driven samples with a stack"

pass
