/* Several databases and sweep directories read as one sweep (see sweepmerge.h). */
#include "sweepmerge.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "memsweep/defaults.h"
#include "memsweep/schema.h"
#include "spool_collect.h"
#include "spool_fold.h"
#include "spool_pending.h"
#include "store.h"


struct ms_merge {
    sqlite3 *db;
    ms_merge_counts_t counts;
    int unfinished; /* a source's sweep had not finished */
};

/* Says why a shard is left out, on stderr (a reader's stdout holds only results). */
static void warn(const char *msg)
{
    fprintf(stderr, "memsweep: %s\n", msg);
}

/* Columns of the tables copied, as a set of names. */
typedef struct cols {
    char **name;
    size_t n;
} cols_t;

static void cols_free(cols_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->name[i]);
    free(c->name);
    memset(c, 0, sizeof *c);
}

static int cols_read(sqlite3 *db, const char *schema, const char *table, cols_t *c)
{
    sqlite3_stmt *st = NULL;
    char sql[128];
    int rc;

    memset(c, 0, sizeof *c);
    snprintf(sql, sizeof sql, "PRAGMA %s.table_info(%s)", schema, table);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char **nn = realloc(c->name, (c->n + 1) * sizeof *nn);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        if (nn == NULL) {
            sqlite3_finalize(st);
            return -ENOMEM;
        }
        c->name = nn;
        c->name[c->n] = strdup(name != NULL ? name : "");
        if (c->name[c->n] == NULL) {
            sqlite3_finalize(st);
            return -ENOMEM;
        }
        c->n++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

static int cols_has(const cols_t *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->name[i], name) == 0)
            return 1;
    return 0;
}

/* A growing SQL text. */
typedef struct sql {
    char *s;
    size_t len, cap;
    int oom;
} sql_t;

static void put(sql_t *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sql_t *q, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (q->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(q->s != NULL ? q->s + q->len : NULL, q->s != NULL ? q->cap - q->len : 0,
                      fmt, ap);
        va_end(ap);
        if (n < 0) {
            q->oom = 1;
            return;
        }
        if (q->s != NULL && q->len + (size_t)n < q->cap) {
            q->len += (size_t)n;
            return;
        }
        size_t ncap = q->cap ? q->cap * 2 : 1024;
        while (ncap < q->len + (size_t)n + 1)
            ncap *= 2;
        char *ns = realloc(q->s, ncap);
        if (ns == NULL) {
            q->oom = 1;
            return;
        }
        q->s = ns;
        q->cap = ncap;
    }
}

/*
 * The columns both tables have, except those in skip (a NULL-terminated list the caller
 * writes itself), as ", name" each for the target and ", <alias>.name" for the source.
 */
static void common_cols(sql_t *into, sql_t *from, const cols_t *dst, const cols_t *src,
                        const char *alias, const char *const *skip)
{
    for (size_t i = 0; i < dst->n; i++) {
        int skipped = !cols_has(src, dst->name[i]);
        for (size_t k = 0; skip[k] != NULL && !skipped; k++)
            skipped = strcmp(skip[k], dst->name[i]) == 0;
        if (skipped)
            continue;
        put(into, ", \"%s\"", dst->name[i]);
        put(from, ", %s.\"%s\"", alias, dst->name[i]);
    }
}

