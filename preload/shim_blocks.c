/*
 * The large blocks live in this image: every block of at least MEMSWEEP_BLOCK_MB that the
 * program allocated (malloc and its relatives, realloc, anonymous mmap and mremap) and has
 * not given back, with the hash of its allocation stack and when it was allocated. At the
 * image's highest readings, the blocks then live are written after the reading (a BLOCKS
 * record) with the part of each that is resident (mincore), so that the analyzer can say
 * which allocations the peak was made of, and how much of it they explain (docs/usage.md,
 * "Large blocks at the peak").
 *
 * Blocks this large are rare (each costs the allocator a mapping), so the table is a
 * small array behind a lock, searched linearly; the lock is taken with the thread's
 * signals blocked, so that a handler allocating in the same thread never waits for it,
 * and nothing that can fork or take another lock runs while it is held. (Blocks from 1 to
 * 32 MiB may come from glibc's heap rather than a mapping of their own once glibc has
 * raised its mapping threshold; their stacks are then taken at a bounded rate, see
 * shim_trigger.c.) Ordinary
 * allocations never come here: the hooks compare a block's size with the threshold on
 * their slow path only, which every block of 256 KiB or more takes. A vfork child, which
 * shares the table but is not the process that owns it, leaves it alone.
 *
 * A list is written at a new highest reading when the blocks changed since the last list
 * written, or when RSS rose by 1/32 (1 MiB at least) since it, and always at a release,
 * an exec and the end: so a growth of many readings costs a few lists, and the list the
 * database keeps (the last, which is the highest) is at most that far below the highest
 * reading. A list that could not be written (the writer busy) is written at the next such
 * reading whatever the rule says.
 */
#include "shim_internal.h"

#include <errno.h>
#include <sched.h>
#include <time.h>
#include <signal.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
    uintptr_t addr; /* 0: a free slot */
    uint64_t bytes; /* as allocated */
    uint64_t span;  /* bytes from addr that are the block's own, for its residency */
    uint64_t stack_hash;
    int64_t t_ns;
} entry_t;

static atomic_ullong threshold = UINT64_MAX;
static atomic_int lock;
static entry_t table[MS_BLOCKS_MAX];
static int live;           /* entries in use; written under lock, read relaxed */
static uint32_t untracked; /* blocks the table had no room for, under lock */
static uint64_t changes;   /* adds and removals, under lock */

/*
 * The last list written: the changes it saw and its reading's RSS; whether one was ever
 * written with blocks in it; whether the last attempt failed. Under snap_busy.
 */
static uint64_t listed_changes = UINT64_MAX;
static int64_t listed_rss_kb = -1;
static int ever_listed;
static int pending;

/*
 * The snapshot being written, and who fills it: one thread at a time. A highest reading
 * that finds it busy leaves missed set, and the next one lists whatever the rule says.
 */
static atomic_int snap_busy;
static atomic_int missed;
static MS__COLD ms_spool_block_t snap[MS_BLOCKS_MAX];
static MS__COLD uint64_t snap_span[MS_BLOCKS_MAX];
static MS__COLD unsigned char vec[4096];

void ms__blocks_configure(uint64_t block_bytes)
{
    atomic_store(&threshold, block_bytes > 0 ? block_bytes : UINT64_MAX);
}

uint64_t ms__blocks_threshold(void)
{
    return atomic_load_explicit(&threshold, memory_order_relaxed);
}

/* Whether this process owns the table: not a vfork child, and recording. */
static int owner(void)
{
    return ms__spool_state() == MS__SPOOL_LIVE && ms__pid() == ms__spool_owner();
}

