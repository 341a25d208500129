/*
 * Where the pools of a program measured without the launcher go, when MEMSWEEP_SPOOL_DIR
 * does not say: next to the database, "<absolute database path>.spool/", unless the
 * database's directory is on a network filesystem. There a pool's shared mapping and its
 * processes' liveness are only meaningful on one machine, so the directory is node-local:
 * "/tmp/memsweep-<uid>/<database path with every '/' replaced by '%'>.spool". The shim and
 * memsweep both derive it with this function, so that memsweep finds the pools of the
 * database it is given.
 */
#ifndef MS_MEMSWEEP_SPOOLDIR_H
#define MS_MEMSWEEP_SPOOLDIR_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "memsweep/spool.h"

/* Whether statfs's f_type names a filesystem shared by several machines. */
static inline int ms_spool_fs_is_network(unsigned long f_type)
{
    switch (f_type & 0xFFFFFFFFul) {
    case 0x6969ul:     /* NFS */
    case 0x517Bul:     /* SMB */
    case 0xFF534D42ul: /* CIFS */
    case 0xFE534D42ul: /* SMB2 */
    case 0x0BD00BD0ul: /* Lustre */
    case 0x47504653ul: /* GPFS */
    case 0x00C36400ul: /* Ceph */
    case 0x01021997ul: /* 9P */
    case 0x5346414Ful: /* AFS */
    case 0x65735546ul: /* FUSE */
        return 1;
    default:
        return 0;
    }
}

/*
 * Writes the default spool directory of the database at db_path into out (len bytes).
 * A relative db_path is taken from the current directory; the database's directory is
 * resolved (realpath) when it exists, so that two spellings of one database give one
 * spool directory. The database itself need not exist. Returns 0, or -ENAMETOOLONG, or
 * the -errno of getcwd.
 */
static inline int ms_spool_dir_for_db(const char *db_path, char *out, size_t len)
{
    char abs[PATH_MAX];
    char dir[PATH_MAX];
    char real[PATH_MAX];
    const char *base;
    const char *slash;
    struct statfs fs;
    int n;

    if (db_path == NULL || db_path[0] == '\0')
        return -EINVAL;
    if (db_path[0] == '/') {
        n = snprintf(abs, sizeof abs, "%s", db_path);
    } else {
        if (getcwd(dir, sizeof dir) == NULL)
            return -errno;
        n = snprintf(abs, sizeof abs, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, db_path);
    }
    if (n < 0 || (size_t)n >= sizeof abs)
        return -ENAMETOOLONG;
    slash = strrchr(abs, '/');
    base = slash + 1;
    n = snprintf(dir, sizeof dir, "%.*s", slash == abs ? 1 : (int)(slash - abs), abs);
    if (n < 0 || (size_t)n >= sizeof dir)
        return -ENAMETOOLONG;
    if (realpath(dir, real) != NULL) {
        n = snprintf(abs, sizeof abs, "%s/%s", strcmp(real, "/") == 0 ? "" : real, base);
        if (n < 0 || (size_t)n >= sizeof abs)
            return -ENAMETOOLONG;
        snprintf(dir, sizeof dir, "%s", real);
    }
    if (statfs(dir, &fs) == 0 && ms_spool_fs_is_network((unsigned long)fs.f_type)) {
        size_t k;
        n = snprintf(out, len, "/tmp/memsweep-%lu/", (unsigned long)getuid());
        if (n < 0 || (size_t)n >= len)
            return -ENAMETOOLONG;
        k = (size_t)n;
        for (const char *p = abs; *p != '\0'; p++) {
            if (k + 1 >= len)
                return -ENAMETOOLONG;
            out[k++] = *p == '/' ? '%' : *p;
        }
        out[k] = '\0';
        n = snprintf(out + k, len - k, "%s", MS_SPOOL_DIR_SUFFIX);
        return n < 0 || (size_t)n >= len - k ? -ENAMETOOLONG : 0;
    }
    n = snprintf(out, len, "%s%s", abs, MS_SPOOL_DIR_SUFFIX);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

#endif
