/* Folding pools into the database, idempotently (see spool_fold.h). */
#include "spool_fold.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memsweep/defaults.h"
#include "memsweep/procfs.h"
#include "memsweep/schema.h"
#include "clock.h"
#include "errbuf.h"
#include "store.h"

enum {
    S_CURSORS,
    S_CURSOR_SET,
    S_POOL_GET,
    S_POOL_PUT,
    S_POOL_REJECT,
    S_POOL_RUN,
    S_POOL_REMOVED,
    S_RUN_EXISTS,
    S_FIRST_SWEEP,
    S_INSERT_SWEEP,
    S_INSERT_RUN,
    S_FINISH_RUN,
    S_RUN_COMMAND,
    S_SWEEP_ARGV,
    S_PROC_GET,
    S_PROC_INSERT,
    S_PROC_COUNTERS,
    S_PROC_IDENT,
    S_PROC_NOTE,
    S_PROC_END,
    S_SAMPLE,
    S_STACK,
    S_BLOCKS_CLEAR,
    S_BLOCK_READINGS_CLEAR,
    S_BLOCK_READING,
    S_BLOCK,
    S_COUNT
};

static const char *const sql_text[S_COUNT] = {
    [S_CURSORS] = "SELECT chunk, folded, bad FROM spool_chunks WHERE pool = ?1",
    [S_CURSOR_SET] = "INSERT INTO spool_chunks(pool, chunk, folded, bad) VALUES(?1, ?2, ?3, ?4)"
                     " ON CONFLICT(pool, chunk) DO UPDATE SET folded = excluded.folded,"
                     " bad = excluded.bad",
    [S_POOL_GET] = "SELECT run_id FROM spool_pools WHERE pool = ?1",
    [S_POOL_PUT] = "INSERT INTO spool_pools(pool, run_id, host, lost_processes, lost_chunks)"
                   " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(pool) DO UPDATE SET"
                   " lost_processes = excluded.lost_processes,"
                   " lost_chunks = excluded.lost_chunks"
                   " WHERE lost_processes IS NOT excluded.lost_processes"
                   " OR lost_chunks IS NOT excluded.lost_chunks",
    [S_POOL_REJECT] = "UPDATE spool_pools SET rejected = rejected + ?2,"
                      " rejected_reason = coalesce(rejected_reason, ?3) WHERE pool = ?1",
    [S_POOL_RUN] = "UPDATE spool_pools SET run_id = ?2 WHERE pool = ?1 AND run_id IS NOT ?2",
    [S_POOL_REMOVED] = "UPDATE spool_pools SET removed_ns = ?2 WHERE pool = ?1",
    [S_RUN_EXISTS] = "SELECT 1 FROM runs WHERE run_id = ?1",
    [S_FIRST_SWEEP] = "SELECT sweep_id FROM sweeps ORDER BY sweep_id LIMIT 1",
    [S_INSERT_SWEEP] = "INSERT INTO sweeps(started_ns, hostname, mem_total_kb, reserve_mb,"
                       " safety_factor, interval_ms, origin) VALUES(?1, ?2, ?3, ?4, ?5, ?6, '"
                       MS_ORIGIN_SHIM "')",
    [S_INSERT_RUN] = "INSERT INTO runs(sweep_id, seq, command, started_ns, status)"
                     " VALUES(?1, (SELECT coalesce(max(seq), 0) + 1 FROM runs WHERE sweep_id = ?1),"
                     " NULL, ?2, '" MS_STATUS_RUNNING "')",
    [S_FINISH_RUN] = "UPDATE runs SET finished_ns = ?1, status = '" MS_STATUS_OK "'"
                     " WHERE run_id = ?2 AND status = '" MS_STATUS_RUNNING "'",
    [S_RUN_COMMAND] = "UPDATE runs SET command = ?1, label = coalesce(label, ?1)"
                      " WHERE run_id = ?2 AND command IS NULL",
    [S_SWEEP_ARGV] = "UPDATE sweeps SET argv = ?1 WHERE sweep_id ="
                     " (SELECT sweep_id FROM runs WHERE run_id = ?2) AND argv IS NULL"
                     " AND origin = '" MS_ORIGIN_SHIM "'",
    [S_PROC_GET] = "SELECT proc_id, run_id FROM processes WHERE spool_key = ?1",
    [S_PROC_INSERT] = "INSERT INTO processes(run_id, pid, ppid, started_ns, spool_key,"
                      " alloc_tracking, alloc_dropped, alloc_dropped_rate, alloc_dropped_queue,"
                      " unstored) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_PROC_COUNTERS] = "UPDATE processes SET alloc_tracking = ?2, alloc_dropped = ?3,"
                        " alloc_dropped_rate = ?4, alloc_dropped_queue = ?5, unstored = ?6"
                        " WHERE proc_id = ?1 AND (alloc_tracking IS NOT ?2"
                        " OR alloc_dropped_rate IS NOT ?4 OR alloc_dropped_queue IS NOT ?5"
                        " OR unstored IS NOT ?6)",
    [S_PROC_IDENT] = "UPDATE processes SET exe = ?2, cmdline = ?3 WHERE proc_id = ?1",
    [S_PROC_NOTE] = "UPDATE processes SET note = ?2 WHERE proc_id = ?1 AND note IS NULL",
    [S_PROC_END] = "UPDATE processes SET ended_ns = ?2, hwm_kb = ?3, end_rss_kb = ?4"
                   " WHERE proc_id = ?1 AND ended_ns IS NULL",
    [S_SAMPLE] = "INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind, heap_kb, stack_id,"
                 " rss_anon_kb, rss_file_kb, rss_shmem_kb, pss_kb, pss_anon_kb, pss_shmem_kb)"
                 " VALUES(?1, ?2, ?3, ?4, ?5, ?6,"
                 " CASE WHEN ?7 = 0 THEN NULL ELSE (SELECT stack_id FROM stacks WHERE hash = ?7) END,"
                 " ?8, ?9, ?10, ?11, ?12, ?13)",
    [S_STACK] = "INSERT OR IGNORE INTO stacks(hash, depth, frames) VALUES(?1, ?2, ?3)",
    /* An image's blocks are written at its highest readings: the last one is kept. */
    [S_BLOCKS_CLEAR] = "DELETE FROM blocks WHERE proc_id = ?1",
    [S_BLOCK_READINGS_CLEAR] = "DELETE FROM block_readings WHERE proc_id = ?1",
    [S_BLOCK_READING] = "INSERT INTO block_readings(proc_id, t_ns, rss_kb, blocks, untracked)"
                        " VALUES(?1, ?2, ?3, ?4, ?5)",
    [S_BLOCK] = "INSERT INTO blocks(proc_id, t_ns, addr, bytes, resident_kb, stack_id,"
                " allocated_ns) VALUES(?1, ?2, ?3, ?4, ?5,"
                " CASE WHEN ?6 = 0 THEN NULL ELSE (SELECT stack_id FROM stacks WHERE hash = ?6) END,"
                " ?7)",
};

