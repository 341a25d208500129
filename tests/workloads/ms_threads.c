/*
 * ms_threads: many threads allocating and freeing random sizes at once, some blocks of
 * 16 MiB and more, with blocks handed between threads so that one thread frees what
 * another allocated (per-thread counters must fold to a sane total).
 *
 * Each thread performs --ops operations from its own seeded generator: free a slot's block
 * and allocate a new one with malloc, calloc or posix_memalign, or realloc the slot's
 * block, and now and then swap a block through a shared exchange. Every block carries its
 * size and seed and a pattern that is checked when it is freed or reallocated. Each
 * operation draws the same random numbers whatever the state, and the checksum sums, per
 * thread, the sizes and seeds that thread chose, so it is the same for every interleaving
 * of the threads (which blocks travel through the exchange is not). Exit status 0, or 1
 * with the failed check on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

#define MIB (1024UL * 1024UL)
#define SLOTS 16
#define EXCHANGE 64
#define MAGIC 0x6d73776bU
#define MAX_THREADS 1024L
#define MAX_OPS 100000000L

/* Start of every block. */
typedef struct {
    size_t size;
    uint32_t seed;
    uint32_t magic;
} header_t;

typedef struct {
    unsigned index;
    long ops;
    uint64_t rng;
    uint64_t sum;
    uint64_t blocks;  /* blocks this thread allocated */
    uint64_t freed;   /* blocks this thread verified and freed */
    header_t *slot[SLOTS];
} worker_t;

static _Atomic(header_t *) exchange[EXCHANGE];

static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void die(const char *what, size_t size)
{
    fprintf(stderr, "ms_threads: FAILED: %s (block of %zu bytes)\n", what, size);
    exit(1);
}

static unsigned char pattern(size_t i, uint32_t seed)
{
    return (unsigned char)((i >> 8) * 29u + seed);
}

/*
 * Small blocks are written whole; larger ones one byte every 256, which still makes every
 * page resident. Offsets are from the block's start; the header is skipped.
 */
static size_t stride_of(size_t size)
{
    return size <= 4096 ? 1 : 256;
}

static void fill(header_t *h, size_t from)
{
    unsigned char *p = (unsigned char *)h;
    const size_t st = stride_of(h->size);

    if (from < sizeof *h)
        from = sizeof *h;
    from = (from + st - 1) / st * st;
    for (size_t i = from; i < h->size; i += st)
        p[i] = pattern(i, h->seed);
    if (h->size > sizeof *h)
        p[h->size - 1] = pattern(h->size - 1, h->seed);
}

/* Checks the header and the pattern of the first `len` bytes, as h->size filled them. */
static void verify_prefix(const header_t *h, size_t len)
{
    const unsigned char *p = (const unsigned char *)h;
    const size_t st = stride_of(h->size);

    if (h->magic != MAGIC)
        die("block header overwritten", h->size);
    if (len > h->size)
        len = h->size;
    for (size_t i = (sizeof *h + st - 1) / st * st; i < len; i += st * 7)
        if (p[i] != pattern(i, h->seed))
            die("block contents changed", h->size);
    if (len == h->size && len > sizeof *h && p[len - 1] != pattern(len - 1, h->seed))
        die("last byte of the block changed", h->size);
}

static void verify(const header_t *h)
{
    verify_prefix(h, h->size);
}

static size_t pick_size(worker_t *w)
{
    const uint64_t r = next_rand(&w->rng) % 1000;

    if (r < 1) /* 0.1%: 16 to 32 MiB */
        return 16 * MIB + next_rand(&w->rng) % (16 * MIB);
    if (r < 150) /* 14.9%: 4 KiB to 256 KiB */
        return 4096 + next_rand(&w->rng) % (252 * 1024);
    return sizeof(header_t) + next_rand(&w->rng) % 4081; /* 16 to 4096 bytes */
}

static header_t *new_block(worker_t *w, size_t size, uint32_t seed, uint64_t how)
{
    header_t *h = NULL;

    if (how < 7) {
        h = malloc(size);
    } else if (how < 9) {
        h = calloc(1, size);
        if (h != NULL) {
            const unsigned char *p = (const unsigned char *)h;
            for (size_t i = 0; i < size; i += 4096)
                if (p[i] != 0)
                    die("calloc memory is not zero", size);
        }
    } else {
        void *p = NULL;
        if (posix_memalign(&p, 64, size) != 0)
            p = NULL;
        else if (((uintptr_t)p & 63) != 0)
            die("posix_memalign: misaligned", size);
        h = p;
    }
    if (h == NULL)
        die("allocation returned NULL", size);
    h->size = size;
    h->seed = seed;
    h->magic = MAGIC;
    fill(h, 0);
    w->blocks++;
    return h;
}