static int exec_sql(ms_merge_t *m, const char *sql, const char *name, char *err, size_t errlen)
{
    char *msg = NULL;
    const int rc = sqlite3_exec(m->db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        ms_set_err(err, errlen, "%s: cannot merge: %s", name, msg != NULL ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return ms_store_errno(rc) != 0 ? ms_store_errno(rc) : -EIO;
    }
    return 0;
}

int ms_merge_open(ms_merge_t **out, char *err, size_t errlen)
{
    ms_merge_t *m = calloc(1, sizeof *m);
    int rc;

    *out = NULL;
    if (m == NULL) {
        ms_set_err(err, errlen, "%s", strerror(ENOMEM));
        return -ENOMEM;
    }
    rc = sqlite3_open_v2(":memory:", &m->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        ms_set_err(err, errlen, "cannot open a database in memory: %s", sqlite3_errstr(rc));
        ms_merge_free(m);
        return -ENOMEM;
    }
    rc = ms_store_create_schema(m->db, "(merge)", err, errlen);
    /*
     * Rows are copied as their sources hold them, odd values included, so that the reader
     * judges them as it would in their own database.
     */
    if (rc == 0)
        rc = exec_sql(m,
                      "PRAGMA ignore_check_constraints=ON;"
                      "CREATE TEMP TABLE rmap(old INTEGER PRIMARY KEY, new INTEGER, ident TEXT);"
                      "CREATE TEMP TABLE smap(old INTEGER PRIMARY KEY, new INTEGER);"
                      "CREATE TEMP TABLE stale(run_id INTEGER PRIMARY KEY);",
                      "(merge)", err, errlen);
    if (rc != 0) {
        ms_merge_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void ms_merge_free(ms_merge_t *m)
{
    if (m == NULL)
        return;
    sqlite3_close(m->db);
    free(m);
}

/*
 * Copies the sweep, runs, processes, stacks, samples, pool cursors and admissions of
 * schema "src".
 */
static int copy_src(ms_merge_t *m, const char *name, char *err, size_t errlen)
{
    static const char *const tables[] = {"sweeps", "runs", "processes", "samples", "stacks",
                                         "spool_pools", "spool_chunks", "admissions"};
    static const char *const skip_sweeps[] = {"sweep_id", "origin", "spool_dir", NULL};
    static const char *const skip_runs[] = {"run_id", "sweep_id", "uid", "host", "node_mem_kb",
                                            "node_mem_source", "node_reserve_mb", "node_cpus",
                                            NULL};
    static const char *const skip_procs[] = {"proc_id", "run_id", "spool_key", NULL};
    static const char *const skip_samples[] = {"proc_id", "stack_id", NULL};
    static const char *const skip_pools[] = {"run_id", NULL};
    static const char *const skip_admissions[] = {"run_id", NULL};
    static const char *const skip_none[] = {NULL};
    enum { N_TABLES = sizeof tables / sizeof tables[0] };
    cols_t dst[N_TABLES] = {{0}}, src[N_TABLES] = {{0}};
    sql_t q = {0}, into = {0}, from = {0};
    long long before;
    int rc = 0;

    for (size_t i = 0; i < N_TABLES && rc == 0; i++) {
        rc = cols_read(m->db, "main", tables[i], &dst[i]);
        if (rc == 0)
            rc = cols_read(m->db, "src", tables[i], &src[i]);
    }
    if (rc != 0) {
        ms_set_err(err, errlen, "%s: cannot read its tables", name);
        goto out;
    }
    if (src[0].n == 0 || src[1].n == 0) {
        ms_set_err(err, errlen, "%s: not a memsweep sweep (no sweeps or runs table)", name);
        rc = -EINVAL;
        goto out;
    }
#define HAS(t, c) cols_has(&src[t], c)
    /* A source still being written: its sweep has not finished. */
    if (ms_store_int(m->db, HAS(0, "origin")
                           ? "SELECT finished_ns IS NULL AND origin IN ('" MS_ORIGIN_LAUNCHER
                             "','" MS_ORIGIN_EXEC "','" MS_ORIGIN_MERGE
                             "') FROM src.sweeps ORDER BY sweep_id LIMIT 1"
                           : "SELECT 0", 0) != 0)
        m->unfinished = 1;

    /*
     * The sweep: the sweeps row of the source that started first, whatever order the
     * sources come in (shards come in the order of their random names).
     */
    common_cols(&into, &from, &dst[0], &src[0], "s", skip_sweeps);
    put(&q, "INSERT OR REPLACE INTO main.sweeps(sweep_id, origin%s) SELECT 1, '" MS_ORIGIN_MERGE
            "'%s FROM (SELECT * FROM src.sweeps ORDER BY sweep_id LIMIT 1) s"
            " WHERE NOT EXISTS(SELECT 1 FROM main.sweeps)"
            " OR s.started_ns < (SELECT started_ns FROM main.sweeps WHERE sweep_id = 1);",
        into.s != NULL ? into.s : "", from.s != NULL ? from.s : "");
    /* Runs: identity, duplicates out, new ids after the last. */
    put(&q,
        "DELETE FROM temp.rmap; DELETE FROM temp.smap;"
        "INSERT INTO temp.rmap(old, ident) SELECT r.run_id, coalesce(%s, coalesce(s.hostname, '')"
        " || '/' || coalesce(s.started_ns, '') || '/' || r.run_id) FROM src.runs r"
        " LEFT JOIN src.sweeps s ON s.sweep_id = r.sweep_id;"
        "DELETE FROM temp.rmap WHERE old NOT IN (SELECT min(old) FROM temp.rmap GROUP BY ident);"
        /* A run met twice: a copy that finished wins over one still running. */
        "DELETE FROM temp.stale;"
        "INSERT INTO temp.stale SELECT m.run_id FROM main.runs m JOIN temp.rmap r"
        " ON r.ident = m.uid WHERE m.status = '" MS_STATUS_RUNNING "' AND"
        " (SELECT status FROM src.runs WHERE run_id = r.old) IS NOT '" MS_STATUS_RUNNING "';"
        "DELETE FROM main.samples WHERE proc_id IN (SELECT proc_id FROM main.processes"
        " WHERE run_id IN (SELECT run_id FROM temp.stale));"
        "DELETE FROM main.blocks WHERE proc_id IN (SELECT proc_id FROM main.processes"
        " WHERE run_id IN (SELECT run_id FROM temp.stale));"
        "DELETE FROM main.block_readings WHERE proc_id IN (SELECT proc_id FROM main.processes"
        " WHERE run_id IN (SELECT run_id FROM temp.stale));"
        "DELETE FROM main.processes WHERE run_id IN (SELECT run_id FROM temp.stale);"
        "DELETE FROM main.spool_chunks WHERE pool IN (SELECT pool FROM main.spool_pools"
        " WHERE run_id IN (SELECT run_id FROM temp.stale));"
        "DELETE FROM main.spool_pools WHERE run_id IN (SELECT run_id FROM temp.stale);"
        "DELETE FROM main.admissions WHERE run_id IN (SELECT run_id FROM temp.stale);"
        "DELETE FROM main.runs WHERE run_id IN (SELECT run_id FROM temp.stale);"
        "DELETE FROM temp.rmap WHERE ident IN (SELECT uid FROM main.runs WHERE uid IS NOT NULL);"
        "UPDATE temp.rmap SET new = old - (SELECT min(old) FROM temp.rmap) + 1 +"
        " (SELECT coalesce(max(run_id), 0) FROM main.runs);",
        HAS(1, "uid") ? "r.uid" : "NULL");
    free(into.s);
    free(from.s);
    into = (sql_t){0};
    from = (sql_t){0};
    common_cols(&into, &from, &dst[1], &src[1], "r", skip_runs);
    put(&q,
        "INSERT INTO main.runs(run_id, sweep_id, uid, host, node_mem_kb, node_mem_source,"
        " node_reserve_mb, node_cpus%s) SELECT m.new, 1, m.ident, %s, %s, %s, %s, %s%s"
        " FROM src.runs r JOIN temp.rmap m ON m.old = r.run_id"
        " LEFT JOIN src.sweeps s ON s.sweep_id = r.sweep_id;",
        into.s != NULL ? into.s : "", HAS(1, "host") ? "coalesce(r.host, s.hostname)" : "s.hostname",
        HAS(1, "node_mem_kb") ? "coalesce(r.node_mem_kb, s.mem_total_kb)" : "s.mem_total_kb",
        HAS(1, "node_mem_source")
            ? (HAS(0, "mem_source") ? "coalesce(r.node_mem_source, s.mem_source)" : "r.node_mem_source")
            : (HAS(0, "mem_source") ? "s.mem_source" : "NULL"),
        HAS(1, "node_reserve_mb") ? "coalesce(r.node_reserve_mb, s.reserve_mb)" : "s.reserve_mb",
        HAS(1, "node_cpus") ? (HAS(0, "cpus") ? "coalesce(r.node_cpus, s.cpus)" : "r.node_cpus")
                            : (HAS(0, "cpus") ? "s.cpus" : "NULL"),
        from.s != NULL ? from.s : "");
    /* Processes, new ids after the last; a spool key met before is dropped. */
    free(into.s);
    free(from.s);
    into = (sql_t){0};
    from = (sql_t){0};
    common_cols(&into, &from, &dst[2], &src[2], "p", skip_procs);
    put(&q, "CREATE TEMP TABLE IF NOT EXISTS poff(v INTEGER); DELETE FROM temp.poff;"
            "INSERT INTO temp.poff SELECT coalesce(max(proc_id), 0) -"
            " coalesce((SELECT min(proc_id) FROM src.processes), 1) + 1 FROM main.processes;");
    put(&q,
        "INSERT INTO main.processes(proc_id, run_id, spool_key%s) SELECT p.proc_id +"
        " (SELECT v FROM temp.poff), m.new, %s%s FROM src.processes p"
        " JOIN temp.rmap m ON m.old = p.run_id;",
        into.s != NULL ? into.s : "",
        HAS(2, "spool_key") ? "CASE WHEN p.spool_key IN (SELECT spool_key FROM main.processes"
                              " WHERE spool_key IS NOT NULL) THEN NULL ELSE p.spool_key END"
                            : "NULL",
        from.s != NULL ? from.s : "");
    /* Stacks by hash. */
    if (src[4].n > 0)
        put(&q, "INSERT OR IGNORE INTO main.stacks(hash, depth, frames)"
                " SELECT hash, depth, frames FROM src.stacks;"
                "INSERT INTO temp.smap SELECT s.stack_id, m.stack_id FROM src.stacks s"
                " JOIN main.stacks m ON m.hash = s.hash;");
    /* Samples of the processes taken. */
    free(into.s);
    free(from.s);
    into = (sql_t){0};
    from = (sql_t){0};
    common_cols(&into, &from, &dst[3], &src[3], "x", skip_samples);
    put(&q,
        "INSERT INTO main.samples(proc_id, stack_id%s) SELECT x.proc_id + (SELECT v FROM temp.poff),"
        " %s%s FROM src.samples x WHERE x.proc_id IN (SELECT p.proc_id FROM src.processes p"
        " JOIN temp.rmap m ON m.old = p.run_id);",
        into.s != NULL ? into.s : "",
        HAS(3, "stack_id") ? "(SELECT new FROM temp.smap WHERE old = x.stack_id)" : "NULL",
        from.s != NULL ? from.s : "");
    /* The large blocks at each process's highest reading (schema 8). */
    if (ms_store_int(m->db, "SELECT count(*) FROM src.sqlite_schema WHERE type = 'table'"
                            " AND name IN ('blocks', 'block_readings')", 0) == 2)
        put(&q,
            "INSERT INTO main.block_readings(proc_id, t_ns, rss_kb, blocks, untracked)"
            " SELECT b.proc_id + (SELECT v FROM temp.poff), b.t_ns, b.rss_kb, b.blocks,"
            " b.untracked FROM src.block_readings b WHERE b.proc_id IN (SELECT p.proc_id"
            " FROM src.processes p JOIN temp.rmap m ON m.old = p.run_id);"
            "INSERT INTO main.blocks(proc_id, t_ns, addr, bytes, resident_kb, stack_id,"
            " allocated_ns) SELECT b.proc_id + (SELECT v FROM temp.poff), b.t_ns, b.addr,"
            " b.bytes, b.resident_kb, (SELECT new FROM temp.smap WHERE old = b.stack_id),"
            " b.allocated_ns FROM src.blocks b WHERE b.proc_id IN (SELECT p.proc_id"
            " FROM src.processes p JOIN temp.rmap m ON m.old = p.run_id);");
    /* What was folded of which pool, for the pools folded on top. */
    if (src[5].n > 0 && src[6].n > 0) {
        free(into.s);
        free(from.s);
        into = (sql_t){0};
        from = (sql_t){0};
        common_cols(&into, &from, &dst[5], &src[5], "p", skip_pools);
        put(&q,
            "INSERT OR IGNORE INTO main.spool_pools(run_id%s) SELECT m.new%s FROM src.spool_pools p"
            " JOIN temp.rmap m ON m.old = p.run_id;",
            into.s != NULL ? into.s : "", from.s != NULL ? from.s : "");
        free(into.s);
        free(from.s);
        into = (sql_t){0};
        from = (sql_t){0};
        common_cols(&into, &from, &dst[6], &src[6], "c", skip_none);
        put(&q,
            "INSERT OR IGNORE INTO main.spool_chunks(%s) SELECT %s FROM src.spool_chunks c"
            " WHERE c.pool IN (SELECT p.pool FROM src.spool_pools p JOIN temp.rmap m"
            " ON m.old = p.run_id);",
            into.s != NULL ? into.s + 2 : "", from.s != NULL ? from.s + 2 : "");
    }
    /*
     * How each run was let start (schema 9), under the run's new id. A run's admission
     * comes with the copy of the run that is taken; its attempt columns and the sweeps
     * row's scheduling options are copied with their rows above.
     */
    if (src[7].n > 0) {
        free(into.s);
        free(from.s);
        into = (sql_t){0};
        from = (sql_t){0};
        common_cols(&into, &from, &dst[7], &src[7], "a", skip_admissions);
        put(&q,
            "INSERT OR REPLACE INTO main.admissions(run_id%s) SELECT m.new%s FROM src.admissions a"
            " JOIN temp.rmap m ON m.old = a.run_id"
            /* A row the schema could not hold (edited by hand) is no admission to copy. */
            " WHERE a.rule IS NOT NULL AND a.decided_ns IS NOT NULL AND a.running IS NOT NULL;",
            into.s != NULL ? into.s : "", from.s != NULL ? from.s : "");
    }
#undef HAS
    if (q.oom || into.oom || from.oom) {
        ms_set_err(err, errlen, "%s", strerror(ENOMEM));
        rc = -ENOMEM;
        goto out;
    }
    before = ms_store_int(m->db, "SELECT count(*) FROM main.runs", 0);
    rc = exec_sql(m, q.s, name, err, errlen);
    if (rc == 0) {
        const long long added = ms_store_int(m->db, "SELECT count(*) FROM main.runs", 0) - before;
        m->counts.runs += (size_t)added;
        m->counts.duplicates +=
            (size_t)(ms_store_int(m->db, "SELECT count(*) FROM src.runs", 0) - added);
        m->counts.sources++;
    }
out:
    for (size_t i = 0; i < N_TABLES; i++) {
        cols_free(&dst[i]);
        cols_free(&src[i]);
    }
    free(q.s);
    free(into.s);
    free(from.s);
    return rc;
}

/* Adds the database open on src (named name in messages). */
static int add_conn(ms_merge_t *m, sqlite3 *src, const char *name, char *err, size_t errlen)
{
    sqlite3_backup *b;
    char sql[64];
    int rc;

    rc = exec_sql(m, "BEGIN; ATTACH ':memory:' AS src", name, err, errlen);
    if (rc != 0)
        return rc;
    snprintf(sql, sizeof sql, "PRAGMA src.page_size=%lld",
             ms_store_int(src, "PRAGMA main.page_size", 4096));
    (void)sqlite3_exec(m->db, sql, NULL, NULL, NULL);
    /* Outside a transaction of the target: the backup needs the attached file free. */
    (void)sqlite3_exec(m->db, "COMMIT", NULL, NULL, NULL);
    b = sqlite3_backup_init(m->db, "src", src, "main");
    if (b == NULL) {
        ms_set_err(err, errlen, "%s: cannot read: %s", name, sqlite3_errmsg(m->db));
        rc = -EIO;
    } else {
        rc = sqlite3_backup_step(b, -1);
        sqlite3_backup_finish(b);
        if (rc != SQLITE_DONE) {
            ms_store_db_error(src, name, err, errlen);
            rc = ms_store_errno(rc) != 0 ? ms_store_errno(rc) : -EIO;
        } else {
            rc = exec_sql(m, "BEGIN", name, err, errlen);
            if (rc == 0)
                rc = copy_src(m, name, err, errlen);
            if (rc == 0)
                rc = exec_sql(m, "COMMIT", name, err, errlen);
            if (rc != 0 && !sqlite3_get_autocommit(m->db))
                (void)sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
        }
    }
    (void)sqlite3_exec(m->db, "DETACH src", NULL, NULL, NULL);
    return rc;
}

/* Adds the database file at path; with pending, its pending pools folded in too. */
static int add_file(ms_merge_t *m, const char *path, int pending, char *err, size_t errlen)
{
    sqlite3 *src = NULL;
    int rc = pending ? ms_store_open_reader(path, &src, err, errlen)
                     : ms_store_open_read(path, &src, err, errlen);

    if (rc == 0)
        rc = add_conn(m, src, path, err, errlen);
    sqlite3_close(src);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in dir ending in suffix and not starting with '.', sorted. */
static int list_dir(const char *dir, const char *suffix, char ***names, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    const size_t sl = strlen(suffix);
    size_t cap = 0;

    *names = NULL;
    *n = 0;
    if (d == NULL)
        return -errno;
    while ((e = readdir(d)) != NULL) {
        const size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= sl || strcmp(e->d_name + len - sl, suffix) != 0)
            continue;
        if (*n == cap) {
            char **nn = realloc(*names, (cap ? cap * 2 : 64) * sizeof *nn);
            if (nn == NULL)
                goto nomem;
            *names = nn;
            cap = cap ? cap * 2 : 64;
        }
        (*names)[*n] = strdup(e->d_name);
        if ((*names)[*n] == NULL)
            goto nomem;
        (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, *n, sizeof **names, by_name);
    return 0;
nomem:
    closedir(d);
    for (size_t i = 0; i < *n; i++)
        free((*names)[i]);
    free(*names);
    *names = NULL;
    *n = 0;
    return -ENOMEM;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Whether the merge knows the pool called name (a shard recorded it before its run). */
static int pool_known(ms_merge_t *m, const char *name)
{
    sqlite3_stmt *st = NULL;
    int known = 0;

    if (sqlite3_prepare_v2(m->db, "SELECT 1 FROM main.spool_pools WHERE pool = ?1", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        known = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return known;
}

/* Folds the pools of spool/ whose runs the merge holds, one at a time. */
static int fold_pools(ms_merge_t *m, const char *spool, char *err, size_t errlen)
{
    char **names = NULL;
    size_t n = 0;
    ms_fold_t *f = NULL;
    int rc = list_dir(spool, MS_SPOOL_SUFFIX, &names, &n);

    if (rc == -ENOENT)
        return 0;
    if (rc != 0) {
        ms_set_err(err, errlen, "%s: %s", spool, strerror(-rc));
        return rc;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        ms_spool_t *sp = NULL;
        ms_fold_stats_t st;
        char *path;
        char why[256];

        if (!pool_known(m, names[i]))
            continue;
        if (asprintf(&path, "%s/%s", spool, names[i]) < 0) {
            rc = -ENOMEM;
            ms_set_err(err, errlen, "%s", strerror(ENOMEM));
            break;
        }
        if (f == NULL)
            rc = ms_fold_open(m->db, "(merge)", 0, &f, err, errlen);
        /* A pool removed meanwhile: its run's last shard has it all (reread_gone). */
        if (rc == 0 && ms_spool_open(path, &sp, why, sizeof why) == 0) {
            if (ms_spool_scan(sp, why, sizeof why) == 0) {
                rc = ms_fold_pool_tx(f, sp, &st, err, errlen);
                if (rc == 0)
                    m->counts.pools++;
            }
            ms_spool_close(sp);
        }
        free(path);
    }
    ms_fold_close(f);
    free_names(names, n);
    return rc;
}

/*
 * Reads again the shard of each run still running whose pool is gone: its exec ended
 * after the shard was read (publishing the last shard, then removing the pool), so the
 * shard now holds the run whole; a finished copy replaces the running one.
 */
static int reread_gone(ms_merge_t *m, const char *shards, const char *spool, char *err,
                       size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char **uids = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (sqlite3_prepare_v2(m->db, "SELECT uid FROM main.runs WHERE status = '" MS_STATUS_RUNNING
                                  "' AND uid IS NOT NULL", -1, &st, NULL) != SQLITE_OK)
        return 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *u = (const char *)sqlite3_column_text(st, 0);
        if (u == NULL || strchr(u, '/') != NULL)
            continue;
        if (n == cap) {
            char **nu = realloc(uids, (cap ? cap * 2 : 16) * sizeof *nu);
            if (nu == NULL)
                break;
            uids = nu;
            cap = cap ? cap * 2 : 16;
        }
        if ((uids[n] = strdup(u)) != NULL)
            n++;
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *pool = NULL, *shard = NULL;
        char why[1024];
        if (asprintf(&pool, "%s/%s%s", spool, uids[i], MS_SPOOL_SUFFIX) >= 0 &&
            access(pool, F_OK) != 0 &&
            asprintf(&shard, "%s/%s%s", shards, uids[i], MS_SHARD_SUFFIX) >= 0 &&
            access(shard, F_OK) == 0) {
            rc = add_file(m, shard, 0, why, sizeof why);
            if (rc != 0 && rc != -ENOMEM)
                rc = 0; /* what was read first stands */
            else if (rc != 0)
                ms_set_err(err, errlen, "%s", why);
        }
        free(pool);
        free(shard);
    }
    free_names(uids, n);
    return rc;
}

int ms_merge_add(ms_merge_t *m, const char *path, char *err, size_t errlen)
{
    struct stat st;
    char *p = NULL;
    int rc;

    if (stat(path, &st) != 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    if (!S_ISDIR(st.st_mode))
        return add_file(m, path, 1, err, errlen);
    if (asprintf(&p, "%s/%s", path, MS_SHARDS_DIR) < 0)
        goto nomem;
    if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
        char **names = NULL;
        size_t n = 0;
        char *spool = NULL;

        if (asprintf(&spool, "%s/%s", path, MS_SHARD_SPOOL_DIR) < 0)
            goto nomem;
        rc = list_dir(p, MS_SHARD_SUFFIX, &names, &n);
        if (rc != 0)
            ms_set_err(err, errlen, "%s: %s", p, strerror(-rc));
        for (size_t i = 0; i < n && rc == 0; i++) {
            char *shard;
            char why[1024];
            if (asprintf(&shard, "%s/%s", p, names[i]) < 0) {
                rc = -ENOMEM;
                ms_set_err(err, errlen, "%s", strerror(ENOMEM));
                break;
            }
            /* One shard that cannot be read (damaged, not memsweep's) is left out, said. */
            rc = add_file(m, shard, 0, why, sizeof why);
            if (rc != 0 && rc != -ENOMEM) {
                char line[1200];
                snprintf(line, sizeof line, "%s; this shard is left out", why);
                warn(line);
                m->counts.unreadable++;
                rc = 0;
            } else if (rc != 0) {
                ms_set_err(err, errlen, "%s", why);
            }
            free(shard);
        }
        free_names(names, n);
        if (rc == 0)
            rc = fold_pools(m, spool, err, errlen);
        if (rc == 0)
            rc = reread_gone(m, p, spool, err, errlen);
        free(spool);
        free(p);
        return rc;
    }
    free(p);
    if (asprintf(&p, "%s/%s", path, MS_DB_FILE) < 0)
        goto nomem;
    rc = add_file(m, p, 1, err, errlen);
    free(p);
    return rc;
nomem:
    free(p);
    ms_set_err(err, errlen, "%s", strerror(ENOMEM));
    return -ENOMEM;
}

int ms_merge_finish(ms_merge_t *m, sqlite3 **db, ms_merge_counts_t *counts, char *err,
                    size_t errlen)
{
    int rc;

    *db = NULL;
    if (m->counts.sources == 0) {
        ms_set_err(err, errlen, "no database to read");
        ms_merge_free(m);
        return -ENOENT;
    }
    /* Unfinished while a source was, or a run still runs. */
    rc = exec_sql(m,
                  m->unfinished ? "UPDATE main.sweeps SET finished_ns = NULL, spool_dir = NULL;"
                                : "UPDATE main.sweeps SET spool_dir = NULL, finished_ns = CASE"
                                  " WHEN EXISTS(SELECT 1 FROM main.runs WHERE status = '"
                                  MS_STATUS_RUNNING "') THEN NULL ELSE"
                                  " coalesce((SELECT max(finished_ns) FROM main.runs),"
                                  " finished_ns) END;"
                                  "DROP TABLE temp.rmap; DROP TABLE temp.smap;"
                                  "DROP TABLE temp.stale; DROP TABLE IF EXISTS temp.poff;",
                  "(merge)", err, errlen);
    if (rc == 0 && m->unfinished)
        rc = exec_sql(m, "DROP TABLE temp.rmap; DROP TABLE temp.smap; DROP TABLE temp.stale;"
                         " DROP TABLE IF EXISTS temp.poff;",
                      "(merge)", err, errlen);
    if (rc == 0)
        rc = exec_sql(m, "PRAGMA ignore_check_constraints=OFF", "(merge)", err, errlen);
    if (rc != 0) {
        ms_merge_free(m);
        return rc;
    }
    if (counts != NULL)
        *counts = m->counts;
    *db = m->db;
    m->db = NULL;
    ms_merge_free(m);
    return 0;
}

int ms_merge_write(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    struct stat sb;
    int rc;

    if (lstat(path, &sb) == 0) {
        ms_set_err(err, errlen, "%s: %s", path, strerror(EEXIST));
        return -EEXIST;
    }
    rc = sqlite3_prepare_v2(db, "VACUUM INTO ?1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        ms_set_err(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return ms_store_errno(rc) != 0 ? ms_store_errno(rc) : -EIO;
    }
    sqlite3_finalize(st);
    return 0;
}