struct ms_fold {
    sqlite3 *db;
    char *name;
    sqlite3_stmt *st[S_COUNT];
    uint64_t batch_rows;
    uint64_t txn_rows;   /* rows written since the transaction began */
    uint64_t fail_after; /* see ms_fold_fail_after; 0: off */
    int in_txn;
    unsigned char *buf;  /* records of one chunk */
    size_t buf_len;
    char *text;          /* a command line with its NULs made spaces */
    /* Images settled (ms_fold_settled): sorted; and those settled by the open transaction. */
    uint64_t *settled;
    size_t n_settled, cap_settled;
    uint64_t *pending;
    size_t n_pending, cap_pending;
};

/* An image is settled once its end is this old (see settle). */
#define SETTLE_AFTER_NS 1000000000LL

/* The cursor of one chunk as the database holds it. */
typedef struct cursor {
    int64_t folded; /* -1: no row */
    int bad;
} cursor_t;

/* What the record callback needs. */
typedef struct fold_ctx {
    ms_fold_t *f;
    int64_t proc_id;
    int64_t run_id;
    int own_root; /* this process is the root of a run of the pool's own */
    int root_process; /* an image of that root's process (see of_root_process) */
    uint64_t rows;
    int rc;
} fold_ctx_t;

static sqlite3_stmt *stmt(ms_fold_t *f, int i)
{
    sqlite3_reset(f->st[i]);
    sqlite3_clear_bindings(f->st[i]);
    return f->st[i];
}

/* Steps a statement, or fails it as a write would when a test asked for that. */
static int step(ms_fold_t *f, sqlite3_stmt *s)
{
    if (f->fail_after > 0 && --f->fail_after == 0) {
        f->fail_after = UINT64_MAX; /* every later statement fails too */
        return SQLITE_IOERR;
    }
    if (f->fail_after == UINT64_MAX)
        return SQLITE_IOERR;
    return sqlite3_step(s);
}

static int fail(ms_fold_t *f, int rc, const char *what, char *err, size_t errlen)
{
    ms_set_err(err, errlen, "%s: %s: %s", f->name, what,
                  rc == SQLITE_IOERR && f->fail_after == UINT64_MAX ? "injected failure"
                                                                    : sqlite3_errmsg(f->db));
    rc = ms_store_errno(rc);
    return rc != 0 ? rc : -EIO;
}

/* Runs a statement that returns no row; counts the rows it changed. */
static int run(ms_fold_t *f, sqlite3_stmt *s, uint64_t *rows)
{
    const int rc = step(f, s);

    if (rc != SQLITE_DONE)
        return rc == SQLITE_ROW ? SQLITE_MISUSE : rc;
    if (rows != NULL) {
        const int n = sqlite3_changes(f->db);
        *rows += n > 0 ? (uint64_t)n : 0;
        f->txn_rows += n > 0 ? (uint64_t)n : 0;
    }
    return SQLITE_OK;
}

void ms_fold_fail_after(ms_fold_t *f, uint64_t n)
{
    f->fail_after = n;
}

int ms_fold_open(sqlite3 *db, const char *name, uint64_t batch_rows, ms_fold_t **out,
                 char *err, size_t errlen)
{
    ms_fold_t *f = calloc(1, sizeof *f);
    int rc;

    *out = NULL;
    if (f == NULL || (f->name = strdup(name)) == NULL) {
        free(f);
        ms_set_err(err, errlen, "%s: %s", name, strerror(ENOMEM));
        return -ENOMEM;
    }
    f->db = db;
    f->batch_rows = batch_rows;
    for (int i = 0; i < S_COUNT; i++) {
        rc = sqlite3_prepare_v3(db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &f->st[i], NULL);
        if (rc != SQLITE_OK) {
            ms_set_err(err, errlen, "%s: cannot prepare the fold: %s", name,
                          sqlite3_errmsg(db));
            ms_fold_close(f);
            return ms_store_errno(rc) != 0 ? ms_store_errno(rc) : -EIO;
        }
    }
    *out = f;
    return 0;
}

