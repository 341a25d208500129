/*
 * The descriptors SQLite uses for the shim.
 *
 * Normally they are not the program's at all: the sampler thread gives itself a
 * descriptor table of its own (ms__vfs_go_private: close_range with CLOSE_RANGE_UNSHARE),
 * closing its copies of the program's descriptors, so that neither side can ever close,
 * reuse or even see the other's numbers. POSIX record locks belong to the table that took
 * them, so closing those copies releases none of the program's locks, and SQLite's locks
 * behave as another process's would. What follows is for kernels or sandboxes that refuse
 * a private table; the checks stay on in either case.
 *
 * In the program's table they live inside a program that may close,
 * dup2 over or reuse any descriptor number at any moment (a shell's `exec 3>log` does, a
 * daemon closes everything from 3 up), so the system calls that SQLite's unix VFS makes on
 * a descriptor are wrapped:
 *
 *  - Every descriptor is recorded with the device and inode it was opened on, and every
 *    call on it first checks (fstat) that the number is still that file. A call on a
 *    number that no longer is ours fails with EBADF instead of reading, writing, locking
 *    or closing the program's file; the sampler finds out before its next transaction
 *    (ms__vfs_fds_intact) and abandons the connection.
 *
 *  - A new descriptor never takes one of the low numbers while the program runs. open(2)
 *    always returns the lowest free number, so an open from the sampler thread could take
 *    the number a program closed a moment ago and is about to reopen by hand, or that it
 *    assumes its own next open gets (`close(1); open("log")` redirects stdout that way).
 *    The database, its WAL and its shared-memory file are therefore opened once, at a
 *    moment when no program code can run concurrently (the constructor, before main; a
 *    fork child's handler, before fork returns), and kept as spares above FD_FLOOR.
 *    SQLite's opens of those paths get a duplicate of the spare, made directly above
 *    FD_FLOOR with F_DUPFD_CLOEXEC, after checking that the path still names the same
 *    file. Any other open, or one whose spare is gone, is refused unless the caller has
 *    declared such a moment (ms__vfs_low_ok).
 *
 * A spare is an open description of the file, so closing it would drop the process's
 * POSIX locks on that file: spares are never closed by the shim (close-on-exec ends them),
 * and a spare the program closed counts as tampering like any other descriptor.
 *
 * Only the sampler thread calls SQLite, and the constructor and fork handlers run when it
 * does not. A program thread renews the spares only while the sampler has handed them
 * over (renew_state, see ms__vfs_claim), so the tables need no lock.
 */
#include "shim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <linux/close_range.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* The files kept as spares: the database itself, its WAL and its shared memory. */
static const char *const spare_suffix[] = {"", "-wal", "-shm"};
#define NSPARES (sizeof(spare_suffix) / sizeof(spare_suffix[0]))

/*
 * Who may touch the spares: nobody is (IDLE), the sampler asks for them to be renewed
 * (WANTED), a program thread is renewing them (BUSY), the sampler is using them, from an
 * open to the close of its connection (IN_USE).
 */
enum { RENEW_IDLE, RENEW_WANTED, RENEW_BUSY, RENEW_IN_USE };

/* How often a program thread looks, unasked, for descriptors of the shim's it closed. */
#define RENEW_CHECK_NS (100 * 1000000LL)

static ms_owned_fd_t owned[OWNED_MAX];
static atomic_int renew_state;
static atomic_int renew_owner; /* the process the spares belong to (not a vfork child) */
static ms_owned_fd_t spares[NSPARES];
static int spare_errno[NSPARES]; /* why the spare could not be opened; 0: it was */
static char spare_path[NSPARES][MS__PATH_MAX + 8];
static atomic_int low_ok;
static atomic_int private_table; /* the sampler has a descriptor table of its own */
static atomic_int expect_private; /* it will have one: the spares need not be opened */
static int fd_floor = FD_FLOOR;

