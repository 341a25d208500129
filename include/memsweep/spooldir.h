/*
 * Where a program measured without the launcher keeps its pools (include/memsweep/spool.h):
 * the shim creates the directory and its pool there, and `memsweep collect` and the readers
 * must find the same directory from the same database path. Everything here is pure: the
 * caller does the system calls (statfs of the database's directory, getuid) and passes
 * their results, so that every side computes the path by the one rule below.
 *
 * The rule, for the database path DB made absolute and with its directory resolved
 * (realpath, when the directory exists), so that two spellings of one database give one
 * directory:
 *   1. MEMSWEEP_SPOOL_DIR, when set and not empty, as given (made absolute by the caller).
 *   2. Otherwise "<DB>.spool", next to the database,
 *   3. except when the database's directory is on a network filesystem (NFS, SMB/CIFS,
 *      Lustre, GPFS, Ceph, 9P, AFS, FUSE): a pool is a file that several processes map and
 *      update with atomic operations, which such filesystems do not make coherent between
 *      machines, and a node-local directory is then used:
 *      "/tmp/memsweep-<uid>/<DB with every '/' replaced by '%'>.spool". Its parent
 *      "/tmp/memsweep-<uid>" belongs to the user and has mode 0700.
 */
#ifndef MS_MEMSWEEP_SPOOLDIR_H
#define MS_MEMSWEEP_SPOOLDIR_H

#include "memsweep/spool.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

/* Parent of the node-local spool directories: "/tmp/memsweep-<uid>". */
#define MS_SPOOL_LOCAL_PARENT "/tmp/memsweep-"

/*
 * Nonzero when f_type (statfs) names a filesystem on which a pool must not live: NFS, SMB,
 * CIFS, SMB2, Lustre, GPFS, Ceph, 9P, AFS or FUSE (whose backing store may be remote).
 */
static inline int ms_spooldir_is_network_fs(unsigned long long f_type)
{
    switch (f_type & 0xffffffffULL) {
    case 0x6969ULL:     /* NFS */
    case 0x517BULL:     /* SMB */
    case 0xFF534D42ULL: /* CIFS */
    case 0xFE534D42ULL: /* SMB2 */
    case 0x0BD00BD0ULL: /* Lustre */
    case 0x47504653ULL: /* GPFS */
    case 0x00C36400ULL: /* Ceph */
    case 0x01021997ULL: /* 9P */
    case 0x5346414FULL: /* AFS */
    case 0x65735546ULL: /* FUSE */
        return 1;
    default:
        return 0;
    }
}

/*
 * Bytes of db that name its directory ("/a/b" of "/a/b/m.db", "/" of "/m.db"): what the
 * caller passes to statfs. db must be absolute.
 */
static inline size_t ms_spooldir_db_dir_len(const char *db)
{
    size_t len = 0, slash = 0;

    for (; db[len] != '\0'; len++) {
        if (db[len] == '/')
            slash = len;
    }
    return slash == 0 ? 1 : slash;
}

/* Appends s to out[*len], keeping room for the NUL; -ENAMETOOLONG when it does not fit. */
static inline int ms_spooldir_put(char *out, size_t cap, size_t *len, const char *s,
                                  char slash_as)
{
    for (; *s != '\0'; s++) {
        if (*len + 1 >= cap)
            return -ENAMETOOLONG;
        out[(*len)++] = (slash_as != '\0' && *s == '/') ? slash_as : *s;
    }
    out[*len] = '\0';
    return 0;
}

/*
 * The node-local parent directory "/tmp/memsweep-<uid>" into out. 0 or -ENAMETOOLONG.
 */
static inline int ms_spooldir_local_parent(char *out, size_t cap, unsigned uid)
{
    char digits[12];
    size_t n = sizeof(digits) - 1, len = 0;
    int rc;

    digits[n] = '\0';
    do {
        digits[--n] = (char)('0' + uid % 10);
        uid /= 10;
    } while (uid != 0);
    if (cap == 0)
        return -ENAMETOOLONG;
    out[0] = '\0';
    rc = ms_spooldir_put(out, cap, &len, MS_SPOOL_LOCAL_PARENT, 0);
    return rc != 0 ? rc : ms_spooldir_put(out, cap, &len, digits + n, 0);
}

