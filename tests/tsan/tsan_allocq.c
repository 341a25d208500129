/*
 * ThreadSanitizer harness for the shim's lock-free code: the bounded multi-producer queue
 * of preload/shim_allocq.c and the rate limit and drop counters of preload/shim_trigger.c,
 * compiled from the shim's own sources with -fsanitize=thread. Many producer threads
 * hammer them while one consumer takes entries off, as the program's threads and the
 * sampler thread do in a measured process, and the consumer checks that nothing is lost,
 * duplicated, reordered per producer or torn, and that a drop is counted exactly when the
 * queue is full or the token bucket is empty. ThreadSanitizer reports any data race,
 * which fails the test as well.
 *
 * shim_trigger.c calls four functions of other shim files; this file defines them in
 * their place: a monotonic clock that only the test moves, a reading that numbers each
 * producer's samples, an unwinder that writes a stack identifying its thread, and a
 * counter of rebases. Everything else runs unchanged.
 */
#include "shim_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAP MS__ALLOCQ_CAP
#define PRODUCERS 8

static atomic_int failures;

/* Records a failed check with its message; main() reports them all and exits 1. */
static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(int ok, const char *fmt, ...)
{
    va_list ap;

    if (ok)
        return;
    fputs("FAIL: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (atomic_fetch_add(&failures, 1) + 1 >= 20) {
        fputs("FAIL: too many failures, stopping\n", stderr);
        exit(1);
    }
}

/* ---- what shim_trigger.c needs from the rest of the shim --------------------------- */

static atomic_llong fake_mono_ns;     /* CLOCK_MONOTONIC as the test sets it */
static atomic_llong n_rebases;        /* ms__alloc_rebase calls */
static atomic_llong n_captures;       /* stacks captured */
static _Thread_local int producer_id; /* 1-based; 0 in the consumer and main thread */
static _Thread_local int64_t n_readings;

int64_t ms__clock_ns(clockid_t clock)
{
    /* The realtime stamp of a queued sample names its producer, for the consumer. */
    if (clock == CLOCK_MONOTONIC)
        return atomic_load(&fake_mono_ns);
    return producer_id;
}

int ms__procfd_reading(int64_t *rss_kb, int64_t *hwm_kb, int sampler)
{
    (void)sampler;
    /* A producer's readings count up from 1, so its samples carry their order. */
    *rss_kb = ++n_readings;
    *hwm_kb = -*rss_kb;
    return 0;
}

int ms__unwind_capture(void **ips, int max)
{
    const int depth = 1 + producer_id % max;

    for (int i = 0; i < depth; i++)
        ips[i] = (void *)(uintptr_t)(producer_id * 1000 + i);
    atomic_fetch_add(&n_captures, 1);
    return depth;
}

void ms__alloc_rebase(void)
{
    atomic_fetch_add(&n_rebases, 1);
}

/* ---- helpers ------------------------------------------------------------------------- */

static void start_threads(pthread_t *t, size_t n, void *(*fn)(void *), void *args,
                          size_t arg_size)
{
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&t[i], NULL, fn, (char *)args + i * arg_size) != 0) {
            fputs("FAIL: pthread_create\n", stderr);
            exit(1);
        }
    }
}

