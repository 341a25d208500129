/* Settling the shards of runs whose exec is gone (see shardfix.h). */
#include "shardfix.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "climsg.h"
#include "errbuf.h"
#include "memsweep/schema.h"
#include "memsweep/spool.h"
#include "spool_fold.h"
#include "spool_gc.h"
#include "spool_read.h"
#include "store.h"

const char *ms_batch_status(const ms_batch_end_t *e)
{
    const char *s = e->state;

    if (strcmp(s, "COMPLETED") == 0)
        return e->have_exit_code && e->exit_code == 0 ? MS_STATUS_OK : MS_STATUS_FAILED;
    if (strcmp(s, "OUT_OF_MEMORY") == 0)
        return MS_STATUS_OOM;
    if (strcmp(s, "TIMEOUT") == 0 || strcmp(s, "DEADLINE") == 0)
        return MS_STATUS_TIMEOUT;
    if (strncmp(s, "CANCELLED", 9) == 0 || strcmp(s, "PREEMPTED") == 0 ||
        strncmp(s, "REQUEUE", 7) == 0 || strcmp(s, "REVOKED") == 0)
        return MS_STATUS_CANCELLED;
    if (strcmp(s, "NODE_FAIL") == 0 || strcmp(s, "BOOT_FAIL") == 0)
        return MS_STATUS_LOST;
    /* With OverMemoryKill a task over its --mem fails with SIGKILL and says why. */
    if (e->have_signal && e->signal == 9 && strstr(e->reason, "memory") != NULL)
        return MS_STATUS_OOM;
    if (e->have_signal)
        return MS_STATUS_KILLED;
    return MS_STATUS_FAILED;
}

const char *ms_batch_status_unrecorded(const ms_batch_end_t *e)
{
    const char *st = ms_batch_status(e);

    /*
     * The job's own exit says nothing of a run whose exec died without recording it: the
     * job may be a script that ran many (GNU parallel inside one job), or may have gone
     * on after the kill. Only a state that names what killed everything in it counts.
     */
    if (strcmp(st, MS_STATUS_OK) == 0 || strcmp(st, MS_STATUS_FAILED) == 0)
        return MS_STATUS_LOST;
    return st;
}

