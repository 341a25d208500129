/*
 * The allocation and mapping hooks behind shim_alloc_override.c. They keep a count of the
 * process's live heap (bytes allocated minus bytes freed, anonymous bytes mapped minus
 * unmapped) good enough to trigger samples on, and call shim_trigger.c when it grows by a
 * step or when a single release is large.
 *
 * The ordinary call (STYLE rule 1) is: the real call, the block's usable size and two
 * thread-local counters, one of which the same instruction tests (see ms_tls_t). Only
 * when a thread's delta passes FOLD_BYTES (or a single call moves that much) is it
 * folded into the global count with one atomic add, and only then is the count
 * compared with the trigger level. A thread's unfolded delta is below FOLD_BYTES, so
 * the global count is off by less than FOLD_BYTES per thread; a thread that exits
 * folds its remainder (pthread key destructor), and so does the thread that runs the
 * shim's destructor. What the allocator set aside is counted, not what was asked for,
 * so that a free subtracts exactly what its malloc added: with glibc's allocator the
 * size of the block's chunk, read from its header (glibc_chunk; it includes the 8
 * bytes of the header itself), with any other the allocator's malloc_usable_size.
 *
 * The re-entrancy guard is thread-local too, and folded into the same test: while it is
 * set (inside the shim's own work: waking an image, sampling) the thread's window has no
 * room on either side, so every count takes the slow path, which drops it. So
 * the ordinary call neither tests nor sets the guard; glibc's malloc calls nothing back
 * through the dynamic linker, so its real call needs none. Around any other allocator
 * (jemalloc maps its memory through the PLT) the guard is held over the real call, and
 * what the allocator does inside it is not counted.
 *
 * The real functions are found with dlsym(RTLD_NEXT) at the first call, which may come
 * from the dynamic loader or another library's constructor, long before ours runs. dlsym
 * itself allocates: the calls it makes meanwhile are served from a small static pool,
 * whose blocks free() recognises and never hands to the real allocator. Whatever
 * RTLD_NEXT finds is used as long as it is one allocator: a program that loads jemalloc
 * after us gets jemalloc's malloc, free and malloc_usable_size, and the functions
 * jemalloc lacks (pvalloc, reallocarray) are built on the ones it has, never taken from
 * glibc, whose functions must not see jemalloc's blocks.
 *
 * Until the constructor says otherwise the hooks count without sampling: they may run
 * before it and after the destructor. With MEMSWEEP_ALLOC=0, or in a shim that measures
 * nothing, they are plain forwarders. A vfork child shares our memory but runs no fork
 * handler: the hooks there only count (the counters are plain per-thread and atomic
 * data), and shim_trigger.c refuses to sample in a process that is not the one configured.
 * Every hook leaves errno as the real function left it.
 */
#include "shim_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * A thread's delta is folded into the global count when it reaches this many bytes: one
 * atomic add per 256 KiB of net growth or shrinkage, and an error of less than 256 KiB
 * per thread in the global count.
 */
#define FOLD_BYTES ((int64_t)256 << 10)

/* Serves the allocations dlsym makes while the real functions are being looked up. */
#define POOL_BYTES 16384
#define POOL_ALIGN 16

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/*
 * What the hooks do, in one word that each call reads once. The mode: UNRESOLVED, the
 * real functions are not known yet; COUNT, count but never sample (before the
 * constructor, after the destructor); SAMPLE, count and trigger; OFF, forward only. With
 * COUNT and SAMPLE, ST_GLIBC says the real allocator is glibc's: the fast paths apply.
 */
enum {
    ST_UNRESOLVED = 0,
    ST_COUNT = 1,
    ST_SAMPLE = 2,
    ST_OFF = 3,
    ST_MODE = 3,
    ST_GLIBC = 4
};

#define MODE(st) ((st) & ST_MODE)

typedef void *(*malloc_fn)(size_t);
typedef void (*free_fn)(void *);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*aligned_fn)(size_t, size_t);
typedef size_t (*usable_fn)(void *);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int (*munmap_fn)(void *, size_t);
typedef void *(*mremap_fn)(void *, size_t, size_t, int, ...);

/*
 * The real functions. Any thread that finds them unresolved looks them up itself (a
 * thread that waited for another could deadlock on the loader's lock), so all of them
 * store the same values; atomics make that well defined, and relaxed loads cost nothing.
 */
static struct {
    _Atomic(malloc_fn) malloc;
    _Atomic(free_fn) free;
    _Atomic(calloc_fn) calloc;
    _Atomic(realloc_fn) realloc;
    _Atomic(posix_memalign_fn) posix_memalign; /* NULL: emulated with memalign */
    _Atomic(aligned_fn) aligned_alloc;         /* NULL: emulated with memalign */
    _Atomic(aligned_fn) memalign;
    _Atomic(usable_fn) usable; /* NULL: sizes unknown, nothing is counted */
    _Atomic(mmap_fn) mmap;
    _Atomic(munmap_fn) munmap;
    _Atomic(mremap_fn) mremap;
} real;

#define REAL(name) atomic_load_explicit(&real.name, memory_order_relaxed)

static atomic_int state; /* ST_; zero (UNRESOLVED) until the first call */

/* ms__alloc_off was called: the hooks forward only, even if not resolved yet. */
static atomic_int off_requested;

/*
 * ms__alloc_configure asked for sampling: whichever of it and the first hook's resolve
 * comes second turns COUNT into SAMPLE, so a process that never allocates never resolves
 * (no lookups, no check of glibc's blocks, no heap of its own).
 */
static atomic_int sample_requested;

/*
 * Per-thread state; initial-exec TLS, so reaching it is one instruction. The thread's
 * delta (bytes not yet folded into `live`) must stay inside the window (lo, hi); it is
 * kept as the room left on either side, up = hi - delta and down = delta - lo, so that an
 * ordinary count is a subtraction from one (which sets the flags the test reads) and an
 * addition to the other: a count that would leave either at 0 or below goes to
 * account_slow instead. While the guard is set, and in a thread not registered yet, the
 * window is empty (lo = hi = delta, no room either side): every count takes the slow
 * path. A new thread's fields are all 0, so its first count registers it.
 */
