/*
 * An allocation-driven sample, taken and written in the thread whose allocation or
 * release triggered it (shim_alloc.c decides when): the same reading as a tick (RSS and
 * VmHWM from /proc/self/status) plus the live heap. Only this path, never an ordinary
 * call, makes system calls or unwinds, and a token bucket limits how often it runs; what
 * it refuses is counted in alloc_dropped_rate.
 *
 * The reading goes straight into the spool by this thread. The spool's writer is only
 * tried, never waited for: this thread may be a signal handler that interrupted the very
 * writer it would wait for. A reading that finds it busy is counted in
 * alloc_dropped_queue. The thread's signals are blocked from the open of /proc to the
 * end of the write, so that no handler of the program sees the descriptor number taken
 * for a moment, or finds the writer held by its own thread.
 *
 * When a sample sets a new RSS peak for the process (the sampler's and the start's
 * readings count too), the thread's stack is captured and symbolized here, before the
 * writer is tried, into one static buffer that only one thread at a time may fill: a
 * sample that finds it in use goes without its stack.
 *
 * A vfork child shares our memory and runs no fork handler: a sample taken there would
 * describe the child as if it were the parent. The process id is therefore checked first;
 * a process that does not own the spool's writer takes none.
 */
#include "shim_internal.h"

#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Token bucket, as a theoretical arrival time (monotonic ns): each sample moves it on by
 * one period; a sample that would move it more than a second ahead of now is dropped. So
 * at most max_per_s samples come in a burst, and max_per_s a second after that.
 */
static atomic_llong bucket_tat;
static atomic_llong period_ns; /* 0: no sample at all */

static atomic_int stacks_on;
static atomic_llong peak_rss_kb;

/*
 * A request to follow growth (shim_sampler.c): the generation, a futex word that the
 * sampler thread waits on, and the RSS of the `alloc` sample that made it.
 */
static atomic_uint follow_gen;
static atomic_llong follow_rss;
static atomic_int follower; /* a sampler thread of this image follows */

/* The text of the stack being written, and who fills it. */
static MS__COLD char stack_text[MS_SPOOL_STACK_TEXT_MAX];
static atomic_int stack_busy;

/*
 * Raw return addresses already symbolized, by a hash of them: a program that allocates
 * and frees a large block in a loop pays for the unwinding, not for dladdr and the text,
 * on every round. Racy by design: a slot read torn between two writers only costs a
 * symbolization, since the key is checked again after the value is read.
 */
#define RAW_CACHE 32
static struct {
    _Atomic uint64_t raw, text;
} raw_cache[RAW_CACHE];

void ms__trigger_configure(unsigned max_per_s, int stacks)
{
    atomic_store(&period_ns, max_per_s > 0 ? 1000000000LL / (long long)max_per_s : 0);
    atomic_store(&stacks_on, stacks);
}

void ms__trigger_fork_child(void)
{
    for (unsigned i = 0; i < RAW_CACHE; i++)
        atomic_store(&raw_cache[i].raw, 0);
    atomic_store(&bucket_tat, 0);
    atomic_store(&peak_rss_kb, 0);
    atomic_store(&stack_busy, 0);
    atomic_store(&follow_gen, 0);
    atomic_store(&follow_rss, 0);
    atomic_store(&follower, 0);
}

void ms__trigger_set_follower(void)
{
    atomic_store(&follower, 1);
}

/* One token of the bucket whose theoretical arrival time is *tat, period ns apart. */
static int bucket_take(atomic_llong *tat_p, long long period)
{
    const long long now = ms__clock_ns(CLOCK_MONOTONIC);
    long long tat = atomic_load(tat_p);

    if (period == 0)
        return 0;
    for (;;) {
        const long long next = (tat > now ? tat : now) + period;
        if (next - now > 1000000000LL + period / 2)
            return 0;
        if (atomic_compare_exchange_weak(tat_p, &tat, next))
            return 1;
    }
}

