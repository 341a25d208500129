/*
 * The sampler thread of a process that no collector watches (a program measured without
 * the launcher, a process in another pid namespace, or one whose collector is gone): a
 * TICK reading every interval, written into the spool at once. Nothing is held in memory
 * awaiting a later write, so a SIGKILL loses no reading already taken, and nobody ever
 * waits for this thread: the exit writes its end without it (shim_image.c).
 *
 * It runs with every signal blocked, so that no signal meant for the program is ever
 * delivered to it, and in a descriptor table of its own (close_range with
 * CLOSE_RANGE_UNSHARE, or unshare(CLONE_FILES) on older kernels), holding none of the
 * program's descriptors: the /proc file it reads lives there, where the program can
 * neither close nor reuse it, and where its opening cannot take a number the program is
 * about to use. Its copy of stderr is kept only for MEMSWEEP_DEBUG's lines; a copy of a
 * pipe held open would keep the reader from seeing the program close its end. Where the
 * kernel or a sandbox refuses a table of its own, no tick is taken (the NOTE says so):
 * allocation-driven samples and the start and end go on.
 *
 * Ticks are due from the process's start, not from this thread's: on a busy machine the
 * thread may start, or wake, intervals late, and the ticks due meanwhile are counted in
 * `unstored`, never taken late in a burst.
 */
#include "shim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * The thread's stack: it needs a few KiB (a 2 KiB /proc buffer is the largest thing on
 * it), and only pages it touches count as the program's memory.
 */
#define SAMPLER_STACK_BYTES (64 * 1024)

static int64_t interval_ns;
static int64_t first_due_ns;

/* A descriptor table of the thread's own, without the program's descriptors. */
static int go_private(void)
{
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_UNSHARE) != 0) {
        struct rlimit rl;
        if (unshare(CLONE_FILES) != 0)
            return -errno;
        /* A kernel before 5.9: close the copies one by one. */
        if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > 65536)
            rl.rlim_cur = 65536;
        for (unsigned fd = 3; fd < rl.rlim_cur; fd++)
            close((int)fd);
    }
    close(STDIN_FILENO);
    close(STDOUT_FILENO);
    if (!ms__diag_debug())
        close(STDERR_FILENO);
    return 0;
}

static void *sampler_main(void *arg)
{
    int64_t next = first_due_ns;
    int fd;

    (void)arg;
    prctl(PR_SET_NAME, "memsweep", 0, 0, 0);
    if (go_private() != 0) {
        ms__spool_note("no descriptor table of its own for the sampler; no ticks taken");
        return NULL;
    }
    fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    for (;;) {
        const struct timespec due = {(time_t)(next / 1000000000), (long)(next % 1000000000)};
        ms_reading_t r;
        int64_t now;
        int err;

        if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) != 0)
            continue;
        if (ms__spool_state() != MS__SPOOL_LIVE)
            break;
        now = ms__clock_ns(CLOCK_MONOTONIC);
        r.kind = MS_SPOOL_KIND_TICK;
        r.t_ns = ms__clock_ns(CLOCK_REALTIME);
        err = fd >= 0 ? ms__proc_status_fd(fd, &r.rss_kb, &r.hwm_kb) : -EBADF;
        if (err != 0)
            err = ms__proc_status(&r.rss_kb, &r.hwm_kb);
        r.heap_kb = ms__spool_heap_kb();
        if (err == 0) {
            ms__trigger_note_rss(r.rss_kb);
            ms__spool_write(&r, NULL, 1);
        } else {
            ms__spool_count(MS__COUNT_UNSTORED, 1);
        }
        next += interval_ns;
        if (next <= now) {
            ms__spool_count(MS__COUNT_UNSTORED, (now - next) / interval_ns + 1);
            next = now + interval_ns;
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

int ms__sampler_start(unsigned interval_ms, int64_t start_mono_ns)
{
    sigset_t all, old;
    pthread_attr_t attr;
    pthread_t tid;
    int rc;

    interval_ns = (int64_t)interval_ms * 1000000;
    first_due_ns = start_mono_ns + interval_ns;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_attr_init(&attr);
    if (rc == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, SAMPLER_STACK_BYTES);
        rc = pthread_create(&tid, &attr, sampler_main, NULL);
        pthread_attr_destroy(&attr);
        if (rc == EINVAL && pthread_attr_init(&attr) == 0) {
            /* The stack was too small for the program's static TLS: take the default. */
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            rc = pthread_create(&tid, &attr, sampler_main, NULL);
            pthread_attr_destroy(&attr);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -rc;
}