/* Takes the lock; the caller has blocked its thread's signals. */
static void take_masked(void)
{
    for (unsigned tries = 0;; tries++) {
        int expect = 0;
        if (atomic_compare_exchange_weak_explicit(&lock, &expect, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        /* A holder of lower priority on this CPU gets to run: a short sleep after a while. */
        if (tries < 100) {
            sched_yield();
        } else {
            const struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
    }
}

static void give_masked(void)
{
    atomic_store_explicit(&lock, 0, memory_order_release);
}

/* Blocks the thread's signals and takes the lock. */
static void take(sigset_t *old)
{
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, old);
    take_masked();
}

static void give(const sigset_t *old)
{
    give_masked();
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static void set_live(int n)
{
    __atomic_store_n(&live, n, __ATOMIC_RELAXED);
}

/* Puts e in a free slot (under lock), or counts it as untracked. */
static void insert(const entry_t *e)
{
    changes++;
    /* An address the table still holds was freed unseen (inside the allocator): replaced. */
    for (int i = 0; i < MS_BLOCKS_MAX; i++) {
        if (table[i].addr == e->addr) {
            table[i] = *e;
            return;
        }
    }
    if (live >= MS_BLOCKS_MAX) {
        untracked++;
        return;
    }
    for (int i = 0; i < MS_BLOCKS_MAX; i++) {
        if (table[i].addr == 0) {
            table[i] = *e;
            set_live(live + 1);
            return;
        }
    }
}

void ms__blocks_add(const void *p, uint64_t bytes, uint64_t span, uint64_t stack_hash,
                    int64_t t_ns)
{
    const entry_t e = {(uintptr_t)p, bytes, span, stack_hash, t_ns};

    if (p == NULL)
        return;
    take_masked();
    insert(&e);
    give_masked();
}

/*
 * Whether a tracked block may lie in [from, to), looked up without the lock: an munmap of
 * anything else pays a scan of the table and nothing more. An entry being written by
 * another thread is a block that thread allocated, which cannot be this range's.
 */
static int overlaps(uintptr_t from, uintptr_t to)
{
    for (int i = 0; i < MS_BLOCKS_MAX; i++) {
        const uintptr_t a = __atomic_load_n(&table[i].addr, __ATOMIC_RELAXED);
        const uint64_t span = __atomic_load_n(&table[i].span, __ATOMIC_RELAXED);
        if (a != 0 && a < to && (a >= from || span > from - a))
            return 1;
    }
    return 0;
}

/*
 * Forgets what of the tracked blocks lies in [addr, addr + len): a block that starts
 * there is gone; one that starts before and reaches into it keeps what lies before.
 */
void ms__blocks_remove(const void *addr, uint64_t len)
{
    const uintptr_t from = (uintptr_t)addr;
    const uintptr_t to = from + len < from ? UINTPTR_MAX : from + len;
    sigset_t old;

    /*
     * Nothing to look for. A block is added before the program can hand its address to
     * the thread that frees it, so that thread sees it counted.
     */
    if (__atomic_load_n(&live, __ATOMIC_RELAXED) == 0 || !overlaps(from, to) || !owner())
        return;
    take(&old);
    for (int i = 0; i < MS_BLOCKS_MAX && live > 0; i++) {
        entry_t *const e = &table[i];
        if (e->addr == 0)
            continue;
        if (e->addr >= from && e->addr < to) {
            e->addr = 0;
            set_live(live - 1);
            changes++;
        } else if (e->addr < from && e->span > from - e->addr) {
            e->span = from - e->addr;
            changes++;
        }
    }
    give(&old);
}

int ms__blocks_take(const void *p, ms_block_entry_t *out)
{
    sigset_t old;
    int found = 0;

    if (__atomic_load_n(&live, __ATOMIC_RELAXED) == 0 || !owner())
        return 0;
    take(&old);
    for (int i = 0; i < MS_BLOCKS_MAX && !found; i++) {
        if (table[i].addr != 0 && table[i].addr == (uintptr_t)p) {
            out->addr = table[i].addr;
            out->bytes = table[i].bytes;
            out->span = table[i].span;
            out->stack_hash = table[i].stack_hash;
            out->t_ns = table[i].t_ns;
            table[i].addr = 0;
            set_live(live - 1);
            changes++;
            found = 1;
        }
    }
    give(&old);
    return found;
}

void ms__blocks_put(const ms_block_entry_t *in)
{
    const entry_t e = {in->addr, in->bytes, in->span, in->stack_hash, in->t_ns};
    sigset_t old;

    if (e.addr == 0 || !owner())
        return;
    take(&old);
    insert(&e);
    give(&old);
}

/*
 * Resident pages of n pages from at, into *pages; 1 when any of them is mapped. A run that
 * mincore refuses (some page not mapped) is halved until the unmapped pages are found, so
 * a hole costs a few calls, not one a page.
 */
static int resident_pages(uintptr_t at, uintptr_t n, uintptr_t page, int64_t *pages, int depth)
{
    if (n == 0)
        return 0;
    if (n <= sizeof vec && mincore((void *)at, n * page, vec) == 0) {
        for (uintptr_t i = 0; i < n; i++)
            *pages += vec[i] & 1;
        return 1;
    }
    if (n == 1 || depth > 40)
        return 0;
    {
        const uintptr_t half = n / 2;
        const int a = resident_pages(at, half, page, pages, depth + 1);
        const int b = resident_pages(at + half * page, n - half, page, pages, depth + 1);
        return a || b;
    }
}

/*
 * Resident KiB of the pages that hold [addr, addr + bytes). Pages that are not mapped (a
 * part unmapped since) count as not resident; -1 when none of it is mapped.
 */
static int64_t resident_kb(uintptr_t addr, uint64_t bytes)
{
    const uintptr_t page = (uintptr_t)getpagesize();
    uintptr_t at = addr & ~(page - 1);
    const uintptr_t end = (addr + bytes + page - 1) & ~(page - 1);
    int64_t pages = 0;
    int mapped = 0;

    while (at < end) {
        const uintptr_t n = (end - at) / page < sizeof vec ? (end - at) / page : sizeof vec;
        mapped |= resident_pages(at, n, page, &pages, 0);
        at += n * page;
    }
    return mapped ? pages * (int64_t)(page / 1024) : -1;
}

void ms__blocks_snapshot(int64_t t_ns, int64_t rss_kb, int force, int wait)
{
    sigset_t old, outer, all;
    uint32_t n = 0, lost;
    uint64_t seen;
    int expect = 0, err;

    if (atomic_load_explicit(&threshold, memory_order_relaxed) == UINT64_MAX || !owner())
        return;
    if (!atomic_compare_exchange_strong(&snap_busy, &expect, 1)) {
        atomic_store(&missed, 1);
        return;
    }
    if (atomic_exchange(&missed, 0))
        pending = 1;
    /* The writer is held with every signal blocked (shim_spool.c). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &outer);
    take(&old);
    seen = changes;
    /*
     * Nothing to say: no block live, and none listed before (an image whose blocks are all
     * gone says so once, with an empty list). Or little new: the same blocks, RSS less than
     * 1/32 above the last list, and no failed list to make up for. Or a reading below the
     * last list's, which another thread's higher one overtook: the database keeps the last
     * list written, which must stay the highest.
     */
    if ((live == 0 && !ever_listed) || rss_kb < listed_rss_kb ||
        (!force && !pending && seen == listed_changes && listed_rss_kb >= 0 &&
         rss_kb < listed_rss_kb + (listed_rss_kb / 32 > 1024 ? listed_rss_kb / 32 : 1024))) {
        give(&old);
        pthread_sigmask(SIG_SETMASK, &outer, NULL);
        atomic_store(&snap_busy, 0);
        return;
    }
    for (int i = 0; i < MS_BLOCKS_MAX && n < (uint32_t)live; i++) {
        if (table[i].addr == 0)
            continue;
        snap[n].addr = table[i].addr;
        snap[n].bytes = table[i].bytes;
        snap[n].stack_hash = table[i].stack_hash;
        snap[n].t_ns = table[i].t_ns;
        snap_span[n] = table[i].span;
        n++;
    }
    lost = untracked;
    give(&old);
    /*
     * Outside the lock: a block freed meanwhile by another thread counts as not resident
     * where its pages are gone; this thread's reading came before that free.
     */
    for (uint32_t i = 0; i < n; i++)
        snap[i].resident_kb = resident_kb((uintptr_t)snap[i].addr, snap_span[i]);
    err = ms__spool_write_blocks(t_ns, rss_kb, snap, n, lost, wait);
    if (err == 0) {
        listed_changes = seen;
        listed_rss_kb = rss_kb;
        ever_listed = n > 0;
        pending = 0;
    } else {
        /* Only a busy writer is worth trying again; a full or stopped spool is not. */
        pending = err == -EBUSY;
    }
    pthread_sigmask(SIG_SETMASK, &outer, NULL);
    atomic_store(&snap_busy, 0);
}

int ms__blocks_live(void)
{
    return __atomic_load_n(&live, __ATOMIC_RELAXED);
}

void ms__blocks_fork_child(void)
{
    /*
     * The child has a copy of every block, but until it wakes it does not own the table
     * (it writes nothing while dormant), so frees it makes meanwhile would go unseen: it
     * starts with an empty table, and lists the blocks it allocates itself. A lock held by
     * another thread at the fork is nobody's now.
     */
    memset(table, 0, sizeof table);
    set_live(0);
    untracked = 0;
    changes = 0;
    atomic_store(&lock, 0);
    atomic_store(&snap_busy, 0);
    listed_changes = UINT64_MAX;
    listed_rss_kb = -1;
    ever_listed = 0;
    pending = 0;
}