typedef struct {
    int64_t up;   /* hi - delta */
    int64_t down; /* delta - lo */
    int64_t hi;
    int64_t lo;
    int busy;       /* the guard: inside the shim's own work, or the sampler thread */
    int registered; /* 0: exit destructor not set yet; 1: set; 2: the thread is exiting */
} ms_tls_t;

static _Thread_local ms_tls_t tls;

/* The process's live heap in bytes; may drift below zero (blocks allocated untracked). */
static atomic_llong live;

/* Live bytes at which the next `alloc` sample is due. */
static atomic_llong trigger_at;

/* Settings; release_bytes is SIZE_MAX whenever no sample may be taken. */
static atomic_size_t release_bytes = SIZE_MAX;
static atomic_llong step_bytes = (long long)MS_DEFAULT_ALLOC_STEP_MB << 20;
static atomic_int tracking; /* configured to count (MEMSWEEP_ALLOC not 0, a sampler) */
/* Blocks of this size or more are recorded with their stack (shim_blocks.c). */
static atomic_ullong large_bytes = UINT64_MAX;
static atomic_int hooks_seen; /* a thread other than the sampler has counted something */

static pthread_key_t exit_key;
static atomic_int exit_key_state; /* 0 none, 1 being created, 2 ready, 3 failed */

static MS__COLD _Alignas(POOL_ALIGN) unsigned char pool[POOL_BYTES];
static atomic_size_t pool_used;

/*
 * What the exported malloc and free call (shim_alloc_override.c): the fast paths for
 * glibc's allocator while the hooks count with it, which then need not look at the
 * state on every call, and the general functions otherwise.
 */
_Atomic(ms_malloc_entry_t) ms__malloc_entry = ms__malloc;
_Atomic(ms_free_entry_t) ms__free_entry = ms__free;

static void set_entries(void)
{
    const int glibc = (atomic_load(&state) & ST_GLIBC) != 0;

    atomic_store_explicit(&ms__malloc_entry, glibc ? ms__malloc_glibc : ms__malloc,
                          memory_order_relaxed);
    atomic_store_explicit(&ms__free_entry, glibc ? ms__free_glibc : ms__free,
                          memory_order_relaxed);
}

/* ---- the guard ---------------------------------------------------------------------- */

/*
 * *room -= bytes; true when no room is left (the result is 0 or less). On x86-64 one
 * subtraction from memory whose flags make the test, where the compiler would load,
 * subtract, store and test; elsewhere the same in C.
 */
static inline int take_room(int64_t *room, int64_t bytes)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
    int none_left;

    __asm__("subq %2, %0" : "+m"(*room), "=@ccle"(none_left) : "er"(bytes) : "cc");
    return none_left;
#else
    return (*room -= bytes) <= 0;
#endif
}

static inline int64_t delta_of(const ms_tls_t *t)
{
    return t->hi - t->up;
}

static inline void set_delta(ms_tls_t *t, int64_t d)
{
    t->up = t->hi - d;
    t->down = d - t->lo;
}

/* A window with no room: the thread's next count, whatever its size, is slow. */
static void close_window(ms_tls_t *t)
{
    const int64_t d = delta_of(t);

    t->hi = d;
    t->lo = d;
    set_delta(t, d);
}

static void set_limits(ms_tls_t *t)
{
    if (t->busy || t->registered == 0) {
        close_window(t);
    } else {
        const int64_t d = delta_of(t);
        t->hi = FOLD_BYTES;
        t->lo = -FOLD_BYTES;
        set_delta(t, d);
    }
}

/* Sets the guard; returns what guard_off needs to restore. */
static int guard_on(ms_tls_t *t)
{
    const int was = t->busy;

    t->busy = 1;
    set_limits(t);
    return was;
}

static void guard_off(ms_tls_t *t, int was)
{
    t->busy = was;
    set_limits(t);
}

/* ---- the bootstrap pool -------------------------------------------------------------- */

static inline int in_pool(const void *p)
{
    return (uintptr_t)p - (uintptr_t)pool < POOL_BYTES;
}

/*
 * Each block is preceded by its size and, in the word where glibc keeps a chunk's size,
 * POOL_MARK: a fast free that reads that word as a chunk size finds a release so large
 * that it takes the slow path, which alone looks for the pool's blocks. Blocks are never
 * reused, so they are zero.
 */
#define POOL_MARK ((size_t)1 << 62)

