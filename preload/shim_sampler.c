/*
 * The sampler thread. In a process that no collector watches (a program measured without
 * the launcher, a process in another pid namespace, or one whose collector is gone) it
 * takes a TICK reading every interval, written into the spool at once. It also follows
 * growth: after an `alloc` sample (shim_trigger.c) it reads the
 * status file every millisecond or few while RSS keeps rising, and stores a `growth`
 * reading each time RSS has risen by a step since the last one stored, so that memory
 * the program touches after allocating it is seen even if the process is killed the next
 * instant. A process the collector watches has no thread: the collector follows it from
 * outside when shim_trigger.c asks it to. Nothing is held in memory
 * awaiting a later write, so a SIGKILL loses no reading already taken, and nobody ever
 * waits for this thread: the exit writes its end without it (shim_image.c).
 *
 * Following is bounded: it stops when RSS has not risen for MS_FOLLOW_QUIET readings, or
 * MS_FOLLOW_MAX_NS after the last `alloc` sample that asked for it; the readings it stores
 * take tokens from the allocation samples' per-second limit, and what that limit refuses
 * is counted in alloc_dropped_rate (the highest reading refused is stored when following
 * stops, if a token is there by then).
 *
 * A self-sampled process that shares pages with another live process of its run (a fork
 * child whose parent is alive, or a process whose main thread has a live child) also
 * reads its proportional set size (PSS) from /proc/self/smaps_rollup with a tick, at most
 * one tick in PSS_DUTY's worth: the kernel walks every mapping to produce it (about 4 ms
 * for 1 GiB) holding the process's memory-map lock, which the program's page faults wait
 * for.
 *
 * It runs with every signal blocked, so that no signal meant for the program is ever
 * delivered to it, and in a descriptor table of its own (close_range with
 * CLOSE_RANGE_UNSHARE, or unshare(CLONE_FILES) on older kernels), holding none of the
 * program's descriptors: the /proc files it reads live there, where the program can
 * neither close nor reuse them, and where opening them cannot take a number the program is
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

#include "memsweep/follow.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/futex.h>
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

/* PSS is read at most once a tick and for at most 1/PSS_DUTY of the time. */
#define PSS_DUTY 100

static int64_t interval_ns;
static int64_t first_due_ns;
static pid_t fork_parent; /* the parent this image was forked from, 0 for none */
static atomic_int running; /* a thread of this image was started */

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

/* The descriptors the thread keeps, in its own table. */
typedef struct {
    int status; /* /proc/self/status */
    int rollup; /* /proc/self/smaps_rollup, opened at its first use; -2 unavailable */
    int64_t pss_next; /* CLOCK_MONOTONIC before which no PSS is read */
    int64_t seen_gen; /* the follow request last served */
} files_t;

static int read_status(files_t *f, ms_status_t *st)
{
    int err = f->status >= 0 ? ms__proc_status_fd(f->status, st) : -EBADF;

    return err != 0 ? ms__proc_status(st) : 0;
}

/* 1 when this image shares pages with another live process of its run (see the top). */
static int shares_pages(void)
{
    char path[64], buf[16];
    ms_fmt_t f;
    size_t len = 0;

    if (fork_parent != 0 && getppid() == fork_parent)
        return 1;
    ms__fmt_init(&f, path, sizeof(path));
    ms__fmt_str(&f, "/proc/self/task/");
    ms__fmt_i64(&f, ms__pid());
    ms__fmt_str(&f, "/children");
    return ms__proc_read(path, buf, sizeof(buf), &len) == 0 && len > 0;
}

/* PSS for a tick, when due and the image shares pages; total -1 otherwise. */
static ms_pss_t tick_pss(files_t *f, int64_t now)
{
    ms_pss_t pss = {-1, -1, -1};
    int64_t took, cpu0;

    if (now < f->pss_next || f->rollup == -2 || !shares_pages())
        return pss;
    /*
     * What the read costs is this thread's CPU time (the kernel's walk of the mappings),
     * not the time it took on a busy machine, where waiting for a CPU would otherwise
     * space the reads out by seconds.
     */
    cpu0 = ms__clock_ns(CLOCK_THREAD_CPUTIME_ID);
    if (f->rollup < 0)
        f->rollup = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (f->rollup < 0) {
        f->rollup = -2;
        return pss;
    }
    if (ms__proc_pss_fd(f->rollup, &pss) != 0)
        pss = (ms_pss_t){-1, -1, -1};
    took = ms__clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    f->pss_next = now + (took * PSS_DUTY > interval_ns ? took * PSS_DUTY : interval_ns);
    return pss;
}

