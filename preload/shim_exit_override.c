/*
 * _exit, _Exit and daemon, exported so that a process ending without exit() still leaves its
 * end sample and exit record: dash ends every shell that way, and Python's
 * multiprocessing workers end with os._exit. exit() itself calls the C library's
 * internal _exit, not these, and is handled by the shim's destructor instead.
 *
 * A vfork child calls _exit too, while it shares its parent's memory: ms__before_exit
 * does nothing in a process that does not own a sampler (checked without a lock), so such
 * a child goes straight to the real call.
 */
#include "shim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MS_EXPORT __attribute__((visibility("default")))

MS_EXPORT void _exit(int status)
{
    ms__before_exit();
    ms__real_exit(status);
}

MS_EXPORT void _Exit(int status)
{
    ms__before_exit();
    ms__real_exit(status);
}

/*
 * daemon(3), as the C library does it, but leaving the parent through the shim's _exit:
 * the library's own daemon() ends the parent with its internal _exit, which no exported
 * symbol sees, and the parent's exit record would be missing.
 */
MS_EXPORT int daemon(int nochdir, int noclose)
{
    struct stat st;
    int fd;

    switch (fork()) {
    case -1:
        return -1;
    case 0:
        break;
    default:
        _exit(0);
    }
    if (setsid() == -1)
        return -1;
    if (!nochdir)
        (void)chdir("/");
    if (noclose)
        return 0;
    fd = open("/dev/null", O_RDWR);
    if (fd == -1)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode)) {
        /* Not the null device: stdio is left alone, as the C library does. */
        close(fd);
        errno = ENODEV;
        return -1;
    }
    (void)dup2(fd, STDIN_FILENO);
    (void)dup2(fd, STDOUT_FILENO);
    (void)dup2(fd, STDERR_FILENO);
    if (fd > 2)
        close(fd);
    return 0;
}
