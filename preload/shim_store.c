/*
 * Everything the shim says to SQLite. Only the sampler thread calls this file, so SQLite
 * runs without mutexes. Our SQLite is a private static copy: the program's own SQLite, if
 * it has one, shares nothing with it.
 *
 * Closing a connection never checkpoints (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE): the last
 * connection to close would otherwise copy the WAL back and fsync, at every exit of every
 * short-lived process. The WAL is kept short instead (WAL_CHECKPOINT_FRAMES), because the
 * first connection to open a database that nobody else has open rebuilds the WAL index by
 * reading the whole WAL. Whoever holds the database open meanwhile (normally the
 * launcher) spares each new process that work.
 */
#include "shim_internal.h"

#include "memsweep/defaults.h"
#include "memsweep/schema.h"

#include <errno.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

/*
 * WAL frames (pages) after which a commit is followed by a checkpoint that truncates the
 * WAL. SQLite's automatic checkpoint is not enough: a connection that rebuilt the WAL
 * index cannot know which frames were already copied back, copies them all again, and
 * only a later transaction of the same connection would restart the WAL. A short-lived
 * process has no later transaction, so the WAL would grow without bound.
 */
#define WAL_CHECKPOINT_FRAMES 64

static const char sql_connection[] =
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA cache_size=-256;";

static const char sql_insert_process[] =
    "INSERT INTO processes(run_id, pid, ppid, exe, cmdline, started_ns,"
    " ended_ns, hwm_kb, end_rss_kb, alloc_tracking, alloc_dropped, alloc_dropped_rate,"
    " alloc_dropped_queue, unstored, note)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

static const char sql_insert_sample[] =
    "INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind, heap_kb, stack_id)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";

static const char sql_end_process[] =
    "UPDATE processes SET ended_ns = ?1, hwm_kb = ?2, end_rss_kb = ?3 WHERE proc_id = ?4";

static const char sql_update_alloc[] =
    "UPDATE processes SET alloc_tracking = ?1, alloc_dropped = ?2, alloc_dropped_rate = ?3,"
    " alloc_dropped_queue = ?4, unstored = ?5, note = ?6 WHERE proc_id = ?7";

static const char sql_insert_stack[] =
    "INSERT OR IGNORE INTO stacks(hash, depth, frames) VALUES(?1, ?2, ?3)";

static const char sql_find_stack[] = "SELECT stack_id FROM stacks WHERE hash = ?1";

/*
 * Text of one stack: at most MS_MAX_STACK_FRAMES lines of a module path, an offset and a
 * symbol. Only the sampler thread writes, so one static buffer serves.
 */
static char frames_text[32768];

static const char sql_end_run[] =
    "UPDATE runs SET finished_ns = ?1, status = ?2 WHERE run_id = ?3 AND status = ?4";

static const char sql_first_sweep[] =
    "SELECT sweep_id FROM sweeps ORDER BY sweep_id LIMIT 1";

static const char sql_insert_sweep[] =
    "INSERT INTO sweeps(started_ns, hostname, mem_total_kb, reserve_mb, safety_factor,"
    " interval_ms, jobs, argv, origin) VALUES(?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?8)";

static const char sql_insert_run[] =
    "INSERT INTO runs(sweep_id, seq, label, command, started_ns, status)"
    " VALUES(?1, (SELECT coalesce(max(seq), 0) + 1 FROM runs WHERE sweep_id = ?1),"
    " NULL, ?2, ?3, ?4)";

/* What read_header found, besides a refusal. */
enum { SCHEMA_READY, SCHEMA_EMPTY };

static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EAGAIN;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return -EPROTO;
    default:
        return -EIO;
    }
}

/*
 * Maps rc and, unless it only means "try again", puts SQLite's explanation in why, with
 * the system's when there is one ("disk I/O error: No space left on device").
 */