void ms_fold_close(ms_fold_t *f)
{
    if (f == NULL)
        return;
    if (f->in_txn)
        ms_fold_rollback(f);
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(f->st[i]);
    free(f->buf);
    free(f->text);
    free(f->name);
    free(f->settled);
    free(f->pending);
    free(f);
}

static int cmp_key(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

int ms_fold_settled(void *arg, uint64_t key)
{
    const ms_fold_t *const f = arg;

    return f->n_settled > 0 &&
           bsearch(&key, f->settled, f->n_settled, sizeof key, cmp_key) != NULL;
}

size_t ms_fold_settle_mark(const ms_fold_t *f)
{
    return f->n_pending;
}

void ms_fold_settle_undo(ms_fold_t *f, size_t mark)
{
    if (mark < f->n_pending)
        f->n_pending = mark;
}

/* The images settled by the transaction just committed join the settled ones. */
static void settle_pending(ms_fold_t *f)
{
    if (f->n_pending == 0)
        return;
    if (f->n_settled + f->n_pending > f->cap_settled) {
        const size_t cap = (f->n_settled + f->n_pending) * 2;
        uint64_t *const s = realloc(f->settled, cap * sizeof *s);
        if (s == NULL) {
            f->n_pending = 0; /* they are folded again: slower, never wrong */
            return;
        }
        f->settled = s;
        f->cap_settled = cap;
    }
    memcpy(f->settled + f->n_settled, f->pending, f->n_pending * sizeof *f->pending);
    f->n_settled += f->n_pending;
    f->n_pending = 0;
    qsort(f->settled, f->n_settled, sizeof *f->settled, cmp_key);
}

int ms_fold_begin(ms_fold_t *f, char *err, size_t errlen)
{
    const int rc = ms_store_exec(f->db, f->name, "BEGIN IMMEDIATE", "cannot start a transaction",
                                 err, errlen);

    if (rc == 0) {
        f->in_txn = 1;
        f->txn_rows = 0;
    }
    return rc;
}

int ms_fold_commit(ms_fold_t *f, char *err, size_t errlen)
{
    int rc;

    if (!f->in_txn)
        return 0;
    if (f->fail_after == UINT64_MAX) {
        ms_fold_rollback(f);
        ms_set_err(err, errlen, "%s: cannot commit: injected failure", f->name);
        return -EIO;
    }
    rc = ms_store_exec(f->db, f->name, "COMMIT", "cannot commit", err, errlen);
    if (rc != 0) {
        ms_fold_rollback(f);
        return rc;
    }
    f->in_txn = 0;
    settle_pending(f);
    return 0;
}

void ms_fold_rollback(ms_fold_t *f)
{
    if (!sqlite3_get_autocommit(f->db))
        (void)sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL);
    f->in_txn = 0;
    f->n_pending = 0;
}

static void stat_reject(ms_fold_stats_t *st, uint64_t n, const char *reason)
{
    st->rejected += n;
    if (st->reason[0] == '\0' && reason != NULL && reason[0] != '\0')
        snprintf(st->reason, sizeof st->reason, "%s", reason);
}

/* The machine's MemTotal, for the sweep of a pool written on this machine; -1 if unknown. */
static int64_t mem_total_kb(void)
{
    char buf[4096];
    unsigned long long kb;
    ssize_t n;
    int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0 || ms_procfs_kb_field(buf, (size_t)n, "MemTotal:", &kb) != 0)
        return -1;
    return (int64_t)kb;
}

/* The process image whose first chunk is the pool's chunk 0: the root of its own run. */
static const ms_spool_proc_info_t *pool_root(const ms_spool_t *sp)
{
    for (size_t i = 0; i < sp->n_procs; i++)
        if (sp->procs[i].have_proc && sp->procs[i].first_chunk == 0)
            return &sp->procs[i];
    return NULL;
}

/*
 * p is an image of the root's process: the root itself, or an image the root's process
 * became by exec (the same pid, start time and pid namespace; an exec keeps all three).
 * The first of them to end is the process's end: an image replaced by exec has none.
 */
static int of_root_process(const ms_spool_t *sp, const ms_spool_proc_info_t *p)
{
    const ms_spool_proc_info_t *const root = pool_root(sp);

    if (root == NULL || !p->have_proc)
        return 0;
    if (p == root)
        return 1;
    return p->proc.pid == root->proc.pid && p->proc.start_ticks != 0 &&
           p->proc.start_ticks == root->proc.start_ticks &&
           p->proc.pidns_ino == root->proc.pidns_ino;
}

/*
 * Finds or makes the run of the pool's processes: the launcher's (run_id in the header),
 * or, for a pool of a run of its own, the runs row made at its first fold (and a sweep
 * with it when the database has none). *run_id 0: not yet (the root is not written).
 */