static int (*real_open)(const char *, int, int);
static int (*real_close)(int);
static int (*real_fcntl)(int, int, ...);
static int (*real_ftruncate)(int, off_t);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_pread64)(int, void *, size_t, off_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static int (*real_fchmod)(int, mode_t);
static int (*real_fallocate)(int, off_t, off_t);
static int (*real_fchown)(int, uid_t, gid_t);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);

static int same_file(const ms_owned_fd_t *o)
{
    struct stat st;

    return fstat(o->fd, &st) == 0 && st.st_dev == o->dev && st.st_ino == o->ino;
}

static ms_owned_fd_t *find_owned(int fd)
{
    for (size_t i = 0; i < OWNED_MAX; i++) {
        if (owned[i].used && owned[i].fd == fd)
            return &owned[i];
    }
    return NULL;
}

/*
 * Nonzero when fd may be read: it is one SQLite opened through us and it is still the
 * same file. Descriptors we did not open (none, normally) pass through.
 */
static int usable(int fd)
{
    const ms_owned_fd_t *o = find_owned(fd);

    if (o == NULL || same_file(o))
        return 1;
    errno = EBADF;
    return 0;
}

/*
 * Nonzero when fd may be written: it is usable and so is every other descriptor of the
 * connection. A write must never follow a lock taken on a file we no longer hold.
 */
static int writable(int fd)
{
    if (!usable(fd))
        return 0;
    if (ms__vfs_fds_intact())
        return 1;
    errno = EBADF;
    return 0;
}

/* Moves fd above the floor; the low number is closed only while it is still ours. */
static int move_up(int fd)
{
    struct stat low, high_st;
    int high;

    if (fd >= fd_floor)
        return fd;
    high = fcntl(fd, F_DUPFD_CLOEXEC, fd_floor);
    if (high < 0)
        return fd;
    if (fstat(fd, &low) == 0 && fstat(high, &high_st) == 0 && low.st_dev == high_st.st_dev &&
        low.st_ino == high_st.st_ino)
        real_close(fd);
    return high;
}

static void record(ms_owned_fd_t *o, int fd)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return;
    o->used = 1;
    o->fd = fd;
    o->dev = st.st_dev;
    o->ino = st.st_ino;
}

/*
 * A duplicate above the floor of the spare for path, or -1, with errno set to why the
 * spare could not be opened when that is known (a read-only filesystem, say).
 */
static int from_spare(const char *path)
{
    struct stat st;

    /* The spares live in the program's table, which a private one does not hold. */
    if (atomic_load(&private_table))
        return -1;
    for (size_t i = 0; i < NSPARES; i++) {
        if (strcmp(path, spare_path[i]) != 0)
            continue;
        if (!spares[i].used) {
            errno = spare_errno[i];
            return -1;
        }
        if (!same_file(&spares[i]) || stat(path, &st) != 0 || st.st_dev != spares[i].dev ||
            st.st_ino != spares[i].ino)
            return -1;
        return fcntl(spares[i].fd, F_DUPFD_CLOEXEC, fd_floor);
    }
    return -1;
}

static int owned_open(const char *path, int flags, int mode)
{
    int fd;

    errno = 0;
    fd = from_spare(path);
    if (fd < 0) {
        if (!atomic_load(&low_ok) && !atomic_load(&private_table)) {
            /*
             * SQLite reports SQLITE_CANTOPEN, and the sampler keeps its readings: EBUSY
             * says a spare is needed (the program closed it, or the file is new).
             */
            if (errno != EROFS && errno != EACCES && errno != EPERM)
                errno = EBUSY;
            return -1;
        }
        fd = real_open(path, flags, mode);
        if (fd < 0)
            return fd;
        fd = move_up(fd);
    }
    for (size_t i = 0; i < OWNED_MAX; i++) {
        if (!owned[i].used) {
            record(&owned[i], fd);
            break;
        }
    }
    return fd;
}

static int owned_close(int fd)
{
    ms_owned_fd_t *o = find_owned(fd);

    if (o != NULL) {
        const int ours = same_file(o);
        o->used = 0;
        if (!ours)
            return 0;
    }
    return real_close(fd);
}