/* Waits until the follow request changes from gen, or until due (CLOCK_MONOTONIC). */
/*
 * Waits until the follow request changes from gen, or until due (CLOCK_MONOTONIC;
 * INT64_MAX: no time). Returns -1 when the kernel or a sandbox refuses the futex, after
 * which the thread sleeps with clock_nanosleep and follows nothing.
 */
static int wait_request(atomic_uint *word, unsigned gen, int64_t due)
{
    const struct timespec ts = {(time_t)(due / 1000000000), (long)(due % 1000000000)};

    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time. */
    if (syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, gen,
                due == INT64_MAX ? NULL : &ts, NULL, FUTEX_BITSET_MATCH_ANY) == 0)
        return 0;
    return errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR ? 0 : -1;
}

/* A tick; its RSS, or -1 when none could be read. */
static int64_t tick(files_t *f, int64_t now)
{
    ms_reading_t r;

    r.kind = MS_SPOOL_KIND_TICK;
    r.t_ns = ms__clock_ns(CLOCK_REALTIME);
    r.heap_kb = ms__spool_heap_kb();
    if (read_status(f, &r.st) != 0) {
        ms__spool_count(MS__COUNT_UNSTORED, 1);
        return -1;
    }
    r.pss = tick_pss(f, now);
    if (ms__trigger_note_rss(r.st.rss_kb)) {
        if (ms__spool_write(&r, NULL, 1) == 0)
            ms__blocks_snapshot(r.t_ns, r.st.rss_kb, 0, 1);
    } else {
        ms__spool_write(&r, NULL, 1);
    }
    return r.st.rss_kb;
}

/*
 * The tick due at *next, if it is due by now; moves *next on. Returns its RSS, -1 when
 * none could be read, -2 when no tick was due.
 */
static int64_t tick_if_due(files_t *f, int64_t *next)
{
    const int64_t now = ms__clock_ns(CLOCK_MONOTONIC);
    int64_t rss;

    if (now < *next)
        return -2;
    rss = tick(f, now);
    *next += interval_ns;
    if (*next <= now) {
        ms__spool_count(MS__COUNT_UNSTORED, (now - *next) / interval_ns + 1);
        *next = now + interval_ns;
    }
    return rss;
}

static int store_growth(const ms_reading_t *r)
{
    if (!ms__trigger_token()) {
        ms__spool_count(MS__COUNT_DROPPED_RATE, 1);
        return 0;
    }
    if (ms__trigger_note_rss(r->st.rss_kb)) {
        const int ok = ms__spool_write(r, NULL, 1) == 0;
        if (ok)
            ms__blocks_snapshot(r->t_ns, r->st.rss_kb, 0, 1);
        return ok;
    }
    return ms__spool_write(r, NULL, 1) == 0;
}

/* CPU time of the whole process (every thread), ns; -1 when unknown. */
static int64_t process_cpu_ns(void)
{
    const int64_t ns = ms__clock_ns(CLOCK_PROCESS_CPUTIME_ID);

    return ns > 0 ? ns : -1;
}

/*
 * Follows growth after an `alloc` sample: a reading every millisecond or few while RSS keeps
 * rising (see the top). A tick due meanwhile is taken as a tick.
 */