/* The run's status, recorder, batch job and whether it has a batch state, in the shard at path. */
static int read_run(const char *path, char *status, size_t slen, char *recorder, size_t rlen,
                    char *job, size_t jlen, int *have_state, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = ms_store_open_read(path, &db, err, errlen);

    status[0] = recorder[0] = job[0] = '\0';
    if (rc != 0)
        return rc;
    *have_state = 0;
    rc = sqlite3_prepare_v2(db, "SELECT status, recorder, batch_job, batch_state IS NOT NULL"
                                " FROM runs ORDER BY run_id LIMIT 1", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *v;
        if ((v = (const char *)sqlite3_column_text(st, 0)) != NULL)
            snprintf(status, slen, "%s", v);
        if ((v = (const char *)sqlite3_column_text(st, 1)) != NULL)
            snprintf(recorder, rlen, "%s", v);
        if ((v = (const char *)sqlite3_column_text(st, 2)) != NULL)
            snprintf(job, jlen, "%s", v);
        *have_state = sqlite3_column_int(st, 3);
        rc = 0;
    } else {
        ms_store_db_error(db, path, err, errlen);
        rc = -EIO;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* 1 when the recorder "<boot id> <pid> <ticks>" ran on this machine and is gone. */
static int recorder_gone(const char *rec, const ms_spool_host_t *h)
{
    char boot[40];
    long pid;
    unsigned long long ticks, hi, lo;

    if (!h->have_boot || sscanf(rec, "%39s %ld %llu", boot, &pid, &ticks) != 3 ||
        strlen(boot) != 32 || sscanf(boot, "%16llx%16llx", &hi, &lo) != 2)
        return 0;
    if (hi != h->boot_hi || lo != h->boot_lo)
        return 0;
    return ms_spool_pid_alive((int32_t)pid, ticks) == 0;
}

/* Folds the pool at pool into db; *removable when it may go, *all when all of it is in. */
static int fold_into(sqlite3 *db, const char *name, const char *pool, const ms_spool_host_t *h,
                     int *removable, int *all, char *err, size_t errlen)
{
    ms_fold_t *f = NULL;
    ms_spool_t *sp = NULL;
    ms_fold_stats_t st;
    int rc = ms_fold_open(db, name, 0, &f, err, errlen);

    *removable = 0;
    *all = 0;
    if (rc == 0)
        rc = ms_spool_open(pool, &sp, err, errlen);
    if (rc == 0)
        rc = ms_spool_scan(sp, err, errlen);
    if (rc == 0) {
        rc = ms_fold_pool_tx(f, sp, &st, err, errlen);
        if (rc == 0) {
            *removable = ms_spool_removable(sp, h, st.folded_all, NULL, 0) == 1;
            *all = st.folded_all;
        }
    }
    ms_spool_close(sp);
    ms_fold_close(f);
    return rc;
}

/*
 * Records the end of a run that did not record it itself (relabel 0), or what the batch
 * system says of a run whose exec saw it killed by a signal (relabel 1: the signal's
 * sender, a time limit or a cancel, decides its status; its exit figures stay).
 */
static int set_end(sqlite3 *db, const char *name, const char *status, const ms_batch_end_t *be,
                   int relabel, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db,
        relabel ? "UPDATE runs SET status = ?1, batch_state = ?2"
                  " WHERE status = '" MS_STATUS_KILLED "' AND ?3 IS ?3 AND ?4 IS ?4"
                : "UPDATE runs SET status = ?1, batch_state = ?2, exit_code = ?3, term_signal = ?4,"
                  " finished_ns = (SELECT max(s.t_ns) FROM samples s JOIN processes p"
                  " ON p.proc_id = s.proc_id WHERE p.run_id = runs.run_id)"
                  " WHERE status = '" MS_STATUS_RUNNING "'",
        -1, &st, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
        if (be != NULL && be->state[0] != '\0') {
            char text[300];
            snprintf(text, sizeof text, "%s%s%s", be->state, be->reason[0] != '\0' ? ": " : "",
                     be->reason);
            sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
        }
        if (be != NULL && be->have_exit_code)
            sqlite3_bind_int(st, 3, be->exit_code);
        if (be != NULL && be->have_signal)
            sqlite3_bind_int(st, 4, be->signal);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        rc = sqlite3_exec(db,
                          "UPDATE sweeps SET finished_ns = coalesce((SELECT max(finished_ns)"
                          " FROM runs), started_ns) WHERE finished_ns IS NULL",
                          NULL, NULL, NULL) == SQLITE_OK
                 ? SQLITE_DONE
                 : SQLITE_ERROR;
    if (rc != SQLITE_DONE) {
        ms_store_db_error(db, name, err, errlen);
        return -EIO;
    }
    return 0;
}

/*
 * Rewrites the shard uid: its pool folded in, and its end when status is not NULL.
 * Returns 0, 1 when the shard changed meanwhile (left as it is), or -errno.
 */
static int rewrite(const ms_shard_sweep_t *s, const char *uid, const char *pool, int have_pool,
                   const char *status, const ms_batch_end_t *be, int relabel,
                   const ms_spool_host_t *h, char *err, size_t errlen)
{
    char dir[PATH_MAX], local[PATH_MAX + 64];
    char *shard = ms_shard_path(s, uid);
    sqlite3 *db = NULL;
    struct stat before, now;
    int removable = 0, all = 0, rc;

    if (shard == NULL) {
        ms_set_err(err, errlen, "%s", strerror(ENOMEM));
        return -ENOMEM;
    }
    rc = ms_shard_local_dir(dir, sizeof dir, err, errlen);
    if (rc == 0 && stat(shard, &before) != 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", shard, strerror(-rc));
    }
    if (rc == 0) {
        snprintf(local, sizeof local, "%s/%s.settle.%ld%s", dir, uid, (long)getpid(),
                 MS_SHARD_SUFFIX);
        /* A private copy, written and published whole: readers see one or the other. */
        (void)unlink(local); /* left by a collect killed half-way */
        rc = ms_shard_copy(shard, local, err, errlen);
    }
    if (rc == 0)
        rc = ms_store_open_write(local, 0, &db, err, errlen);
    if (rc == 0 && have_pool)
        rc = fold_into(db, local, pool, h, &removable, &all, err, errlen);
    if (rc == 0 && status != NULL)
        rc = set_end(db, local, status, be, relabel, err, errlen);
    if (db != NULL && sqlite3_close(db) != SQLITE_OK && rc == 0) {
        ms_set_err(err, errlen, "%s: cannot close", local);
        rc = -EIO;
    }
    /*
     * Published only over the copy read: an exec still alive that published its last
     * shard meanwhile (a batch system says a job ended while its processes are still
     * being killed) keeps its own.
     */
    if (rc == 0 && (stat(shard, &now) != 0 || now.st_ino != before.st_ino ||
                    now.st_size != before.st_size ||
                    now.st_mtim.tv_sec != before.st_mtim.tv_sec ||
                    now.st_mtim.tv_nsec != before.st_mtim.tv_nsec))
        rc = 1;
    if (rc == 0)
        rc = ms_shard_publish(s, local, uid, err, errlen);
    /* Its processes are gone where the batch system ended the job, on any machine. */
    if (rc == 0 && (removable || (be != NULL && all)))
        (void)unlink(pool);
    (void)unlink(local);
    free(shard);
    return rc;
}

/* The exec's own copy of the shard on this machine, left when it was killed. */
static void remove_local(const char *uid)
{
    char dir[PATH_MAX], path[PATH_MAX + 64], err[256];

    if (ms_shard_local_dir(dir, sizeof dir, err, sizeof err) == 0) {
        snprintf(path, sizeof path, "%s/%s%s", dir, uid, MS_SHARD_SUFFIX);
        (void)unlink(path);
    }
}

/* Temporary copies a publisher killed half-way left in shards/ (hidden names), when old. */
static void remove_stale_copies(const ms_shard_sweep_t *s)
{
    DIR *d = opendir(s->shards_dir);
    struct dirent *e;
    struct stat st;
    const time_t now = time(NULL);

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char *p;
        if (e->d_name[0] != '.' || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (asprintf(&p, "%s/%s", s->shards_dir, e->d_name) < 0)
            continue;
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > MS_SHARD_STALE_S)
            (void)unlink(p);
        free(p);
    }
    closedir(d);
}

int ms_shard_settle(const ms_shard_sweep_t *s, ms_batch_state_fn lookup, void *arg,
                    ms_settle_counts_t *counts, char *err, size_t errlen)
{
    ms_spool_host_t host;
    DIR *d = opendir(s->shards_dir);
    struct dirent *e;
    int rc = 0;

    memset(counts, 0, sizeof *counts);
    if (d == NULL) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", s->shards_dir, strerror(-rc));
        return rc;
    }
    if (ms_spool_host_self(&host) != 0)
        memset(&host, 0, sizeof host);
    remove_stale_copies(s);
    while (rc == 0 && (e = readdir(d)) != NULL) {
        const size_t len = strlen(e->d_name), sl = strlen(MS_SHARD_SUFFIX);
        char status[32], rec[128], job[128], uid[64];
        char *shard = NULL, *pool = NULL;
        ms_batch_end_t be;
        int have_batch = 0, have_pool, have_state = 0;

        if (e->d_name[0] == '.' || len <= sl || len - sl >= sizeof uid ||
            strcmp(e->d_name + len - sl, MS_SHARD_SUFFIX) != 0)
            continue;
        snprintf(uid, sizeof uid, "%.*s", (int)(len - sl), e->d_name);
        if (asprintf(&shard, "%s/%s", s->shards_dir, e->d_name) < 0 ||
            asprintf(&pool, "%s/%s%s", s->spool_dir, uid, MS_SPOOL_SUFFIX) < 0) {
            free(shard);
            rc = -ENOMEM;
            ms_set_err(err, errlen, "%s", strerror(ENOMEM));
            break;
        }
        have_pool = access(pool, F_OK) == 0;
        rc = read_run(shard, status, sizeof status, rec, sizeof rec, job, sizeof job, &have_state,
                      err, errlen);
        if (rc != 0 && rc != -ENOMEM) {
            /* Not a shard this memsweep can read: left alone, as the readers leave it out. */
            ms_cli_error("%s; this shard is left out", err);
            rc = 0;
            status[0] = '\0';
        }
        if (rc == 0 && strcmp(status, MS_STATUS_RUNNING) == 0) {
            memset(&be, 0, sizeof be);
            if (job[0] != '\0' && lookup != NULL)
                have_batch = lookup(arg, job, &be) == 1;
            if (have_batch || recorder_gone(rec, &host)) {
                remove_local(uid);
                rc = rewrite(s, uid, pool, have_pool,
                             have_batch ? ms_batch_status_unrecorded(&be) : MS_STATUS_LOST,
                             have_batch ? &be : NULL, 0, &host, err, errlen);
                if (rc == 0)
                    counts->settled++;
                else if (rc == 1)
                    counts->running++; /* its exec published meanwhile */
            } else {
                counts->running++;
            }
        } else if (rc == 0 && strcmp(status, MS_STATUS_KILLED) == 0 && !have_state &&
                   job[0] != '\0' && lookup != NULL && lookup(arg, job, &be) == 1 &&
                   (strcmp(ms_batch_status(&be), MS_STATUS_TIMEOUT) == 0 ||
                    strcmp(ms_batch_status(&be), MS_STATUS_CANCELLED) == 0 ||
                    strcmp(ms_batch_status(&be), MS_STATUS_OOM) == 0)) {
            /* Killed by a signal the batch system sent: its time limit, a cancel. */
            rc = rewrite(s, uid, pool, have_pool, ms_batch_status(&be), &be, 1, &host, err, errlen);
            if (rc == 0)
                counts->relabelled++;
        } else if (rc == 0 && have_pool) {
            rc = rewrite(s, uid, pool, 1, NULL, NULL, 0, &host, err, errlen);
            if (rc == 0)
                counts->refolded++;
        }
        if (rc == 1)
            rc = 0; /* the shard changed while it was rewritten: left as its exec wrote it */
        free(shard);
        free(pool);
    }
    closedir(d);
    return rc;
}