static int pool_run(ms_fold_t *f, ms_spool_t *sp, ms_fold_stats_t *st, int64_t *run_id,
                    char *err, size_t errlen)
{
    const ms_spool_proc_info_t *root;
    sqlite3_stmt *s;
    int64_t sweep_id = 0;
    int rc;

    *run_id = 0;
    s = stmt(f, S_POOL_GET);
    sqlite3_bind_text(s, 1, sp->name, -1, SQLITE_STATIC);
    rc = step(f, s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *run_id = sqlite3_column_int64(s, 0);
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(f, rc, "cannot read the pools", err, errlen);
    sqlite3_reset(s);

    if (*run_id == 0 && sp->hdr.run_id != 0) {
        s = stmt(f, S_RUN_EXISTS);
        sqlite3_bind_int64(s, 1, sp->hdr.run_id);
        rc = step(f, s);
        sqlite3_reset(s);
        if (rc == SQLITE_DONE) {
            ms_set_err(err, errlen, "%s: run %lld is not in %s: a pool of another sweep",
                          sp->path, (long long)sp->hdr.run_id, f->name);
            return -ESRCH;
        }
        if (rc != SQLITE_ROW)
            return fail(f, rc, "cannot read the runs", err, errlen);
        *run_id = sp->hdr.run_id;
    }
    if (*run_id == 0) {
        root = pool_root(sp);
        if (root == NULL) {
            st->deferred = 1;
            return 0;
        }
        s = stmt(f, S_FIRST_SWEEP);
        rc = step(f, s);
        if (rc == SQLITE_ROW)
            sweep_id = sqlite3_column_int64(s, 0);
        else if (rc != SQLITE_DONE)
            return fail(f, rc, "cannot read the sweeps", err, errlen);
        sqlite3_reset(s);
        if (sweep_id == 0) {
            char host[256];
            const int64_t mem = mem_total_kb();
            s = stmt(f, S_INSERT_SWEEP);
            sqlite3_bind_int64(s, 1, root->proc.started_ns);
            sqlite3_bind_text(s, 2, sp->hdr.host, -1, SQLITE_TRANSIENT);
            /* MemTotal is this machine's: only for a pool written here. */
            if (mem > 0 && gethostname(host, sizeof host) == 0 &&
                strncmp(host, sp->hdr.host, sizeof host) == 0)
                sqlite3_bind_int64(s, 3, mem);
            sqlite3_bind_int64(s, 4, MS_DEFAULT_RESERVE_MB);
            sqlite3_bind_double(s, 5, MS_DEFAULT_SAFETY_FACTOR);
            sqlite3_bind_int64(s, 6, sp->hdr.interval_ms);
            rc = run(f, s, &st->rows);
            if (rc != SQLITE_OK)
                return fail(f, rc, "cannot record the sweep", err, errlen);
            sweep_id = sqlite3_last_insert_rowid(f->db);
        }
        s = stmt(f, S_INSERT_RUN);
        sqlite3_bind_int64(s, 1, sweep_id);
        sqlite3_bind_int64(s, 2, root->proc.started_ns);
        rc = run(f, s, &st->rows);
        if (rc != SQLITE_OK)
            return fail(f, rc, "cannot record the run", err, errlen);
        *run_id = sqlite3_last_insert_rowid(f->db);
    }
    s = stmt(f, S_POOL_PUT);
    sqlite3_bind_text(s, 1, sp->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, *run_id);
    sqlite3_bind_text(s, 3, sp->hdr.host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)(sp->hdr.lost_processes & INT64_MAX));
    sqlite3_bind_int64(s, 5, (sqlite3_int64)(sp->hdr.lost_chunks & INT64_MAX));
    rc = run(f, s, NULL);
    if (rc == SQLITE_OK) {
        s = stmt(f, S_POOL_RUN);
        sqlite3_bind_text(s, 1, sp->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, *run_id);
        rc = run(f, s, NULL);
    }
    return rc == SQLITE_OK ? 0 : fail(f, rc, "cannot record the pool", err, errlen);
}

