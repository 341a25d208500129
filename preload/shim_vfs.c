/*
 * The descriptors SQLite opens for the shim. They live inside a program that may close,
 * dup2 over or reuse any descriptor number at any moment (a shell's `exec 3>log` does),
 * so the open and close that SQLite's unix VFS makes are wrapped:
 *   - a new descriptor is moved up, out of the low numbers programs pick by hand;
 *   - each is recorded with the device and inode it was opened on, so that the sampler
 *     can check, before it uses the connection, that every one is still the same file;
 *   - a close of a descriptor that is no longer that file is dropped, so that the
 *     program's own file is never closed under it.
 * Only the sampler thread calls SQLite, so the table needs no lock.
 */
#include "shim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* SQLite keeps the database, its WAL and its shared-memory file open; leave headroom. */
#define OWNED_MAX 8

/* Lowest descriptor number SQLite's files are moved to. */
#define FD_FLOOR 40

typedef struct {
    int used;
    int fd;
    dev_t dev;
    ino_t ino;
} ms_owned_fd_t;

static ms_owned_fd_t owned[OWNED_MAX];
static int (*real_open)(const char *, int, int);
static int (*real_close)(int);
static int fd_floor;

static int same_file(const ms_owned_fd_t *o)
{
    struct stat st;

    return fstat(o->fd, &st) == 0 && st.st_dev == o->dev && st.st_ino == o->ino;
}

static int owned_open(const char *path, int flags, int mode)
{
    struct stat st;
    int fd = real_open(path, flags, mode);

    if (fd < 0)
        return fd;
    if (fd < fd_floor) {
        const int high = fcntl(fd, F_DUPFD_CLOEXEC, fd_floor);
        if (high >= 0) {
            real_close(fd);
            fd = high;
        }
    }
    if (fstat(fd, &st) == 0) {
        for (size_t i = 0; i < OWNED_MAX; i++) {
            if (!owned[i].used) {
                owned[i].used = 1;
                owned[i].fd = fd;
                owned[i].dev = st.st_dev;
                owned[i].ino = st.st_ino;
                break;
            }
        }
    }
    return fd;
}

static int owned_close(int fd)
{
    for (size_t i = 0; i < OWNED_MAX; i++) {
        if (owned[i].used && owned[i].fd == fd) {
            const int ours = same_file(&owned[i]);
            owned[i].used = 0;
            if (!ours)
                return 0;
            break;
        }
    }
    return real_close(fd);
}

int ms__vfs_install(void)
{
    sqlite3_vfs *const vfs = sqlite3_vfs_find(NULL);
    struct rlimit rl;

    /*
     * Above the numbers shells and programs pick by hand (3 to 9, and 10 up for saved
     * copies), yet inside the kernel's initial table of 64 descriptors: growing that table
     * in a process with more than one thread waits for an RCU grace period, milliseconds.
     */
    fd_floor = FD_FLOOR;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * FD_FLOOR)
        fd_floor = (int)(rl.rlim_cur / 2);
    if (vfs == NULL || vfs->iVersion < 3 || vfs->xGetSystemCall == NULL)
        return -ENOSYS;
    real_open = (int (*)(const char *, int, int))vfs->xGetSystemCall(vfs, "open");
    real_close = (int (*)(int))vfs->xGetSystemCall(vfs, "close");
    if (real_open == NULL || real_close == NULL)
        return -ENOSYS;
    if (vfs->xSetSystemCall(vfs, "close", (sqlite3_syscall_ptr)owned_close) != SQLITE_OK)
        return -ENOSYS;
    if (vfs->xSetSystemCall(vfs, "open", (sqlite3_syscall_ptr)owned_open) != SQLITE_OK) {
        vfs->xSetSystemCall(vfs, "close", (sqlite3_syscall_ptr)real_close);
        return -ENOSYS;
    }
    return 0;
}

int ms__vfs_fds_intact(void)
{
    for (size_t i = 0; i < OWNED_MAX; i++) {
        if (owned[i].used && !same_file(&owned[i]))
            return 0;
    }
    return 1;
}
