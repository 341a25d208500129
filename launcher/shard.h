/*
 * The sweep directory of a sweep made of shards (docs/usage.md#a-sweep-made-of-shards):
 * every `memsweep exec` (one run under GNU parallel, xargs, make, a SLURM array task...)
 * records its run into a SQLite file of its own, built on node-local disk and published
 * into DIR/shards/ whole, so that no SQLite file is ever written on the shared
 * filesystem and a reader never sees half a shard:
 *
 *   DIR/memory_advisory.txt   the pre-run section, written once by whichever exec came
 *                             first; the post-run section by `memsweep collect DIR`
 *   DIR/shards/<uid>.db       one run each: its sweeps row (the node's memory and CPUs),
 *                             its runs row, processes and samples. Published when the run
 *                             starts (status running) and again when it ends
 *   DIR/spool/<uid>.msp       the run's pool while it runs: every reading of its
 *                             processes, so a run killed together with its exec (a batch
 *                             system's memory kill) keeps the samples it took
 *
 * uid is the pool's random name, unique in the directory by construction (spoolpub.h).
 *
 * Functions that fail return a negative errno code and put a one-line message "<path>:
 * <reason>" (without the "memsweep: " prefix) in err.
 */
#ifndef MS_LAUNCHER_SHARD_H
#define MS_LAUNCHER_SHARD_H

#include <stddef.h>

#include "advisory.h"

#include "memsweep/defaults.h"

typedef struct ms_shard_sweep {
    char *path;          /* absolute */
    char *shards_dir;    /* <path>/shards */
    char *spool_dir;     /* <path>/spool */
    char *advisory_path; /* <path>/memory_advisory.txt */
} ms_shard_sweep_t;

/*
 * Opens the sweep at dir, creating it (and its parents, shards/ and spool/) when absent,
 * with the pre-run section for machine m. Any number of processes may do this at once:
 * each directory is made by one and found by the others, and the advisory file is
 * written whole under a private name and given its final name only when no other has
 * it, so exactly one pre-run section is written and no caller fails for the race.
 * *created is 1 for the caller whose pre-run section was kept.
 */
int ms_shard_sweep_open(const char *dir, const ms_machine_t *m, ms_shard_sweep_t *s,
                        int *created, char *err, size_t errlen);

/*
 * Whether dir looks like a sweep made of shards (it has a shards/ directory). 1, 0.
 */
int ms_shard_sweep_is(const char *dir);

void ms_shard_sweep_free(ms_shard_sweep_t *s);

/*
 * The node-local directory where shards are built, "/tmp/memsweep-<uid>" (or
 * $TMPDIR/memsweep-<uid> when TMPDIR names a directory), created private. Writes it into
 * out. 0 or -errno.
 */
int ms_shard_local_dir(char *out, size_t len, char *err, size_t errlen);

/*
 * Publishes the database file at local as DIR/shards/<uid>.db: copied into a temporary
 * file beside it, flushed to disk, and renamed over the previous copy, if any. A rename
 * never crosses filesystems, so this works where the sweep directory is on NFS or Lustre
 * and the shard on local disk.
 */
int ms_shard_publish(const ms_shard_sweep_t *s, const char *local, const char *uid, char *err,
                     size_t errlen);

/* A new random run identity: 16 hex digits (as a pool's name). 0 or -errno. */
int ms_shard_new_uid(char *out, size_t len);

/*
 * Copies the file at from into a new file at to (which must not exist), flushed to disk.
 * Returns 0, or -errno with a message naming the file in err.
 */
int ms_shard_copy(const char *from, const char *to, char *err, size_t errlen);

/* The path of shard uid ("<shards_dir>/<uid>.db"), malloc'd; NULL on ENOMEM. */
char *ms_shard_path(const ms_shard_sweep_t *s, const char *uid);

/*
 * Replaces the post-run section of the advisory file (everything after the pre-run
 * section), or appends one, by writing the whole file anew and renaming it into place.
 */
int ms_shard_write_post(const ms_shard_sweep_t *s, const ms_advisory_t *a, char *err,
                        size_t errlen);

#endif
