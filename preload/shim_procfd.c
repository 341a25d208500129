/*
 * The /proc/self/status descriptor that allocation-driven samples read. Those samples
 * are taken in the program's own threads, at the moment that matters, so the reading must
 * be short: one pread on a descriptor kept open, instead of an open, a read and a close.
 * pread moves no file offset, so any number of threads may read it at once, and a pread
 * on a descriptor that turned out to be someone else's file reads nothing it could harm.
 *
 * The program may close that descriptor and reuse its number at any time (STYLE rule 5):
 * before each read the number is checked with fstat to still be the file we opened.
 *
 * An open takes the lowest free number for a moment, and must not take one the program
 * is about to act on (see shim_vfs.c). So the descriptor is opened in the constructor and
 * in a fork child's handler (one inherited across fork describes the parent), where no
 * code of the program runs at the same time. One the program closed is reopened by the
 * next allocation-driven sample, in a program thread inside the program's own malloc,
 * free or mmap, with its signals blocked: an open there is no more visible to the program
 * than the files glibc opens inside its own calls, and a single-threaded program cannot
 * be acting on descriptors meanwhile. The sampler thread, which the program does not know
 * of, never reopens it while the program runs (only at exit); until a program thread has,
 * its readings fail. The descriptor and the inode it was opened on are published together
 * in one atomic word. It is opened close-on-exec and moved above the numbers programs
 * pick by hand. The sampler thread, when it has a descriptor table of its own, reads its
 * own descriptor instead (sampler_fd), which nothing of the program's can touch.
 *
 * When the main thread has exited while others run on, /proc/self/status no longer lists
 * the memory figures; the reading then falls back to /proc/thread-self/status.
 */
#include "shim_internal.h"

#include "memsweep/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

/* Lowest descriptor number the status file is moved to (as SQLite's, shim_vfs.c). */
#define FD_FLOOR 40

/*
 * Bytes read at a time. The figures sit about 1 KiB into the file; a long Groups line
 * moves them further, and then the file is read on in steps of this size.
 */
#define CHUNK 2048

/* 0: none. Else the descriptor plus one, and the low 32 bits of its inode above. */
static atomic_ullong status_word;
static atomic_ullong proc_dev;

static int word_fd(uint64_t w)
{
    return (int)(uint32_t)w - 1;
}

static uint64_t make_word(int fd, uint64_t ino)
{
    return (ino & 0xffffffffu) << 32 | (uint32_t)(fd + 1);
}

static int still_ours(uint64_t w)
{
    struct stat st;

    return fstat(word_fd(w), &st) == 0 && (uint64_t)st.st_dev == atomic_load(&proc_dev) &&
           ((uint64_t)st.st_ino & 0xffffffffu) == w >> 32;
}

static int open_status(const char *path, uint64_t *word)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0) {
        const int err = -errno;
        close(fd);
        return err;
    }
    if (fd < FD_FLOOR) {
        struct stat low;
        const int high = fcntl(fd, F_DUPFD_CLOEXEC, FD_FLOOR);
        if (high >= 0) {
            /* The low number is closed only while it is still ours. */
            if (fstat(fd, &low) == 0 && low.st_dev == st.st_dev && low.st_ino == st.st_ino)
                close(fd);
            fd = high;
        }
    }
    atomic_store(&proc_dev, (uint64_t)st.st_dev);
    *word = make_word(fd, (uint64_t)st.st_ino);
    return fd;
}

/*
 * Finds VmRSS and VmHWM, reading the file in chunks that each start at a line, so that
 * ms_procfs_kb_field sees whole lines only. A line longer than a chunk is skipped.
 */
static int parse_status(int fd, int64_t *rss_kb, int64_t *hwm_kb)
{
    char buf[CHUNK];
    off_t off = 0;
    int in_long_line = 0;
    int have_rss = 0;

    *hwm_kb = -1;
    for (int rounds = 0; rounds < 64; rounds++) {
        const ssize_t got = pread(fd, buf, sizeof(buf), off);
        size_t start = 0, end;
        unsigned long long v;
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
        if (!have_rss && ms_procfs_kb_field(buf + start, end - start, "VmRSS:", &v) == 0) {
            *rss_kb = (int64_t)v;
            have_rss = 1;
        }
        if (*hwm_kb < 0 && ms_procfs_kb_field(buf + start, end - start, "VmHWM:", &v) == 0)
            *hwm_kb = (int64_t)v;
        if ((have_rss && *hwm_kb >= 0) || got < (ssize_t)sizeof(buf))
            break;
        off += (off_t)end;
    }
    return have_rss ? 0 : -EPROTO;
}

/*
 * The sampler's own descriptor on /proc/self/status, in its private table (shim_vfs.c),
 * where the program can neither close it nor be disturbed by its opening.
 */
static int sampler_fd = -1;

void ms__procfd_sampler_start(void)
{
    sampler_fd = -1;
    if (ms__vfs_private())
        sampler_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC | O_NOCTTY);
}

int ms__procfd_reading(int64_t *rss_kb, int64_t *hwm_kb, int in_program)
{
    sigset_t all, old;

    if (!in_program && sampler_fd >= 0) {
        int err = parse_status(sampler_fd, rss_kb, hwm_kb);
        if (err == -EPROTO) {
            /* The main thread is gone and took the figures of /proc/self with it. */
            const int fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC | O_NOCTTY);
            if (fd < 0)
                return -errno;
            err = parse_status(fd, rss_kb, hwm_kb);
            close(fd);
        }
        return err;
    }
    unsigned long long w = atomic_load(&status_word);
    uint64_t fresh;
    int fd;
    int err;

    if (w != 0 && still_ours(w)) {
        err = parse_status(word_fd(w), rss_kb, hwm_kb);
    } else if (!in_program && !ms__vfs_may_open_low()) {
        return -EBADF;
    } else {
        /* A handler of the program's, run in this thread, must not see the moment. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        fd = open_status("/proc/self/status", &fresh);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (fd < 0)
            return fd;
        err = parse_status(fd, rss_kb, hwm_kb);
        /* Whoever publishes first keeps theirs; a loser's descriptor was only for now. */
        if (!atomic_compare_exchange_strong(&status_word, &w, fresh))
            close(fd);
    }
    if (err == -EPROTO) {
        /*
         * The main thread is gone and took the figures of /proc/self with it. From the
         * sampler this is the one open that can take a low number while the program's
         * other threads run: a program rarely lives on without its main thread.
         */
        fd = open_status("/proc/thread-self/status", &fresh);
        if (fd < 0)
            return fd;
        err = parse_status(fd, rss_kb, hwm_kb);
        close(fd);
    }
    return err;
}

void ms__procfd_open(void)
{
    unsigned long long w = atomic_load(&status_word);
    uint64_t fresh;
    int fd;

    if (w != 0 && still_ours(w))
        return;
    fd = open_status("/proc/self/status", &fresh);
    /* Whoever publishes first keeps theirs. */
    if (fd >= 0 && !atomic_compare_exchange_strong(&status_word, &w, fresh))
        close(fd);
}

void ms__procfd_fork_child(void)
{
    const uint64_t w = atomic_exchange(&status_word, 0);

    if (w != 0 && still_ours(w))
        close(word_fd(w));
    ms__procfd_open();
}
