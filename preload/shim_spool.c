/*
 * The records of this process image in its chunks of the pool (include/memsweep/spool.h).
 *
 * One writer at a time: a process-private lock that a program thread only ever tries
 * (a hook may run in a signal handler that interrupted a writer of the same thread, and
 * must then give up, never wait) and that only the sampler thread, a NOTE and the fork
 * prepare handler wait for. Every holder keeps all signals blocked while it holds the
 * lock (the callers of ms__spool_write block them, the other holders here), so no
 * handler ever runs in a thread that holds it: a thread that forks, even from a signal
 * handler, never holds it itself and may wait for it. A record is
 * copied into the chunk first and published afterwards by a release store of the chunk's
 * `committed`, so that a reader, or a SIGKILL at any moment, finds whole records only.
 *
 * Chunk 0 is written with pwrite at the start and mapped only when the image has another
 * record to write (map_head): most images end within their first interval with nothing
 * more than their end. The page of chunk 0 that holds the ms_spool_proc_t of the image
 * (the live counters and the end) is mapped at the start and stays mapped for the image's
 * whole life; it is first written when a counter changes or at the end. Once chunk 0 is
 * mapped, only the current chunk is, besides that page: the shim's footprint stays flat
 * however many records it writes.
 *
 * Every chunk keeps NOTE_RESERVE bytes free for the one NOTE record that says why
 * measuring stopped, so that the reason always fits where the records end.
 */
#include "shim_internal.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <pthread.h>
#include <string.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define ALIGN8(n) (((n) + 7u) & ~(size_t)7u)

/* Room kept in every chunk for the NOTE that ends the records of a full spool. */
#define NOTE_RESERVE ALIGN8(sizeof(ms_spool_note_t) + MS_SPOOL_NOTE_MAX)

/* Stacks an image remembers having written, so as not to write them again. */
#define STACKS_REMEMBERED 16

static struct {
    atomic_int state; /* MS__SPOOL_ */
    atomic_int owner; /* the pid of the image that owns the writer */
    atomic_int lock;
    ms_spool_proc_t *proc; /* in head: read with __atomic_load_n */
    void *head_map;        /* chunk 0's mapping, only its first page once it is done */
    size_t head_len;
    ms_chunk_map_t cur; /* the chunk being written (chunk 0's mapping at first) */
    ms_spool_chunk_t *ch;
    uint32_t seq;
    uint32_t used; /* bytes of records in cur, as committed says */
    uint32_t room; /* bytes for records in cur */
    uint64_t key;
    int full;  /* no more chunks: records are counted, not written */
    int noted; /* the one NOTE of the image is written */
    uint64_t stacks[STACKS_REMEMBERED];
    unsigned stacks_next;
    uint32_t chunk_bytes;
    /*
     * Chunk 0 written with pwrite and not mapped (see ms__spool_begin): its index, and the
     * process header as written, for the end.
     */
    int unmapped;
    uint64_t head_idx;
    ms_spool_proc_t head_proc;
    void *end_map; /* the page of chunk 0 that holds the process header, mapped */
} w;

/* MS_SPOOL_END_ of this image, whichever way its end is written. */
static atomic_uint end_state;

/* The live counters, kept here so that they survive while no chunk is mapped. */
static atomic_llong counters[3];
static atomic_llong heap_kb = -1;
static atomic_int tracking;

int ms__spool_state(void)
{
    return atomic_load_explicit(&w.state, memory_order_acquire);
}

pid_t ms__spool_owner(void)
{
    return (pid_t)atomic_load_explicit(&w.owner, memory_order_relaxed);
}

static ms_spool_proc_t *proc_now(void)
{
    return __atomic_load_n(&w.proc, __ATOMIC_ACQUIRE);
}

/* Yields a bounded wait (MS__WRITE_BRIEFLY) allows before it gives up: a few ms at most. */
#define BRIEF_TRIES 1000