static void join_threads(pthread_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

/* Fills an entry so that every field, the stack included, derives from (producer, k). */
static void fill_entry(ms_alloc_sample_t *e, int producer, int64_t k)
{
    e->t_ns = producer;
    e->rss_kb = k;
    e->hwm_kb = ~k;
    e->heap_kb = (int64_t)producer * 1000000007LL + k;
    e->kind = MS__SAMPLE_ALLOC + (int)(k & 1);
    e->stack.depth = (int)(k % 6);
    for (int i = 0; i < e->stack.depth; i++)
        e->stack.ips[i] = (void *)(uintptr_t)(k * 8 + i);
}

/* Nonzero when e is exactly what fill_entry wrote for its producer and index. */
static int entry_intact(const ms_alloc_sample_t *e)
{
    const int64_t k = e->rss_kb;

    if (e->hwm_kb != ~k || e->heap_kb != e->t_ns * 1000000007LL + k ||
        e->kind != MS__SAMPLE_ALLOC + (int)(k & 1) || e->stack.depth != (int)(k % 6))
        return 0;
    for (int i = 0; i < e->stack.depth; i++) {
        if (e->stack.ips[i] != (void *)(uintptr_t)(k * 8 + i))
            return 0;
    }
    return 1;
}

/* ---- the queue alone, one thread: the protocol ---------------------------------- */

static void test_queue_protocol(void)
{
    static size_t tickets[CAP];
    ms_alloc_sample_t out;
    size_t extra;

    ms__allocq_reset();
    check(ms__allocq_pop(&out) == 0, "protocol: an empty queue gave an entry");
    for (int lap = 0; lap < 3; lap++) {
        for (size_t i = 0; i < CAP; i++) {
            ms_alloc_sample_t *e = ms__allocq_claim(&tickets[i]);
            check(e != NULL, "protocol: lap %d: claim %zu of %d failed", lap, i, CAP);
            if (e == NULL)
                return;
            fill_entry(e, 1, (int64_t)i);
        }
        /* Full: the next claim is refused until the consumer takes one. */
        check(ms__allocq_claim(&extra) == NULL, "protocol: lap %d: claim on a full queue", lap);
        check(ms__allocq_pop(&out) == 0, "protocol: lap %d: pop before any publish", lap);
        /* An entry published out of order waits for the one before it. */
        ms__allocq_publish(tickets[1]);
        check(ms__allocq_pop(&out) == 0, "protocol: lap %d: pop passed an unpublished entry",
              lap);
        ms__allocq_publish(tickets[0]);
        for (size_t want = 0; want < 2; want++) {
            check(ms__allocq_pop(&out) == 1 && out.rss_kb == (int64_t)want && entry_intact(&out),
                  "protocol: lap %d: entry %zu not taken intact in order", lap, want);
        }
        check(ms__allocq_pop(&out) == 0, "protocol: lap %d: pop of an unpublished entry", lap);
        /* Two cells are free again: exactly two claims succeed. */
        {
            size_t t1, t2;
            ms_alloc_sample_t *a = ms__allocq_claim(&t1);
            ms_alloc_sample_t *b = ms__allocq_claim(&t2);
            check(a != NULL && b != NULL, "protocol: lap %d: claims after two pops", lap);
            check(ms__allocq_claim(&extra) == NULL, "protocol: lap %d: third claim after two pops",
                  lap);
            if (a == NULL || b == NULL)
                return;
            fill_entry(a, 1, CAP);
            fill_entry(b, 1, CAP + 1);
            for (size_t i = 2; i < CAP; i++)
                ms__allocq_publish(tickets[i]);
            ms__allocq_publish(t1);
            ms__allocq_publish(t2);
        }
        for (size_t want = 2; want < CAP + 2; want++) {
            check(ms__allocq_pop(&out) == 1 && out.rss_kb == (int64_t)want && entry_intact(&out),
                  "protocol: lap %d: entry %zu not taken intact in order", lap, want);
        }
        check(ms__allocq_pop(&out) == 0, "protocol: lap %d: the drained queue gave an entry",
              lap);
    }
}

/* ---- the queue alone, many producers ----------------------------------------------- */

typedef struct {
    int id;                 /* 1-based producer number */
    int64_t n;              /* entries to send */
    int retry;              /* 1: retry a refused claim; 0: count it as a drop */
    pthread_barrier_t *go;
    int64_t sent;
    int64_t refused;        /* claims refused because the queue was full */
    unsigned char *dropped; /* retry 0: dropped[k] set for each entry k dropped */
} producer_t;

static void *queue_producer(void *arg)
{
    producer_t *p = arg;

    pthread_barrier_wait(p->go);
    for (int64_t k = 0; k < p->n;) {
        size_t ticket;
        ms_alloc_sample_t *e = ms__allocq_claim(&ticket);

        if (e == NULL) {
            p->refused++;
            if (p->retry) {
                sched_yield();
                continue;
            }
            p->dropped[k++] = 1;
            continue;
        }
        fill_entry(e, p->id, k);
        /* Now and then the producer is slow between claim and publish. */
        if ((k & 255) == 0)
            sched_yield();
        ms__allocq_publish(ticket);
        p->sent++;
        k++;
    }
    return NULL;
}

typedef struct {
    atomic_int *producers_done;
    int64_t *next;            /* per producer: the index expected next (retry mode) */
    unsigned char **received; /* per producer: received[k] set when entry k arrived */
    int64_t *last;            /* per producer: the last index received */
    int64_t n;                /* entries each producer sends */
    int64_t taken;
    int yield_every;          /* a slow consumer: yield after this many entries */
} consumer_t;

static void *queue_consumer(void *arg)
{
    consumer_t *c = arg;

    for (;;) {
        ms_alloc_sample_t e;
        /* Read before popping: once every producer is done, an empty queue is final. */
        const int done = atomic_load(c->producers_done) == PRODUCERS;

        if (!ms__allocq_pop(&e)) {
            if (done)
                break;
            sched_yield();
            continue;
        }
        c->taken++;
        if (!entry_intact(&e) || e.t_ns < 1 || e.t_ns > PRODUCERS || e.rss_kb < 0 ||
            e.rss_kb >= c->n) {
            check(0, "stream: a torn or foreign entry (producer %lld, index %lld)",
                  (long long)e.t_ns, (long long)e.rss_kb);
            continue;
        }
        {
            const int p = (int)e.t_ns - 1;
            const int64_t k = e.rss_kb;
            check(k > c->last[p], "stream: producer %d: entry %lld after %lld", p + 1,
                  (long long)k, (long long)c->last[p]);
            c->last[p] = k;
            if (c->received != NULL) {
                check(c->received[p][k] == 0, "stream: producer %d: entry %lld twice", p + 1,
                      (long long)k);
                c->received[p][k] = 1;
            }
            if (c->next != NULL) {
                check(k == c->next[p], "stream: producer %d: expected entry %lld, got %lld",
                      p + 1, (long long)c->next[p], (long long)k);
                c->next[p] = k + 1;
            }
        }
        if (c->yield_every > 0 && c->taken % c->yield_every == 0)
            sched_yield();
    }
    return NULL;
}

typedef struct {
    producer_t p;
    atomic_int *done;
} producer_arg_t;

static void *queue_producer_then_done(void *arg)
{
    producer_arg_t *a = arg;

    queue_producer(&a->p);
    atomic_fetch_add(a->done, 1);
    return NULL;
}

/*
 * Producers and a consumer at once. With retry set, producers retry refused claims, and
 * every entry must arrive exactly once and in its producer's order. Without, a refused
 * entry is dropped: what arrives and what was dropped must be every entry exactly once,
 * with as many drops as refused claims, and what arrives stays in order.
 */
static void test_queue_stream(int retry, int64_t per_producer, int yield_every)
{
    pthread_t threads[PRODUCERS], consumer;
    producer_arg_t args[PRODUCERS];
    pthread_barrier_t go;
    atomic_int done = 0;
    int64_t next[PRODUCERS], last[PRODUCERS];
    unsigned char *received[PRODUCERS];
    consumer_t c = {.producers_done = &done, .last = last, .n = per_producer,
                    .yield_every = yield_every};
    int64_t sent = 0, refused = 0;

    ms__allocq_reset();
    pthread_barrier_init(&go, NULL, PRODUCERS);
    for (int i = 0; i < PRODUCERS; i++) {
        next[i] = 0;
        last[i] = -1;
        received[i] = calloc((size_t)per_producer, 1);
        args[i] = (producer_arg_t){
            .p = {.id = i + 1, .n = per_producer, .retry = retry, .go = &go,
                  .dropped = calloc((size_t)per_producer, 1)},
            .done = &done,
        };
        if (received[i] == NULL || args[i].p.dropped == NULL) {
            fputs("FAIL: out of memory\n", stderr);
            exit(1);
        }
    }
    c.received = received;
    c.next = retry ? next : NULL;
    if (pthread_create(&consumer, NULL, queue_consumer, &c) != 0) {
        fputs("FAIL: pthread_create\n", stderr);
        exit(1);
    }
    start_threads(threads, PRODUCERS, queue_producer_then_done, args, sizeof args[0]);
    join_threads(threads, PRODUCERS);
    pthread_join(consumer, NULL);

    for (int i = 0; i < PRODUCERS; i++) {
        int64_t got = 0, dropped = 0;

        sent += args[i].p.sent;
        refused += args[i].p.refused;
        for (int64_t k = 0; k < per_producer; k++) {
            got += received[i][k];
            dropped += args[i].p.dropped[k];
            check(received[i][k] + args[i].p.dropped[k] == 1,
                  "stream(retry %d): producer %d: entry %lld %s", retry, i + 1, (long long)k,
                  received[i][k] ? "arrived and was dropped" : "was lost");
        }
        check(got == args[i].p.sent, "stream(retry %d): producer %d: sent %lld, received %lld",
              retry, i + 1, (long long)args[i].p.sent, (long long)got);
        if (retry) {
            check(next[i] == per_producer, "stream: producer %d: %lld of %lld entries arrived",
                  i + 1, (long long)next[i], (long long)per_producer);
        } else {
            check(dropped == args[i].p.refused,
                  "stream: producer %d: %lld drops for %lld refused claims", i + 1,
                  (long long)dropped, (long long)args[i].p.refused);
        }
        free(received[i]);
        free(args[i].p.dropped);
    }
    check(c.taken == sent, "stream(retry %d): consumer took %lld, producers sent %lld", retry,
          (long long)c.taken, (long long)sent);
    printf("stream(retry %d): %d producers x %lld entries, %lld refused claims\n", retry,
           PRODUCERS, (long long)per_producer, (long long)refused);
    pthread_barrier_destroy(&go);
}

/*
 * No consumer: producers race to fill an empty queue. Exactly CAP claims succeed however
 * the threads interleave; every other one is refused. Then the consumer drains exactly
 * those CAP entries, each producer's in order. Repeated, so the positions go round the
 * ring several times.
 */
static void test_queue_fill_race(void)
{
    enum { ATTEMPTS = 3 * CAP / PRODUCERS, ROUNDS = 12 };

    ms__allocq_reset();
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t threads[PRODUCERS];
        producer_t p[PRODUCERS];
        pthread_barrier_t go;
        int64_t sent = 0, refused = 0, last[PRODUCERS], got[PRODUCERS];
        int64_t taken = 0;
        ms_alloc_sample_t e;

        pthread_barrier_init(&go, NULL, PRODUCERS);
        for (int i = 0; i < PRODUCERS; i++) {
            p[i] = (producer_t){.id = i + 1, .n = ATTEMPTS, .retry = 0, .go = &go,
                                .dropped = calloc(ATTEMPTS, 1)};
            if (p[i].dropped == NULL) {
                fputs("FAIL: out of memory\n", stderr);
                exit(1);
            }
            last[i] = -1;
            got[i] = 0;
        }
        start_threads(threads, PRODUCERS, queue_producer, p, sizeof p[0]);
        join_threads(threads, PRODUCERS);
        for (int i = 0; i < PRODUCERS; i++) {
            sent += p[i].sent;
            refused += p[i].refused;
        }
        check(sent == CAP, "fill race %d: %lld claims succeeded on a queue of %d", round,
              (long long)sent, CAP);
        check(refused == (int64_t)PRODUCERS * ATTEMPTS - CAP,
              "fill race %d: %lld claims refused, expected %lld", round, (long long)refused,
              (long long)PRODUCERS * ATTEMPTS - CAP);
        while (ms__allocq_pop(&e)) {
            const int i = (int)e.t_ns - 1;
            taken++;
            if (!entry_intact(&e) || i < 0 || i >= PRODUCERS || e.rss_kb < 0 ||
                e.rss_kb >= ATTEMPTS) {
                check(0, "fill race %d: torn entry", round);
                continue;
            }
            check(e.rss_kb > last[i] && p[i].dropped[e.rss_kb] == 0,
                  "fill race %d: producer %d: entry %lld out of order or dropped", round, i + 1,
                  (long long)e.rss_kb);
            last[i] = e.rss_kb;
            got[i]++;
        }
        check(taken == CAP, "fill race %d: drained %lld entries, expected %d", round,
              (long long)taken, CAP);
        for (int i = 0; i < PRODUCERS; i++) {
            check(got[i] == p[i].sent, "fill race %d: producer %d sent %lld, drained %lld", round,
                  i + 1, (long long)p[i].sent, (long long)got[i]);
            free(p[i].dropped);
        }
        pthread_barrier_destroy(&go);
    }
}