static int load_cursors(ms_fold_t *f, const ms_spool_t *sp, cursor_t *cur, char *err,
                        size_t errlen)
{
    sqlite3_stmt *s = stmt(f, S_CURSORS);
    int rc;

    for (size_t i = 0; i < sp->n_chunks; i++) {
        cur[i].folded = -1;
        cur[i].bad = 0;
    }
    sqlite3_bind_text(s, 1, sp->name, -1, SQLITE_STATIC);
    while ((rc = step(f, s)) == SQLITE_ROW) {
        const int64_t chunk = sqlite3_column_int64(s, 0);
        if (chunk >= 0 && (uint64_t)chunk < sp->n_chunks) {
            cur[chunk].folded = sqlite3_column_int64(s, 1);
            cur[chunk].bad = sqlite3_column_int(s, 2) != 0;
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : fail(f, rc, "cannot read the fold's cursors", err, errlen);
}

static int set_cursor(ms_fold_t *f, const ms_spool_t *sp, uint64_t chunk, cursor_t *c,
                      int64_t folded, int bad)
{
    sqlite3_stmt *s;

    if (c->folded == folded && c->bad == bad)
        return SQLITE_OK;
    s = stmt(f, S_CURSOR_SET);
    sqlite3_bind_text(s, 1, sp->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)chunk);
    sqlite3_bind_int64(s, 3, folded);
    sqlite3_bind_int(s, 4, bad);
    c->folded = folded;
    c->bad = bad;
    return run(f, s, NULL);
}

static sqlite3_int64 or_null(sqlite3_stmt *s, int col, int64_t v)
{
    if (v < 0)
        sqlite3_bind_null(s, col);
    else
        sqlite3_bind_int64(s, col, v);
    return v;
}

static const char *kind_name(uint32_t kind)
{
    switch (kind) {
    case MS_SPOOL_KIND_START:
        return MS_KIND_START;
    case MS_SPOOL_KIND_TICK:
        return MS_KIND_TICK;
    case MS_SPOOL_KIND_ALLOC:
        return MS_KIND_ALLOC;
    case MS_SPOOL_KIND_GROWTH:
        return MS_KIND_GROWTH;
    case MS_SPOOL_KIND_EXEC:
        return MS_KIND_EXEC;
    default:
        return MS_KIND_RELEASE;
    }
}

/* A command line as the processes row keeps it: arguments separated by spaces. */
static const char *spaced(ms_fold_t *f, const char *text, size_t len, size_t *out_len)
{
    char *t = realloc(f->text, len + 1);

    if (t == NULL)
        return NULL;
    f->text = t;
    memcpy(t, text, len);
    while (len > 0 && t[len - 1] == '\0')
        len--;
    for (size_t i = 0; i < len; i++)
        if (t[i] == '\0')
            t[i] = ' ';
    t[len] = '\0';
    *out_len = len;
    return t;
}

static int on_record(void *arg, const ms_spool_record_t *r)
{
    fold_ctx_t *c = arg;
    ms_fold_t *f = c->f;
    sqlite3_stmt *s;
    int rc = SQLITE_OK;

    switch (r->type) {
    case MS_SPOOL_REC_SAMPLE:
        s = stmt(f, S_SAMPLE);
        sqlite3_bind_int64(s, 1, c->proc_id);
        sqlite3_bind_int64(s, 2, r->u.sample.t_ns);
        sqlite3_bind_int64(s, 3, r->u.sample.rss_kb);
        or_null(s, 4, r->u.sample.hwm_kb);
        sqlite3_bind_text(s, 5, kind_name(r->u.sample.kind), -1, SQLITE_STATIC);
        or_null(s, 6, r->u.sample.heap_kb);
        sqlite3_bind_int64(s, 7, (sqlite3_int64)r->u.sample.stack_hash);
        or_null(s, 8, r->u.sample.anon_kb);
        or_null(s, 9, r->u.sample.file_kb);
        or_null(s, 10, r->u.sample.shmem_kb);
        or_null(s, 11, r->u.sample.pss_kb);
        or_null(s, 12, r->u.sample.pss_anon_kb);
        or_null(s, 13, r->u.sample.pss_shmem_kb);
        rc = run(f, s, &c->rows);
        break;
    case MS_SPOOL_REC_STACK:
        s = stmt(f, S_STACK);
        sqlite3_bind_int64(s, 1, (sqlite3_int64)r->u.stack.hash);
        sqlite3_bind_int64(s, 2, r->u.stack.depth);
        sqlite3_bind_text(s, 3, r->u.stack.text, (int)r->u.stack.len, SQLITE_STATIC);
        rc = run(f, s, &c->rows);
        break;
    case MS_SPOOL_REC_BLOCKS:
        s = stmt(f, S_BLOCKS_CLEAR);
        sqlite3_bind_int64(s, 1, c->proc_id);
        rc = run(f, s, &c->rows);
        if (rc == SQLITE_OK) {
            s = stmt(f, S_BLOCK_READINGS_CLEAR);
            sqlite3_bind_int64(s, 1, c->proc_id);
            rc = run(f, s, &c->rows);
        }
        if (rc == SQLITE_OK) {
            s = stmt(f, S_BLOCK_READING);
            sqlite3_bind_int64(s, 1, c->proc_id);
            sqlite3_bind_int64(s, 2, r->u.blocks.t_ns);
            sqlite3_bind_int64(s, 3, r->u.blocks.rss_kb);
            sqlite3_bind_int64(s, 4, r->u.blocks.count);
            sqlite3_bind_int64(s, 5, r->u.blocks.untracked);
            rc = run(f, s, &c->rows);
        }
        for (uint32_t k = 0; rc == SQLITE_OK && k < r->u.blocks.count; k++) {
            ms_spool_block_t b;
            memcpy(&b, r->u.blocks.list + (size_t)k * sizeof b, sizeof b);
            s = stmt(f, S_BLOCK);
            sqlite3_bind_int64(s, 1, c->proc_id);
            sqlite3_bind_int64(s, 2, r->u.blocks.t_ns);
            sqlite3_bind_int64(s, 3, (sqlite3_int64)b.addr);
            sqlite3_bind_int64(s, 4, (sqlite3_int64)b.bytes);
            or_null(s, 5, b.resident_kb);
            sqlite3_bind_int64(s, 6, (sqlite3_int64)b.stack_hash);
            or_null(s, 7, b.t_ns > 0 ? b.t_ns : -1);
            rc = run(f, s, &c->rows);
        }
        break;
    case MS_SPOOL_REC_NOTE:
        s = stmt(f, S_PROC_NOTE);
        sqlite3_bind_int64(s, 1, c->proc_id);
        sqlite3_bind_text(s, 2, r->u.note.text, (int)r->u.note.len, SQLITE_STATIC);
        rc = run(f, s, &c->rows);
        break;
    case MS_SPOOL_REC_IDENT: {
        size_t len = 0;
        const char *cmd = spaced(f, r->u.ident.cmdline, r->u.ident.cmdline_len, &len);
        if (cmd == NULL) {
            c->rc = -ENOMEM;
            return -ENOMEM;
        }
        s = stmt(f, S_PROC_IDENT);
        sqlite3_bind_int64(s, 1, c->proc_id);
        sqlite3_bind_text(s, 2, r->u.ident.exe, r->u.ident.exe_len, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, cmd, (int)len, SQLITE_STATIC);
        rc = run(f, s, &c->rows);
        if (rc == SQLITE_OK && c->own_root) {
            /* A run of its own: its first process's command line, as command and label. */
            s = stmt(f, S_RUN_COMMAND);
            sqlite3_bind_text(s, 1, cmd, (int)len, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, c->run_id);
            rc = run(f, s, &c->rows);
            if (rc == SQLITE_OK) {
                s = stmt(f, S_SWEEP_ARGV);
                sqlite3_bind_text(s, 1, cmd, (int)len, SQLITE_STATIC);
                sqlite3_bind_int64(s, 2, c->run_id);
                rc = run(f, s, &c->rows);
            }
        }
        break;
    }
    default:
        break;
    }
    if (rc != SQLITE_OK) {
        c->rc = rc;
        return -EIO;
    }
    return 0;
}

/* Finds or inserts the processes row of p; *proc_id 0 when it belongs to another run. */
static int proc_row(ms_fold_t *f, const ms_spool_proc_info_t *p, int64_t run_id,
                    int64_t *proc_id, uint64_t *rows)
{
    sqlite3_stmt *s = stmt(f, S_PROC_GET);
    int rc;

    *proc_id = 0;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)p->key);
    rc = step(f, s);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_int64(s, 1) == run_id)
            *proc_id = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        return SQLITE_OK;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return rc;
    s = stmt(f, S_PROC_INSERT);
    sqlite3_bind_int64(s, 1, run_id);
    sqlite3_bind_int64(s, 2, p->proc.pid);
    sqlite3_bind_int64(s, 3, p->proc.ppid);
    sqlite3_bind_int64(s, 4, p->proc.started_ns);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)p->key);
    sqlite3_bind_int64(s, 6, p->proc.alloc_tracking);
    sqlite3_bind_int64(s, 7, p->proc.alloc_dropped_rate + p->proc.alloc_dropped_queue);
    sqlite3_bind_int64(s, 8, p->proc.alloc_dropped_rate);
    sqlite3_bind_int64(s, 9, p->proc.alloc_dropped_queue);
    sqlite3_bind_int64(s, 10, p->proc.unstored);
    rc = run(f, s, rows);
    if (rc == SQLITE_OK)
        *proc_id = sqlite3_last_insert_rowid(f->db);
    return rc;
}

