# A program that uses the system's SQLite on a database of its own while the shim samples
# it every 20 ms: in WAL mode and in rollback-journal mode, many transactions, a second
# connection checking every commit. Halfway through, with both connections open, the
# program waits until a tick of the shim's is recorded. The program's output and its
# database are exactly those of the uninstrumented run (same dump, integrity ok, every
# row there), and the shim's samples are all recorded: start, end, and ticks whose every
# gap is counted as not stored. The shim links no SQLite at all (it writes a spool, and
# memsweep alone writes the database): none is loaded with it, none is inside it, and it
# neither exports nor needs a SQLite symbol, so the program's SQLite is the only one in
# the process.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SQ="$MS_BUILD_DIR/ms_sqlite"
need_exe "$SQ"

# sqlite_ticked DB PID: a tick of ms_sqlite is in the shim's database DB. The file is looked
# at only once it has content, so that the sqlite3 shell never creates it before the shim.
sqlite_ticked() {
    db_has "$1" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                 WHERE p.exe LIKE '%/ms_sqlite' AND s.kind = 'tick'"
}

note "the shim links no SQLite"
nm -D "$MS_SHIM" >"$T/shim.nm" || fail "nm -D $MS_SHIM failed"
[ -s "$T/shim.nm" ] || fail "nm -D $MS_SHIM listed no dynamic symbol"
assert_contains "$T/shim.nm" memsweep_shim_version "the shim's dynamic symbols"
assert_eq 0 "$(grep -ci sqlite "$T/shim.nm" || true)" "SQLite symbols the shim exports or needs"
ldd "$MS_SHIM" >"$T/shim.ldd" || fail "ldd $MS_SHIM failed"
assert_eq 0 "$(grep -ci sqlite "$T/shim.ldd" || true)" "SQLite libraries the shim loads"
# Every SQLite library carries the text of the header of its files: the program's does,
# the shim does not.
SQLITE_LIB="$(ldd "$SQ" | awk '$1 ~ /^libsqlite3\.so/ { print $3 }')"
[ -f "$SQLITE_LIB" ] || fail "no libsqlite3 in 'ldd $SQ': $(ldd "$SQ")"
grep -qaF 'SQLite format 3' "$SQLITE_LIB" || fail "'SQLite format 3' not found in $SQLITE_LIB"
! grep -qaF 'SQLite format 3' "$MS_SHIM" || fail "the shim holds a copy of SQLite"

TXNS=1000
ROWS=20
INTERVAL=20
for journal in wal delete; do
    note "journal_mode=$journal"
    ARGS=(--journal "$journal" --txns "$TXNS" --rows "$ROWS")
    run_ref "ref-$journal" "$SQ" --db "$T/ref-$journal.sqlite" "${ARGS[@]}"
    assert_eq 0 "$RC" "$journal: exit status without the shim (stderr: $(cat "$T/ref-$journal.err"))"
    DB="$T/shim-$journal.db"
    # The program goes on only once the shim has written a tick while the program's
    # database is open (a tick is due 20 ms into the run: a minute is ample).
    run_shim_held "shim-$journal" "$DB" "$T/go-$journal" sqlite_ticked \
        MEMSWEEP_INTERVAL_MS=$INTERVAL \
        "$SQ" --db "$T/prog-$journal.sqlite" "${ARGS[@]}" --wait-file "$T/go-$journal"
    same_run "ref-$journal" "shim-$journal" "$journal: ms_sqlite under the shim"
    assert_contains "$T/shim-$journal.out" "journal_mode: $journal" "$journal: the program's journal mode"
    assert_contains "$T/shim-$journal.out" "integrity_check: ok" "$journal: the program's integrity check"

    note "$journal: the program's database, read by the sqlite3 shell"
    PDB="$T/prog-$journal.sqlite"
    assert_eq ok "$(sql "$PDB" "PRAGMA integrity_check")" "$journal: integrity_check"
    assert_eq "$((TXNS * ROWS))|$TXNS|$ROWS" \
        "$(sql "$PDB" "SELECT count(*), count(DISTINCT txn), max(k) + 1 FROM t")" \
        "$journal: rows, transactions and rows per transaction"
    assert_eq 0 "$(sql "$PDB" "SELECT count(*) FROM t WHERE id <> txn * $ROWS + k + 1")" \
        "$journal: rows out of their place"
    sqlite3 "$T/ref-$journal.sqlite" .dump >"$T/ref-$journal.dump"
    sqlite3 "$PDB" .dump >"$T/prog-$journal.dump"
    cmp -s "$T/ref-$journal.dump" "$T/prog-$journal.dump" ||
        fail "$journal: the program's database differs from the uninstrumented run's"
    # Nothing of the shim's ended up in the program's database, or the other way round.
    assert_eq t "$(sql "$PDB" "SELECT group_concat(name) FROM sqlite_schema WHERE type = 'table'")" \
        "$journal: tables of the program's database"
    assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM sqlite_schema WHERE name = 't'")" \
        "$journal: the program's table in the shim's database"

    note "$journal: the shim's samples"
    P="proc_id = (SELECT proc_id FROM processes WHERE exe LIKE '%/ms_sqlite')"
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE exe LIKE '%/ms_sqlite'")" \
        "$journal: ms_sqlite rows"
    assert_eq "1|1" "$(sql "$DB" "SELECT (SELECT count(*) FROM samples WHERE $P AND kind = 'start'),
                                        (SELECT count(*) FROM samples WHERE $P AND kind = 'end')")" \
        "$journal: start and end samples"
    # A record the shim could not write leaves its reason here. (unstored is not asked to
    # be 0: it also counts the ticks a thread held up by a busy machine did not take in
    # time; check_ticks below holds it to the ticks missing between written ones.)
    assert_eq "" "$(sql "$DB" "SELECT note FROM processes WHERE $P")" "$journal: note on the row"
    # How many ticks the process gets depends on how the machine schedules the sampler;
    # what does not: one was written while the program waited halfway (it was let go only
    # then), none beyond what the process's life holds at 20 ms, and every tick missing
    # between written ones is counted in unstored. A shim held up by the program's SQLite,
    # or recording only at exit, fails the first.
    assert_ge "$(sql "$DB" "SELECT count(*) FROM samples WHERE $P AND kind = 'tick'")" 1 \
        "$journal: tick samples"
    check_ticks "$DB" "$INTERVAL" "$journal" "p.exe LIKE '%/ms_sqlite'"
    check_heap_sane "$DB" "$journal"
done

pass