static void *pool_alloc(size_t size, size_t align)
{
    size_t used = atomic_load(&pool_used);

    if (align < POOL_ALIGN)
        align = POOL_ALIGN;
    if (size > POOL_BYTES || (align & (align - 1)) != 0 || align > POOL_BYTES)
        goto fail;
    for (;;) {
        /* Aligned as an address, with room for the size before it. */
        const uintptr_t base = (uintptr_t)pool;
        const size_t start = ((base + used + POOL_ALIGN + align - 1) & ~(align - 1)) - base;
        const size_t end = (start + size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
        if (end > POOL_BYTES)
            goto fail;
        if (atomic_compare_exchange_weak(&pool_used, &used, end)) {
            const size_t mark = POOL_MARK;
            memcpy(pool + start - 2 * sizeof(size_t), &size, sizeof(size));
            memcpy(pool + start - sizeof(size_t), &mark, sizeof(mark));
            return pool + start;
        }
    }
fail:
    errno = ENOMEM;
    return NULL;
}

static size_t pool_size(const void *p)
{
    size_t size;

    memcpy(&size, (const unsigned char *)p - 2 * sizeof(size_t), sizeof(size));
    return size;
}

/* ---- finding the real functions ----------------------------------------------------- */

/*
 * The size of the chunk of glibc's allocator that holds block p: the word before the
 * block holds it, with three flag bits, of which 2 marks a chunk of its own mapping. It
 * is the memory the block takes, header included, and one load instead of a call to
 * malloc_usable_size, which also reads the next chunk's header to check that the chunk
 * is in use (a block being counted always is). The layout has not changed since 2004;
 * check_glibc_layout compares it with malloc_usable_size on real blocks before the hooks
 * rely on it.
 */
static inline size_t glibc_chunk(const void *p)
{
    size_t head;

    memcpy(&head, (const unsigned char *)p - sizeof(size_t), sizeof(head));
    return head & ~(size_t)7;
}

/* What a block counts for: its chunk with glibc's allocator, else its usable size. */
static inline size_t block_bytes(int st, void *p)
{
    if (likely((st & ST_GLIBC) != 0))
        return glibc_chunk(p);
    return REAL(usable)(p);
}

/* malloc_usable_size as glibc computes it from the chunk: less 8 bytes, 16 if mapped. */
static size_t glibc_usable(const void *p)
{
    size_t head;

    memcpy(&head, (const unsigned char *)p - sizeof(size_t), sizeof(head));
    return (head & ~(size_t)7) - sizeof(size_t) - ((head & 2) << 2);
}

/*
 * Blocks of sizes from several of glibc's bins, plain and aligned, each freed before the
 * next is allocated: the check reuses one small stretch of the heap and so touches (and
 * faults in) a page or two, not one per block.
 */
static int check_glibc_layout(void)
{
    static const size_t sizes[] = {1, 24, 25, 200, 1000, 5000};
    const malloc_fn m = REAL(malloc);
    const free_fn f = REAL(free);
    const usable_fn u = REAL(usable);
    const aligned_fn a = REAL(memalign);
    int ok = 1;

    for (size_t i = 0; ok && i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        void *const p = m(sizes[i]);
        void *q;
        if (p != NULL)
            ok = u(p) == glibc_usable(p) && u(p) >= sizes[i];
        f(p);
        if (!ok)
            break;
        q = a(256, sizes[i]);
        if (q != NULL)
            ok = u(q) == glibc_usable(q) && u(q) >= sizes[i];
        f(q);
    }
    return ok;
}

/*
 * glibc's own entry points: for when RTLD_NEXT finds no allocator at all, and called
 * directly by the fast paths when the next allocator is glibc's (the same functions that
 * its malloc and free are aliases of), through the GOT without a PLT stub.
 */
extern void *__libc_malloc(size_t) __attribute__((noplt));
extern void __libc_free(void *) __attribute__((noplt));
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

/* Used when no mapping function can be found, and while they are being looked up. */
static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static int sys_munmap(void *addr, size_t len)
{
    return (int)syscall(SYS_munmap, addr, len);
}

static void *sys_mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    void *new_addr = NULL;

    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void *);
        va_end(ap);
    }
    return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
}

/*
 * The object that defines fn. _dl_find_object is a lock-free lookup; dladdr1, needed only
 * before the loader has set that lookup up, scans the object's symbol table.
 */
static const struct link_map *owner_of(const void *fn)
{
    struct dl_find_object found;
    Dl_info info;
    void *lm = NULL;

    if (fn == NULL)
        return NULL;
    if (_dl_find_object((void *)fn, &found) == 0)
        return found.dlfo_link_map;
    if (dladdr1(fn, &info, &lm, RTLD_DL_LINKMAP) == 0)
        return NULL;
    return lm;
}

/* dlsym's result for name when it comes from the allocator `home`, else NULL. */
static void *same_allocator(const char *name, const struct link_map *home)
{
    void *const fn = dlsym(RTLD_NEXT, name);

    return fn != NULL && owner_of(fn) == home ? fn : NULL;
}

/* COUNT becomes SAMPLE while sampling is asked for; see sample_requested. */
static void promote(void)
{
    int st = atomic_load(&state);

    while (atomic_load(&sample_requested) && MODE(st) == ST_COUNT &&
           !atomic_compare_exchange_weak(&state, &st, ST_SAMPLE | (st & ST_GLIBC)))
        ;
}

/* And SAMPLE COUNT again once it no longer is (ms__alloc_stop). */
static void demote(void)
{
    int st = atomic_load(&state);

    while (!atomic_load(&sample_requested) && MODE(st) == ST_SAMPLE &&
           !atomic_compare_exchange_weak(&state, &st, ST_COUNT | (st & ST_GLIBC)))
        ;
}

