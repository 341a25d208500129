/*
 * How a new pool appears in a spool directory: whole or not at all. Its creator (the
 * collector of `memsweep run`, or the shim of a program measured with MEMSWEEP_DB only)
 * writes it under "<name>.msp" MS_SPOOL_NEW_SUFFIX, a name no reader lists, with its header
 * and first blocks in place, and then gives it its final name without replacing anything:
 * a reader that lists the directory at any moment finds complete pools only. A creator
 * that dies in between leaves a file readers ignore; `memsweep collect` removes such files
 * once they are MS_SPOOL_NEW_STALE_S old.
 */
#ifndef MS_MEMSWEEP_SPOOLPUB_H
#define MS_MEMSWEEP_SPOOLPUB_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* Appended to a pool's final name while it is being written. */
#define MS_SPOOL_NEW_SUFFIX ".new"

/* Age after which a pool still being written is taken to be abandoned. */
#define MS_SPOOL_NEW_STALE_S 60

/*
 * Gives the file at tmp the name final, unless final exists: 0, -EEXIST (final taken;
 * tmp is left as it was), or another negative errno. renameat2(RENAME_NOREPLACE) where
 * the filesystem has it, else a hard link and the removal of tmp, which never replace
 * either; on a filesystem without hard links, a plain rename once final is seen not to
 * exist (final names are 64 random bits, drawn by the one creator of each).
 */
static inline int ms_spool_publish(const char *tmp, const char *final)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return -errno;
    if (link(tmp, final) == 0) {
        (void)unlink(tmp);
        return 0;
    }
    if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS)
        return -errno;
    if (faccessat(AT_FDCWD, final, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return -EEXIST;
    return rename(tmp, final) == 0 ? 0 : -errno;
}

#endif
