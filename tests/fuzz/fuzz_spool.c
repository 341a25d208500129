/*
 * libFuzzer harness of the spool reader and fold (store/spool_read.c, store/spool_fold.c):
 * an input is a pool file. It is opened from a memory file as memsweep opens a pool,
 * scanned, every chunk's records parsed, and the whole pool folded into a fresh in-memory
 * database, twice: the second fold must add no row (the fold is idempotent whatever the
 * input). Besides the sanitizers, the harness checks that every chunk's readable bytes lie
 * within what it committed and that a record handed out lies within its chunk.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "spool_fold.h"
#include "spool_read.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char buf[MS_SPOOL_CHUNK_MAX];

typedef struct limits {
    uint32_t end;
} limits_t;

static int check_record(void *arg, const ms_spool_record_t *r)
{
    const limits_t *l = arg;

    if (r->offset + r->bytes > l->end || r->bytes < 8 || r->bytes % 8 != 0)
        abort();
    return 0;
}

static long long count_rows(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    long long n = -1;

    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT count(*) FROM samples) + (SELECT count(*) FROM processes)"
                           " + (SELECT count(*) FROM stacks) + (SELECT count(*) FROM runs)",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void fold(sqlite3 *db, ms_spool_t *sp)
{
    ms_fold_t *f = NULL;
    ms_fold_stats_t st;
    char err[256];

    if (ms_fold_open(db, "fuzz.db", 0, &f, err, sizeof err) != 0)
        abort();
    if (ms_fold_begin(f, err, sizeof err) == 0) {
        if (ms_fold_pool(f, sp, &st, err, sizeof err) == 0)
            (void)ms_fold_commit(f, err, sizeof err);
        else
            ms_fold_rollback(f);
    }
    ms_fold_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_spool_t *sp = NULL;
    sqlite3 *db = NULL;
    char err[256];
    int fd = memfd_create("pool", MFD_CLOEXEC);
    long long rows;

    if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size))
        abort();
    if (ms_spool_open_fd(fd, "/fuzz/pool.msp", &sp, err, sizeof err) != 0)
        return 0;
    for (size_t i = 0; i < sp->n_chunks; i++) {
        const ms_spool_chunk_info_t *c = &sp->chunks[i];
        limits_t l = {c->readable};
        ms_spool_parse_result_t res;
        if (c->readable > c->committed || c->committed > sp->hdr.chunk_bytes)
            abort();
        (void)ms_spool_read_chunk(sp, c, 0, buf, check_record, &l, &res);
    }
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        ms_store_create_schema(db, "fuzz.db", err, sizeof err) != 0)
        abort();
    fold(db, sp);
    rows = count_rows(db);
    if (ms_spool_scan(sp, err, sizeof err) == 0)
        fold(db, sp);
    if (count_rows(db) != rows)
        abort();
    sqlite3_close(db);
    ms_spool_close(sp);
    return 0;
}