/* The live counters and, once DONE, the end of a process image. */
static int proc_state(ms_fold_t *f, const ms_spool_proc_info_t *p, int64_t proc_id,
                      int64_t run_id, int root_process, uint64_t *rows)
{
    const ms_spool_proc_t *h = &p->proc;
    sqlite3_stmt *s = stmt(f, S_PROC_COUNTERS);
    int rc;

    sqlite3_bind_int64(s, 1, proc_id);
    sqlite3_bind_int64(s, 2, h->alloc_tracking);
    sqlite3_bind_int64(s, 3, h->alloc_dropped_rate + h->alloc_dropped_queue);
    sqlite3_bind_int64(s, 4, h->alloc_dropped_rate);
    sqlite3_bind_int64(s, 5, h->alloc_dropped_queue);
    sqlite3_bind_int64(s, 6, h->unstored);
    rc = run(f, s, NULL);
    if (rc != SQLITE_OK || h->end_state != MS_SPOOL_END_DONE)
        return rc;
    s = stmt(f, S_PROC_END);
    sqlite3_bind_int64(s, 1, proc_id);
    sqlite3_bind_int64(s, 2, h->end_t_ns);
    or_null(s, 3, h->end_hwm_kb);
    or_null(s, 4, h->end_rss_kb);
    rc = run(f, s, rows);
    /*
     * The end sample goes with the update that set ended_ns, and so only once; an end
     * without an RSS (the shim could not read /proc at the exit) ends the process and its
     * run but is no sample.
     */
    if (rc == SQLITE_OK && sqlite3_changes(f->db) == 1 && h->end_rss_kb >= 0) {
        s = stmt(f, S_SAMPLE);
        sqlite3_bind_int64(s, 1, proc_id);
        sqlite3_bind_int64(s, 2, h->end_t_ns);
        sqlite3_bind_int64(s, 3, h->end_rss_kb);
        or_null(s, 4, h->end_hwm_kb);
        sqlite3_bind_text(s, 5, MS_KIND_END, -1, SQLITE_STATIC);
        or_null(s, 6, h->end_heap_kb);
        sqlite3_bind_int64(s, 7, 0);
        or_null(s, 8, h->end_anon_kb);
        or_null(s, 9, h->end_file_kb);
        or_null(s, 10, h->end_shmem_kb);
        sqlite3_bind_null(s, 11);
        sqlite3_bind_null(s, 12);
        sqlite3_bind_null(s, 13);
        rc = run(f, s, rows);
    }
    if (rc == SQLITE_OK && root_process) {
        /*
         * As a program measured alone always did: its run ends with its first process,
         * whatever image that process had become by exec when it ended.
         */
        s = stmt(f, S_FINISH_RUN);
        sqlite3_bind_int64(s, 1, h->end_t_ns);
        sqlite3_bind_int64(s, 2, run_id);
        rc = run(f, s, rows);
    }
    return rc;
}

/* Commits and begins again when the batch is full, at a point where cursors and rows agree. */
static int maybe_split(ms_fold_t *f, char *err, size_t errlen)
{
    int rc;

    if (f->batch_rows == 0 || f->txn_rows < f->batch_rows || !f->in_txn)
        return 0;
    rc = ms_fold_commit(f, err, errlen);
    if (rc == 0)
        rc = ms_fold_begin(f, err, errlen);
    return rc;
}

/*
 * An image is settled when its end was written over a second ago and every one of its
 * chunks is folded to its committed bytes (or found bad): nothing of it can change any
 * more. A record of another thread that was under way when the end was written is
 * committed at most milliseconds after it (it may map its chunk first); only a process
 * stopped in the middle of its exit for longer could add one later, which is then not
 * folded. It counts as settled once the transaction that folded it commits, and is then
 * neither read (ms_spool_set_settled) nor folded again.
 */