static int lock_writer(int wait)
{
    for (int tries = 0;; tries++) {
        int expect = 0;
        if (atomic_compare_exchange_weak_explicit(&w.lock, &expect, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return 1;
        if (!wait || (wait == MS__WRITE_BRIEFLY && tries >= BRIEF_TRIES)) {
            /* A weak exchange may fail spuriously: only a held lock is a busy writer. */
            if (atomic_load_explicit(&w.lock, memory_order_relaxed) != 0)
                return 0;
            continue;
        }
        sched_yield();
    }
}

static void unlock_writer(void)
{
    atomic_store_explicit(&w.lock, 0, memory_order_release);
}

/* Mirrors a counter into the mapped process header, if there is one. */
static void mirror(int which, int64_t v)
{
    ms_spool_proc_t *const p = proc_now();

    if (p == NULL)
        return;
    switch (which) {
    case MS__COUNT_DROPPED_RATE:
        __atomic_store_n(&p->alloc_dropped_rate, v, __ATOMIC_RELAXED);
        break;
    case MS__COUNT_DROPPED_QUEUE:
        __atomic_store_n(&p->alloc_dropped_queue, v, __ATOMIC_RELAXED);
        break;
    default:
        __atomic_store_n(&p->unstored, v, __ATOMIC_RELAXED);
        break;
    }
}

void ms__spool_count(int which, int64_t n)
{
    const int64_t v = (int64_t)atomic_fetch_add_explicit(&counters[which], n,
                                                         memory_order_relaxed) + n;

    mirror(which, v);
}

void ms__spool_set_heap(int64_t kb)
{
    ms_spool_proc_t *const p = proc_now();

    atomic_store_explicit(&heap_kb, kb, memory_order_relaxed);
    if (p != NULL)
        __atomic_store_n(&p->heap_kb, kb, __ATOMIC_RELAXED);
}

int64_t ms__spool_heap_kb(void)
{
    return (int64_t)atomic_load_explicit(&heap_kb, memory_order_relaxed);
}

void ms__spool_set_tracking(int on)
{
    ms_spool_proc_t *const p = proc_now();

    atomic_store_explicit(&tracking, on, memory_order_relaxed);
    if (p != NULL)
        __atomic_store_n(&p->alloc_tracking, (uint32_t)on, __ATOMIC_RELAXED);
}

/* Starts the chunk just mapped in m: its header, with the magic stored last. */
static void start_chunk(const ms_chunk_map_t *m, uint32_t seq)
{
    ms_spool_chunk_t *const ch = (ms_spool_chunk_t *)m->chunk;

    ch->seq = seq;
    ch->key = w.key;
    ch->committed = 0;
    ch->pad = 0;
    w.cur = *m;
    w.ch = ch;
    w.seq = seq;
    w.used = 0;
    w.room = w.chunk_bytes - ms_spool_records_at(seq);
}

static void publish_chunk(void)
{
    __atomic_store_n(&w.ch->magic, MS_SPOOL_CHUNK_MAGIC, __ATOMIC_RELEASE);
}

/* Where the next record of the current chunk goes. */
static unsigned char *next_rec(void)
{
    return (unsigned char *)w.ch + ms_spool_records_at(w.seq) + w.used;
}

static void commit(uint32_t bytes)
{
    w.used += bytes;
    __atomic_store_n(&w.ch->committed, w.used, __ATOMIC_RELEASE);
}

/*
 * Chunk 0 is done: all of its mapping goes but the page that holds the process header
 * (the page the chunk starts in).
 */
static void keep_first_page(void)
{
    const size_t page = (size_t)getpagesize();
    unsigned char *const map = w.head_map;
    const size_t keep_at = (size_t)(w.cur.chunk - map) & ~(page - 1);

    /* The process header has a page of its own mapped (end_map): none of this is kept. */
    if (w.end_map != NULL) {
        ms__sys_munmap(map, w.head_len);
        w.head_map = NULL;
        w.head_len = 0;
        return;
    }
    if (keep_at > 0)
        ms__sys_munmap(map, keep_at);
    if (keep_at + page < w.head_len)
        ms__sys_munmap(map + keep_at + page, w.head_len - keep_at - page);
    w.head_map = map + keep_at;
    w.head_len = page;
}

/*
 * Chunk 0 was written with pwrite: map it now that there is more to write. Its committed
 * and process header are in the file already; from here on the image writes as one that
 * mapped its chunk at the start. A chunk whose blocks cannot be had leaves the image full:
 * what follows is counted (`unstored`), not written.
 */
static void map_head(void)
{
    ms_chunk_map_t m;
    ms_spool_proc_t *p;
    int err;

    /*
     * The page of the process header mapped at the start stays, and the process header
     * is used through it still: a thread may be storing the counters or the end there.
     */
    w.unmapped = 0;
    err = ms__pool_map(w.head_idx, ms_spool_records_at(0) + w.used, &m);
    if (err != 0) {
        w.full = 1;
        ms__diag_debug_line("no space left for the spool; measuring stopped", -1);
        return;
    }
    w.head_map = m.map;
    w.head_len = m.map_len;
    w.cur = m;
    w.ch = (ms_spool_chunk_t *)(void *)m.chunk;
    if (proc_now() != NULL)
        return; /* the page kept for the process header serves on */
    /* Without it: the counters as they are now, kept current in this mapping from here. */
    p = (ms_spool_proc_t *)(void *)(m.chunk + sizeof(ms_spool_chunk_t));
    __atomic_store_n(&p->heap_kb, (int64_t)atomic_load(&heap_kb), __ATOMIC_RELAXED);
    __atomic_store_n(&p->alloc_tracking, (uint32_t)atomic_load(&tracking), __ATOMIC_RELAXED);
    __atomic_store_n(&w.proc, p, __ATOMIC_RELEASE);
    for (int i = 0; i < 3; i++)
        mirror(i, (int64_t)atomic_load(&counters[i]));
}

static void note_locked(const char *why)
{
    const size_t len = strnlen(why, MS_SPOOL_NOTE_MAX);
    const uint32_t bytes = (uint32_t)ALIGN8(sizeof(ms_spool_note_t) + len);
    ms_spool_note_t *n;

    /* Mapped first: where the note goes is known only once the chunk is. */
    if (w.unmapped)
        map_head();
    if (w.ch == NULL || w.noted || w.room - w.used < bytes)
        return;
    n = (ms_spool_note_t *)(void *)next_rec();
    w.noted = 1;
    memset(n, 0, bytes);
    memcpy(n + 1, why, len);
    n->h.type = MS_SPOOL_REC_NOTE;
    n->h.bytes = (uint16_t)bytes;
    n->len = (uint32_t)len;
    commit(bytes);
}

/*
 * Makes room for a record of `bytes` (keeping the note's reserve), moving on to a new
 * chunk when the current one is full. -ENOSPC once no chunk can be had: the note says so.
 */
static int make_room(uint32_t bytes)
{
    ms_chunk_map_t m;
    int err;

    if (w.unmapped)
        map_head();
    if (w.full)
        return -ENOSPC;
    if (w.room - w.used >= bytes + NOTE_RESERVE)
        return 0;
    if (bytes + NOTE_RESERVE > w.chunk_bytes - ms_spool_records_at(1))
        return -E2BIG;
    err = ms__pool_claim(&m, 0);
    if (err != 0) {
        w.full = 1;
        note_locked(err == -ENOSPC ? "no space left for the spool"
                                   : "the spool could not be extended");
        ms__diag_debug_line("no space left for the spool; measuring stopped", -1);
        return -ENOSPC;
    }
    if (w.cur.map == w.head_map)
        keep_first_page();
    else
        ms__sys_munmap(w.cur.map, w.cur.map_len);
    start_chunk(&m, w.seq + 1);
    publish_chunk();
    return 0;
}

static int seen_stack(uint64_t hash)
{
    for (unsigned i = 0; i < STACKS_REMEMBERED; i++) {
        if (w.stacks[i] == hash)
            return 1;
    }
    return 0;
}

static int write_stack(const ms_stack_text_t *s)
{
    const uint32_t bytes = (uint32_t)ALIGN8(sizeof(ms_spool_stack_t) + s->len);
    ms_spool_stack_t *r;
    int err;

    err = make_room(bytes);
    if (err != 0)
        return err;
    r = (ms_spool_stack_t *)(void *)next_rec();
    memset(r, 0, bytes);
    r->h.type = MS_SPOOL_REC_STACK;
    r->h.bytes = (uint16_t)bytes;
    r->hash = s->hash;
    r->depth = s->depth;
    r->text_len = s->len;
    memcpy(r + 1, s->text, s->len);
    commit(bytes);
    w.stacks[w.stacks_next++ % STACKS_REMEMBERED] = s->hash;
    return 0;
}

static int write_sample(const ms_reading_t *rd, uint64_t stack_hash)
{
    const uint32_t bytes = (uint32_t)sizeof(ms_spool_sample_t);
    ms_spool_sample_t *r;
    int err;

    err = make_room(bytes);
    if (err != 0)
        return err;
    r = (ms_spool_sample_t *)(void *)next_rec();
    memset(r, 0, bytes);
    r->h.type = MS_SPOOL_REC_SAMPLE;
    r->h.bytes = (uint16_t)bytes;
    r->t_ns = rd->t_ns;
    r->rss_kb = rd->st.rss_kb;
    r->hwm_kb = rd->st.hwm_kb;
    r->anon_kb = rd->st.anon_kb;
    r->file_kb = rd->st.file_kb;
    r->shmem_kb = rd->st.shmem_kb;
    r->pss_kb = rd->pss.total;
    r->pss_anon_kb = rd->pss.anon;
    r->pss_shmem_kb = rd->pss.shmem;
    r->heap_kb = rd->heap_kb;
    r->stack_hash = stack_hash;
    r->kind = rd->kind;
    commit(bytes);
    return 0;
}

/* Takes the writer of a live spool: 0, -EBUSY when it is held, -ESRCH when not live. */
static int lock_live(int wait)
{
    if (ms__spool_state() != MS__SPOOL_LIVE)
        return -ESRCH;
    if (!lock_writer(wait))
        return -EBUSY;
    if (ms__spool_state() != MS__SPOOL_LIVE) {
        unlock_writer();
        return -ESRCH;
    }
    return 0;
}

int ms__spool_write(const ms_reading_t *r, const ms_stack_text_t *stack, int wait)
{
    uint64_t hash = 0;
    int err = lock_live(wait);

    if (err == -EBUSY)
        ms__spool_count(MS__COUNT_DROPPED_QUEUE, 1);
    if (err != 0)
        return err;
    if (stack != NULL && stack->hash != 0 && stack->len > 0) {
        /* A stack too large for any chunk goes without; the reading is still written. */
        err = seen_stack(stack->hash) ? 0 : write_stack(stack);
        if (err == 0)
            hash = stack->hash;
    }
    err = write_sample(r, hash);
    unlock_writer();
    if (err != 0)
        ms__spool_count(MS__COUNT_UNSTORED, 1);
    return err;
}

int ms__spool_write_stack(const ms_stack_text_t *stack, int wait)
{
    int err;

    if (stack->hash == 0 || stack->len == 0)
        return -EINVAL;
    err = lock_live(wait);
    if (err != 0)
        return err;
    err = seen_stack(stack->hash) ? 0 : write_stack(stack);
    unlock_writer();
    return err;
}

int ms__spool_write_blocks(int64_t t_ns, int64_t rss_kb, const ms_spool_block_t *b, uint32_t n,
                           uint32_t untracked, int wait)
{
    const uint32_t bytes =
        (uint32_t)(sizeof(ms_spool_blocks_t) + (size_t)n * sizeof(ms_spool_block_t));
    ms_spool_blocks_t *r;
    int err = lock_live(wait);

    if (err != 0)
        return err;
    err = make_room(bytes);
    if (err == 0) {
        r = (ms_spool_blocks_t *)(void *)next_rec();
        memset(r, 0, sizeof *r);
        r->h.type = MS_SPOOL_REC_BLOCKS;
        r->h.bytes = (uint16_t)bytes;
        r->t_ns = t_ns;
        r->rss_kb = rss_kb;
        r->count = n;
        r->untracked = untracked;
        memcpy(r + 1, b, (size_t)n * sizeof *b);
        commit(bytes);
    }
    unlock_writer();
    return err;
}

void ms__spool_note(const char *why)
{
    sigset_t all, old;

    if (ms__spool_state() != MS__SPOOL_LIVE)
        return;
    /* A program thread may call this (the constructor): no handler of its may run now. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    lock_writer(1);
    if (ms__spool_state() == MS__SPOOL_LIVE)
        note_locked(why);
    unlock_writer();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void ms__spool_follow_request(int64_t rss_kb)
{
    ms_spool_follow_t msg;

    if (ms__spool_state() != MS__SPOOL_LIVE || ms__pid() != ms__spool_owner())
        return;
    msg.magic = MS_SPOOL_FOLLOW_MAGIC;
    msg.pid = w.head_proc.pid;
    msg.key = w.key;
    msg.start_ticks = w.head_proc.start_ticks;
    msg.rss_kb = rss_kb;
    (void)ms__pool_follow_request(&msg);
}

/* pwrite of all of iov at off; -errno, or -ENOSPC for a write that stopped short. */
static int pwrite_all(int fd, struct iovec *iov, int n, uint64_t off)
{
    while (n > 0) {
        ssize_t got = pwritev(fd, iov, n, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got < 0 ? -errno : -ENOSPC;
        off += (uint64_t)got;
        while (n > 0 && (size_t)got >= iov->iov_len) {
            got -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + got;
            iov->iov_len -= (size_t)got;
        }
    }
    return 0;
}

/*
 * The start of chunk idx, written with pwrite: the process header, the IDENT record, the
 * START sample, and the chunk header with its magic last, so that a reader finds the
 * chunk either not yet written or whole. Returns the bytes of records, or a negative errno.
 */
static int write_head(int fd, uint64_t idx, const ms_image_t *img)
{
    static const unsigned char zeros[8];
    static const unsigned char zero_page[4096];
    static MS__COLD char big_text[2 * MS_SPOOL_TEXT_MAX];
    const size_t page = sizeof(zero_page);
    const uint64_t off = ms__pool_offset(idx);
    /*
     * The image's texts: on the stack, where a short program's pages are in use already
     * (a deeper buffer would cost a page fault), or, when they do not fit there, in a
     * buffer of the shim's (begin holds the writer lock, so one buffer serves).
     */
    char small[640];
    char *text = small;
    ms_spool_ident_t id = {0};
    ms_spool_sample_t start = {0};
    ms_spool_chunk_t ch = {0};
    struct iovec iov[7];
    size_t avail, exe_len, cmd_len, pad, head;
    uint32_t bytes = 0;
    int n = 0, cut, err;

    /* Room for the texts in the chunk, leaving the START sample and the note their place. */
    avail = w.chunk_bytes - ms_spool_records_at(0) - NOTE_RESERVE - sizeof(start) -
            sizeof(id) - 7;
    if (avail > sizeof(big_text))
        avail = sizeof(big_text);
    exe_len = ms__proc_exe_into(small, sizeof(small) / 2);
    cmd_len = ms__proc_cmdline(small + exe_len, sizeof(small) - exe_len, &cut);
    if (exe_len == sizeof(small) / 2 || cut || exe_len + cmd_len > avail) {
        text = big_text;
        exe_len = ms__proc_exe_into(text, avail < MS_SPOOL_TEXT_MAX ? avail : MS_SPOOL_TEXT_MAX);
        avail -= exe_len;
        cmd_len = ms__proc_cmdline(text + exe_len,
                                   avail < MS_SPOOL_TEXT_MAX ? avail : MS_SPOOL_TEXT_MAX, &cut);
    }
    pad = ALIGN8(sizeof(id) + exe_len + cmd_len) - sizeof(id) - exe_len - cmd_len;
    id.h.type = MS_SPOOL_REC_IDENT;
    id.h.bytes = (uint16_t)(sizeof(id) + exe_len + cmd_len + pad);
    id.exe_len = (uint16_t)exe_len;
    id.cmdline_len = (uint16_t)cmd_len;
    iov[n++] = (struct iovec){&w.head_proc, sizeof(w.head_proc)};
    iov[n++] = (struct iovec){&id, sizeof(id)};
    if (exe_len + cmd_len > 0)
        iov[n++] = (struct iovec){text, exe_len + cmd_len};
    if (pad > 0)
        iov[n++] = (struct iovec){(void *)zeros, pad};
    bytes += id.h.bytes;
    if (img->st.rss_kb >= 0) {
        start.h.type = MS_SPOOL_REC_SAMPLE;
        start.h.bytes = (uint16_t)sizeof(start);
        start.t_ns = img->t_ns;
        start.rss_kb = img->st.rss_kb;
        start.hwm_kb = img->st.hwm_kb;
        start.anon_kb = img->st.anon_kb;
        start.file_kb = img->st.file_kb;
        start.shmem_kb = img->st.shmem_kb;
        start.pss_kb = start.pss_anon_kb = start.pss_shmem_kb = -1;
        start.heap_kb = img->heap_kb;
        start.kind = MS_SPOOL_KIND_START;
        iov[n++] = (struct iovec){&start, sizeof(start)};
        bytes += (uint32_t)sizeof(start);
    }
    /*
     * Every block of the page holding the process header must exist before anything is
     * stored through the mapping of it (end_map): a store into a hole of a mapped page
     * faults on a full disk. The rest of the page is written too, zeros, whatever the
     * filesystem's block size (which some report larger than it is).
     */
    head = sizeof(ch) + sizeof(w.head_proc) + bytes;
    if (head < page && page <= w.chunk_bytes)
        iov[n++] = (struct iovec){(void *)zero_page, page - head};
    err = pwrite_all(fd, iov, n, off + sizeof(ch));
    if (err != 0)
        return err;
    ch.magic = MS_SPOOL_CHUNK_MAGIC;
    ch.seq = 0;
    ch.key = w.key;
    ch.committed = bytes;
    iov[0] = (struct iovec){&ch, sizeof(ch)};
    err = pwrite_all(fd, iov, 1, off);
    return err != 0 ? err : (int)bytes;
}

/*
 * The image's first chunk is written with pwrite on the descriptor the claim used and is
 * not mapped: most processes of a sweep's scripts end within their first interval with
 * nothing more to write than their end, and writing through a mapping costs a write fault
 * on each page (10 to 50 µs each on a virtual machine) besides the allocation of the
 * chunk's blocks. Only the page of the process header is mapped, for the counters and the
 * end; the chunk is mapped at the image's first record after the start (map_head).
 */
int ms__spool_begin(const ms_image_t *img)
{
    sigset_t all, old;
    ms_spool_proc_t *const p = &w.head_proc;
    uint64_t idx = 0;
    int fd, err;

    /*
     * Nobody else writes before the image is live; the lock is held for a fork by
     * another thread, whose child must find w.head_map and w.cur as they are between
     * two steps, never in the middle of one.
     */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    lock_writer(1);
    w.chunk_bytes = ms__pool_info()->chunk_bytes;
    fd = ms__pool_fd();
    err = fd < 0 ? fd : ms__pool_claim_index(fd, &idx);
    if (err != 0)
        goto off;
    w.key = ms__random64();
    w.full = 0;
    w.noted = 0;
    w.stacks_next = 0;
    memset(w.stacks, 0, sizeof(w.stacks));
    __atomic_store_n(&w.proc, NULL, __ATOMIC_RELAXED);
    memset(p, 0, sizeof(*p));
    p->pid = img->pid;
    p->ppid = img->ppid;
    p->start_ticks = img->start_ticks;
    p->started_ns = img->started_ns;
    p->pidns_ino = img->pidns_ino;
    p->interval_ms = img->interval_ms;
    p->flags = img->flags;
    p->heap_kb = img->heap_kb;
    p->alloc_dropped_rate = (int64_t)atomic_load(&counters[MS__COUNT_DROPPED_RATE]);
    p->alloc_dropped_queue = (int64_t)atomic_load(&counters[MS__COUNT_DROPPED_QUEUE]);
    p->unstored = (int64_t)atomic_load(&counters[MS__COUNT_UNSTORED]);
    p->alloc_tracking = (uint32_t)atomic_load(&tracking);
    p->end_state = MS_SPOOL_END_NONE;
    atomic_store(&heap_kb, img->heap_kb);
    err = write_head(fd, idx, img);
    if (err < 0) {
        ms__pool_lost(fd, 1);
        goto off;
    }
    /*
     * The page that holds the process header, mapped: the live counters and the end are
     * stored through it, as into a mapped chunk. It is not written before the program's
     * first counter changes or its end, so a process that ends at once pays one write
     * fault there, at its end, and nothing at its start.
     */
    w.end_map = NULL;
    if (getpagesize() == 4096 && ms__pool_offset(idx) % 4096 == 0) {
        void *const m = ms__sys_mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                                     (off_t)ms__pool_offset(idx));
        w.end_map = m == MAP_FAILED ? NULL : m;
    }
    close(fd);
    if (w.end_map != NULL)
        __atomic_store_n(&w.proc,
                         (ms_spool_proc_t *)(void *)((unsigned char *)w.end_map +
                                                     sizeof(ms_spool_chunk_t)),
                         __ATOMIC_RELEASE);
    w.head_idx = idx;
    w.unmapped = 1;
    w.head_map = NULL;
    w.cur.map = NULL;
    w.ch = NULL;
    w.seq = 0;
    w.used = (uint32_t)err;
    w.room = w.chunk_bytes - ms_spool_records_at(0);
    atomic_store(&end_state, MS_SPOOL_END_NONE);
    atomic_store_explicit(&w.owner, (int)img->pid, memory_order_relaxed);
    atomic_store_explicit(&w.state, MS__SPOOL_LIVE, memory_order_release);
    err = 0;
    goto out;
off:
    if (fd >= 0)
        close(fd);
    atomic_store(&w.state, MS__SPOOL_OFF);
out:
    unlock_writer();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

/*
 * Another thread is writing the end. The caller is about to end the process, and
 * exit_group would kill that thread before the end is written: wait until it is done,
 * but at most about 100 ms, for a writer that is itself stopped must not keep the program
 * from ending. nanosleep is async-signal-safe.
 */
static void wait_end_written(void)
{
    const struct timespec ms1 = {0, 1000000};

    for (int i = 0; i < 100; i++) {
        if (atomic_load_explicit(&end_state, memory_order_acquire) != MS_SPOOL_END_WRITING)
            return;
        nanosleep(&ms1, NULL);
    }
}

static void fill_end(ms_spool_proc_t *p, const ms_reading_t *end)
{
    __atomic_store_n(&p->end_t_ns, end->t_ns, __ATOMIC_RELAXED);
    __atomic_store_n(&p->end_rss_kb, end->st.rss_kb, __ATOMIC_RELAXED);
    __atomic_store_n(&p->end_hwm_kb, end->st.hwm_kb, __ATOMIC_RELAXED);
    __atomic_store_n(&p->end_anon_kb, end->st.anon_kb, __ATOMIC_RELAXED);
    __atomic_store_n(&p->end_file_kb, end->st.file_kb, __ATOMIC_RELAXED);
    __atomic_store_n(&p->end_shmem_kb, end->st.shmem_kb, __ATOMIC_RELAXED);
    __atomic_store_n(&p->end_heap_kb, end->heap_kb, __ATOMIC_RELAXED);
    __atomic_store_n(&p->heap_kb, end->heap_kb, __ATOMIC_RELAXED);
    __atomic_store_n(&p->alloc_dropped_rate,
                     (int64_t)atomic_load(&counters[MS__COUNT_DROPPED_RATE]), __ATOMIC_RELAXED);
    __atomic_store_n(&p->alloc_dropped_queue,
                     (int64_t)atomic_load(&counters[MS__COUNT_DROPPED_QUEUE]), __ATOMIC_RELAXED);
    __atomic_store_n(&p->unstored, (int64_t)atomic_load(&counters[MS__COUNT_UNSTORED]),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&p->alloc_tracking, (uint32_t)atomic_load(&tracking), __ATOMIC_RELAXED);
}

static void end_mapped(ms_spool_proc_t *p, const ms_reading_t *end)
{
    __atomic_store_n(&p->end_state, MS_SPOOL_END_WRITING, __ATOMIC_RELAXED);
    fill_end(p, end);
    __atomic_store_n(&p->end_state, MS_SPOOL_END_DONE, __ATOMIC_RELEASE);
}

/*
 * The end of an image with no page of its process header mapped (the start could not map
 * it, or pages are not 4 KiB): the process header with the end, written over the one in
 * the file, then end_state DONE on its own, so that a reader sees DONE only once the
 * reading is in place. The pool is opened by its path again; where that fails (the
 * program used up its descriptors, changed its root or its user) the end is lost, and the
 * image reads as one that ended without writing it.
 */
static void end_unmapped(const ms_reading_t *end)
{
    const uint64_t off = ms__pool_offset(w.head_idx) + sizeof(ms_spool_chunk_t);
    ms_spool_proc_t p = w.head_proc;
    const uint32_t done = MS_SPOOL_END_DONE;
    sigset_t all, old;
    struct iovec iov;
    int fd;

    fill_end(&p, end);
    p.end_state = MS_SPOOL_END_WRITING;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    fd = ms__pool_fd();
    if (fd >= 0) {
        iov = (struct iovec){&p, sizeof(p)};
        if (pwrite_all(fd, &iov, 1, off) == 0) {
            iov = (struct iovec){(void *)&done, sizeof(done)};
            (void)pwrite_all(fd, &iov, 1, off + offsetof(ms_spool_proc_t, end_state));
        }
        close(fd);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int ms__spool_stop(void)
{
    unsigned expect = MS_SPOOL_END_NONE;

    if (ms__spool_state() != MS__SPOOL_LIVE) {
        wait_end_written();
        return 0;
    }
    if (!atomic_compare_exchange_strong(&end_state, &expect, MS_SPOOL_END_WRITING)) {
        wait_end_written();
        return 0;
    }
    /*
     * No record after this: a writer under way finishes the one it is writing, whose
     * reading was taken before this store, so before the end's time.
     */
    atomic_store_explicit(&w.state, MS__SPOOL_STOPPED, memory_order_seq_cst);
    return 1;
}

void ms__spool_end(const ms_reading_t *end)
{
    ms_spool_proc_t *const p = proc_now();

    /*
     * An end without a time is one no reader accepts: with none, the image reads as one
     * that ended without writing its end, as after SIGKILL. (The realtime clock does not
     * fail on Linux; this only keeps the promise of the format.)
     */
    if (end->t_ns > 0) {
        if (p != NULL)
            end_mapped(p, end);
        else
            end_unmapped(end);
    }
    atomic_store_explicit(&end_state, MS_SPOOL_END_DONE, memory_order_release);
}

/*
 * The forking thread's signal mask while it holds the writer lock across a fork: the C
 * library unblocks signals between the fork and the parent's and child's handlers, and
 * a handler that ran then and waited for the writer (a NOTE, say) would wait for its own
 * thread. Kept here under the lock, which one forking thread at a time holds.
 */
static sigset_t fork_mask;

void ms__spool_fork_prepare(void)
{
    sigset_t all, old;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    lock_writer(1);
    fork_mask = old;
}

void ms__spool_fork_child_mask(void)
{
    pthread_sigmask(SIG_SETMASK, &fork_mask, NULL);
}

void ms__spool_fork_parent(void)
{
    const sigset_t old = fork_mask;

    unlock_writer();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

pid_t ms__spool_fork_child(void)
{
    const int st = atomic_load(&w.state);
    const pid_t parent = ms__spool_owner();

    /*
     * The prepare handler holds the writer lock across the fork, so w.cur and w.head_map
     * are as a finished chunk switch left them: what they name is mapped in this child.
     * munmap is a plain system call: safe between fork and exec.
     */
    /* No hook of a handler may store into what is unmapped next. */
    __atomic_store_n(&w.proc, NULL, __ATOMIC_RELAXED);
    if (w.cur.map != NULL && w.cur.map != w.head_map)
        ms__sys_munmap(w.cur.map, w.cur.map_len);
    if (w.head_map != NULL)
        ms__sys_munmap(w.head_map, w.head_len);
    w.head_map = NULL;
    w.cur.map = NULL;
    w.ch = NULL;
    if (w.end_map != NULL)
        ms__sys_munmap(w.end_map, 4096);
    w.end_map = NULL;
    w.unmapped = 0;
    atomic_store(&end_state, MS_SPOOL_END_NONE);
    atomic_store(&w.lock, 0);
    for (int i = 0; i < 3; i++)
        atomic_store(&counters[i], 0);
    atomic_store(&w.owner, (int)ms__pid());
    /* A child of a measured image (or of a dormant one) records itself once it wakes. */
    if (st == MS__SPOOL_LIVE || st == MS__SPOOL_DORMANT) {
        atomic_store(&w.state, MS__SPOOL_DORMANT);
        return parent;
    }
    atomic_store(&w.state, MS__SPOOL_OFF);
    return 0;
}

int ms__spool_claim_wake(void)
{
    int expect = MS__SPOOL_DORMANT;

    return atomic_compare_exchange_strong(&w.state, &expect, MS__SPOOL_WAKING);
}
