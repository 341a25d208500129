/*
 * _exit and _Exit, exported so that a process ending without exit() still leaves its
 * end sample and exit record: dash ends every shell that way, and Python's
 * multiprocessing workers end with os._exit. exit() itself calls the C library's
 * internal _exit, not these, and is handled by the shim's destructor instead.
 *
 * A vfork child calls _exit too, while it shares its parent's memory: ms__before_exit
 * does nothing in a process that does not own a sampler (checked without a lock), so such
 * a child goes straight to the real call.
 */
#include "shim_internal.h"

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
