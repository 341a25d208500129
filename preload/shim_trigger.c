/*
 * An allocation-driven sample, taken in the thread whose allocation or release triggered
 * it (shim_alloc.c decides when): the same reading as a tick (RSS and VmHWM, read with
 * one pread, shim_procfd.c) plus the live heap, queued for the sampler thread, which alone
 * writes the database. Only this path, never an ordinary call, makes system calls or
 * unwinds, and a token bucket limits how often it runs.
 *
 * When a sample sets a new RSS peak for the process (the sampler's own readings count
 * too), the thread's stack is captured with backtrace() into the queue entry as raw return
 * addresses; the sampler turns them into text later, away from the program's thread.
 *
 * A vfork child shares our memory and runs no fork handler: a sample taken there would
 * describe the child as if it were the parent, or disturb the parent's queue. The process
 * id is therefore checked first; a child that is not the configured process passes.
 */
#include "shim_internal.h"

#include <pthread.h>

#include <unistd.h>

/* The process allocation-driven samples belong to; any other (a vfork child) takes none. */
static atomic_int owner_pid;

/*
 * Token bucket, as a theoretical arrival time (monotonic ns): each sample moves it on by
 * one period; a sample that would move it more than a second ahead of now is dropped. So
 * at most max_per_s samples come in a burst, and max_per_s a second after that.
 */
static atomic_llong bucket_tat;
static atomic_llong period_ns; /* 0: no sample at all */

static atomic_int stacks_on;
static atomic_llong peak_rss_kb;

static atomic_llong dropped_rate;
static atomic_llong dropped_queue;

void ms__trigger_configure(unsigned max_per_s, int stacks)
{
    atomic_store(&period_ns, max_per_s > 0 ? 1000000000LL / (long long)max_per_s : 0);
    atomic_store(&stacks_on, stacks);
    atomic_store(&owner_pid, (int)getpid());
}

void ms__trigger_fork_child(void)
{
    atomic_store(&owner_pid, (int)getpid());
    atomic_store(&bucket_tat, 0);
    atomic_store(&peak_rss_kb, 0);
    atomic_store(&dropped_rate, 0);
    atomic_store(&dropped_queue, 0);
}

static int take_token(void)
{
    const long long period = atomic_load_explicit(&period_ns, memory_order_relaxed);
    const long long now = ms__clock_ns(CLOCK_MONOTONIC);
    long long tat = atomic_load(&bucket_tat);

    if (period == 0)
        return 0;
    for (;;) {
        const long long next = (tat > now ? tat : now) + period;
        if (next - now > 1000000000LL + period / 2)
            return 0;
        if (atomic_compare_exchange_weak(&bucket_tat, &tat, next))
            return 1;
    }
}

/* 1 when rss_kb is above every reading so far, which it then becomes. */
static int raise_peak(int64_t rss_kb)
{
    long long peak = atomic_load(&peak_rss_kb);

    while (rss_kb > peak) {
        if (atomic_compare_exchange_weak(&peak_rss_kb, &peak, rss_kb))
            return 1;
    }
    return 0;
}

void ms__trigger_sample(int kind, int64_t heap_bytes)
{
    ms_alloc_sample_t *e;
    size_t ticket;
    int64_t rss_kb, hwm_kb;
    int cancel_state;

    if ((int)getpid() != atomic_load(&owner_pid))
        return;
    if (!take_token()) {
        atomic_fetch_add_explicit(&dropped_rate, 1, memory_order_relaxed);
        return;
    }
    /*
     * open and pread are cancellation points, and malloc and free must not become ones:
     * a thread cancelled here would also leave its claimed queue entry unpublished, and
     * the sampler waiting at that entry for good.
     */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    e = ms__allocq_claim(&ticket);
    if (e == NULL) {
        atomic_fetch_add_explicit(&dropped_queue, 1, memory_order_relaxed);
        pthread_setcancelstate(cancel_state, NULL);
        return;
    }
    e->kind = MS__SAMPLE_NONE;
    e->stack.depth = 0;
    e->t_ns = ms__clock_ns(CLOCK_REALTIME);
    if (ms__procfd_reading(&rss_kb, &hwm_kb, 1) == 0) {
        e->rss_kb = rss_kb;
        e->hwm_kb = hwm_kb;
        e->heap_kb = heap_bytes > 0 ? heap_bytes / 1024 : 0;
        e->kind = kind;
        if (raise_peak(rss_kb) && atomic_load_explicit(&stacks_on, memory_order_relaxed))
            e->stack.depth = ms__unwind_capture(e->stack.ips, MS_MAX_STACK_FRAMES);
    }
    ms__allocq_publish(ticket);
    ms__alloc_rebase();
    pthread_setcancelstate(cancel_state, NULL);
}

void ms__trigger_note_rss(int64_t rss_kb)
{
    raise_peak(rss_kb);
}

void ms__trigger_drops(int64_t *rate, int64_t *queue)
{
    *rate = atomic_load_explicit(&dropped_rate, memory_order_relaxed);
    *queue = atomic_load_explicit(&dropped_queue, memory_order_relaxed);
}