/*
 * The spool directory of the absolute database path db into out (cap bytes, NUL
 * included), by the rule at the top: dir_env is MEMSWEEP_SPOOL_DIR (NULL or "" when
 * unset, else absolute), on_network is ms_spooldir_is_network_fs of the database's
 * directory, uid the user's. Returns 0, or -ENAMETOOLONG, or -EINVAL for a relative db.
 */
static inline int ms_spooldir(char *out, size_t cap, const char *db, const char *dir_env,
                              int on_network, unsigned uid)
{
    size_t len = 0;
    int rc;

    if (cap == 0)
        return -ENAMETOOLONG;
    out[0] = '\0';
    if (dir_env != NULL && dir_env[0] != '\0')
        return ms_spooldir_put(out, cap, &len, dir_env, 0);
    if (db[0] != '/')
        return -EINVAL;
    if (on_network) {
        rc = ms_spooldir_local_parent(out, cap, uid);
        if (rc != 0)
            return rc;
        while (out[len] != '\0')
            len++;
        rc = ms_spooldir_put(out, cap, &len, "/", 0);
        if (rc == 0)
            rc = ms_spooldir_put(out, cap, &len, db, '%');
    } else {
        rc = ms_spooldir_put(out, cap, &len, db, 0);
    }
    return rc != 0 ? rc : ms_spooldir_put(out, cap, &len, MS_SPOOL_DIR_SUFFIX, 0);
}

/*
 * The rule with its system calls, as the shim and memsweep both apply it: db made absolute
 * (from the working directory) with its directory resolved when it exists, statfs of that
 * directory, the effective uid. dir_env is MEMSWEEP_SPOOL_DIR made absolute, or NULL. No
 * allocation, no stdio: the shim calls it before main. Returns 0, or -ENAMETOOLONG, or
 * the -errno of getcwd.
 */
static inline int ms_spooldir_for_db(char *out, size_t cap, const char *db,
                                     const char *dir_env)
{
    char abs[PATH_MAX];
    char real[PATH_MAX];
    struct statfs fs;
    size_t len = 0, dir_len;
    int on_network = 0, rc;

    if (db == NULL || db[0] == '\0')
        return -EINVAL;
    abs[0] = '\0';
    if (db[0] != '/') {
        if (getcwd(abs, sizeof(abs)) == NULL)
            return -errno;
        len = strlen(abs);
        if (len == 1)
            len = 0; /* "/" */
        rc = ms_spooldir_put(abs, sizeof(abs), &len, "/", 0);
        if (rc != 0)
            return rc;
    }
    rc = ms_spooldir_put(abs, sizeof(abs), &len, db, 0);
    if (rc != 0)
        return rc;
    dir_len = ms_spooldir_db_dir_len(abs);
    {
        const char saved = abs[dir_len];
        abs[dir_len] = '\0';
        const int resolved = realpath(abs, real) != NULL;
        abs[dir_len] = saved;
        if (resolved) {
            size_t rlen = strlen(real);
            const char *base = abs + dir_len + (abs[dir_len] == '/' ? 1 : 0);
            if (dir_len == 1 && abs[0] == '/')
                base = abs + 1;
            if (rlen == 1)
                rlen = 0; /* "/" */
            rc = ms_spooldir_put(real, sizeof(real), &rlen, "/", 0);
            if (rc == 0)
                rc = ms_spooldir_put(real, sizeof(real), &rlen, base, 0);
            if (rc != 0)
                return rc;
            memcpy(abs, real, rlen + 1);
        }
    }
    dir_len = ms_spooldir_db_dir_len(abs);
    {
        const char saved = abs[dir_len];
        abs[dir_len] = '\0';
        if (statfs(abs, &fs) == 0)
            on_network = ms_spooldir_is_network_fs((unsigned long long)fs.f_type);
        abs[dir_len] = saved;
    }
    return ms_spooldir(out, cap, abs, dir_env, on_network, (unsigned)geteuid());
}

#endif
