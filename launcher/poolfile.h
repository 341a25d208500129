/*
 * Creating a pool file (include/memsweep/spool.h) for a run before its worker starts:
 * what the collector of `memsweep run` and `memsweep exec` share.
 */
#ifndef MS_LAUNCHER_POOLFILE_H
#define MS_LAUNCHER_POOLFILE_H

#include <stddef.h>

#include "memsweep/spool.h"

/*
 * Creates a new pool in dir with the header h (created_ns is set here) and `chunks`
 * chunks' blocks allocated, so that a worker's start allocates none. The file is
 * written under a name no reader lists and published whole under
 * "<dir>/<16 random hex digits>.msp" (spoolpub.h), a name no other pool had. Sets *fd
 * (open read-write, close-on-exec) and *path (malloc'd). Returns 0, or -errno with a
 * one-line message in err.
 */
int ms_pool_file_create(const char *dir, const ms_spool_pool_t *h, unsigned chunks, int *fd,
                        char **path, char *err, size_t errlen);

/*
 * Creates dir (mode 0700) unless it exists, and checks it is a directory of this user
 * that no one else may enter: pools and shards are written there. 0 or -errno with a
 * message in err.
 */
int ms_own_dir(const char *dir, char *err, size_t errlen);

#endif
