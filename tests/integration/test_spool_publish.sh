#!/usr/bin/env bash
# A pool appears in its spool directory whole (include/memsweep/spoolpub.h): written under
# a name readers do not list ("<name>.msp.new") and then renamed. The program that created
# its pool finds it under its final name and no other file beside it; readers ignore a
# pool still being written, and `memsweep collect` removes one only once it has been left
# for a minute.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
MS_NO_AUTO_COLLECT=1
unset MEMSWEEP_SPOOL MEMSWEEP_SPOOL_DIR

DB="$T/m.db"
env MEMSWEEP_DB="$DB" LD_PRELOAD="$MS_SHIM" sh -c \
    'echo "$MEMSWEEP_SPOOL"; ls -A "$(dirname "$MEMSWEEP_SPOOL")"' >"$T/ls.out"
pool="$(head -n 1 "$T/ls.out")"
[[ "$pool" == "$DB.spool/"*.msp ]] || fail "MEMSWEEP_SPOOL: $pool"
assert_eq "$(basename "$pool")" "$(sed -n 2,\$p "$T/ls.out")" \
    "what the program saw in its spool directory"
[ -s "$pool" ] || fail "the pool is empty"

# A pool being written now, and one left long ago.
printf 'partial' >"$DB.spool/0123456789abcdef.msp.new"
: >"$DB.spool/fedcba9876543210.msp.new"
touch -d '-2 minutes' "$DB.spool/fedcba9876543210.msp.new"

run_cmd adv "$MS_BIN" advise "$DB"
assert_eq 0 "$RC" "advise beside pools being written (stderr: $(cat "$T/adv.err"))"
assert_empty "$T/adv.err" "advise's stderr"
assert_contains "$T/adv.out" "Runs:" "advisory"

run_cmd collect "$MS_BIN" collect "$DB"
assert_eq 0 "$RC" "collect (stderr: $(cat "$T/collect.err"))"
assert_empty "$T/collect.err" "collect's stderr"
[ ! -e "$pool" ] || fail "the folded pool was not removed"
[ ! -e "$DB.spool/fedcba9876543210.msp.new" ] || fail "the abandoned pool was not removed"
[ -e "$DB.spool/0123456789abcdef.msp.new" ] || fail "a pool being written was removed"
assert_eq 1 "$(sql "$DB" 'SELECT count(*) FROM runs')" "runs collected"
pass