static void settle(ms_fold_t *f, const ms_spool_t *sp, const ms_spool_proc_info_t *p,
                   const cursor_t *cur)
{
    if (p->proc.end_state != MS_SPOOL_END_DONE ||
        p->proc.end_t_ns > ms_now_ns() - SETTLE_AFTER_NS)
        return;
    for (size_t i = 0; i < p->n_chunks; i++) {
        const size_t ci = p->chunks[i];
        const ms_spool_chunk_info_t *c = &sp->chunks[ci];
        if (!cur[ci].bad && (c->state != MS_SPOOL_CHUNK_OK || c->readable != c->committed ||
                             cur[ci].folded != (int64_t)c->committed))
            return;
    }
    if (f->n_pending == f->cap_pending) {
        const size_t cap = f->cap_pending > 0 ? f->cap_pending * 2 : 64;
        uint64_t *const np = realloc(f->pending, cap * sizeof *np);
        if (np == NULL)
            return;
        f->pending = np;
        f->cap_pending = cap;
    }
    f->pending[f->n_pending++] = p->key;
}

/* Folds the chunks of one process image. */
static int fold_proc(ms_fold_t *f, ms_spool_t *sp, const ms_spool_proc_info_t *p, cursor_t *cur,
                     int64_t run_id, ms_fold_stats_t *st, char *err, size_t errlen)
{
    fold_ctx_t ctx = {.f = f, .run_id = run_id};
    int rc;

    if (ms_fold_settled(f, p->key))
        return 0;
    if (!p->have_proc) {
        for (size_t i = 0; i < p->n_chunks; i++) {
            const size_t ci = p->chunks[i];
            if (cur[ci].bad)
                continue;
            stat_reject(st, 1, "a chunk of a process whose first chunk is unusable");
            rc = set_cursor(f, sp, ci, &cur[ci], cur[ci].folded < 0 ? 0 : cur[ci].folded, 1);
            if (rc != SQLITE_OK)
                return fail(f, rc, "cannot record the fold's cursor", err, errlen);
        }
        return 0;
    }
    rc = proc_row(f, p, run_id, &ctx.proc_id, &st->rows);
    if (rc != SQLITE_OK)
        return fail(f, rc, "cannot record a process", err, errlen);
    if (ctx.proc_id == 0) {
        for (size_t i = 0; i < p->n_chunks; i++) {
            const size_t ci = p->chunks[i];
            if (cur[ci].bad)
                continue;
            stat_reject(st, 1, "a process key already used by another run's process");
            rc = set_cursor(f, sp, ci, &cur[ci], 0, 1);
            if (rc != SQLITE_OK)
                return fail(f, rc, "cannot record the fold's cursor", err, errlen);
        }
        return 0;
    }
    ctx.own_root = sp->hdr.run_id == 0 && p->first_chunk == 0;
    ctx.root_process = sp->hdr.run_id == 0 && of_root_process(sp, p);
    for (size_t i = 0; i < p->n_chunks; i++) {
        const size_t ci = p->chunks[i];
        const ms_spool_chunk_info_t *c = &sp->chunks[ci];
        ms_spool_parse_result_t res;
        const int64_t from = cur[ci].folded < 0 ? 0 : cur[ci].folded;
        int64_t to;
        int bad;

        if (cur[ci].bad || from > c->readable)
            continue;
        ctx.rc = SQLITE_OK;
        rc = ms_spool_read_chunk(sp, c, (uint32_t)from, f->buf, on_record, &ctx, &res);
        if (rc != 0) {
            if (ctx.rc != SQLITE_OK)
                return fail(f, ctx.rc, "cannot record a sample", err, errlen);
            ms_set_err(err, errlen, "%s: %s", sp->path, strerror(-rc));
            return rc;
        }
        to = from + (int64_t)res.consumed;
        bad = res.stopped || (c->readable < c->committed && to >= c->readable);
        if (res.rejected > 0 || res.stopped)
            stat_reject(st, res.rejected + (res.stopped ? 1u : 0u), res.reason);
        if (bad && !res.stopped)
            stat_reject(st, 1, "the file ends inside a chunk's records");
        rc = set_cursor(f, sp, ci, &cur[ci], to, bad);
        if (rc != SQLITE_OK)
            return fail(f, rc, "cannot record the fold's cursor", err, errlen);
        rc = maybe_split(f, err, errlen);
        if (rc != 0)
            return rc;
    }
    st->rows += ctx.rows;
    rc = proc_state(f, p, ctx.proc_id, run_id, ctx.root_process, &st->rows);
    if (rc != SQLITE_OK)
        return fail(f, rc, "cannot record a process's end", err, errlen);
    settle(f, sp, p, cur);
    return 0;
}

/* Orders process images by the chunk each claimed first; those without one go last. */
static int cmp_claim(const void *a, const void *b)
{
    const ms_spool_proc_info_t *x = *(const ms_spool_proc_info_t *const *)a;
    const ms_spool_proc_info_t *y = *(const ms_spool_proc_info_t *const *)b;
    const uint64_t cx = x->have_proc ? x->first_chunk : UINT64_MAX;
    const uint64_t cy = y->have_proc ? y->first_chunk : UINT64_MAX;

    return cx < cy ? -1 : cx > cy;
}