/* ---- the trigger: rate limit, queue drops, stacks ----------------------------------- */

typedef struct {
    int id;
    int calls;
    pthread_barrier_t *go;
    atomic_int *done;
} trigger_arg_t;

static void *trigger_producer(void *arg)
{
    trigger_arg_t *a = arg;

    producer_id = a->id;
    n_readings = 0;
    pthread_barrier_wait(a->go);
    for (int i = 0; i < a->calls; i++)
        ms__trigger_sample(MS__SAMPLE_ALLOC, (int64_t)i << 10);
    if (a->done != NULL)
        atomic_fetch_add(a->done, 1);
    return NULL;
}

/* Takes the queued samples; checks each producer's order and stack. */
typedef struct {
    atomic_int *producers_done; /* NULL: drain once and return */
    int64_t last[PRODUCERS + 1];
    int64_t taken;
    int64_t with_stack;
} trigger_consumer_t;

static void *trigger_consumer(void *arg)
{
    trigger_consumer_t *c = arg;

    for (;;) {
        ms_alloc_sample_t e;
        const int done = c->producers_done == NULL ||
                         atomic_load(c->producers_done) == PRODUCERS;

        if (!ms__allocq_pop(&e)) {
            if (done)
                break;
            sched_yield();
            continue;
        }
        c->taken++;
        if (e.t_ns < 1 || e.t_ns > PRODUCERS || e.kind != MS__SAMPLE_ALLOC ||
            e.hwm_kb != -e.rss_kb) {
            check(0, "trigger: a torn sample (producer %lld, reading %lld, kind %d)",
                  (long long)e.t_ns, (long long)e.rss_kb, e.kind);
            continue;
        }
        check(e.rss_kb > c->last[e.t_ns], "trigger: producer %lld: reading %lld after %lld",
              (long long)e.t_ns, (long long)e.rss_kb, (long long)c->last[e.t_ns]);
        c->last[e.t_ns] = e.rss_kb;
        if (e.stack.depth > 0) {
            c->with_stack++;
            check(e.stack.depth == 1 + (int)e.t_ns % MS_MAX_STACK_FRAMES,
                  "trigger: producer %lld: stack depth %d", (long long)e.t_ns, e.stack.depth);
            for (int i = 0; i < e.stack.depth; i++) {
                check(e.stack.ips[i] == (void *)(uintptr_t)(e.t_ns * 1000 + i),
                      "trigger: producer %lld: stack frame %d is another thread's",
                      (long long)e.t_ns, i);
            }
        }
    }
    return NULL;
}

