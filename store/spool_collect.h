/*
 * Folding every pool of a spool directory, and finding the spool directories of a
 * database: what `memsweep collect`, the end of `memsweep run` and the readers share.
 */
#ifndef MS_STORE_SPOOL_COLLECT_H
#define MS_STORE_SPOOL_COLLECT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "spool_fold.h"

/* Receives one line about a pool (without the "memsweep: " prefix). */
typedef void (*ms_collect_warn_fn)(void *arg, const char *msg);

typedef struct ms_collect_opts {
    int remove;              /* remove the pools the removal rule allows (spool_gc.h) */
    int vanished_is_error;   /* a pool listed but gone when opened: -EAGAIN (readers) */
    /*
     * Readers: the largest run id of their snapshot. A pool of a later run was created
     * after the snapshot was taken (the launcher records the run, then makes its pool) and
     * is left for the next read, without a warning; 0 for writers.
     */
    long long snapshot_max_run;
    ms_collect_warn_fn warn; /* NULL: say nothing */
    void *warn_arg;
} ms_collect_opts_t;

typedef struct ms_collect_result {
    size_t pools;     /* pool files found */
    size_t removed;   /* of them, removed */
    size_t refused;   /* not pools, or pools of another database: left alone */
    size_t pending;   /* kept for a later collection (processes alive, ...) */
    uint64_t rows;
    uint64_t rejected;
} ms_collect_result_t;

/*
 * The names of the pool files (MS_SPOOL_SUFFIX) in dir, oldest first by the creation time
 * in their headers (so that runs of their own are numbered in the order they began), then
 * by name, in a malloc'd array of malloc'd strings. -ENOENT when dir does not exist.
 */
int ms_spool_list(const char *dir, char ***names, size_t *n);
void ms_spool_list_free(char **names, size_t n);

/*
 * The spool directories of the database at db_path: those its sweeps rows record
 * (sweeps.spool_dir; db may be NULL when there is no database yet), MEMSWEEP_SPOOL_DIR
 * when set, and the default one (spooldir.h), without duplicates. Returns 0 or -ENOMEM.
 */
int ms_spool_dirs_of(sqlite3 *db, const char *db_path, char ***dirs, size_t *n);

/*
 * Folds every pool of dir into f's database, each in transactions of its own, and with
 * o->remove removes those the rule allows (and dir, once empty). Pools that cannot be
 * read are counted and reported through o->warn, never fatal. Returns 0, -EAGAIN (see
 * vanished_is_error), or the code of a database failure with err set.
 */
int ms_collect_dir(ms_fold_t *f, const char *dir, const ms_collect_opts_t *o,
                   ms_collect_result_t *r, char *err, size_t errlen);

#endif
