/*
 * ms_allocfuncs: calls every allocation function the shim interposes and checks each
 * result itself: contents survive reallocation, alignments hold, zeroed memory is zero,
 * failures return NULL or MAP_FAILED with the documented errno, and successful calls
 * leave errno alone. It prints one line per function and a checksum of everything it
 * wrote, none of which depends on addresses or on the allocator's rounding, so the output
 * of two runs is identical unless something changed a result. Exit status 0 when every
 * check passed, 1 otherwise (with the failed check on stderr).
 *
 * The sizes pass the shim's default triggers: realloc grows a block to 128 MiB in steps
 * and shrinks it by 120 MiB, and mmap/mremap take 160 MiB, so allocation-driven samples
 * are due in both the malloc and the mmap paths.
 *
 * --portable leaves out pvalloc, which allocators that replace glibc's (jemalloc) do not
 * define: glibc's would then hand a foreign block to free. reallocarray stays: jemalloc
 * does not define it either, but every reallocarray reached (glibc's, or the shim's)
 * calls the process's first realloc.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)

/* errno value planted before successful calls; none of them has a reason to set it. */
#define PLANTED EDOM

static uint64_t checksum = 0xcbf29ce484222325ULL;
static unsigned calls_ok;      /* successful calls that left errno as planted */
static unsigned calls_checked; /* successful calls whose errno was checked */

static void mix(uint64_t v)
{
    checksum = (checksum ^ v) * 0x100000001b3ULL;
}

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "ms_allocfuncs: FAILED: %s\n", what);
        exit(1);
    }
}

static void plant_errno(void)
{
    errno = PLANTED;
}

/* After a successful call: errno must still be what plant_errno() left. */
static void errno_kept(const char *what)
{
    const int e = errno;

    calls_checked++;
    if (e == PLANTED)
        calls_ok++;
    else
        fprintf(stderr, "ms_allocfuncs: errno changed to %d by a successful %s\n", e, what);
}

/* The byte at offset i of a block filled with seed. */
static unsigned char pattern(size_t i, unsigned seed)
{
    return (unsigned char)((i * 131u + seed * 7u + (i >> 12)) & 0xff);
}

static void fill(unsigned char *p, size_t from, size_t to, unsigned seed)
{
    for (size_t i = from; i < to; i++)
        p[i] = pattern(i, seed);
}

/* Checks that [from, to) holds the pattern and mixes a sample of it into the checksum. */
static void verify(const unsigned char *p, size_t from, size_t to, unsigned seed,
                   const char *what)
{
    uint64_t s = 0;

    for (size_t i = from; i < to; i++) {
        if (p[i] != pattern(i, seed)) {
            fprintf(stderr, "ms_allocfuncs: %s: byte %zu is %u, expected %u\n", what, i, p[i],
                    pattern(i, seed));
            exit(1);
        }
        s += p[i];
    }
    mix(s);
    mix(to - from);
}

static int aligned(const void *p, size_t a)
{
    return ((uintptr_t)p & (a - 1)) == 0;
}

/* Sizes the compiler cannot see, so it neither warns about nor folds the failing calls. */
static volatile size_t huge_size = SIZE_MAX;
static volatile size_t half_size = SIZE_MAX / 2 + 1;

static void test_malloc(void)
{
    static const size_t sizes[] = {1, 24, 1000, 4096, 200000, 48 * MIB};

    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        plant_errno();
        unsigned char *p = malloc(sizes[k]);
        check(p != NULL, "malloc returned NULL");
        errno_kept("malloc");
        check(malloc_usable_size(p) >= sizes[k], "malloc_usable_size below the request");
        fill(p, 0, sizes[k], (unsigned)k);
        verify(p, 0, sizes[k], (unsigned)k, "malloc");
        plant_errno();
        free(p);
        errno_kept("free");
    }
    plant_errno();
    free(NULL);
    errno_kept("free(NULL)");

    errno = 0;
    void *p = malloc(huge_size);
    check(p == NULL, "malloc(SIZE_MAX) succeeded");
    check(errno == ENOMEM, "malloc(SIZE_MAX): errno is not ENOMEM");
    printf("malloc: 6 sizes ok, malloc(SIZE_MAX) = NULL with ENOMEM\n");
    printf("malloc_usable_size: at least the request for 6 sizes\n");
}

static void test_calloc(void)
{
    static const size_t counts[] = {1000, 5 * MIB};

    for (size_t k = 0; k < 2; k++) {
        plant_errno();
        unsigned char *p = calloc(counts[k], 8);
        check(p != NULL, "calloc returned NULL");
        errno_kept("calloc");
        for (size_t i = 0; i < counts[k] * 8; i++)
            check(p[i] == 0, "calloc memory is not zero");
        fill(p, 0, counts[k] * 8, 40 + (unsigned)k);
        verify(p, 0, counts[k] * 8, 40 + (unsigned)k, "calloc");
        free(p);
    }
    errno = 0;
    void *p = calloc(half_size, 2);
    check(p == NULL, "calloc with an overflowing size succeeded");
    check(errno == ENOMEM, "calloc overflow: errno is not ENOMEM");
    printf("calloc: zeroed for 2 sizes, overflow = NULL with ENOMEM\n");
}