/* Starts the trigger afresh: bucket, peak and drop counters, queue, the test's counters. */
static void trigger_reset(unsigned max_per_s, long long now_ns)
{
    ms__allocq_reset();
    ms__trigger_fork_child();
    ms__trigger_configure(max_per_s, 1);
    atomic_store(&fake_mono_ns, now_ns);
    atomic_store(&n_rebases, 0);
    atomic_store(&n_captures, 0);
}

/*
 * The clock stands still: of all the calls racing for tokens, exactly max_per_s get one
 * (the bucket's burst); the rest are counted as rate drops. No consumer: of the sampled
 * ones exactly CAP fit the queue and the rest are counted as queue drops. Then the
 * consumer drains the queue and the clock moves on by one second, which refills the
 * bucket by exactly max_per_s tokens, and the race starts again.
 */
static void test_trigger_exact_drops(void)
{
    enum { MAX_PER_S = 1000, CALLS = 400, ROUNDS = 8 };
    const long long expect_rate = (long long)PRODUCERS * CALLS - MAX_PER_S;
    pthread_t threads[PRODUCERS];
    trigger_arg_t args[PRODUCERS];
    pthread_barrier_t go;
    int64_t rate0 = 0, queue0 = 0;

    trigger_reset(MAX_PER_S, 5000000000LL);
    pthread_barrier_init(&go, NULL, PRODUCERS);
    for (int round = 0; round < ROUNDS; round++) {
        trigger_consumer_t c = {.producers_done = NULL};
        int64_t rate, queue;
        const long long rebases0 = atomic_load(&n_rebases);
        const long long captures0 = atomic_load(&n_captures);

        for (int i = 0; i < PRODUCERS; i++)
            args[i] = (trigger_arg_t){.id = i + 1, .calls = CALLS, .go = &go};
        start_threads(threads, PRODUCERS, trigger_producer, args, sizeof args[0]);
        join_threads(threads, PRODUCERS);
        ms__trigger_drops(&rate, &queue);
        check(rate - rate0 == expect_rate, "exact drops, round %d: %lld rate drops, expected %lld",
              round, (long long)(rate - rate0), expect_rate);
        check(queue - queue0 == MAX_PER_S - CAP,
              "exact drops, round %d: %lld queue drops, expected %d", round,
              (long long)(queue - queue0), MAX_PER_S - CAP);
        check(atomic_load(&n_rebases) - rebases0 == CAP,
              "exact drops, round %d: %lld samples published, expected %d", round,
              atomic_load(&n_rebases) - rebases0, CAP);
        trigger_consumer(&c);
        check(c.taken == CAP, "exact drops, round %d: %lld samples queued, expected %d", round,
              (long long)c.taken, CAP);
        check(c.with_stack == atomic_load(&n_captures) - captures0,
              "exact drops, round %d: %lld samples with a stack, %lld stacks captured", round,
              (long long)c.with_stack, atomic_load(&n_captures) - captures0);
        /* Each round's readings start again at 1, below the peak of the first round. */
        if (round == 0)
            check(c.with_stack >= 1, "exact drops: the first sample is a new peak but has no stack");
        rate0 = rate;
        queue0 = queue;
        atomic_fetch_add(&fake_mono_ns, 1000000000LL);
    }
    pthread_barrier_destroy(&go);
}