/*
 * SQLite passes fcntl a pointer (locks) or an int (flags); both travel in one register.
 * A lock on a descriptor that is no longer ours is not taken, but reported as taken:
 * SQLite retries a lock that fails for many seconds, while every write that could follow
 * fails at once (writable), ending the transaction.
 */
static int owned_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (usable(fd))
        return real_fcntl(fd, cmd, arg);
    if (cmd == F_SETLK || cmd == F_SETLKW)
        return 0;
    if (cmd == F_GETLK && arg != NULL) {
        ((struct flock *)arg)->l_type = F_UNLCK;
        return 0;
    }
    errno = EBADF;
    return -1;
}

static int owned_ftruncate(int fd, off_t len)
{
    return writable(fd) ? real_ftruncate(fd, len) : -1;
}

static ssize_t owned_read(int fd, void *buf, size_t n)
{
    return usable(fd) ? real_read(fd, buf, n) : -1;
}

static ssize_t owned_pread(int fd, void *buf, size_t n, off_t off)
{
    return usable(fd) ? real_pread(fd, buf, n, off) : -1;
}

static ssize_t owned_pread64(int fd, void *buf, size_t n, off_t off)
{
    return usable(fd) ? real_pread64(fd, buf, n, off) : -1;
}

static ssize_t owned_write(int fd, const void *buf, size_t n)
{
    return writable(fd) ? real_write(fd, buf, n) : -1;
}

static ssize_t owned_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return writable(fd) ? real_pwrite(fd, buf, n, off) : -1;
}

static ssize_t owned_pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return writable(fd) ? real_pwrite64(fd, buf, n, off) : -1;
}

static int owned_fchmod(int fd, mode_t mode)
{
    return writable(fd) ? real_fchmod(fd, mode) : -1;
}

static int owned_fallocate(int fd, off_t off, off_t len)
{
    return writable(fd) ? real_fallocate(fd, off, len) : -1;
}

static int owned_fchown(int fd, uid_t uid, gid_t gid)
{
    return writable(fd) ? real_fchown(fd, uid, gid) : -1;
}

static void *owned_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (fd >= 0 && !usable(fd))
        return MAP_FAILED;
    return real_mmap(addr, len, prot, flags, fd, off);
}

typedef struct {
    const char *name;
    void **real;
    sqlite3_syscall_ptr wrapper;
} ms_wrap_t;

#define WRAP(name, real, fn) {name, (void **)(void *)&(real), (sqlite3_syscall_ptr)(fn)}

int ms__vfs_install(void)
{
    static const ms_wrap_t wraps[] = {
        WRAP("open", real_open, owned_open),
        WRAP("close", real_close, owned_close),
        WRAP("fcntl", real_fcntl, owned_fcntl),
        WRAP("ftruncate", real_ftruncate, owned_ftruncate),
        WRAP("read", real_read, owned_read),
        WRAP("pread", real_pread, owned_pread),
        WRAP("pread64", real_pread64, owned_pread64),
        WRAP("write", real_write, owned_write),
        WRAP("pwrite", real_pwrite, owned_pwrite),
        WRAP("pwrite64", real_pwrite64, owned_pwrite64),
        WRAP("fchmod", real_fchmod, owned_fchmod),
        WRAP("fallocate", real_fallocate, owned_fallocate),
        WRAP("fchown", real_fchown, owned_fchown),
        WRAP("mmap", real_mmap, owned_mmap),
    };
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
    /*
     * All or nothing: a call left unwrapped could act on a number that is not ours. A
     * call this build of SQLite does not use (pread when it uses pread64) has no entry.
     */
    for (size_t i = 0; i < sizeof(wraps) / sizeof(wraps[0]); i++) {
        sqlite3_syscall_ptr p = vfs->xGetSystemCall(vfs, wraps[i].name);
        memcpy(wraps[i].real, &p, sizeof(p));
    }
    if (real_open == NULL || real_close == NULL || real_fcntl == NULL)
        return -ENOSYS;
    for (size_t i = 0; i < sizeof(wraps) / sizeof(wraps[0]); i++) {
        if (*wraps[i].real == NULL)
            continue;
        if (vfs->xSetSystemCall(vfs, wraps[i].name, wraps[i].wrapper) != SQLITE_OK) {
            vfs->xSetSystemCall(vfs, NULL, NULL); /* restores every default */
            return -ENOSYS;
        }
    }
    return 0;
}

