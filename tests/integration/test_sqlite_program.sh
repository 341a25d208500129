# A program that uses the system's SQLite on a database of its own while the shim, with
# its private SQLite, writes samples every 20 ms: in WAL mode and in rollback-journal
# mode, many transactions, a second connection checking every commit. The program's
# output and its database are exactly those of the uninstrumented run (same dump,
# integrity ok, every row there), and the shim's samples are all recorded.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SQ="$MS_BUILD_DIR/ms_sqlite"
need_exe "$SQ"

TXNS=1000
ROWS=20
INTERVAL=20
for journal in wal delete; do
    note "journal_mode=$journal"
    ARGS=(--journal "$journal" --txns "$TXNS" --rows "$ROWS")
    run_ref "ref-$journal" "$SQ" --db "$T/ref-$journal.sqlite" "${ARGS[@]}"
    assert_eq 0 "$RC" "$journal: exit status without the shim (stderr: $(cat "$T/ref-$journal.err"))"
    DB="$T/shim-$journal.db"
    run_shim "shim-$journal" "$DB" MEMSWEEP_INTERVAL_MS=$INTERVAL \
        "$SQ" --db "$T/prog-$journal.sqlite" "${ARGS[@]}"
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
    # A write the shim could not make leaves its reason here. (unstored is not checked:
    # it also counts the ticks a thread held up by a busy machine did not take in time.)
    assert_eq "" "$(sql "$DB" "SELECT note FROM processes WHERE $P")" "$journal: note on the row"
    # A tick every 20 ms over the process's life; at least one in eight of them, so that a
    # machine busy enough to hold the sampler up for seven intervals at a time still
    # passes, while a shim that stopped writing (locked out by the program's SQLite) or
    # wrote only at exit does not.
    life_ms="$(sql "$DB" "SELECT (ended_ns - started_ns) / 1000000 FROM processes WHERE $P")"
    ticks="$(sql "$DB" "SELECT count(*) FROM samples WHERE $P AND kind = 'tick'")"
    note "$journal: $ticks ticks in $life_ms ms"
    assert_ge "$ticks" "$((life_ms / INTERVAL / 8))" "$journal: tick samples"
    assert_ge "$ticks" 5 "$journal: tick samples"
    check_heap_sane "$DB" "$journal"
done

pass
