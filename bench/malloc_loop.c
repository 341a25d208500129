/*
 * malloc_loop: N small malloc/free pairs (sizes 16 to 256 bytes) for bench_malloc.sh, the
 * worst case for an allocation hook: almost no work besides the calls themselves.
 *
 * A ring of 64 live blocks is kept so that the compiler cannot pair a malloc with the
 * next free and remove both, and so that the allocator's thread cache sees a realistic
 * mix of sizes rather than one block reused. Prints a checksum of what it wrote.
 * Usage: malloc_loop [PAIRS]   (default 50000000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define RING 64

int main(int argc, char **argv)
{
    const long long pairs = argc > 1 ? atoll(argv[1]) : 50000000LL;
    unsigned char *ring[RING] = {0};
    uint64_t x = 88172645463325252ULL;
    uint64_t sum = 0;

    if (pairs <= 0) {
        fprintf(stderr, "Usage: malloc_loop [PAIRS]\n");
        return 2;
    }
    for (long long i = 0; i < pairs; i++) {
        const unsigned slot = (unsigned)i & (RING - 1);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const size_t size = 16 + (size_t)(x % 241); /* 16 to 256 bytes */
        if (ring[slot] != NULL)
            sum += ring[slot][0];
        free(ring[slot]);
        ring[slot] = malloc(size);
        if (ring[slot] == NULL) {
            fprintf(stderr, "malloc_loop: malloc(%zu) failed\n", size);
            return 1;
        }
        ring[slot][0] = (unsigned char)i;
        ring[slot][size - 1] = (unsigned char)size;
    }
    for (unsigned slot = 0; slot < RING; slot++)
        free(ring[slot]);
    printf("malloc_loop: %lld pairs, checksum %llu\n", pairs, (unsigned long long)sum);
    return 0;
}
