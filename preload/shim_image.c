/*
 * The life of one process image in the spool: its start (the constructor, or a fork
 * child's first hook call), its sampler thread when it needs one, and its end.
 *
 * A process needs no sampler thread of its own when the pool says a collector watches
 * the run (MS_SPOOL_WATCHED), the collector sees the process's pids (same pid namespace)
 * and the collector is still alive: it then reads the process's /proc/<pid>/status from
 * outside every interval. Otherwise the process samples itself (MS_SPOOL_SELF_SAMPLED).
 *
 * A fork child starts dormant: its handler only forgets the parent's chunks. Most forked
 * children exec at once, and the new image records itself; one that does not wakes at
 * its first allocation hook that folds (or takes the slow path) or at its exit, and only
 * then claims its chunk, writes its identity and START reading and, when it samples
 * itself and is not already exiting, starts its sampler thread. Nothing unsafe between
 * fork and exec (no file, no thread, no allocation) happens in the handler.
 *
 * The end waits for no other thread (but one writing the end at the same moment): it
 * claims the end and stops the image's records, reads /proc/self/status once and writes
 * the end into the process header of chunk 0 (shim_spool.c).
 */
#include "shim_internal.h"

#include <errno.h>
#include <signal.h>
#include <pthread.h>

static unsigned interval;
static pid_t fork_parent;
static int64_t fork_ns;
static int64_t fork_mono_ns;

/* 1 when no collector reads this process's status from outside. */
static int needs_sampler(uint64_t pidns_ino)
{
    const ms_pool_info_t *const pi = ms__pool_info();

    if ((pi->flags & MS_SPOOL_WATCHED) == 0 || pi->watcher_pid <= 0)
        return 1;
    if (pi->pidns_ino == 0 || pi->pidns_ino != pidns_ino)
        return 1;
    /* EPERM: alive, but another user's; only ESRCH says it is gone. */
    return kill(pi->watcher_pid, 0) != 0 && errno == ESRCH;
}

/*
 * ms__image_start, and a fork child's wake. at_exit: the image wakes inside its exit,
 * which may run in a signal handler that interrupted malloc or a lock of the C library.
 * Everything here but the sampler thread is system calls and the shim's own memory;
 * pthread_create is not async-signal-safe (it allocates and takes the library's locks)
 * and could hang there, and a thread started in the exit would have nothing to sample.
 */
static int start(pid_t ppid, int64_t started_ns, int64_t start_mono_ns, int64_t heap_kb,
                 unsigned interval_ms, int at_exit, pid_t forked_from)
{
    ms_image_t im = {0};
    int sampled;
    int err;

    interval = interval_ms;
    im.pid = ms__pid();
    im.ppid = ppid;
    if (ms__proc_start_ticks(&im.start_ticks) != 0)
        im.start_ticks = 0;
    im.started_ns = started_ns;
    im.pidns_ino = ms__proc_pidns_ino();
    im.interval_ms = interval_ms;
    sampled = needs_sampler(im.pidns_ino);
    im.flags = sampled ? MS_SPOOL_SELF_SAMPLED : 0;
    im.t_ns = ms__clock_sys_ns(CLOCK_REALTIME);
    if (ms__proc_status(&im.st) != 0)
        im.st.rss_kb = im.st.hwm_kb = -1;
    im.heap_kb = heap_kb;
    err = ms__spool_begin(&im);
    if (err != 0) {
        ms__diag_debug_line("no chunk of the spool could be had; not measuring", -1);
        return err;
    }
    if (im.st.rss_kb >= 0)
        ms__trigger_note_rss(im.st.rss_kb);
    if (at_exit) {
        ms__diag_debug_line("recording at the exit only; no sampler thread", -1);
        return 0;
    }
    if (sampled && ms__sampler_start(interval_ms, start_mono_ns, forked_from) != 0)
        ms__spool_note("could not start the sampler thread; no ticks taken");
    if (ms__diag_debug())
        ms__diag_debug_line(sampled ? "recording, sampling every ms: "
                                    : "recording; the collector samples every ms: ",
                            interval_ms);
    return 0;
}

int ms__image_start(pid_t ppid, int64_t started_ns, int64_t start_mono_ns, int64_t heap_kb,
                    unsigned interval_ms)
{
    return start(ppid, started_ns, start_mono_ns, heap_kb, interval_ms, 0, 0);
}

void ms__image_fork_prepare(void)
{
    ms__spool_fork_prepare();
}