static void resolve(void)
{
    ms_tls_t *const t = &tls;
    const int was_busy = guard_on(t);
    const int saved = errno;
    void *m, *f, *c, *r;
    const struct link_map *home;
    int expect = ST_UNRESOLVED;
    int st;

    m = dlsym(RTLD_NEXT, "malloc");
    home = owner_of(m);
    f = same_allocator("free", home);
    c = same_allocator("calloc", home);
    r = same_allocator("realloc", home);
    if (m == NULL || home == NULL || f == NULL || c == NULL || r == NULL) {
        /* Not one coherent allocator: glibc's, which the program would have had anyway. */
        m = (void *)__libc_malloc;
        f = (void *)__libc_free;
        c = (void *)__libc_calloc;
        r = (void *)__libc_realloc;
        home = owner_of(m);
    }
    atomic_store_explicit(&real.malloc, (malloc_fn)m, memory_order_relaxed);
    atomic_store_explicit(&real.free, (free_fn)f, memory_order_relaxed);
    atomic_store_explicit(&real.calloc, (calloc_fn)c, memory_order_relaxed);
    atomic_store_explicit(&real.realloc, (realloc_fn)r, memory_order_relaxed);
    {
        void *const pm = same_allocator("posix_memalign", home);
        void *const aa = same_allocator("aligned_alloc", home);
        void *ma = same_allocator("memalign", home);
        if (ma == NULL && m == (void *)__libc_malloc)
            ma = (void *)__libc_memalign;
        atomic_store_explicit(&real.posix_memalign, (posix_memalign_fn)pm,
                              memory_order_relaxed);
        atomic_store_explicit(&real.aligned_alloc, (aligned_fn)aa, memory_order_relaxed);
        atomic_store_explicit(&real.memalign, (aligned_fn)ma, memory_order_relaxed);
        atomic_store_explicit(&real.usable,
                              (usable_fn)same_allocator("malloc_usable_size", home),
                              memory_order_relaxed);
    }
    {
        void *const mm = dlsym(RTLD_NEXT, "mmap");
        void *const mu = dlsym(RTLD_NEXT, "munmap");
        void *const mr = dlsym(RTLD_NEXT, "mremap");
        atomic_store_explicit(&real.mmap, mm != NULL ? (mmap_fn)mm : sys_mmap,
                              memory_order_relaxed);
        atomic_store_explicit(&real.munmap, mu != NULL ? (munmap_fn)mu : sys_munmap,
                              memory_order_relaxed);
        atomic_store_explicit(&real.mremap, mr != NULL ? (mremap_fn)mr : sys_mremap,
                              memory_order_relaxed);
    }
    /* Without usable sizes (or aligned allocation) a free cannot be matched: forward. */
    if (atomic_load(&off_requested) || REAL(usable) == NULL || REAL(memalign) == NULL)
        st = ST_OFF;
    else if (home != NULL && home == owner_of((const void *)__libc_malloc) &&
             check_glibc_layout())
        st = ST_COUNT | ST_GLIBC;
    else
        st = ST_COUNT;
    if (MODE(st) == ST_COUNT && atomic_load(&sample_requested))
        st = ST_SAMPLE | (st & ST_GLIBC);
    atomic_compare_exchange_strong(&state, &expect, st);
    /*
     * ms__alloc_off, ms__alloc_configure or ms__alloc_stop may have come meanwhile,
     * finding it unresolved: each sets its flag before it looks at the state, so one of
     * the two sides sees the other.
     */
    if (atomic_load(&off_requested))
        atomic_store(&state, ST_OFF);
    promote();
    demote();
    if (MODE(atomic_load(&state)) == ST_OFF) {
        atomic_store(&release_bytes, SIZE_MAX);
        atomic_store(&tracking, 0);
    }
    set_entries();
    guard_off(t, was_busy);
    errno = saved;
}

/* The state, once the real functions are known. */
static int ready_state(void)
{
    const int st = atomic_load_explicit(&state, memory_order_acquire);

    if (likely(st != ST_UNRESOLVED))
        return st;
    resolve();
    return atomic_load_explicit(&state, memory_order_acquire);
}

/* ---- counting ----------------------------------------------------------------------- */

/* A fork child's image is dormant until a count of one of its threads wakes it. */
static atomic_int wake_due;

static int64_t heap_kb_of(int64_t bytes)
{
    return bytes > 0 ? bytes / 1024 : 0;
}

/* A sample was taken: the next `alloc` sample is due a step above the current heap. */
static void rebase(void)
{
    atomic_store(&trigger_at, atomic_load(&live) + atomic_load(&step_bytes));
}

static void thread_exit(void *arg)
{
    ms_tls_t *const t = &tls;

    (void)arg;
    atomic_fetch_add_explicit(&live, delta_of(t), memory_order_relaxed);
    set_delta(t, 0);
    t->registered = 2;
    set_limits(t);
}

/*
 * Arranges for the thread's remainder to be folded when it exits. Only once sampling is
 * configured: until then the process may not even have finished starting.
 */
static void register_thread(ms_tls_t *t)
{
    int expect = 0;

    if (atomic_compare_exchange_strong(&exit_key_state, &expect, 1)) {
        const int rc = pthread_key_create(&exit_key, thread_exit);
        atomic_store(&exit_key_state, rc == 0 ? 2 : 3);
    }
    switch (atomic_load(&exit_key_state)) {
    case 2:
        if (pthread_setspecific(exit_key, t) == 0)
            t->registered = 1;
        break;
    case 3:
        t->registered = 1; /* no destructor to be had: the remainder is lost at exit */
        break;
    default:
        break; /* another thread is creating the key: next time */
    }
}

/*
 * A count of `bytes` (negative: a release) that leaves the window, not applied yet:
 * dropped when the guard is set; otherwise applied, after registering a new thread, and
 * folded. Growth past the trigger level takes an `alloc` sample; a fall lowers the level,
 * so that the next sample is due a step above the lowest point since the last one, not
 * above the last one. Runs with the guard set: registering and sampling may allocate.
 */
static __attribute__((noinline)) void account_slow(ms_tls_t *t, int st, int64_t bytes)
{
    const int saved = errno;

    int64_t delta;

    if (t->busy)
        return;
    guard_on(t);
    if (t->registered == 0) {
        if (!atomic_load_explicit(&hooks_seen, memory_order_relaxed)) {
            atomic_store(&hooks_seen, 1);
            if (MODE(st) == ST_SAMPLE)
                ms__spool_set_tracking(1);
        }
        if (MODE(st) == ST_SAMPLE)
            register_thread(t);
    }
    /* A fork child's first count wakes its image, with the heap it inherited. */
    if (unlikely(atomic_load_explicit(&wake_due, memory_order_relaxed)) &&
        atomic_exchange(&wake_due, 0))
        ms__image_wake(heap_kb_of(atomic_load(&live) + delta_of(t) + bytes));
    delta = delta_of(t) + bytes;
    if (delta >= FOLD_BYTES || delta <= -FOLD_BYTES || t->registered == 0) {
        const int64_t d = delta;
        const int64_t now = (int64_t)atomic_fetch_add(&live, d) + d;
        const int64_t step = atomic_load_explicit(&step_bytes, memory_order_relaxed);
        long long level = atomic_load(&trigger_at);

        delta = 0;
        if (MODE(st) == ST_SAMPLE)
            ms__spool_set_heap(heap_kb_of(now));
        if (MODE(st) != ST_SAMPLE) {
            /* nothing to trigger */
        } else if (d < 0) {
            while (now + step < level &&
                   !atomic_compare_exchange_weak(&trigger_at, &level, now + step))
                ;
        } else {
            while (now >= level) {
                if (atomic_compare_exchange_weak(&trigger_at, &level, now + step)) {
                    if (ms__trigger_sample(MS__SAMPLE_ALLOC, now))
                        rebase();
                    break;
                }
            }
        }
    }
    /* Kept relative to the guard's window; guard_off opens the thread's around it. */
    set_delta(t, delta);
    guard_off(t, 0);
    errno = saved;
}

