/*
 * /proc reads, clocks and random numbers. Every file is read by open, pread and close:
 * the shim keeps no descriptor of the program's table open, so none can collide with the
 * program's numbers later. The open takes the lowest free number for a moment; each
 * caller says why that is harmless where it calls (before main, in the sampler's own
 * descriptor table, or inside one of the program's own calls with signals blocked).
 */
#include "shim_internal.h"

#include "memsweep/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Bytes of /proc/self/status read at a time. The figures sit about 1 KiB into the file; a
 * long Groups line moves them further, and then the file is read on in steps of this size.
 */
#define STATUS_CHUNK 2048

void *ms__sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int ms__sys_munmap(void *addr, size_t len)
{
    return (int)syscall(SYS_munmap, addr, len);
}

/*
 * The raw system calls where their layouts are the C library's (x86-64); elsewhere the
 * library's wrappers, whose structures may differ from the kernel's (32-bit time, 16-bit
 * ids). ms__sys_fstat lives in shim_fmt.c, whose diagnostics use it too.
 */
uid_t ms__sys_geteuid(void)
{
#if defined(__x86_64__)
    return (uid_t)syscall(SYS_geteuid);
#else
    return geteuid();
#endif
}

int64_t ms__clock_sys_ns(clockid_t clock)
{
    struct timespec ts;

#if defined(__x86_64__)
    if (syscall(SYS_clock_gettime, clock, &ts) != 0)
        return 0;
#else
    if (clock_gettime(clock, &ts) != 0)
        return 0;
#endif
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ms__clock_ns(clockid_t clock)
{
    struct timespec ts;

    if (clock_gettime(clock, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

pid_t ms__pid(void)
{
    return (pid_t)syscall(SYS_getpid);
}

int ms__proc_read(const char *path, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int rc = 0;
    int fd;

    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    while (n < cap) {
        const ssize_t got = pread(fd, buf + n, cap - n, (off_t)n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        /* A /proc file hands out what it has in one read: a short read is its end. */
        if ((size_t)got < cap - (n - (size_t)got))
            break;
    }
    close(fd);
    *len = n;
    return rc;
}

/*
 * Finds the n keys (each with its colon) of a status file, their values into *slots[i]
 * (-1 for one not found), reading the file in chunks that each start at a line, so that
 * ms_procfs_kb_field sees whole lines only. A line longer than a chunk is skipped.
 */
static void scan_status(int fd, const char *const *keys, int64_t *const *slots, size_t n)
{
    char buf[STATUS_CHUNK];
    off_t off = 0;
    int in_long_line = 0;
    size_t found = 0;

    for (size_t i = 0; i < n; i++)
        *slots[i] = -1;
    for (int rounds = 0; rounds < 64; rounds++) {
        const ssize_t got = pread(fd, buf, sizeof(buf), off);
        size_t start = 0, end;
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (in_long_line) {
            while (start < (size_t)got && buf[start] != '\n')
                start++;
            if (start == (size_t)got) {
                off += got;
                continue;
            }
            start++;
            in_long_line = 0;
        }
        end = (size_t)got;
        if (got == (ssize_t)sizeof(buf)) {
            while (end > start && buf[end - 1] != '\n')
                end--;
        }
        if (end == start) {
            in_long_line = 1;
            off += got;
            continue;
        }
        /* One pass over the lines, each compared with the keys not found yet. */
        for (size_t at = start; at < end && found < n;) {
            size_t eol = at;
            while (eol < end && buf[eol] != '\n')
                eol++;
            for (size_t i = 0; i < n; i++) {
                unsigned long long v;
                if (*slots[i] < 0 && buf[at] == keys[i][0] &&
                    ms_procfs_kb_field(buf + at, eol - at, keys[i], &v) == 0) {
                    *slots[i] = (int64_t)v;
                    found++;
                    break;
                }
            }
            at = eol + 1;
        }
        if (found == n || got < (ssize_t)sizeof(buf))
            break;
        off += (off_t)end;
    }
}

int ms__proc_status_fd(int fd, ms_status_t *st)
{
    static const char *const keys[] = {"VmRSS:", "VmHWM:", "RssAnon:", "RssFile:", "RssShmem:"};
    int64_t *const slots[] = {&st->rss_kb, &st->hwm_kb, &st->anon_kb, &st->file_kb,
                              &st->shmem_kb};

    scan_status(fd, keys, slots, sizeof(keys) / sizeof(keys[0]));
    return st->rss_kb >= 0 ? 0 : -EPROTO;
}

static int status_of(const char *path, ms_status_t *st)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    int err;

    if (fd < 0)
        return -errno;
    err = ms__proc_status_fd(fd, st);
    close(fd);
    return err;
}

int ms__proc_status(ms_status_t *st)
{
    const int err = status_of("/proc/self/status", st);

    /* The main thread is gone and took the figures of /proc/self with it. */
    if (err == -EPROTO)
        return status_of("/proc/thread-self/status", st);
    return err;
}

/*
 * smaps_rollup holds a line per figure; Pss is among the first ten, well inside the
 * first read. The kernel walks every mapping of the process to produce it, holding the
 * process's memory-map lock for reading: callers bound how often (shim_sampler.c).
 */
int ms__proc_pss_fd(int fd, ms_pss_t *pss)
{
    char buf[1024];
    unsigned long long v;
    ssize_t got;

    do
        got = pread(fd, buf, sizeof(buf), 0);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        return -errno;
    if (ms_procfs_kb_field(buf, (size_t)got, "Pss:", &v) != 0)
        return -EPROTO;
    pss->total = (int64_t)v;
    pss->anon = ms_procfs_kb_field(buf, (size_t)got, "Pss_Anon:", &v) == 0 ? (int64_t)v : -1;
    pss->shmem = ms_procfs_kb_field(buf, (size_t)got, "Pss_Shmem:", &v) == 0 ? (int64_t)v : -1;
    return 0;
}

int ms__proc_start_ticks(uint64_t *ticks)
{
    char buf[1024];
    size_t len, pos = 0, close_paren = 0;
    unsigned long long v = 0;
    int rc, field;

    rc = ms__proc_read("/proc/self/stat", buf, sizeof(buf), &len);
    if (rc != 0)
        return rc;
    /*
     * The command name (field 2) is in parentheses and may itself hold spaces and
     * parentheses: the fields are counted from the last ')' on, which is field 2's end.
     */
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == ')')
            close_paren = i + 1;
    }
    if (close_paren == 0)
        return -EPROTO;
    pos = close_paren;
    for (field = 3; field <= 22; field++) {
        while (pos < len && buf[pos] == ' ')
            pos++;
        if (field == 22)
            break;
        while (pos < len && buf[pos] != ' ')
            pos++;
    }
    if (ms_procfs_number(buf, len, &pos, &v) != 0)
        return -EPROTO;
    *ticks = v;
    return 0;
}

uint64_t ms__proc_pidns_ino(void)
{
    struct stat st;

    return stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* The program's path, for IDENT records and for naming the main program in stacks. */
static MS__COLD char exe_path[MS__PATH_MAX];
static atomic_int exe_state; /* 0 unread, 1 being read, 2 read */

const char *ms__proc_exe(void)
{
    int expect = 0;

    if (atomic_load_explicit(&exe_state, memory_order_acquire) == 2)
        return exe_path;
    if (atomic_compare_exchange_strong(&exe_state, &expect, 1)) {
        const ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
        exe_path[n > 0 ? n : 0] = '\0';
        atomic_store_explicit(&exe_state, 2, memory_order_release);
        return exe_path;
    }
    /* Another thread is reading it this very moment: no name rather than a wait. */
    return atomic_load_explicit(&exe_state, memory_order_acquire) == 2 ? exe_path : "";
}

void ms__proc_exe_reset(void)
{
    atomic_store(&exe_state, 0);
}

size_t ms__proc_exe_into(char *buf, size_t cap)
{
    ssize_t n;

    if (cap == 0)
        return 0;
    if (atomic_load_explicit(&exe_state, memory_order_acquire) == 2) {
        const size_t len = strnlen(exe_path, cap);
        memcpy(buf, exe_path, len);
        return len;
    }
    n = readlink("/proc/self/exe", buf, cap);
    return n > 0 ? (size_t)n : 0;
}

/*
 * The arguments as the kernel laid them out for this image: argv[0] up to the NUL after
 * the last argument, the very bytes /proc/self/cmdline reads. NULL when the constructor
 * found them not laid out so (then /proc/self/cmdline is read).
 */
static const char *args_start;
static size_t args_len;

void ms__proc_args_init(int argc, char **argv)
{
    const char *end;

    args_start = NULL;
    args_len = 0;
    if (argc <= 0 || argv == NULL || argv[0] == NULL)
        return;
    end = argv[0];
    for (int i = 0; i < argc; i++) {
        if (argv[i] != end)
            return;
        end += strlen(argv[i]) + 1;
    }
    args_start = argv[0];
    args_len = (size_t)(end - argv[0]);
}

size_t ms__proc_cmdline(char *buf, size_t cap, int *cut)
{
    size_t len = 0;

    /*
     * The kernel's own test: a last byte that is no longer NUL means the program wrote a
     * title over its arguments and on past them (as postgres and nginx do), which only
     * /proc/self/cmdline follows.
     */
    if (args_start != NULL && args_start[args_len - 1] == '\0') {
        len = args_len < cap ? args_len : cap;
        *cut = args_len > cap;
        memcpy(buf, args_start, len);
    } else if (ms__proc_read("/proc/self/cmdline", buf, cap, &len) != 0) {
        *cut = 0;
        return 0;
    } else {
        *cut = len == cap;
    }
    /* Arguments are NUL-separated with a NUL after the last one. */
    while (len > 0 && buf[len - 1] == '\0')
        len--;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\0')
            buf[i] = ' ';
    }
    return len;
}

uint64_t ms__random64(void)
{
    uint64_t v = 0;
    int local;

    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
        /*
         * Early in boot the pool may not be ready: a mix of what differs between
         * processes and between moments is enough to keep keys apart.
         */
        v = (uint64_t)ms__clock_ns(CLOCK_REALTIME) ^ ((uint64_t)ms__pid() << 32) ^
            (uint64_t)(uintptr_t)&local ^ (uint64_t)ms__clock_ns(CLOCK_MONOTONIC) << 17;
        v ^= v >> 33;
        v *= UINT64_C(0xff51afd7ed558ccd);
        v ^= v >> 33;
    }
    return v != 0 ? v : 1;
}