/*
 * Nonzero when the database at fd is in WAL mode: bytes 18 and 19 of its header (the file
 * format's write and read versions) are 2.
 */
static int is_wal(int fd)
{
    unsigned char v[2];

    return pread(fd, v, sizeof(v), 18) == (ssize_t)sizeof(v) && v[0] == 2 && v[1] == 2;
}

void ms__vfs_reserve(const char *db_path)
{
    struct stat db_st;
    int wal = 0;

    atomic_store(&renew_owner, (int)getpid());
    for (size_t i = 0; i < NSPARES; i++) {
        ms_fmt_t f;
        int fd;

        if (spares[i].used && same_file(&spares[i])) {
            if (i == 0)
                wal = fstat(spares[0].fd, &db_st) == 0 && is_wal(spares[0].fd);
            continue;
        }
        /* A number the program has taken over is left to it. */
        spares[i].used = 0;
        ms__fmt_init(&f, spare_path[i], sizeof(spare_path[i]));
        ms__fmt_str(&f, db_path);
        ms__fmt_str(&f, spare_suffix[i]);
        /* A sampler with a table of its own never uses them: only the paths are kept. */
        if (f.truncated || atomic_load(&expect_private))
            continue;
        /*
         * The database itself is never created here: SQLite decides that. The WAL and
         * the shared-memory file of a database in WAL mode are, as SQLite would (empty,
         * with the database's mode and, for root, its owner), since SQLite itself could
         * not open them later while the program runs. SQLite deletes an empty WAL of a
         * database that has left WAL mode.
         */
        if (i > 0 && wal) {
            fd = open(spare_path[i], O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
                      db_st.st_mode & 0777);
            if (fd >= 0 && geteuid() == 0)
                (void)fchown(fd, db_st.st_uid, db_st.st_gid);
        } else {
            fd = open(spare_path[i], O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        }
        spare_errno[i] = fd < 0 ? errno : 0;
        if (fd < 0)
            continue;
        fd = move_up(fd);
        record(&spares[i], fd);
        if (i == 0)
            wal = fstat(fd, &db_st) == 0 && is_wal(fd);
    }
}

/* At exit the sampler may open files itself: it renews the spares the program closed. */
static void renew_at_exit(void)
{
    char base[sizeof(spare_path[0])];

    memcpy(base, spare_path[0], sizeof(base));
    if (base[0] != '\0')
        ms__vfs_reserve(base);
}

int ms__vfs_claim(int at_exit)
{
    /* A private table does not use the spares: nothing to share. */
    if (atomic_load(&private_table))
        return 0;
    for (int waited_ms = 0;; waited_ms++) {
        int st = RENEW_IDLE;
        if (atomic_compare_exchange_strong(&renew_state, &st, RENEW_IN_USE)) {
            if (at_exit)
                renew_at_exit();
            return 0;
        }
        if (st == RENEW_WANTED && at_exit &&
            atomic_compare_exchange_strong(&renew_state, &st, RENEW_IN_USE)) {
            renew_at_exit();
            return 0;
        }
        /* A program thread is renewing them: at exit, wait for it (briefly). */
        if (st != RENEW_BUSY || !at_exit || waited_ms >= 100)
            return -EBUSY;
        const struct timespec ms1 = {0, 1000000};
        nanosleep(&ms1, NULL);
    }
}

void ms__vfs_release(int want_renew)
{
    if (atomic_load(&private_table))
        return;
    atomic_store(&renew_state, want_renew ? RENEW_WANTED : RENEW_IDLE);
}

void ms__vfs_want_renew(void)
{
    int idle = RENEW_IDLE;

    atomic_compare_exchange_strong(&renew_state, &idle, RENEW_WANTED);
}

void ms__vfs_renew_in_program(void)
{
    static atomic_llong last_check_ns;
    const int st = atomic_load_explicit(&renew_state, memory_order_relaxed);
    int64_t now;
    int expect;
    int cancel_state;
    sigset_t all, old;
    char base[sizeof(spare_path[0])];

    if (st == RENEW_IN_USE || st == RENEW_BUSY)
        return;
    now = ms__clock_ns(CLOCK_MONOTONIC);
    if (st != RENEW_WANTED && now - atomic_load(&last_check_ns) < RENEW_CHECK_NS)
        return;
    atomic_store(&last_check_ns, now);
    if ((int)getpid() != atomic_load(&renew_owner))
        return;
    /*
     * open is a cancellation point, and malloc must not become one: a thread cancelled
     * here would leave the state BUSY for good, and unwind through the C library.
     */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* The status descriptor has its own guard (shim_procfd.c): renew it in any case. */
    ms__procfd_open();
    expect = st;
    if (!atomic_load(&private_table) &&
        atomic_compare_exchange_strong(&renew_state, &expect, RENEW_BUSY)) {
        memcpy(base, spare_path[0], sizeof(base));
        ms__vfs_reserve(base);
        atomic_store(&renew_state, RENEW_IDLE);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_setcancelstate(cancel_state, NULL);
}

void ms__vfs_fork_child(const char *db_path)
{
    atomic_store(&renew_state, RENEW_IDLE);
    ms__vfs_reserve(db_path);
}

int ms__vfs_go_private(int keep_stderr)
{
    struct stat st;
    int keep = 0;

    /*
     * A copy of stderr is kept where keeping it open changes nothing for the program (a
     * terminal, a file), or when asked to (debugging); a pipe or socket a copy held open
     * would not reach its end when the program closes it.
     */
    if (fstat(STDERR_FILENO, &st) == 0)
        keep = keep_stderr || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
    atomic_store(&private_table, 0);
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_UNSHARE) != 0) {
        struct rlimit rl;
        if (unshare(CLONE_FILES) != 0) {
            const int err = -errno;
            /* The spares were not opened on this expectation: a program thread will. */
            if (atomic_exchange(&expect_private, 0))
                ms__vfs_want_renew();
            return err;
        }
        /* A kernel before 5.9: close the copies one by one. */
        if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > 65536)
            rl.rlim_cur = 65536;
        for (unsigned fd = 3; fd < rl.rlim_cur; fd++)
            close((int)fd);
    }
    close(STDIN_FILENO);
    close(STDOUT_FILENO);
    if (!keep)
        close(STDERR_FILENO);
    atomic_store(&private_table, 1);
    return keep;
}