static inline void count_up(ms_tls_t *t, int st, size_t bytes)
{
    if (unlikely(t->up - (int64_t)bytes <= 0)) {
        account_slow(t, st, (int64_t)bytes);
        return;
    }
    t->up -= (int64_t)bytes;
    t->down += (int64_t)bytes;
}

static inline void count_down(ms_tls_t *t, int st, size_t bytes)
{
    if (unlikely(t->down - (int64_t)bytes <= 0)) {
        account_slow(t, st, -(int64_t)bytes);
        return;
    }
    t->down -= (int64_t)bytes;
    t->up += (int64_t)bytes;
}

static inline void count_both(ms_tls_t *t, int st, int64_t bytes)
{
    if (bytes >= 0)
        count_up(t, st, (size_t)bytes);
    else
        count_down(t, st, (size_t)-bytes);
}

/*
 * A `release` sample before the memory is given back; heap is what is live until then.
 * Not inside the shim's own work, nor in the sampler thread.
 */
static __attribute__((noinline)) void release(ms_tls_t *t)
{
    const int saved = errno;

    if (t->busy)
        return;
    guard_on(t);
    if (ms__trigger_sample(MS__SAMPLE_RELEASE,
                           (int64_t)atomic_load_explicit(&live, memory_order_relaxed) +
                               delta_of(t)))
        rebase();
    guard_off(t, 0);
    errno = saved;
}

static inline int is_releasing(size_t bytes)
{
    return unlikely(bytes >= atomic_load_explicit(&release_bytes, memory_order_relaxed));
}

static inline int is_block(size_t bytes)
{
    return unlikely(bytes >= atomic_load_explicit(&large_bytes, memory_order_relaxed));
}

/*
 * The bytes from p that a block of bytes as block_bytes gives them holds: glibc's chunk
 * starts with a header of two words before p, which the block's pages do not reach past.
 */
static inline size_t block_span(int st, size_t bytes)
{
    return (st & ST_GLIBC) != 0 && bytes > 2 * sizeof(size_t) ? bytes - 2 * sizeof(size_t)
                                                               : bytes;
}

/*
 * A large block was allocated at p (bytes as allocated, span of them from p): recorded
 * with its stack. Not inside the shim's work.
 */
static __attribute__((noinline)) void block_slow(ms_tls_t *t, const void *p, size_t bytes,
                                                 size_t span)
{
    const int saved = errno;

    if (t->busy)
        return;
    guard_on(t);
    ms__trigger_block(p, bytes, span);
    guard_off(t, 0);
    errno = saved;
}

/*
 * After a realloc or mremap of a tracked block (e taken out of the table before the call,
 * had 1): a failed call (q NULL) leaves the block as it was, one in place keeps its
 * allocation stack with its new size, one that moved it is a new block of the resizing
 * call; an untracked block that became large is a new block too.
 */
static __attribute__((noinline)) void block_resized(ms_tls_t *t, int had, ms_block_entry_t *e,
                                                    const void *q, size_t bytes, size_t span)
{
    if (q == NULL) {
        if (had)
            ms__blocks_put(e);
    } else if (!is_block(bytes)) {
        /* now below the size: no longer tracked */
    } else if (had && (uintptr_t)q == e->addr) {
        e->bytes = bytes;
        e->span = span;
        ms__blocks_put(e);
    } else {
        block_slow(t, q, bytes, span);
    }
}

/* A block is about to go: forgotten first, so that its address may be reused at once. */
static inline void block_gone(const void *p, size_t bytes)
{
    if (is_block(bytes))
        ms__blocks_remove(p, 1);
}

/* ---- the hooks ---------------------------------------------------------------------- */

/*
 * Each hook starts with its fast path: counting with glibc's allocator. Forwarding (mode
 * OFF) comes next. Everything else takes the general path: the bootstrap pool (real
 * functions not known yet), and counting around another allocator, with the guard held
 * over the real call, or no counting at all when the guard is set already.
 */
static inline int load_state(void)
{
    return atomic_load_explicit(&state, memory_order_acquire);
}

static __attribute__((noinline)) void *malloc_general(size_t size, int st)
{
    ms_tls_t *const t = &tls;
    malloc_fn fn = REAL(malloc);
    void *p;
    int was;

    if (fn == NULL) {
        if (t->busy)
            return pool_alloc(size, POOL_ALIGN);
        st = ready_state();
        fn = REAL(malloc);
    }
    if (t->busy || MODE(st) == ST_OFF || st == ST_UNRESOLVED)
        return fn(size);
    was = guard_on(t);
    p = fn(size);
    guard_off(t, was);
    if (p != NULL) {
        const size_t bytes = block_bytes(st, p);
        count_up(t, st, bytes);
        if (is_block(bytes))
            block_slow(t, p, bytes, block_span(st, bytes));
    }
    return p;
}

/*
 * The slow end of a fast path that has already taken `bytes` from the room above (and
 * found none left), as a call that returns p: the fast paths end in tail calls only, and
 * keep nothing across a call.
 */
static __attribute__((noinline)) void *counted_slow(void *p, int64_t bytes)
{
    ms_tls_t *const t = &tls;

    t->up += bytes;
    account_slow(t, load_state(), bytes);
    if (is_block((size_t)bytes))
        block_slow(t, p, (size_t)bytes, block_span(ST_GLIBC, (size_t)bytes));
    return p;
}

void *ms__malloc_glibc(size_t size)
{
    void *const p = __libc_malloc(size);

    if (likely(p != NULL)) {
        ms_tls_t *const t = &tls;
        const int64_t bytes = (int64_t)glibc_chunk(p);
        if (unlikely(take_room(&t->up, bytes)))
            return counted_slow(p, bytes);
        t->down += bytes;
    }
    return p;
}