typedef struct {
    atomic_int *done;
    int64_t seconds; /* how far the clock was moved */
} clock_arg_t;

/* Moves the clock on in steps of a tenth of a second while producers run. */
static void *clock_mover(void *arg)
{
    clock_arg_t *a = arg;
    int64_t steps = 0;

    while (atomic_load(a->done) < PRODUCERS) {
        const struct timespec pause = {.tv_sec = 0, .tv_nsec = 200000};

        atomic_fetch_add(&fake_mono_ns, 100000000LL);
        steps++;
        nanosleep(&pause, NULL);
    }
    a->seconds = (steps + 9) / 10;
    return NULL;
}

/*
 * Producers, a consumer and a moving clock all at once: every call is accounted for
 * exactly once (sampled and taken, or dropped for the rate or for a full queue), each
 * producer's samples arrive in order, and the bucket never hands out more than its burst
 * plus the refill of the time that passed.
 */
static void test_trigger_concurrent(void)
{
    enum { MAX_PER_S = 2000, CALLS = 3000 };
    pthread_t threads[PRODUCERS], consumer, mover;
    trigger_arg_t args[PRODUCERS];
    pthread_barrier_t go;
    atomic_int done = 0;
    trigger_consumer_t c = {.producers_done = &done};
    clock_arg_t ca = {.done = &done};
    int64_t rate, queue;

    trigger_reset(MAX_PER_S, 100000000000LL);
    pthread_barrier_init(&go, NULL, PRODUCERS);
    for (int i = 0; i < PRODUCERS; i++)
        args[i] = (trigger_arg_t){.id = i + 1, .calls = CALLS, .go = &go, .done = &done};
    if (pthread_create(&consumer, NULL, trigger_consumer, &c) != 0 ||
        pthread_create(&mover, NULL, clock_mover, &ca) != 0) {
        fputs("FAIL: pthread_create\n", stderr);
        exit(1);
    }
    start_threads(threads, PRODUCERS, trigger_producer, args, sizeof args[0]);
    join_threads(threads, PRODUCERS);
    pthread_join(mover, NULL);
    pthread_join(consumer, NULL);
    ms__trigger_drops(&rate, &queue);
    check(rate + queue + c.taken == (int64_t)PRODUCERS * CALLS,
          "concurrent: %lld rate drops + %lld queue drops + %lld taken != %d calls",
          (long long)rate, (long long)queue, (long long)c.taken, PRODUCERS * CALLS);
    check(atomic_load(&n_rebases) == c.taken, "concurrent: %lld published, %lld taken",
          (long long)atomic_load(&n_rebases), (long long)c.taken);
    check(c.with_stack == atomic_load(&n_captures),
          "concurrent: %lld samples with a stack, %lld stacks captured",
          (long long)c.with_stack, (long long)atomic_load(&n_captures));
    check(queue + c.taken <= (int64_t)MAX_PER_S * (1 + ca.seconds),
          "concurrent: %lld tokens in %lld s at %d/s", (long long)(queue + c.taken),
          (long long)ca.seconds, MAX_PER_S);
    printf("concurrent trigger: %lld sampled, %lld rate drops, %lld queue drops, %lld s\n",
           (long long)c.taken, (long long)rate, (long long)queue, (long long)ca.seconds);
    pthread_barrier_destroy(&go);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_queue_protocol();
    test_queue_fill_race();
    test_queue_stream(1, 50000, 0);
    test_queue_stream(0, 50000, 1024);
    test_trigger_exact_drops();
    test_trigger_concurrent();
    if (atomic_load(&failures) > 0) {
        fprintf(stderr, "%d check(s) failed\n", atomic_load(&failures));
        return 1;
    }
    puts("PASS");
    return 0;
}