void ms__vfs_expect_private(int want)
{
    /* close_range exists when it refuses a backwards range with EINVAL. */
    const int ok = want && syscall(SYS_close_range, 1U, 0U, 0U) == -1 && errno == EINVAL;

    atomic_store(&expect_private, ok);
}

int ms__vfs_private(void)
{
    return atomic_load(&private_table);
}

void ms__vfs_low_ok(int ok)
{
    atomic_store(&low_ok, ok);
}

int ms__vfs_may_open_low(void)
{
    return atomic_load(&low_ok);
}

int ms__vfs_fds_intact(void)
{
    for (size_t i = 0; i < OWNED_MAX; i++) {
        if (owned[i].used && !same_file(&owned[i]))
            return 0;
    }
    for (size_t i = 0; i < NSPARES && !atomic_load(&private_table); i++) {
        if (spares[i].used && !same_file(&spares[i]))
            return 0;
    }
    return 1;
}

int ms__vfs_db_deleted(void)
{
    struct stat st;

    for (size_t i = 0; i < OWNED_MAX; i++) {
        if (owned[i].used && fstat(owned[i].fd, &st) == 0 && st.st_dev == owned[i].dev &&
            st.st_ino == owned[i].ino && st.st_nlink == 0)
            return 1;
    }
    return 0;
}