void *ms__malloc(size_t size)
{
    const int st = load_state();

    if (likely((st & ST_GLIBC) != 0))
        return ms__malloc_glibc(size);
    if (st == ST_OFF)
        return REAL(malloc)(size);
    return malloc_general(size, st);
}

static __attribute__((noinline)) void *calloc_general(size_t n, size_t size, int st)
{
    ms_tls_t *const t = &tls;
    calloc_fn fn = REAL(calloc);
    void *p;
    int was;

    if (fn == NULL) {
        if (t->busy) {
            size_t total;
            if (__builtin_mul_overflow(n, size, &total)) {
                errno = ENOMEM;
                return NULL;
            }
            return pool_alloc(total, POOL_ALIGN); /* never reused, so zero */
        }
        st = ready_state();
        fn = REAL(calloc);
    }
    if (t->busy || MODE(st) == ST_OFF || st == ST_UNRESOLVED)
        return fn(n, size);
    was = guard_on(t);
    p = fn(n, size);
    guard_off(t, was);
    if (p != NULL) {
        const size_t bytes = block_bytes(st, p);
        count_up(t, st, bytes);
        if (is_block(bytes))
            block_slow(t, p, bytes, block_span(st, bytes));
    }
    return p;
}

void *ms__calloc(size_t n, size_t size)
{
    const int st = load_state();

    if (likely((st & ST_GLIBC) != 0)) {
        void *const p = REAL(calloc)(n, size);
        if (likely(p != NULL)) {
            ms_tls_t *const t = &tls;
            const int64_t bytes = (int64_t)glibc_chunk(p);
            if (unlikely(take_room(&t->up, bytes)))
                return counted_slow(p, bytes);
            t->down += bytes;
        }
        return p;
    }
    if (st == ST_OFF)
        return REAL(calloc)(n, size);
    return calloc_general(n, size, st);
}

static __attribute__((noinline)) void free_general(void *p, int st)
{
    ms_tls_t *const t = &tls;
    free_fn fn = REAL(free);
    size_t size;
    int was;

    if (fn == NULL) {
        if (t->busy)
            return; /* nothing but the pool can have allocated yet */
        st = ready_state();
        fn = REAL(free);
    }
    if (t->busy || MODE(st) == ST_OFF || st == ST_UNRESOLVED) {
        fn(p);
        return;
    }
    size = block_bytes(st, p);
    if (is_releasing(size))
        release(t);
    block_gone(p, size);
    was = guard_on(t);
    fn(p);
    guard_off(t, was);
    count_down(t, st, size);
}

/*
 * The rest of a fast free that releases a lot or must fold, or whose block is the
 * bootstrap pool's (POOL_MARK made it look like a huge release).
 */
static __attribute__((noinline)) void free_slow(void *p, size_t size)
{
    ms_tls_t *const t = &tls;

    /*
     * What the fast path took from the room below, given back by the delta, which `up`
     * alone holds: right even if a signal handler's count reset the window in between
     * (the bootstrap pool's blocks make size huge).
     */
    t->down = delta_of(t) - t->lo;
    if (in_pool(p))
        return;
    if (is_releasing(size))
        release(t);
    block_gone(p, size);
    count_down(t, load_state(), size);
    __libc_free(p);
}

/*
 * With glibc's allocator. No test of the release size is needed here: a release of
 * release_bytes (1 MiB at least) or more takes the delta below -FOLD_BYTES, and so the
 * slow path, from anywhere the fast path leaves it.
 */
void ms__free_glibc(void *p)
{
    ms_tls_t *const t = &tls;
    size_t size;

    if (unlikely(p == NULL))
        return;
    /* Counted first, so that the real free is the last call, with nothing kept. */
    size = glibc_chunk(p);
    if (unlikely(take_room(&t->down, (int64_t)size))) {
        free_slow(p, size);
        return;
    }
    t->up += (int64_t)size;
    __libc_free(p);
}

void ms__free(void *p)
{
    const int st = load_state();

    if (likely((st & ST_GLIBC) != 0)) {
        ms__free_glibc(p);
        return;
    }
    if (unlikely(p == NULL) || unlikely(in_pool(p)))
        return;
    if (st == ST_OFF) {
        REAL(free)(p);
        return;
    }
    free_general(p, st);
}

/* realloc of a block from the pool: moves it to the real allocator. */
static void *pool_realloc(void *p, size_t size)
{
    const size_t old = pool_size(p);
    void *q;

    if (size == 0)
        return NULL;
    q = ms__malloc(size);
    if (q != NULL)
        memcpy(q, p, old < size ? old : size);
    return q;
}

static __attribute__((noinline)) void *realloc_general(void *p, size_t size, int st)
{
    ms_tls_t *const t = &tls;
    realloc_fn fn = REAL(realloc);
    ms_block_entry_t e;
    size_t old;
    void *q;
    int was, had;

    if (fn == NULL) {
        if (t->busy)
            return p == NULL ? pool_alloc(size, POOL_ALIGN) : NULL;
        st = ready_state();
        fn = REAL(realloc);
    }
    if (t->busy || MODE(st) == ST_OFF || st == ST_UNRESOLVED)
        return fn(p, size);
    old = p != NULL ? block_bytes(st, p) : 0;
    if (old > size && is_releasing(old - size))
        release(t);
    had = is_block(old) && ms__blocks_take(p, &e);
    was = guard_on(t);
    q = fn(p, size);
    guard_off(t, was);
    if (q != NULL) {
        const size_t bytes = block_bytes(st, q);
        /* In the table before the count, whose sample may list the blocks. */
        if (had || is_block(bytes))
            block_resized(t, had, &e, q, bytes, block_span(st, bytes));
        count_both(t, st, (int64_t)bytes - (int64_t)old);
    } else if (p != NULL && size == 0) {
        count_down(t, st, old); /* glibc frees and returns NULL */
    } else if (had) {
        block_resized(t, had, &e, NULL, 0, 0); /* the block stays where it was */
    }
    return q;
}