void ms__image_fork_parent(void)
{
    ms__spool_fork_parent();
}

void ms__image_fork_child_done(void)
{
    ms__spool_fork_child_mask();
}

int ms__image_fork_child(void)
{
    fork_parent = ms__spool_fork_child();
    ms__sampler_fork_child();
    fork_ns = ms__clock_ns(CLOCK_REALTIME);
    fork_mono_ns = ms__clock_ns(CLOCK_MONOTONIC);
    return fork_parent != 0;
}

static void wake(int64_t heap_kb, int at_exit)
{
    sigset_t all, old;

    if (ms__spool_state() != MS__SPOOL_DORMANT || ms__pid() != ms__spool_owner())
        return;
    if (!ms__spool_claim_wake())
        return;
    /* Files are opened inside the program's own call: no handler of its sees the moment. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    start(fork_parent, fork_ns, fork_mono_ns, heap_kb, interval, at_exit, fork_parent);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void ms__image_wake(int64_t heap_kb)
{
    wake(heap_kb, 0);
}

void ms__image_exec(void)
{
    const int saved = errno;
    ms_reading_t r = {0};
    sigset_t all, old;
    stack_t ss;
    int cancel_state;

    /* Not in a vfork child, nor in a fork child that never woke: it has nothing of its own. */
    if (ms__pid() != ms__spool_owner() || ms__spool_state() != MS__SPOOL_LIVE)
        goto out;
    /*
     * Not on an alternate signal stack (a crash handler that execs a reporter): it may be
     * as small as SIGSTKSZ, and the reading needs a few KiB of it.
     */
    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK))
        goto out;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r.kind = MS_SPOOL_KIND_EXEC;
    r.t_ns = ms__clock_sys_ns(CLOCK_REALTIME);
    r.heap_kb = ms__spool_heap_kb();
    r.pss.total = r.pss.anon = r.pss.shmem = -1;
    /*
     * The writer is waited for, briefly: its holder is another thread (every holder,
     * the fork handlers included, blocks its signals, so this cannot be a handler that
     * interrupted its own thread's writer), and a reading that still finds it busy is
     * counted in alloc_dropped_queue.
     */
    if (ms__proc_status(&r.st) == 0) {
        const int peak = ms__trigger_note_rss(r.st.rss_kb);
        if (ms__spool_write(&r, NULL, MS__WRITE_BRIEFLY) == 0 && peak)
            ms__blocks_snapshot(r.t_ns, r.st.rss_kb, 1, MS__WRITE_BRIEFLY);
    } else
        ms__spool_count(MS__COUNT_UNSTORED, 1);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_setcancelstate(cancel_state, NULL);
out:
    errno = saved;
}

void ms__image_end(int64_t heap_kb)
{
    const int saved = errno;
    ms_reading_t end = {0};

    /* Not in a vfork child, nor in a child of a measured image that is not recording. */
    if (ms__pid() != ms__spool_owner())
        goto out;
    wake(heap_kb, 1);
    /*
     * With large blocks live, a reading before the writer stops: when it is the image's
     * highest, the blocks it holds are listed for it (the end, read after the stop as
     * ever, follows it at once). A list is a record, and none is written after the stop.
     */
    if (ms__blocks_live() > 0 && ms__spool_state() == MS__SPOOL_LIVE) {
        ms_reading_t last = {0};
        last.t_ns = ms__clock_sys_ns(CLOCK_REALTIME);
        if (ms__proc_status(&last.st) == 0 && ms__trigger_note_rss(last.st.rss_kb))
            ms__blocks_snapshot(last.t_ns, last.st.rss_kb, 1, MS__WRITE_BRIEFLY);
    }
    /* This thread writes the end, or another one is (and is waited for), or nobody. */
    if (!ms__spool_stop())
        goto out;
    /*
     * The end is written even when /proc/self/status cannot be read (the program has
     * used up its descriptors, /proc is not mounted): its time still says when the image
     * ended, and -1 says "not reported" for the figures the kernel did not give, both of
     * them whatever a failed read left behind. The heap is the hooks' own figure.
     */
    end.t_ns = ms__clock_sys_ns(CLOCK_REALTIME);
    if (ms__proc_status(&end.st) != 0) {
        end.st.rss_kb = -1;
        end.st.hwm_kb = -1;
    }
    end.heap_kb = heap_kb;
    ms__spool_end(&end);
out:
    errno = saved;
}