static int take_token(void)
{
    return bucket_take(&bucket_tat, atomic_load_explicit(&period_ns, memory_order_relaxed));
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

/* Captures and symbolizes the calling thread's stack into stack_text (held by caller). */
static int symbolize(ms_stack_text_t *out)
{
    ms_stack_t s;
    ms_fmt_t f;

    s.depth = ms__unwind_capture(s.ips, MS_MAX_STACK_FRAMES);
    ms__fmt_init(&f, stack_text, sizeof(stack_text));
    out->depth = (uint32_t)ms__stack_format(&s, ms__proc_exe(), &f);
    out->len = (uint32_t)f.len;
    out->text = stack_text;
    out->hash = out->len > 0 ? (uint64_t)ms__stack_hash(stack_text, f.len) : 0;
    return out->depth > 0 && out->len > 0;
}

int ms__trigger_token(void)
{
    return take_token();
}

atomic_uint *ms__trigger_follow_word(void)
{
    return &follow_gen;
}

int64_t ms__trigger_follow_rss(void)
{
    return (int64_t)atomic_load(&follow_rss);
}

/*
 * Asks the sampler thread to follow the growth from rss_kb on, or, in an image without
 * one (the collector watches it), the collector. Signals are blocked.
 */
static void request_follow(int64_t rss_kb)
{
    atomic_store(&follow_rss, rss_kb);
    atomic_fetch_add(&follow_gen, 1);
    if (atomic_load(&follower))
        syscall(SYS_futex, &follow_gen, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0);
    else
        ms__spool_follow_request(rss_kb);
}

int ms__trigger_sample(int kind, int64_t heap_bytes)
{
    ms_stack_text_t st;
    ms_reading_t r;
    sigset_t all, old;
    int cancel_state, have_stack = 0, holds_text = 0;

    if (ms__spool_state() != MS__SPOOL_LIVE || ms__pid() != ms__spool_owner())
        return 0;
    if (!take_token()) {
        ms__spool_count(MS__COUNT_DROPPED_RATE, 1);
        return 0;
    }
    /* open and pread are cancellation points, and malloc and free must not become ones. */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r.kind = (uint32_t)kind;
    r.t_ns = ms__clock_ns(CLOCK_REALTIME);
    r.heap_kb = heap_bytes > 0 ? heap_bytes / 1024 : 0;
    r.pss.total = r.pss.anon = r.pss.shmem = -1;
    if (ms__proc_status(&r.st) == 0) {
        const int peak = raise_peak(r.st.rss_kb);
        if (peak && atomic_load_explicit(&stacks_on, memory_order_relaxed)) {
            int expect = 0;
            holds_text = atomic_compare_exchange_strong(&stack_busy, &expect, 1);
            if (holds_text)
                have_stack = symbolize(&st);
        }
        const int stored = ms__spool_write(&r, have_stack ? &st : NULL, 0) == 0;
        if (holds_text)
            atomic_store(&stack_busy, 0);
        /*
         * Waited for briefly: a busy writer here is usually another thread's, and a
         * handler that interrupted this thread's own writer gives up after a few ms.
         */
        if (peak && stored)
            ms__blocks_snapshot(r.t_ns, r.st.rss_kb, kind == MS__SAMPLE_RELEASE,
                                MS__WRITE_BRIEFLY);
        /* Growth goes on after the allocation, as the program touches its pages. */
        if (kind == MS__SAMPLE_ALLOC)
            request_follow(r.st.rss_kb);
    } else {
        ms__spool_count(MS__COUNT_UNSTORED, 1);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_setcancelstate(cancel_state, NULL);
    return 1;
}

int ms__trigger_note_rss(int64_t rss_kb)
{
    return raise_peak(rss_kb);
}

/* The token bucket of block stacks, as take_token's: a theoretical arrival time. */
static atomic_llong block_tat;

static int block_token(void)
{
    return bucket_take(&block_tat, 1000000000LL / MS_BLOCK_STACKS_PER_S);
}

static uint64_t raw_hash(const ms_stack_t *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (int i = 0; i < s->depth; i++) {
        h ^= (uint64_t)(uintptr_t)s->ips[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h != 0 ? h : 1;
}

void ms__trigger_block(const void *p, uint64_t bytes, uint64_t span)
{
    uint64_t hash = 0;
    sigset_t all, old;
    int cancel_state;

    if (ms__spool_state() != MS__SPOOL_LIVE || ms__pid() != ms__spool_owner())
        return;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /*
     * A stack at a bounded rate (MS_BLOCK_STACKS_PER_S): glibc serves blocks of up to 32 MiB
     * from its heap once its mapping threshold has grown, and a program may then allocate
     * and free one in a loop at the heap's speed; past the rate a block is recorded
     * without its stack.
     */
    if (atomic_load_explicit(&stacks_on, memory_order_relaxed) && block_token()) {
        ms_stack_t s;
        uint64_t raw;
        unsigned slot;

        s.depth = ms__unwind_capture(s.ips, MS_MAX_STACK_FRAMES);
        raw = raw_hash(&s);
        slot = (unsigned)(raw % RAW_CACHE);
        if (atomic_load(&raw_cache[slot].raw) == raw) {
            hash = atomic_load(&raw_cache[slot].text);
            if (atomic_load(&raw_cache[slot].raw) != raw)
                hash = 0;
        }
        if (hash == 0) {
            int expect = 0;
            if (atomic_compare_exchange_strong(&stack_busy, &expect, 1)) {
                ms_stack_text_t st;
                ms_fmt_t f;
                ms__fmt_init(&f, stack_text, sizeof(stack_text));
                st.depth = (uint32_t)ms__stack_format(&s, ms__proc_exe(), &f);
                st.len = (uint32_t)f.len;
                st.text = stack_text;
                st.hash = st.len > 0 ? (uint64_t)ms__stack_hash(stack_text, f.len) : 0;
                if (st.hash != 0 && ms__spool_write_stack(&st, 0) == 0) {
                    hash = st.hash;
                    atomic_store(&raw_cache[slot].raw, 0);
                    atomic_store(&raw_cache[slot].text, hash);
                    atomic_store(&raw_cache[slot].raw, raw);
                }
                atomic_store(&stack_busy, 0);
            }
        }
    }
    ms__blocks_add(p, bytes, span, hash, ms__clock_ns(CLOCK_REALTIME));
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_setcancelstate(cancel_state, NULL);
}