void *ms__realloc(void *p, size_t size)
{
    const int st = load_state();
    ms_tls_t *const t = &tls;
    ms_block_entry_t e;
    size_t old;
    void *q;
    int had;

    if (p != NULL && unlikely(in_pool(p)))
        return pool_realloc(p, size);
    if (unlikely((st & ST_GLIBC) == 0)) {
        if (st == ST_OFF)
            return REAL(realloc)(p, size);
        return realloc_general(p, size, st);
    }
    old = p != NULL ? glibc_chunk(p) : 0;
    if (old > size && is_releasing(old - size))
        release(t);
    had = is_block(old) && ms__blocks_take(p, &e);
    q = REAL(realloc)(p, size);
    if (q != NULL) {
        const size_t bytes = glibc_chunk(q);
        /* In the table before the count, whose sample may list the blocks. */
        if (unlikely(had) || is_block(bytes))
            block_resized(t, had, &e, q, bytes, block_span(ST_GLIBC, bytes));
        count_both(t, st, (int64_t)bytes - (int64_t)old);
    } else if (p != NULL && size == 0) {
        count_down(t, st, old); /* glibc frees and returns NULL */
    } else if (unlikely(had)) {
        block_resized(t, had, &e, NULL, 0, 0); /* the block stays where it was */
    }
    return q;
}

/* memalign and its relatives, all through the one the real allocator has. */
enum { AL_MEMALIGN, AL_ALIGNED_ALLOC, AL_POSIX };

static void *aligned(int how, size_t align, size_t size, int *err)
{
    ms_tls_t *const t = &tls;
    const int st = t->busy ? ST_OFF : ready_state();
    const int counting = MODE(st) == ST_COUNT || MODE(st) == ST_SAMPLE;
    const posix_memalign_fn pm = REAL(posix_memalign);
    const aligned_fn aa = REAL(aligned_alloc);
    const aligned_fn ma = REAL(memalign);
    void *p = NULL;
    int was = 0;

    *err = 0;
    if (how == AL_POSIX &&
        (align == 0 || (align & (align - 1)) != 0 || align % sizeof(void *) != 0)) {
        *err = EINVAL;
        return NULL;
    }
    if (counting)
        was = guard_on(t);
    if (how == AL_POSIX && pm != NULL) {
        *err = pm(&p, align, size);
    } else if (how == AL_ALIGNED_ALLOC && aa != NULL) {
        p = aa(align, size);
    } else {
        const int saved = errno;
        p = ma != NULL ? ma(align, size) : pool_alloc(size, align);
        if (how == AL_POSIX) {
            *err = p != NULL ? 0 : errno;
            errno = saved;
        }
    }
    if (counting) {
        guard_off(t, was);
        if (p != NULL) {
            const size_t bytes = block_bytes(st, p);
            count_up(t, st, bytes);
            if (is_block(bytes))
                block_slow(t, p, bytes, block_span(st, bytes));
        }
    }
    return p;
}

int ms__posix_memalign(void **out, size_t alignment, size_t size)
{
    int err;
    void *const p = aligned(AL_POSIX, alignment, size, &err);

    if (err == 0)
        *out = p;
    return err;
}

void *ms__aligned_alloc(size_t alignment, size_t size)
{
    int err;

    return aligned(AL_ALIGNED_ALLOC, alignment, size, &err);
}

void *ms__memalign(size_t alignment, size_t size)
{
    int err;

    return aligned(AL_MEMALIGN, alignment, size, &err);
}

void *ms__valloc(size_t size)
{
    int err;

    return aligned(AL_MEMALIGN, (size_t)getpagesize(), size, &err);
}

size_t ms__malloc_usable_size(void *p)
{
    usable_fn fn;

    if (p == NULL)
        return 0;
    if (in_pool(p))
        return pool_size(p);
    fn = REAL(usable);
    if (fn == NULL && atomic_load(&state) == ST_UNRESOLVED) {
        ready_state();
        fn = REAL(usable);
    }
    return fn != NULL ? fn(p) : 0;
}

/* ---- mappings ----------------------------------------------------------------------- */

static size_t page_round(size_t len)
{
    const size_t page = (size_t)getpagesize();

    if (len > SIZE_MAX - (page - 1))
        return SIZE_MAX & ~(page - 1);
    return (len + page - 1) & ~(page - 1);
}

/*
 * Anonymous memory the program maps for itself is heap in all but name (Python's arenas,
 * large buffers). Reservations without access (PROT_NONE) are not memory yet, and a fixed
 * mapping replaces pages that may already be counted, so neither is.
 */
static int counts_as_heap(int prot, int flags)
{
    return (flags & MAP_ANONYMOUS) != 0 && prot != PROT_NONE &&
           (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) == 0;
}

/*
 * The mapping hooks count only outside the guard (an allocator's own mappings, made
 * inside its malloc, are its heap's business) and their real calls, plain system call
 * wrappers, need no guard.
 */
static int mapping_state(const ms_tls_t *t)
{
    const int st = t->busy ? ST_OFF : ready_state();

    return MODE(st) == ST_OFF || st == ST_UNRESOLVED ? ST_OFF : st;
}

void *ms__mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    ms_tls_t *const t = &tls;
    const int st = mapping_state(t);
    const mmap_fn fn = REAL(mmap);
    void *p;

    p = (fn != NULL ? fn : sys_mmap)(addr, len, prot, flags, fd, off);
    if (st != ST_OFF && p != MAP_FAILED && counts_as_heap(prot, flags)) {
        const size_t bytes = page_round(len);
        if (ms__maptable_insert(p, bytes) == 0) {
            count_up(t, st, bytes);
            if (is_block(bytes))
                block_slow(t, p, bytes, bytes);
        }
    } else if (st != ST_OFF && p != MAP_FAILED && (flags & MAP_FIXED) != 0) {
        /* A fixed mapping replaces whatever was there, a tracked block's pages included. */
        ms__blocks_remove(p, page_round(len));
    }
    return p;
}