int ms_fold_pool(ms_fold_t *f, ms_spool_t *sp, ms_fold_stats_t *st, char *err, size_t errlen)
{
    const ms_spool_proc_info_t **order = NULL;
    cursor_t *cur = NULL;
    int64_t run_id = 0;
    int rc;

    memset(st, 0, sizeof *st);
    if (f->buf_len < sp->hdr.chunk_bytes) {
        unsigned char *b = realloc(f->buf, sp->hdr.chunk_bytes);
        if (b == NULL)
            goto nomem;
        f->buf = b;
        f->buf_len = sp->hdr.chunk_bytes;
    }
    rc = pool_run(f, sp, st, &run_id, err, errlen);
    if (rc != 0 || run_id == 0)
        return rc;
    st->run_id = run_id;
    cur = malloc((sp->n_chunks > 0 ? sp->n_chunks : 1) * sizeof *cur);
    if (cur == NULL)
        goto nomem;
    rc = load_cursors(f, sp, cur, err, errlen);
    if (rc != 0)
        goto out;
    /*
     * The reader keeps the images in the order of their random keys. They are folded in
     * the order they claimed their first chunk, which is the order they started in (a
     * process claims it before main, a fork child when it wakes), so that processes rows
     * are numbered as the processes began: a parent before the children it forked.
     */
    order = malloc((sp->n_procs > 0 ? sp->n_procs : 1) * sizeof *order);
    if (order == NULL) {
        free(cur);
        goto nomem;
    }
    for (size_t i = 0; i < sp->n_procs; i++)
        order[i] = &sp->procs[i];
    if (sp->n_procs > 1)
        qsort(order, sp->n_procs, sizeof *order, cmp_claim);
    for (size_t i = 0; i < sp->n_procs; i++) {
        rc = fold_proc(f, sp, order[i], cur, run_id, st, err, errlen);
        if (rc != 0)
            goto out;
    }
    /* Chunks the scan found unusable are recorded as such once, so they block nothing. */
    for (size_t i = 0; i < sp->n_chunks; i++) {
        if (sp->chunks[i].state != MS_SPOOL_CHUNK_BAD || cur[i].bad)
            continue;
        stat_reject(st, 1, sp->reason[0] != '\0' ? sp->reason : "an unusable chunk");
        rc = set_cursor(f, sp, i, &cur[i], 0, 1);
        if (rc != SQLITE_OK) {
            rc = fail(f, rc, "cannot record the fold's cursor", err, errlen);
            goto out;
        }
    }
    if (st->rejected > 0) {
        sqlite3_stmt *s = stmt(f, S_POOL_REJECT);
        sqlite3_bind_text(s, 1, sp->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)st->rejected);
        sqlite3_bind_text(s, 3, st->reason, -1, SQLITE_STATIC);
        rc = run(f, s, NULL);
        if (rc != SQLITE_OK) {
            rc = fail(f, rc, "cannot record the pool", err, errlen);
            goto out;
        }
    }
    st->folded_all = 1;
    for (size_t i = 0; st->folded_all && i < sp->n_chunks; i++) {
        const ms_spool_chunk_info_t *c = &sp->chunks[i];
        if (c->state == MS_SPOOL_CHUNK_OK && !cur[i].bad && cur[i].folded != c->committed)
            st->folded_all = 0;
    }
    st->complete = st->folded_all && sp->n_unwritten == 0;
    rc = 0;
out:
    free(order);
    free(cur);
    return rc;

nomem:
    ms_set_err(err, errlen, "%s: %s", f->name, strerror(ENOMEM));
    return -ENOMEM;
}

int ms_fold_tick(ms_fold_t *f, uint64_t key, const ms_fold_reading_t *t)
{
    sqlite3_stmt *s = stmt(f, S_PROC_GET);
    int64_t proc_id;
    int rc;

    sqlite3_bind_int64(s, 1, (sqlite3_int64)key);
    rc = step(f, s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return rc == SQLITE_DONE ? -ENOENT : ms_store_errno(rc);
    }
    proc_id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    s = stmt(f, S_SAMPLE);
    sqlite3_bind_int64(s, 1, proc_id);
    sqlite3_bind_int64(s, 2, t->t_ns);
    sqlite3_bind_int64(s, 3, t->rss_kb);
    or_null(s, 4, t->hwm_kb);
    sqlite3_bind_text(s, 5, t->kind == MS_SPOOL_KIND_GROWTH ? MS_KIND_GROWTH : MS_KIND_TICK, -1,
                      SQLITE_STATIC);
    or_null(s, 6, t->heap_kb);
    sqlite3_bind_int64(s, 7, 0);
    or_null(s, 8, t->anon_kb);
    or_null(s, 9, t->file_kb);
    or_null(s, 10, t->shmem_kb);
    or_null(s, 11, t->pss_kb);
    or_null(s, 12, t->pss_anon_kb);
    or_null(s, 13, t->pss_shmem_kb);
    rc = run(f, s, NULL);
    return rc == SQLITE_OK ? 0 : ms_store_errno(rc) != 0 ? ms_store_errno(rc) : -EIO;
}

int ms_fold_mark_removed(ms_fold_t *f, const char *name, int64_t now_ns)
{
    sqlite3_stmt *s = stmt(f, S_POOL_REMOVED);
    int rc;

    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ns);
    rc = run(f, s, NULL);
    return rc == SQLITE_OK ? 0 : ms_store_errno(rc) != 0 ? ms_store_errno(rc) : -EIO;
}

int ms_fold_pool_tx(ms_fold_t *f, ms_spool_t *sp, ms_fold_stats_t *st, char *err, size_t errlen)
{
    int rc = ms_fold_begin(f, err, errlen);

    if (rc == 0)
        rc = ms_fold_pool(f, sp, st, err, errlen);
    if (rc == 0)
        rc = ms_fold_commit(f, err, errlen);
    else
        ms_fold_rollback(f);
    return rc;
}