/*
 * Grows one block from 1 MiB to 128 MiB by doubling, then shrinks it to 8 MiB. A failed
 * realloc must set ENOMEM in glibc; jemalloc leaves errno as it was, so with --portable
 * the errno is printed instead, for the comparison with a run without the shim.
 */
static void test_realloc(int portable)
{
    size_t len = MIB;
    unsigned char *p;
    int steps = 0;

    plant_errno();
    p = realloc(NULL, len);
    check(p != NULL, "realloc(NULL, n) returned NULL");
    errno_kept("realloc(NULL, n)");
    fill(p, 0, len, 50);
    while (len < 128 * MIB) {
        const size_t next = len * 2;
        plant_errno();
        unsigned char *q = realloc(p, next);
        check(q != NULL, "realloc growth returned NULL");
        errno_kept("realloc growth");
        verify(q, 0, len, 50, "realloc growth kept the old contents");
        fill(q, len, next, 50);
        p = q;
        len = next;
        steps++;
    }
    plant_errno();
    unsigned char *q = realloc(p, 8 * MIB);
    check(q != NULL, "realloc shrink returned NULL");
    errno_kept("realloc shrink");
    verify(q, 0, 8 * MIB, 50, "realloc shrink kept the prefix");
    errno = 0;
    void *r = realloc(q, huge_size);
    const int e = errno;
    check(r == NULL, "realloc(p, SIZE_MAX) succeeded");
    check(portable || e == ENOMEM, "realloc(p, SIZE_MAX): errno is not ENOMEM");
    verify(q, 0, 8 * MIB, 50, "a failed realloc left the block intact");
    free(q);
    printf("realloc: %d doubling steps to 128 MiB and a shrink to 8 MiB kept the contents,"
           " realloc(p, SIZE_MAX) = NULL with errno %d\n", steps, e);
}

static void test_reallocarray(void)
{
    unsigned char *p = reallocarray(NULL, 1000, 16);

    check(p != NULL, "reallocarray(NULL) returned NULL");
    fill(p, 0, 16000, 60);
    plant_errno();
    unsigned char *q = reallocarray(p, 400000, 16);
    check(q != NULL, "reallocarray growth returned NULL");
    errno_kept("reallocarray");
    verify(q, 0, 16000, 60, "reallocarray kept the contents");
    fill(q, 16000, 6400000, 60);
    errno = 0;
    void *r = reallocarray(q, half_size, 2);
    check(r == NULL, "reallocarray with an overflowing size succeeded");
    check(errno == ENOMEM, "reallocarray overflow: errno is not ENOMEM");
    verify(q, 0, 6400000, 60, "a failed reallocarray left the block intact");
    free(q);
    printf("reallocarray: growth kept the contents, overflow = NULL with ENOMEM\n");
}

static void test_aligned(int portable)
{
    static const size_t aligns[] = {sizeof(void *), 64, 4096, 65536, 2 * MIB};
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *p;
    int rc;

    for (size_t k = 0; k < sizeof aligns / sizeof aligns[0]; k++) {
        const size_t sizes[] = {1000, 3 * MIB};
        for (size_t j = 0; j < 2; j++) {
            plant_errno();
            rc = posix_memalign(&p, aligns[k], sizes[j]);
            check(rc == 0, "posix_memalign failed");
            errno_kept("posix_memalign");
            check(aligned(p, aligns[k]), "posix_memalign: misaligned");
            fill(p, 0, sizes[j], 70);
            verify(p, 0, sizes[j], 70, "posix_memalign");
            free(p);
        }
    }
    p = &rc;
    rc = posix_memalign(&p, 24, 100);
    check(rc == EINVAL, "posix_memalign(alignment 24) did not return EINVAL");
    check(p == &rc, "posix_memalign changed the pointer on failure");
    rc = posix_memalign(&p, 64, huge_size - 4096);
    check(rc == ENOMEM, "posix_memalign(SIZE_MAX - 4096) did not return ENOMEM");
    printf("posix_memalign: 5 alignments x 2 sizes ok, alignment 24 = EINVAL,"
           " huge = ENOMEM\n");

    static const size_t a2[] = {64, 4096, 2 * MIB};
    static const size_t s2[] = {640, 8192, 32 * MIB};
    for (size_t k = 0; k < 3; k++) {
        plant_errno();
        unsigned char *q = aligned_alloc(a2[k], s2[k]);
        check(q != NULL, "aligned_alloc returned NULL");
        errno_kept("aligned_alloc");
        check(aligned(q, a2[k]), "aligned_alloc: misaligned");
        fill(q, 0, s2[k], 80);
        verify(q, 0, s2[k], 80, "aligned_alloc");
        free(q);
    }
    printf("aligned_alloc: 3 alignments ok\n");

    static const size_t a3[] = {256, 4096};
    static const size_t s3[] = {5000, 20 * MIB};
    for (size_t k = 0; k < 2; k++) {
        plant_errno();
        unsigned char *q = memalign(a3[k], s3[k]);
        check(q != NULL, "memalign returned NULL");
        errno_kept("memalign");
        check(aligned(q, a3[k]), "memalign: misaligned");
        fill(q, 0, s3[k], 90);
        verify(q, 0, s3[k], 90, "memalign");
        free(q);
    }
    printf("memalign: 2 alignments ok\n");

    plant_errno();
    unsigned char *v = valloc(10000);
    check(v != NULL, "valloc returned NULL");
    errno_kept("valloc");
    check(aligned(v, page), "valloc: not page-aligned");
    fill(v, 0, 10000, 100);
    verify(v, 0, 10000, 100, "valloc");
    free(v);
    printf("valloc: page-aligned\n");

    if (portable)
        return;
    plant_errno();
    v = pvalloc(10000);
    check(v != NULL, "pvalloc returned NULL");
    errno_kept("pvalloc");
    check(aligned(v, page), "pvalloc: not page-aligned");
    check(malloc_usable_size(v) >= (10000 + page - 1) / page * page,
          "pvalloc: not rounded up to whole pages");
    fill(v, 0, 10000, 110);
    verify(v, 0, 10000, 110, "pvalloc");
    free(v);
    printf("pvalloc: page-aligned, rounded up to whole pages\n");
}