static void follow(files_t *f, int64_t *next)
{
    atomic_uint *const word = ms__trigger_follow_word();
    int64_t t = ms__clock_ns(CLOCK_MONOTONIC);
    int64_t until = t + MS_FOLLOW_MAX_NS;
    int64_t stored = ms__trigger_follow_rss(), last = stored;
    int64_t period = MS_FOLLOW_PERIOD_MIN_NS;
    int64_t rise_t = t, rise_cpu = process_cpu_ns();
    ms_reading_t high = {0};
    int quiet = 0;

    high.st.rss_kb = -1;
    for (;;) {
        const struct timespec due = {(time_t)((t + period) / 1000000000),
                                     (long)((t + period) % 1000000000)};
        const unsigned gen = atomic_load(word);
        ms_reading_t r;
        int64_t now, rss;

        /* Every signal is blocked here: an error is a refusal, and following stops. */
        if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) != 0)
            break;
        if (ms__spool_state() != MS__SPOOL_LIVE)
            return;
        now = ms__clock_ns(CLOCK_MONOTONIC);
        t = now;
        if (gen != (unsigned)f->seen_gen) {
            /* Another `alloc` sample: follow on from it, closely again. */
            f->seen_gen = gen;
            until = now + MS_FOLLOW_MAX_NS;
            period = MS_FOLLOW_PERIOD_MIN_NS;
            quiet = 0;
            rise_t = now;
            rise_cpu = process_cpu_ns();
        }
        /* A tick due now is the reading: it is written as a tick, and counts here too. */
        rss = tick_if_due(f, next);
        if (rss == -2) {
            r.kind = MS_SPOOL_KIND_GROWTH;
            r.t_ns = ms__clock_ns(CLOCK_REALTIME);
            r.heap_kb = ms__spool_heap_kb();
            r.pss = (ms_pss_t){-1, -1, -1};
            if (read_status(f, &r.st) != 0)
                break;
            rss = r.st.rss_kb;
            if (ms_follow_store_due(rss, stored)) {
                if (store_growth(&r)) {
                    stored = rss;
                    high.st.rss_kb = -1;
                } else if (rss > high.st.rss_kb) {
                    high = r;
                }
            } else if (rss > stored && rss > high.st.rss_kb) {
                high = r;
            }
        } else if (rss > stored) {
            stored = rss; /* the tick holds it */
            if (high.st.rss_kb <= rss)
                high.st.rss_kb = -1;
        }
        if (rss > last) {
            period = ms_follow_next_period(period, rss - last, rss);
            quiet = 0;
            rise_t = now;
            rise_cpu = process_cpu_ns();
        } else {
            /* Not rising: less often, until it stops. */
            quiet++;
            period = period * 2 < MS_FOLLOW_PERIOD_MAX_NS ? period * 2 : MS_FOLLOW_PERIOD_MAX_NS;
        }
        if (rss >= 0)
            last = rss;
        if (now >= until)
            break;
        if (quiet > 0) {
            const int64_t cpu = process_cpu_ns();
            if (ms_follow_quiet(quiet, cpu >= 0 && rise_cpu >= 0 ? cpu - rise_cpu : -1,
                                now - rise_t))
                break;
        }
    }
    /* The highest reading not stored yet: where the growth stopped. */
    if (high.st.rss_kb > stored)
        store_growth(&high);
}

/* The follow request the thread starts from, taken before it is created. */
static unsigned start_gen;

static void *sampler_main(void *arg)
{
    atomic_uint *const word = ms__trigger_follow_word();
    int64_t next = first_due_ns;
    files_t f = {-1, -1, 0, 0};
    int futex_ok = 1;

    (void)arg;
    prctl(PR_SET_NAME, "memsweep", 0, 0, 0);
    if (go_private() != 0) {
        ms__spool_note("no descriptor table of its own for the sampler; no ticks taken");
        return NULL;
    }
    f.status = open("/proc/self/status", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    f.seen_gen = (int64_t)start_gen;
    for (;;) {
        const unsigned gen = atomic_load(word);

        if (!futex_ok) {
            const struct timespec due = {(time_t)(next / 1000000000), (long)(next % 1000000000)};
            /* No futex: ticks only, on the clock. */
            if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) != 0)
                break;
        } else if (gen == (unsigned)f.seen_gen &&
                   wait_request(word, gen, next) != 0) {
            futex_ok = 0;
            ms__spool_note("no futex for the sampler; growth after an allocation not followed");
            continue;
        }
        if (ms__spool_state() != MS__SPOOL_LIVE)
            break;
        if (futex_ok && atomic_load(word) != (unsigned)f.seen_gen) {
            f.seen_gen = (int64_t)atomic_load(word);
            follow(&f, &next);
            continue;
        }
        (void)tick_if_due(&f, &next);
    }
    if (f.status >= 0)
        close(f.status);
    if (f.rollup >= 0)
        close(f.rollup);
    return NULL;
}

int ms__sampler_start(unsigned interval_ms, int64_t start_mono_ns, pid_t parent)
{
    sigset_t all, old;
    pthread_attr_t attr;
    pthread_t tid;
    int rc, expect = 0;

    if (!atomic_compare_exchange_strong(&running, &expect, 1))
        return 0; /* started once already */
    interval_ns = (int64_t)interval_ms * 1000000;
    first_due_ns = start_mono_ns + interval_ns;
    fork_parent = parent;
    /*
     * Taken here, before the thread exists: a request made while it starts (a fork
     * child's first large allocation wakes its image and asks at once) is then seen.
     */
    start_gen = atomic_load(ms__trigger_follow_word());
    ms__trigger_set_follower();
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
    /* A thread that could not be started is not tried again in this image. */
    return -rc;
}

void ms__sampler_fork_child(void)
{
    atomic_store(&running, 0);
}
