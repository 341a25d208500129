/*
 * count_interposer: the cheapest allocation hook that still interposes, as a yardstick
 * for bench_malloc.sh. malloc, calloc, realloc and free each bump a thread-local counter
 * and forward to the next definition, found with dlsym(RTLD_NEXT). dlsym may itself call
 * calloc before the real one is known; those calls are served from a small static pool,
 * whose blocks free() recognises and never forwards.
 *
 * Preload it like the shim: LD_PRELOAD=.../libcount_interposer.so PROGRAM. With
 * COUNT_INTERPOSER_REPORT set, the main thread's counts go to stderr at exit, which shows
 * that the hooks were really in the path.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef void *malloc_fn(size_t);
typedef void *calloc_fn(size_t, size_t);
typedef void *realloc_fn(void *, size_t);
typedef void free_fn(void *);

static malloc_fn *real_malloc;
static calloc_fn *real_calloc;
static realloc_fn *real_realloc;
static free_fn *real_free;

static __thread uint64_t n_alloc __attribute__((tls_model("initial-exec")));
static __thread uint64_t n_free __attribute__((tls_model("initial-exec")));

/* The bootstrap pool: bump allocation, never reused. dlsym needs well under 1 KiB. */
static _Alignas(16) unsigned char pool[8192];
static size_t pool_used;
static int resolving;

static void *pool_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > sizeof pool - pool_used)
        return NULL;
    void *p = pool + pool_used;
    pool_used += n;
    return p; /* static storage starts zeroed and is never reused: calloc-ready */
}

static int in_pool(const void *p)
{
    return (const unsigned char *)p >= pool && (const unsigned char *)p < pool + sizeof pool;
}

static void die(const char *name)
{
    static const char msg[] = "count_interposer: cannot resolve ";
    (void)!write(2, msg, sizeof msg - 1);
    (void)!write(2, name, strlen(name));
    (void)!write(2, "\n", 1);
    abort();
}

static void resolve(void)
{
    resolving = 1;
    real_malloc = (malloc_fn *)dlsym(RTLD_NEXT, "malloc");
    real_calloc = (calloc_fn *)dlsym(RTLD_NEXT, "calloc");
    real_realloc = (realloc_fn *)dlsym(RTLD_NEXT, "realloc");
    real_free = (free_fn *)dlsym(RTLD_NEXT, "free");
    resolving = 0;
    if (!real_malloc)
        die("malloc");
    if (!real_calloc)
        die("calloc");
    if (!real_realloc)
        die("realloc");
    if (!real_free)
        die("free");
}

void *malloc(size_t n)
{
    if (__builtin_expect(real_malloc == NULL, 0)) {
        if (resolving)
            return pool_alloc(n);
        resolve();
    }
    n_alloc++;
    return real_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (__builtin_expect(real_calloc == NULL, 0)) {
        if (resolving)
            return size != 0 && n > SIZE_MAX / size ? NULL : pool_alloc(n * size);
        resolve();
    }
    n_alloc++;
    return real_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    if (__builtin_expect(real_realloc == NULL, 0)) {
        if (resolving)
            return NULL;
        resolve();
    }
    if (in_pool(p)) {
        /* A bootstrap block moves to the real heap; its old size is unknown but bounded. */
        void *q = real_malloc(n);
        if (q != NULL) {
            const size_t left = (size_t)(pool + sizeof pool - (unsigned char *)p);
            memcpy(q, p, n < left ? n : left);
        }
        return q;
    }
    n_alloc++;
    return real_realloc(p, n);
}

void free(void *p)
{
    if (p == NULL || in_pool(p))
        return;
    if (__builtin_expect(real_free == NULL, 0))
        resolve();
    n_free++;
    real_free(p);
}

__attribute__((destructor)) static void report(void)
{
    if (getenv("COUNT_INTERPOSER_REPORT") != NULL)
        fprintf(stderr, "count_interposer: main thread: %llu allocations, %llu frees\n",
                (unsigned long long)n_alloc, (unsigned long long)n_free);
}