static void free_block(worker_t *w, header_t *h)
{
    if (h == NULL)
        return;
    verify(h);
    h->magic = 0;
    free(h);
    w->freed++;
}

static void *work(void *arg)
{
    worker_t *w = arg;

    for (long op = 0; op < w->ops; op++) {
        const unsigned s = (unsigned)(next_rand(&w->rng) % SLOTS);
        const uint64_t action = next_rand(&w->rng) % 100;
        const size_t size = pick_size(w);
        const uint32_t seed = (uint32_t)next_rand(&w->rng);
        const uint64_t how = next_rand(&w->rng) % 10;
        const unsigned e = (unsigned)(next_rand(&w->rng) % EXCHANGE);

        w->sum += size * 31 + seed;
        if (action < 15 && w->slot[s] != NULL) {
            header_t *h = w->slot[s];
            const size_t old = h->size;

            verify(h);
            h = realloc(h, size);
            if (h == NULL)
                die("realloc returned NULL", size);
            /* The kept prefix must still hold the old pattern; then re-seed the block. */
            verify_prefix(h, old < size ? old : size);
            h->size = size;
            h->seed = seed;
            fill(h, 0);
            w->slot[s] = h;
        } else {
            free_block(w, w->slot[s]);
            w->slot[s] = new_block(w, size, seed, how);
        }
        if (action >= 95)
            w->slot[s] = atomic_exchange(&exchange[e], w->slot[s]);
    }
    for (unsigned s = 0; s < SLOTS; s++)
        free_block(w, w->slot[s]);
    return NULL;
}

int main(int argc, char **argv)
{
    enum { OPT_THREADS = 256, OPT_OPS, OPT_HELP };
    static const struct option longopts[] = {
        {"threads", required_argument, NULL, OPT_THREADS},
        {"ops", required_argument, NULL, OPT_OPS},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    long nthreads = 8, ops = 10000;
    uint64_t sum = 0, blocks = 0, freed = 0;
    worker_t *w;
    pthread_t *tid;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == OPT_HELP) {
            fputs("Usage: ms_threads [--threads N] [--ops N]\n"
                  "N threads (default 8) each perform N allocation operations (default"
                  " 10000).\n", stdout);
            return 0;
        }
        if (c != OPT_THREADS && c != OPT_OPS) {
            fprintf(stderr, "ms_threads: unknown option or missing value: '%s'\n"
                            "Try 'ms_threads --help'.\n", argv[optind - 1]);
            return 2;
        }
        if (parse_long(optarg, 1, c == OPT_THREADS ? MAX_THREADS : MAX_OPS,
                       c == OPT_THREADS ? &nthreads : &ops) != 0) {
            fprintf(stderr, "ms_threads: invalid value '%s'\nTry 'ms_threads --help'.\n",
                    optarg);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ms_threads: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }

    w = calloc((size_t)nthreads, sizeof *w);
    tid = calloc((size_t)nthreads, sizeof *tid);
    if (w == NULL || tid == NULL)
        die("allocation of the thread table", 0);
    for (long i = 0; i < nthreads; i++) {
        w[i].index = (unsigned)i;
        w[i].ops = ops;
        w[i].rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1);
        const int rc = pthread_create(&tid[i], NULL, work, &w[i]);
        if (rc != 0) {
            fprintf(stderr, "ms_threads: pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }
    for (long i = 0; i < nthreads; i++) {
        pthread_join(tid[i], NULL);
        sum += w[i].sum;
        blocks += w[i].blocks;
        freed += w[i].freed;
    }
    /* Blocks left in the exchange are freed here, by yet another thread. */
    for (unsigned e = 0; e < EXCHANGE; e++) {
        header_t *h = atomic_exchange(&exchange[e], NULL);
        if (h != NULL) {
            verify(h);
            free(h);
            freed++;
        }
    }
    if (freed != blocks) {
        fprintf(stderr, "ms_threads: FAILED: %llu blocks allocated, %llu freed\n",
                (unsigned long long)blocks, (unsigned long long)freed);
        return 1;
    }
    printf("ms_threads: %ld threads x %ld operations, checksum %016llx\n", nthreads, ops,
           (unsigned long long)sum);
    free(tid);
    free(w);
    return 0;
}