int ms__munmap(void *addr, size_t len)
{
    ms_tls_t *const t = &tls;
    const int st = mapping_state(t);
    const munmap_fn fn = REAL(munmap);
    size_t gone = 0;
    int rc;

    if (st != ST_OFF) {
        if (is_releasing(page_round(len)))
            release(t);
        /* Forgotten before the pages go: a new mapping at addr must not be taken for it. */
        gone = ms__maptable_unmap(addr, page_round(len));
        ms__blocks_remove(addr, page_round(len));
    }
    rc = (fn != NULL ? fn : sys_munmap)(addr, len);
    if (gone != 0)
        count_down(t, st, gone);
    return rc;
}

void *ms__mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
    ms_tls_t *const t = &tls;
    const int st = mapping_state(t);
    const mremap_fn fn = REAL(mremap);
    const size_t old_bytes = page_round(old_len);
    const size_t new_bytes = page_round(new_len);
    ms_block_entry_t e;
    long slot = -1;
    int had = 0;
    void *q;

    if (st != ST_OFF) {
        if (old_bytes > new_bytes && is_releasing(old_bytes - new_bytes))
            release(t);
        slot = ms__maptable_find(old, old_bytes);
        if (slot >= 0)
            had = ms__blocks_take(old, &e);
    }
    q = (fn != NULL ? fn : sys_mremap)(old, old_len, new_len, flags, new_addr);
    /* A fixed destination replaced whatever was there, a tracked block's pages included. */
    if (st != ST_OFF && q != MAP_FAILED && (flags & MREMAP_FIXED) != 0)
        ms__blocks_remove(q, new_bytes);
    if (q != MAP_FAILED && slot >= 0) {
        int64_t d = 0;
        /* MREMAP_DONTUNMAP leaves the old range mapped, and so recorded. */
        if ((flags & MREMAP_DONTUNMAP) == 0)
            d -= (int64_t)ms__maptable_take(slot, old);
        if (ms__maptable_insert(q, new_bytes) == 0) {
            d += (int64_t)new_bytes;
            if (had || is_block(new_bytes))
                block_resized(t, had, &e, q, new_bytes, new_bytes);
        }
        count_both(t, st, d);
    } else if (had) {
        block_resized(t, had, &e, NULL, 0, 0); /* failed: the mapping stays as it was */
    }
    return q;
}

/* ---- configuration and the sampler's side ------------------------------------------- */

void ms__alloc_configure(const ms_alloc_config_t *cfg)
{
    if (!cfg->enabled || MODE(atomic_load(&state)) == ST_OFF) {
        ms__alloc_off();
        return;
    }
    atomic_store(&step_bytes, (long long)cfg->step_bytes);
    atomic_store(&trigger_at, atomic_load(&live) + (long long)cfg->step_bytes);
    ms__trigger_configure(cfg->max_per_s, cfg->stacks);
    ms__blocks_configure(cfg->block_bytes);
    atomic_store(&large_bytes, cfg->block_bytes > 0 ? cfg->block_bytes : UINT64_MAX);
    atomic_store(&tracking, 1);
    if (atomic_load(&hooks_seen))
        ms__spool_set_tracking(1);
    atomic_store(&release_bytes, (size_t)cfg->release_bytes);
    /* Not resolved here: the first hook resolves, straight to SAMPLE. */
    atomic_store(&sample_requested, 1);
    promote();
    set_entries();
}

/*
 * Costs nothing at start: an unresolved shim stays unresolved until the program's first
 * allocation, and then resolves straight to forwarding.
 */
void ms__alloc_off(void)
{
    int st;

    atomic_store(&sample_requested, 0);
    atomic_store(&release_bytes, SIZE_MAX);
    atomic_store(&large_bytes, UINT64_MAX);
    ms__blocks_configure(0);
    atomic_store(&tracking, 0);
    atomic_store(&off_requested, 1);
    st = atomic_load(&state);
    while (st != ST_UNRESOLVED && !atomic_compare_exchange_weak(&state, &st, ST_OFF))
        ;
    set_entries();
}

void ms__alloc_stop(void)
{
    ms_tls_t *const t = &tls;
    int st;

    atomic_store(&sample_requested, 0);
    st = atomic_load(&state);
    atomic_store(&release_bytes, SIZE_MAX);
    if (MODE(st) == ST_SAMPLE)
        atomic_compare_exchange_strong(&state, &st, ST_COUNT | (st & ST_GLIBC));
    set_entries();
    /* The exiting thread's remainder belongs in the end reading. */
    if (!t->busy) {
        atomic_fetch_add(&live, delta_of(t));
        set_delta(t, 0);
        set_limits(t);
    }
}

int ms__alloc_tracking(void)
{
    return atomic_load(&tracking) && atomic_load(&hooks_seen) &&
           MODE(atomic_load(&state)) != ST_OFF;
}

int64_t ms__alloc_heap_kb(void)
{
    const long long bytes = atomic_load(&live);

    if (!ms__alloc_tracking())
        return -1;
    return bytes > 0 ? (int64_t)(bytes / 1024) : 0;
}

void ms__alloc_fork_child(int measured)
{
    ms_tls_t *const t = &tls;
    const int st = atomic_load(&state);

    /*
     * Whatever the child does next, a lock of the block table that another thread of the
     * parent held at the fork is nobody's in the child (the forking thread never holds it:
     * nothing forks inside it).
     */
    ms__blocks_fork_child();
    /* Unresolved with sampling asked for: SAMPLE at the child's first hook. */
    if (MODE(st) != ST_SAMPLE && !(st == ST_UNRESOLVED && atomic_load(&sample_requested)))
        return;
    if (!measured) {
        ms__alloc_off();
        return;
    }
    /* The child's heap starts as the parent's: it has a copy of every live block. */
    rebase();
    ms__trigger_fork_child();
    atomic_store(&wake_due, 1);
    /*
     * The forking thread is the child's only thread: its next count, whatever its size,
     * takes the slow path, which wakes the image.
     */
    if (!t->busy)
        close_window(t);
}
