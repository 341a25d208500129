# Spools of programs measured without the launcher (tests/workloads/ms_spoolwrite writes
# them as the shim does): `memsweep advise` reads them in place, without writing anything;
# `memsweep collect` folds them into a new database that then gives the same advisory and
# peaks, removes them, and leaves one self-contained file; collecting again changes nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# These tests fold the spools themselves, when they mean to.
MS_NO_AUTO_COLLECT=1

SW="$MS_BUILD_DIR/ms_spoolwrite"
DB="$T/prog.db"
export MEMSWEEP_DB="$DB"
unset MEMSWEEP_SPOOL MEMSWEEP_SPOOL_DIR

"$SW" --samples 40 --allocs 4 --note "stopped measuring: test" --children 2
"$SW" --samples 10 --rss 30000
SPOOL="$DB.spool"
[ -d "$SPOOL" ] || fail "no spool directory $SPOOL"
assert_eq 2 "$(find "$SPOOL" -name '*.msp' | wc -l)" "pools written"

note "readers read pending spools in place and write nothing"
before="$(ls -l --time-style=full-iso "$SPOOL")"
run_cmd adv_pending "$MS_BIN" advise "$DB"
assert_eq 0 "$RC" "advise on pending spools (stderr: $(cat "$T/adv_pending.err"))"
run_cmd peaks_pending "$MS_BIN" peaks --json "$DB"
assert_eq 0 "$RC" "peaks on pending spools (stderr: $(cat "$T/peaks_pending.err"))"
[ ! -e "$DB" ] || fail "a reader created the database"
assert_eq "$before" "$(ls -l --time-style=full-iso "$SPOOL")" "spool directory after reading"
assert_contains "$T/adv_pending.out" "Runs:" "advisory of pending spools"

note "collect folds, removes the spools and leaves one file"
run_cmd collect "$MS_BIN" collect "$DB"
assert_eq 0 "$RC" "collect (stderr: $(cat "$T/collect.err"))"
assert_empty "$T/collect.out" "collect's stdout"
[ ! -e "$SPOOL" ] || fail "spool directory left after collect: $(ls -la "$SPOOL")"
assert_eq delete "$(sql "$DB" 'PRAGMA journal_mode')" "journal mode after collect"
[ ! -e "$DB-wal" ] || fail "a WAL file is left"
assert_eq "$(schema_version)" "$(sql "$DB" 'PRAGMA user_version')" "schema version"
assert_eq 2 "$(sql "$DB" 'SELECT count(*) FROM runs')" "runs of their own"
assert_eq "shim" "$(sql "$DB" 'SELECT origin FROM sweeps')" "sweep origin"
assert_eq 4 "$(sql "$DB" 'SELECT count(*) FROM processes')" "process images (2 roots, 2 children)"
assert_eq 4 "$(sql "$DB" "SELECT count(*) FROM processes WHERE ended_ns IS NOT NULL")" "ends"
assert_eq 4 "$(sql "$DB" "SELECT count(*) FROM samples WHERE kind = 'end'")" "end samples"
assert_eq 2 "$(sql "$DB" "SELECT count(*) FROM runs WHERE status = 'ok' AND finished_ns IS NOT NULL")" \
    "runs finished with their root"
assert_eq "stopped measuring: test" "$(sql "$DB" 'SELECT note FROM processes WHERE note IS NOT NULL')" "note"
assert_eq 1 "$(sql "$DB" 'SELECT count(*) FROM stacks')" "stacks"
assert_eq 1 "$(sql "$DB" 'SELECT count(*) FROM samples WHERE stack_id IS NOT NULL')" "samples with a stack"
# 40 + 10 ticks of the roots, 3 of each child; a start each; 4 allocation samples.
assert_eq 56 "$(sql "$DB" "SELECT count(*) FROM samples WHERE kind = 'tick'")" "ticks"
assert_eq 4 "$(sql "$DB" "SELECT count(*) FROM samples WHERE kind = 'start'")" "starts"
assert_eq 2 "$(sql "$DB" "SELECT count(*) FROM processes WHERE ppid IN (SELECT pid FROM processes)")" \
    "children point to their parent"

run_cmd adv_after "$MS_BIN" advise "$DB"
assert_eq 0 "$RC" "advise after collect"
diff "$T/adv_pending.out" "$T/adv_after.out" >/dev/null ||
    fail "advise differs after collect: $(diff "$T/adv_pending.out" "$T/adv_after.out")"
run_cmd peaks_after "$MS_BIN" peaks --json "$DB"
diff "$T/peaks_pending.out" "$T/peaks_after.out" >/dev/null ||
    fail "peaks differ after collect: $(diff "$T/peaks_pending.out" "$T/peaks_after.out")"

note "collecting again changes nothing"
counts() {
    sql "$DB" "SELECT (SELECT count(*) FROM samples), (SELECT count(*) FROM processes),
                      (SELECT count(*) FROM runs), (SELECT count(*) FROM stacks)"
}
c1="$(counts)"
run_cmd collect2 "$MS_BIN" collect "$DB"
assert_eq 0 "$RC" "second collect"
assert_eq "$c1" "$(counts)" "rows after a second collect"

note "usage errors"
run_cmd usage "$MS_BIN" collect
assert_eq 2 "$RC" "collect without PATH"
assert_contains "$T/usage.err" "memsweep: missing PATH" "message"
assert_contains "$T/usage.err" "Try 'memsweep collect --help'." "hint"
run_cmd usage2 "$MS_BIN" collect "$DB" extra
assert_eq 2 "$RC" "collect with two operands"
run_cmd nothing "$MS_BIN" collect "$T/none.db"
assert_eq 1 "$RC" "collect without a database or spools"
assert_contains "$T/nothing.err" "memsweep: $T/none.db: no such database" "message"
[ ! -e "$T/none.db" ] || fail "collect created a database from nothing"
pass
