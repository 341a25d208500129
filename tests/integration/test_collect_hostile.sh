# Hostile pools: garbage bytes, a pool truncated in the middle of a record, a symbolic
# link, a header that lies about its chunks. `memsweep collect` and `memsweep advise` say
# what they could not use in `memsweep:` lines on stderr, never crash, fold what is
# usable, and leave what they cannot read alone.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# These tests fold the spools themselves, when they mean to.
MS_NO_AUTO_COLLECT=1

SW="$MS_BUILD_DIR/ms_spoolwrite"
DB="$T/prog.db"
SPOOL="$DB.spool"
export MEMSWEEP_DB="$DB"
unset MEMSWEEP_SPOOL MEMSWEEP_SPOOL_DIR

"$SW" --samples 30
good="$(find "$SPOOL" -name '*.msp')"
head -c 40000 /dev/urandom >"$SPOOL/garbage.msp"
head -c 100 /dev/zero >"$SPOOL/short.msp"
ln -s "$good" "$SPOOL/link.msp"
# Pools written elsewhere, then damaged into the spool directory.
mkdir -m 0700 "$T/src"
MEMSWEEP_SPOOL_DIR="$T/src" "$SW" --samples 30
src="$(find "$T/src" -name '*.msp')"
# Truncated in the middle of its records: the first chunk's headers are whole, the file
# ends 100 bytes into its records, inside its identity record.
cp "$src" "$SPOOL/cut.msp"
truncate -s $((4096 + 24 + 120 + 100)) "$SPOOL/cut.msp"
# next_chunk (offset 136 of the header) claims 2^62 chunks. (A pool of its own: a copy of
# the same pool would hold the same process keys, which a second run may not take.)
mkdir -m 0700 "$T/src2"
MEMSWEEP_SPOOL_DIR="$T/src2" "$SW" --samples 30
cp "$(find "$T/src2" -name '*.msp')" "$SPOOL/huge.msp"
printf '\x00\x00\x00\x00\x00\x00\x00\x40' |
    dd of="$SPOOL/huge.msp" bs=1 seek=136 conv=notrunc status=none

run_cmd adv "$MS_BIN" advise "$DB"
assert_eq 0 "$RC" "advise with hostile pools (stderr: $(cat "$T/adv.err"))"
assert_contains "$T/adv.err" "memsweep: $SPOOL/garbage.msp: not a memsweep pool (bad magic)" "garbage"
assert_contains "$T/adv.err" "memsweep: $SPOOL/short.msp: not a memsweep pool" "short file"
assert_contains "$T/adv.err" "memsweep: $SPOOL/link.msp: a symbolic link, not a pool" "symlink"
[ ! -e "$DB" ] || fail "advise created the database"

run_cmd collect "$MS_BIN" collect "$DB"
assert_eq 1 "$RC" "collect with pools it cannot read"
assert_contains "$T/collect.err" "memsweep: $SPOOL/garbage.msp: not a memsweep pool (bad magic)" "garbage"
assert_contains "$T/collect.err" "memsweep: $SPOOL/cut.msp: " "the truncated pool is reported"
assert_contains "$T/collect.err" "rejected" "the truncated pool's loss is counted"
assert_empty "$T/collect.out" "stdout"
[ -e "$SPOOL/garbage.msp" ] || fail "an unreadable pool was removed"
[ ! -e "$good" ] || fail "the good pool was kept"
# The good pool's 30 ticks and the huge one's (its chunks are all in the file); none of
# the truncated copy's, whose first record is cut.
assert_eq 60 "$(sql "$DB" "SELECT count(*) FROM samples WHERE kind = 'tick'")" "ticks folded"
assert_ge "$(sql "$DB" "SELECT rejected FROM spool_pools WHERE pool = 'cut.msp'")" 1 \
    "rejections recorded on the truncated pool"
# A pool claiming chunks it does not hold is kept: they might still be written.
[ -e "$SPOOL/huge.msp" ] || fail "the pool with unwritten claimed chunks was removed"
pass