static int fail(ms_store_t *st, int rc, ms_fmt_t *why)
{
    const int err = map_rc(rc);

    if (err != -EAGAIN && why->len == 0) {
        const int sys = st->db != NULL ? sqlite3_system_errno(st->db) : 0;
        ms__fmt_str(why, st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        if (sys != 0 && strerrordesc_np(sys) != NULL &&
            (rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
            ms__fmt_str(why, ": ");
            ms__fmt_str(why, strerrordesc_np(sys));
        }
    }
    return err;
}

static int (*on_wait)(void);
static int (*before_commit)(void);
static void (*after_commit)(int committed);

void ms__store_on_wait(int (*fn)(void))
{
    on_wait = fn;
}

void ms__store_on_commit(int (*before)(void), void (*after)(int committed))
{
    before_commit = before;
    after_commit = after;
}

/*
 * Waits for a lock like sqlite3_busy_timeout, but gives up at once when st->abandon is
 * set (a fork is waiting for the connection to close, see shim_sampler.c) or when on_wait
 * says so. Between its short sleeps it lets the sampler take the readings that fall due.
 */
static int busy_wait(void *arg, int count)
{
    static const unsigned char delays_ms[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
    const size_t ndelays = sizeof(delays_ms) / sizeof(delays_ms[0]);
    ms_store_t *st = arg;
    const int64_t now = ms__clock_ns(CLOCK_MONOTONIC);
    int64_t left_ns;

    if (count == 0)
        st->busy_since_ns = now;
    left_ns = (int64_t)MS_BUSY_TIMEOUT_MS * 1000000 - (now - st->busy_since_ns);
    if (left_ns <= 0)
        return 0;
    int64_t wait_ns =
        (int64_t)delays_ms[(size_t)count < ndelays ? (size_t)count : ndelays - 1] * 1000000;
    if (wait_ns > left_ns)
        wait_ns = left_ns;
    /* Sleep in short slices so that a waiting fork is released quickly. */
    while (wait_ns > 0) {
        if (atomic_load(st->abandon) != 0)
            return 0;
        if (on_wait != NULL && on_wait() != 0)
            return 0;
        const int64_t slice = wait_ns < 2000000 ? wait_ns : 2000000;
        const struct timespec ts = {0, (long)slice};
        nanosleep(&ts, NULL);
        wait_ns -= slice;
    }
    return atomic_load(st->abandon) == 0;
}

/* Replaces SQLite's automatic checkpoint (see WAL_CHECKPOINT_FRAMES). */
static int wal_committed(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    ((ms_store_t *)arg)->wal_frames = frames;
    return SQLITE_OK;
}

/*
 * Copies the WAL back into the database and truncates it, if that can be done at once:
 * a writer or a reader that holds an old snapshot (the analyzer) makes it fall back to a
 * partial copy, and whoever commits next tries again. Never waits for a lock.
 */
static void checkpoint(ms_store_t *st)
{
    sqlite3_busy_handler(st->db, NULL, NULL);
    sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    sqlite3_busy_handler(st->db, busy_wait, st);
    st->wal_frames = 0;
}

static int exec_sql(ms_store_t *st, const char *sql, ms_fmt_t *why)
{
    const int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : fail(st, rc, why);
}

static void rollback(ms_store_t *st)
{
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

static int prepare(ms_store_t *st, sqlite3_stmt **stmt, const char *sql, ms_fmt_t *why)
{
    int rc;

    if (*stmt != NULL)
        return 0;
    rc = sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL);
    return rc == SQLITE_OK ? 0 : fail(st, rc, why);
}

/* Runs a statement that returns no row, and resets it for its next use. */
static int step_done(ms_store_t *st, sqlite3_stmt *stmt, ms_fmt_t *why)
{
    const int rc = sqlite3_step(stmt);
    const int err = rc == SQLITE_DONE ? 0 : fail(st, rc, why);

    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return err;
}

static void bind_text_or_null(sqlite3_stmt *stmt, int i, const char *s)
{
    if (s != NULL && s[0] != '\0')
        sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt, i);
}

static void bind_kb(sqlite3_stmt *stmt, int i, int64_t kb)
{
    if (kb >= 0)
        sqlite3_bind_int64(stmt, i, kb);
    else
        sqlite3_bind_null(stmt, i);
}

/* Runs a statement that returns one integer. */
static int query_int(ms_store_t *st, const char *sql, int64_t *out, ms_fmt_t *why)
{
    sqlite3_stmt *stmt = NULL;
    int rc;
    int err = 0;

    rc = sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return fail(st, rc, why);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(stmt, 0);
    else
        err = fail(st, rc, why);
    sqlite3_finalize(stmt);
    return err;
}

/*
 * Reads application_id and user_version, and the number of schema objects when the
 * version says the file may be new. Plain PRAGMA statements only read the file header;
 * their table-valued forms would build a virtual table each time.
 */
static int read_header(ms_store_t *st, int64_t *app_id, int64_t *version, int64_t *objects,
                       ms_fmt_t *why)
{
    int err;

    *objects = 0;
    err = query_int(st, "PRAGMA application_id", app_id, why);
    if (err == 0)
        err = query_int(st, "PRAGMA user_version", version, why);
    if (err == 0 && *version == 0)
        err = query_int(st, "SELECT count(*) FROM sqlite_master", objects, why);
    return err;
}

/* Decides from the header whether the database is ours and current, new, or refused. */
static int judge(int64_t app_id, int64_t version, int64_t objects, ms_fmt_t *why)
{
    if (app_id != 0 && app_id != MS_APPLICATION_ID) {
        ms__fmt_str(why, "not a memsweep database (application_id ");
        ms__fmt_i64(why, app_id);
        ms__fmt_str(why, ")");
        return -EPROTO;
    }
    if (version > MS_SCHEMA_VERSION) {
        ms__fmt_str(why, "database schema version ");
        ms__fmt_i64(why, version);
        ms__fmt_str(why, " is newer than this memsweep's (");
        ms__fmt_i64(why, MS_SCHEMA_VERSION);
        ms__fmt_str(why, ")");
        return -EPROTONOSUPPORT;
    }
    if (app_id == MS_APPLICATION_ID && version == MS_SCHEMA_VERSION)
        return SCHEMA_READY;
    /* A launcher that set application_id first may still be creating the schema. */
    if (version == 0 && (objects == 0 || app_id == MS_APPLICATION_ID))
        return SCHEMA_EMPTY;
    if (app_id == 0) {
        ms__fmt_str(why, "not a memsweep database");
        return -EPROTO;
    }
    ms__fmt_str(why, "database schema version ");
    ms__fmt_i64(why, version);
    ms__fmt_str(why, " is older than this memsweep's (");
    ms__fmt_i64(why, MS_SCHEMA_VERSION);
    ms__fmt_str(why, ")");
    return -EPROTONOSUPPORT;
}

/*
 * Turns a new empty file into a memsweep database. Several shims started without a
 * launcher may race here, so the decision is taken again under the write lock.
 */
static int create_schema(ms_store_t *st, ms_fmt_t *why)
{
    char sql[128];
    ms_fmt_t f;
    int64_t app_id, version, objects;
    int err;

    /* journal_mode cannot change inside a transaction; it persists in the file. */
    err = exec_sql(st, "PRAGMA journal_mode=WAL", why);
    if (err == 0)
        err = exec_sql(st, "BEGIN IMMEDIATE", why);
    if (err == 0)
        err = read_header(st, &app_id, &version, &objects, why);
    if (err == 0)
        err = judge(app_id, version, objects, why);
    if (err == SCHEMA_EMPTY) {
        ms__fmt_init(&f, sql, sizeof(sql));
        ms__fmt_str(&f, "PRAGMA application_id=");
        ms__fmt_i64(&f, MS_APPLICATION_ID);
        ms__fmt_str(&f, ";PRAGMA user_version=");
        ms__fmt_i64(&f, MS_SCHEMA_VERSION);
        err = exec_sql(st, MS_SCHEMA_SQL, why);
        if (err == 0)
            err = exec_sql(st, sql, why);
    }
    if (err == 0)
        err = exec_sql(st, "COMMIT", why);
    if (err != 0)
        rollback(st);
    return err;
}

void ms__store_init(void)
{
    unsigned char seed;

    /* Only the sampler thread ever calls SQLite, so its mutexes are pure cost. */
    sqlite3_config(SQLITE_CONFIG_SINGLETHREAD);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (ms__vfs_install() != 0)
        return;
    /* The first use reads /dev/urandom: here, before main, not in the sampler later. */
    sqlite3_randomness(1, &seed);
}

int ms__store_open(ms_store_t *st, const char *path, int create, const atomic_int *abandon,
                   ms_fmt_t *why)
{
    int64_t app_id = 0, version = 0, objects = 0;
    int rc;
    int err;

    memset(st, 0, sizeof(*st));
    st->abandon = abandon;
    rc = sqlite3_open_v2(path, &st->db,
                         SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                             SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc != SQLITE_OK) {
        const int sys = st->db != NULL ? sqlite3_system_errno(st->db) : 0;
        if (sys == EBUSY) {
            /* shim_vfs.c refused to take a low descriptor number for a missing spare. */
            ms__fmt_str(why, MS__WHY_NO_SPARE);
            err = -EBUSY;
            goto out;
        }
        err = fail(st, rc, why);
        goto out;
    }
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    sqlite3_busy_handler(st->db, busy_wait, st);
    sqlite3_wal_hook(st->db, wal_committed, st);
    err = exec_sql(st, sql_connection, why);
    if (err == 0)
        err = read_header(st, &app_id, &version, &objects, why);
    if (err == 0)
        err = judge(app_id, version, objects, why);
    if (err == SCHEMA_EMPTY)
        err = create_schema(st, why);
    /*
     * A run of our own is registered before main (shim_main.c), the one moment the shim
     * may open files at will. A database in rollback mode would need a journal opened at
     * every later write, which the sampler may not do while the program runs: WAL mode
     * keeps the files open. Without exclusive access the switch fails, harmlessly.
     */
    if (err == 0 && create)
        sqlite3_exec(st->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
out:
    if (err != 0 && ms__store_close(st) != 0) {
        ms__fmt_init(why, why->buf, why->cap);
        ms__fmt_str(why, "the program closed or replaced the database's file descriptors");
        err = -EBADF;
    }
    return err;
}

int ms__store_close(ms_store_t *st)
{
    const int err = ms__vfs_fds_intact() ? 0 : -EBADF;

    /* Safe either way: SQLite's calls on a descriptor no longer ours fail (shim_vfs.c). */
    sqlite3_finalize(st->insert_process);
    sqlite3_finalize(st->insert_sample);
    sqlite3_finalize(st->end_process);
    sqlite3_finalize(st->update_alloc);
    sqlite3_finalize(st->insert_stack);
    sqlite3_finalize(st->find_stack);
    if (st->db != NULL) {
        rollback(st);
        sqlite3_close(st->db);
    }
    st->insert_process = st->insert_sample = st->end_process = NULL;
    st->update_alloc = st->insert_stack = st->find_stack = NULL;
    st->db = NULL;
    return err;
}

/* Statements run once per run or once per process, prepared when needed. */
static int run_once(ms_store_t *st, const char *sql, sqlite3_stmt **out, ms_fmt_t *why)
{
    const int rc = sqlite3_prepare_v2(st->db, sql, -1, out, NULL);

    return rc == SQLITE_OK ? 0 : fail(st, rc, why);
}

/*
 * Creates the runs row of a process measured without the launcher, in the first sweep of
 * the database, creating that sweep too when there is none.
 */
static int create_run(ms_store_t *st, ms_dest_t *dest, const ms_ident_t *id, ms_fmt_t *why)
{
    sqlite3_stmt *stmt = NULL;
    int64_t sweep_id = 0;
    int err;
    int rc;

    err = run_once(st, sql_first_sweep, &stmt, why);
    if (err != 0)
        goto out;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        sweep_id = sqlite3_column_int64(stmt, 0);
    else if (rc != SQLITE_DONE)
        err = fail(st, rc, why);
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (err != 0)
        goto out;

    if (sweep_id == 0) {
        char host[256];
        int64_t mem_kb = -1;

        if (gethostname(host, sizeof(host)) != 0)
            host[0] = '\0';
        host[sizeof(host) - 1] = '\0';
        if (ms__proc_mem_total_kb(&mem_kb) != 0)
            mem_kb = -1;
        err = run_once(st, sql_insert_sweep, &stmt, why);
        if (err != 0)
            goto out;
        sqlite3_bind_int64(stmt, 1, id->started_ns);
        bind_text_or_null(stmt, 2, host);
        bind_kb(stmt, 3, mem_kb);
        sqlite3_bind_int64(stmt, 4, MS_DEFAULT_RESERVE_MB);
        sqlite3_bind_double(stmt, 5, MS_DEFAULT_SAFETY_FACTOR);
        sqlite3_bind_int64(stmt, 6, dest->interval_ms);
        bind_text_or_null(stmt, 7, id->cmdline);
        sqlite3_bind_text(stmt, 8, MS_ORIGIN_SHIM, -1, SQLITE_STATIC);
        err = step_done(st, stmt, why);
        sqlite3_finalize(stmt);
        stmt = NULL;
        if (err != 0)
            goto out;
        sweep_id = sqlite3_last_insert_rowid(st->db);
    }

    err = run_once(st, sql_insert_run, &stmt, why);
    if (err != 0)
        goto out;
    sqlite3_bind_int64(stmt, 1, sweep_id);
    bind_text_or_null(stmt, 2, id->cmdline);
    sqlite3_bind_int64(stmt, 3, id->started_ns);
    sqlite3_bind_text(stmt, 4, MS_STATUS_RUNNING, -1, SQLITE_STATIC);
    err = step_done(st, stmt, why);
    if (err == 0) {
        dest->run_id = sqlite3_last_insert_rowid(st->db);
        dest->created_run = 1;
    }
out:
    sqlite3_finalize(stmt);
    return err;
}

/*
 * A MEMSWEEP_RUN_ID that names no run of this database (left over from another sweep,
 * or made up) would file the process under nothing: it gets a run of its own instead,
 * and one line says so.
 */
static int check_run(ms_store_t *st, ms_dest_t *dest, ms_fmt_t *why)
{
    sqlite3_stmt *stmt = NULL;
    int found = 0;
    int err;
    int rc;

    err = run_once(st, "SELECT 1 FROM runs WHERE run_id = ?1", &stmt, why);
    if (err != 0)
        return err;
    sqlite3_bind_int64(stmt, 1, dest->run_id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        found = 1;
    else if (rc != SQLITE_DONE)
        err = fail(st, rc, why);
    sqlite3_finalize(stmt);
    if (err == 0 && !found) {
        char buf[160];
        ms_fmt_t f;
        ms__fmt_init(&f, buf, sizeof(buf));
        ms__fmt_str(&f, "memsweep: MEMSWEEP_RUN_ID=");
        ms__fmt_i64(&f, dest->run_id);
        ms__fmt_str(&f, ": no such run in the database; recording a run of this program's own");
        ms__diag_line(&f);
        dest->run_id = 0;
    }
    return err;
}

static int finish_run(ms_store_t *st, const ms_dest_t *dest, const ms_reading_t *end,
                      ms_fmt_t *why)
{
    sqlite3_stmt *stmt = NULL;
    int err;

    err = run_once(st, sql_end_run, &stmt, why);
    if (err == 0) {
        /* The exit status is the parent's to see, not ours: exit_code stays NULL. */
        sqlite3_bind_int64(stmt, 1, end->t_ns);
        sqlite3_bind_text(stmt, 2, MS_STATUS_OK, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 3, dest->run_id);
        sqlite3_bind_text(stmt, 4, MS_STATUS_RUNNING, -1, SQLITE_STATIC);
        err = step_done(st, stmt, why);
    }
    sqlite3_finalize(stmt);
    return err;
}

static void bind_alloc_stats(sqlite3_stmt *stmt, int first, const ms_alloc_stats_t *s)
{
    sqlite3_bind_int(stmt, first, s->tracking);
    sqlite3_bind_int64(stmt, first + 1, s->dropped_rate + s->dropped_queue);
    sqlite3_bind_int64(stmt, first + 2, s->dropped_rate);
    sqlite3_bind_int64(stmt, first + 3, s->dropped_queue);
    sqlite3_bind_int64(stmt, first + 4, s->unstored);
    bind_text_or_null(stmt, first + 5, s->note);
}



static int insert_process(ms_store_t *st, ms_dest_t *dest, const ms_ident_t *id,
                          const ms_reading_t *end, const ms_alloc_stats_t *stats,
                          ms_fmt_t *why)
{
    sqlite3_stmt *stmt;
    int err;

    err = prepare(st, &st->insert_process, sql_insert_process, why);
    if (err != 0)
        return err;
    stmt = st->insert_process;
    sqlite3_bind_int64(stmt, 1, dest->run_id);
    sqlite3_bind_int64(stmt, 2, id->pid);
    sqlite3_bind_int64(stmt, 3, id->ppid);
    bind_text_or_null(stmt, 4, id->exe);
    bind_text_or_null(stmt, 5, id->cmdline);
    sqlite3_bind_int64(stmt, 6, id->started_ns);
    if (end != NULL) {
        sqlite3_bind_int64(stmt, 7, end->t_ns);
        bind_kb(stmt, 8, end->hwm_kb);
        bind_kb(stmt, 9, end->rss_kb);
    }
    bind_alloc_stats(stmt, 10, stats);
    err = step_done(st, stmt, why);
    if (err == 0) {
        dest->proc_id = sqlite3_last_insert_rowid(st->db);
        dest->stats = *stats;
    }
    return err;
}

static int update_alloc(ms_store_t *st, ms_dest_t *dest, const ms_alloc_stats_t *stats,
                        ms_fmt_t *why)
{
    int err;

    if (dest->stats.tracking == stats->tracking &&
        dest->stats.dropped_rate == stats->dropped_rate &&
        dest->stats.dropped_queue == stats->dropped_queue &&
        dest->stats.unstored == stats->unstored && strcmp(dest->stats.note, stats->note) == 0)
        return 0;
    err = prepare(st, &st->update_alloc, sql_update_alloc, why);
    if (err != 0)
        return err;
    bind_alloc_stats(st->update_alloc, 1, stats);
    sqlite3_bind_int64(st->update_alloc, 7, dest->proc_id);
    err = step_done(st, st->update_alloc, why);
    if (err == 0)
        dest->stats = *stats;
    return err;
}

/*
 * The stack_id of s, inserting its text into stacks unless a row with the same hash is
 * there already (from this process or any other). *stack_id is 0 when the stack has no
 * frame outside the shim.
 */
static int store_stack(ms_store_t *st, const ms_stack_t *s, const char *exe,
                       int64_t *stack_id, ms_fmt_t *why)
{
    ms_fmt_t text;
    int64_t hash;
    int depth;
    int err;
    int rc;

    *stack_id = 0;
    ms__fmt_init(&text, frames_text, sizeof(frames_text));
    depth = ms__stack_format(s, exe, &text);
    if (depth == 0)
        return 0;
    hash = ms__stack_hash(text.buf, text.len);
    err = prepare(st, &st->insert_stack, sql_insert_stack, why);
    if (err != 0)
        return err;
    sqlite3_bind_int64(st->insert_stack, 1, hash);
    sqlite3_bind_int(st->insert_stack, 2, depth);
    sqlite3_bind_text(st->insert_stack, 3, text.buf, (int)text.len, SQLITE_STATIC);
    err = step_done(st, st->insert_stack, why);
    if (err == 0)
        err = prepare(st, &st->find_stack, sql_find_stack, why);
    if (err != 0)
        return err;
    sqlite3_bind_int64(st->find_stack, 1, hash);
    rc = sqlite3_step(st->find_stack);
    if (rc == SQLITE_ROW)
        *stack_id = sqlite3_column_int64(st->find_stack, 0);
    else
        err = fail(st, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, why);
    sqlite3_reset(st->find_stack);
    sqlite3_clear_bindings(st->find_stack);
    return err;
}

static int insert_samples(ms_store_t *st, int64_t proc_id, const ms_ident_t *id,
                          const ms_reading_t *r, size_t n, const ms_stack_t *stacks,
                          ms_fmt_t *why)
{
    int err;

    err = prepare(st, &st->insert_sample, sql_insert_sample, why);
    for (size_t i = 0; err == 0 && i < n; i++) {
        sqlite3_stmt *const stmt = st->insert_sample;
        int64_t stack_id = 0;
        if (r[i].stack >= 0 && stacks != NULL) {
            err = store_stack(st, &stacks[r[i].stack], id->exe, &stack_id, why);
            if (err != 0)
                break;
        }
        sqlite3_bind_int64(stmt, 1, proc_id);
        sqlite3_bind_int64(stmt, 2, r[i].t_ns);
        sqlite3_bind_int64(stmt, 3, r[i].rss_kb);
        bind_kb(stmt, 4, r[i].hwm_kb);
        sqlite3_bind_text(stmt, 5, r[i].kind, -1, SQLITE_STATIC);
        bind_kb(stmt, 6, r[i].heap_kb);
        if (stack_id > 0)
            sqlite3_bind_int64(stmt, 7, stack_id);
        else
            sqlite3_bind_null(stmt, 7);
        err = step_done(st, stmt, why);
    }
    return err;
}

static int end_process(ms_store_t *st, int64_t proc_id, const ms_reading_t *end,
                       ms_fmt_t *why)
{
    sqlite3_stmt *stmt;
    int err;

    err = prepare(st, &st->end_process, sql_end_process, why);
    if (err != 0)
        return err;
    stmt = st->end_process;
    sqlite3_bind_int64(stmt, 1, end->t_ns);
    bind_kb(stmt, 2, end->hwm_kb);
    bind_kb(stmt, 3, end->rss_kb);
    sqlite3_bind_int64(stmt, 4, proc_id);
    return step_done(st, stmt, why);
}

int ms__store_write(ms_store_t *st, ms_dest_t *dest, const ms_ident_t *id,
                    const ms_reading_t *r, size_t n, const ms_stack_t *stacks,
                    const ms_alloc_stats_t *stats, const ms_reading_t *end, ms_fmt_t *why)
{
    /* Ids become the caller's only once the transaction that made them commits. */
    ms_dest_t next = *dest;
    int err;

    if (!ms__vfs_fds_intact()) {
        ms__fmt_str(why, "the program closed or replaced the database's file descriptors");
        return -EBADF;
    }
    if (ms__vfs_db_deleted()) {
        ms__fmt_str(why, "the database file was deleted");
        return -ENOENT;
    }
    err = exec_sql(st, "BEGIN IMMEDIATE", why);
    if (err == 0 && next.run_id != 0 && next.proc_id == 0 && !next.created_run)
        err = check_run(st, &next, why);
    if (err == 0 && next.run_id == 0)
        err = create_run(st, &next, id, why);
    if (err == 0 && next.proc_id == 0) {
        err = insert_process(st, &next, id, end, stats, why);
    } else {
        if (err == 0 && end != NULL)
            err = end_process(st, next.proc_id, end, why);
        if (err == 0)
            err = update_alloc(st, &next, stats, why);
    }
    if (err == 0)
        err = insert_samples(st, next.proc_id, id, r, n, stacks, why);
    if (err == 0 && end != NULL && next.created_run)
        err = finish_run(st, &next, end, why);
    if (err == 0 && before_commit != NULL && !before_commit())
        err = -ECANCELED;
    if (err == 0) {
        err = exec_sql(st, "COMMIT", why);
        if (after_commit != NULL)
            after_commit(err == 0);
    }
    if (err != 0) {
        rollback(st);
        /*
         * The program may have closed the descriptors while the transaction ran: SQLite
         * then saw only an I/O error, and the reason is the close.
         */
        if (err != -ECANCELED && !ms__vfs_fds_intact()) {
            ms__fmt_init(why, why->buf, why->cap);
            ms__fmt_str(why, "the program closed or replaced the database's file descriptors");
            err = -EBADF;
        }
        return err;
    }
    *dest = next;
    if (st->wal_frames >= WAL_CHECKPOINT_FRAMES)
        checkpoint(st);
    return 0;
}