/* Anonymous mappings taken with mmap and mmap64, grown and shrunk with mremap. */
static void test_mmap(void)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t len = 96 * MIB;
    unsigned char *p, *q;

    plant_errno();
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(p != MAP_FAILED, "mmap failed");
    errno_kept("mmap");
    for (size_t i = 0; i < len; i += page)
        check(p[i] == 0, "fresh anonymous mapping is not zero");
    fill(p, 0, len, 120);

    plant_errno();
    q = mremap(p, len, 160 * MIB, MREMAP_MAYMOVE);
    check(q != MAP_FAILED, "mremap growth failed");
    errno_kept("mremap growth");
    verify(q, 0, len, 120, "mremap growth kept the contents");
    fill(q, len, 160 * MIB, 120);
    len = 160 * MIB;

    plant_errno();
    p = mremap(q, len, 40 * MIB, 0);
    check(p == q, "mremap shrink moved or failed");
    errno_kept("mremap shrink");
    len = 40 * MIB;
    verify(p, 0, len, 120, "mremap shrink kept the prefix");

    errno = 0;
    q = mremap(p, len, (size_t)1 << 46, 0);
    check(q == MAP_FAILED, "mremap to 64 TiB in place succeeded");
    check(errno == ENOMEM, "failed mremap: errno is not ENOMEM");
    errno = 0;
    check(munmap(p + 1, page) == -1, "munmap of an unaligned address succeeded");
    check(errno == EINVAL, "failed munmap: errno is not EINVAL");

    plant_errno();
    check(munmap(p, len) == 0, "munmap failed");
    errno_kept("munmap");

    plant_errno();
    p = mmap64(NULL, 32 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(p != MAP_FAILED, "mmap64 failed");
    errno_kept("mmap64");
    fill(p, 0, 32 * MIB, 130);
    verify(p, 0, 32 * MIB, 130, "mmap64");
    check(munmap(p, 32 * MIB) == 0, "munmap of the mmap64 block failed");

    errno = 0;
    p = mmap(NULL, (size_t)1 << 62, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
             0);
    check(p == MAP_FAILED, "mmap of 4 EiB succeeded");
    check(errno == ENOMEM, "failed mmap: errno is not ENOMEM");
    errno = 0;
    p = mmap((void *)(uintptr_t)(page + 1), page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
             -1, 0);
    check(p == MAP_FAILED, "mmap at an unaligned fixed address succeeded");
    check(errno == EINVAL, "failed mmap: errno is not EINVAL");
    printf("mmap/mmap64: 96 + 32 MiB zeroed and written, 4 EiB = ENOMEM, unaligned = EINVAL\n");
    printf("mremap: grown to 160 MiB and shrunk to 40 MiB with contents kept,"
           " 64 TiB in place = ENOMEM\n");
    printf("munmap: ok, unaligned = EINVAL\n");
}

int main(int argc, char **argv)
{
    int portable = 0;

    if (argc == 2 && strcmp(argv[1], "--portable") == 0) {
        portable = 1;
    } else if (argc != 1) {
        fprintf(stderr, "Usage: ms_allocfuncs [--portable]\n");
        return 2;
    }
    test_malloc();
    test_calloc();
    test_realloc(portable);
    test_reallocarray();
    test_aligned(portable);
    test_mmap();
    printf("errno kept by %u of %u successful calls\n", calls_ok, calls_checked);
    printf("checksum %016llx\n", (unsigned long long)checksum);
    return calls_ok == calls_checked ? 0 : 1;
}
