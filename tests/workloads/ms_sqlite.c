/*
 * ms_sqlite: a program that uses the system's SQLite on a database of its own, for the
 * shim to run beside (the shim carries a private SQLite of its own, and both must keep
 * their own locks, descriptors and memory).
 *
 * It creates DB in --journal wal or delete (rollback) mode and commits --txns
 * transactions, with synchronous=OFF: what matters here is locking, descriptors and
 * memory, not durability, and an fsync on a shared disk takes anything from one to tens
 * of milliseconds, which would make the run's length anyone's guess. Transaction t
 * inserts --rows rows (id, t, k, a payload of 16 to 2063 bytes from a fixed generator);
 * every fifth transaction also rewrites the payloads of the previous transaction's rows
 * at a new size, so pages are freed and reused. A second connection, opened at the
 * start, checks after every commit that it sees exactly the rows committed so far: the
 * highest id, and every row of the last transaction. In WAL mode every 50th transaction
 * is followed by a checkpoint. At the end the program prints the journal mode, the
 * integrity check, the row count, sums and an FNV-1a hash over every row in id order:
 * the whole output depends only on the options. Exit status 0, or 1 with the failing
 * call on stderr. With --wait-file PATH it waits, once half of the transactions have
 * committed and with both connections open, until PATH exists: a test can then see the
 * shim write into its own database while this one is in use, however slowly the machine
 * runs either.
 *
 * Usage: ms_sqlite --db PATH --journal wal|delete [--txns N] [--rows K] [--wait-file PATH]
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "wl_common.h"

#define MAX_PAYLOAD 2063

static sqlite3 *writer, *reader;

static void fail_db(sqlite3 *db, const char *what)
{
    fprintf(stderr, "ms_sqlite: %s: %s\n", what, db != NULL ? sqlite3_errmsg(db) : "?");
    exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "ms_sqlite: %s: %s\n", sql, err != NULL ? err : "?");
        exit(1);
    }
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_db(db, sql);
    return st;
}

/* The one integer a statement returns. */
static int64_t scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = prepare(db, sql);
    int64_t v;

    if (sqlite3_step(st) != SQLITE_ROW)
        fail_db(db, sql);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static uint64_t next_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static void fill_payload(unsigned char *buf, int len, uint64_t *rng)
{
    for (int i = 0; i < len; i++)
        buf[i] = (unsigned char)next_rand(rng);
}

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int main(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_JOURNAL, OPT_TXNS, OPT_ROWS, OPT_WAIT_FILE };
    static const struct option longopts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"journal", required_argument, NULL, OPT_JOURNAL},
        {"txns", required_argument, NULL, OPT_TXNS},
        {"rows", required_argument, NULL, OPT_ROWS},
        {"wait-file", required_argument, NULL, OPT_WAIT_FILE},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *journal = NULL, *wait = NULL;
    long txns = 500, rows = 20;
    unsigned char payload[MAX_PAYLOAD];
    sqlite3_stmt *ins, *upd, *cnt, *all;
    uint64_t rng = 12345, hash = 14695981039346656037ULL;
    char sql[128];
    int c, wal;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == OPT_DB)
            path = optarg;
        else if (c == OPT_JOURNAL)
            journal = optarg;
        else if (c == OPT_WAIT_FILE)
            wait = optarg;
        else if (!((c == OPT_TXNS && parse_long(optarg, 1, 1000000, &txns) == 0) ||
                   (c == OPT_ROWS && parse_long(optarg, 1, 10000, &rows) == 0))) {
            fprintf(stderr, "ms_sqlite: bad option '%s'\n", argv[optind - 1]);
            return 2;
        }
    }
    if (path == NULL || journal == NULL || optind < argc ||
        (strcmp(journal, "wal") != 0 && strcmp(journal, "delete") != 0)) {
        fputs("usage: ms_sqlite --db PATH --journal wal|delete [--txns N] [--rows K]"
              " [--wait-file PATH]\n", stderr);
        return 2;
    }
    wal = strcmp(journal, "wal") == 0;

    if (sqlite3_open(path, &writer) != SQLITE_OK)
        fail_db(writer, path);
    sqlite3_busy_timeout(writer, 10000);
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s", journal);
    exec(writer, sql);
    exec(writer, "PRAGMA synchronous=OFF");
    exec(writer, "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, txn INTEGER NOT NULL,"
                 " k INTEGER NOT NULL, payload BLOB NOT NULL)");
    if (sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fail_db(reader, path);
    sqlite3_busy_timeout(reader, 10000);

    ins = prepare(writer, "INSERT INTO t(txn, k, payload) VALUES(?, ?, ?)");
    upd = prepare(writer, "UPDATE t SET payload = ? WHERE id = ? AND txn = ? AND k = ?");
    cnt = prepare(reader, "SELECT max(id), count(*) FILTER (WHERE id > ?) FROM t"
                          " WHERE id > ? - 1");
    for (long t = 0; t < txns; t++) {
        if (t == txns / 2)
            wait_file(wait);
        exec(writer, "BEGIN IMMEDIATE");
        for (long k = 0; k < rows; k++) {
            const int len = 16 + (int)(next_rand(&rng) % (MAX_PAYLOAD - 15));
            fill_payload(payload, len, &rng);
            sqlite3_bind_int64(ins, 1, t);
            sqlite3_bind_int64(ins, 2, k);
            sqlite3_bind_blob(ins, 3, payload, len, SQLITE_STATIC);
            if (sqlite3_step(ins) != SQLITE_DONE)
                fail_db(writer, "insert");
            sqlite3_reset(ins);
        }
        if (t > 0 && t % 5 == 0) {
            for (long k = 0; k < rows; k++) {
                const int len = 16 + (int)(next_rand(&rng) % (MAX_PAYLOAD - 15));
                fill_payload(payload, len, &rng);
                sqlite3_bind_blob(upd, 1, payload, len, SQLITE_STATIC);
                sqlite3_bind_int64(upd, 2, (t - 1) * rows + k + 1);
                sqlite3_bind_int64(upd, 3, t - 1);
                sqlite3_bind_int64(upd, 4, k);
                if (sqlite3_step(upd) != SQLITE_DONE || sqlite3_changes(writer) != 1)
                    fail_db(writer, "update");
                sqlite3_reset(upd);
            }
        }
        exec(writer, "COMMIT");
        /* Ids are 1, 2, ... in insertion order: nothing is ever deleted. */
        sqlite3_bind_int64(cnt, 1, t * rows);
        sqlite3_bind_int64(cnt, 2, t * rows);
        if (sqlite3_step(cnt) != SQLITE_ROW)
            fail_db(reader, "count");
        if (sqlite3_column_int64(cnt, 0) != (t + 1) * rows ||
            sqlite3_column_int64(cnt, 1) != rows) {
            fprintf(stderr, "ms_sqlite: after commit %ld the reader sees max(id) %lld and %lld"
                            " new rows, not %ld and %ld\n", t,
                    (long long)sqlite3_column_int64(cnt, 0),
                    (long long)sqlite3_column_int64(cnt, 1), (t + 1) * rows, rows);
            return 1;
        }
        sqlite3_reset(cnt);
        if (wal && t % 50 == 49)
            exec(writer, "PRAGMA wal_checkpoint(TRUNCATE)");
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    sqlite3_finalize(cnt);

    all = prepare(writer, "SELECT id, txn, k, payload FROM t ORDER BY id");
    while ((c = sqlite3_step(all)) == SQLITE_ROW) {
        const int64_t v[3] = {sqlite3_column_int64(all, 0), sqlite3_column_int64(all, 1),
                              sqlite3_column_int64(all, 2)};
        hash = fnv(hash, v, sizeof v);
        hash = fnv(hash, sqlite3_column_blob(all, 3), (size_t)sqlite3_column_bytes(all, 3));
    }
    if (c != SQLITE_DONE)
        fail_db(writer, "select");
    sqlite3_finalize(all);
    {
        sqlite3_stmt *st = prepare(writer, "PRAGMA journal_mode");
        if (sqlite3_step(st) != SQLITE_ROW)
            fail_db(writer, "journal_mode");
        printf("journal_mode: %s\n", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        st = prepare(writer, "PRAGMA integrity_check");
        if (sqlite3_step(st) != SQLITE_ROW)
            fail_db(writer, "integrity_check");
        printf("integrity_check: %s\n", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    printf("rows: %" PRId64 "\n", scalar(writer, "SELECT count(*) FROM t"));
    printf("sum(k): %" PRId64 "\n", scalar(writer, "SELECT total(k) FROM t"));
    printf("sum(length(payload)): %" PRId64 "\n",
           scalar(writer, "SELECT sum(length(payload)) FROM t"));
    printf("hash: %016" PRIx64 "\n", hash);
    if (sqlite3_close(reader) != SQLITE_OK)
        fail_db(reader, "close");
    if (sqlite3_close(writer) != SQLITE_OK)
        fail_db(writer, "close");
    return 0;
}
