/*
 * block_loop: N rounds of malloc of a large block (default 32 MiB), one byte written per
 * page of its first MiB, and free: the worst case for the recording of large blocks
 * (bench_blocks.sh), where every allocation is one the shim records with its stack.
 * Usage: block_loop [ROUNDS] [MIB]   (default 2000, 32)
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    const long rounds = argc > 1 ? atol(argv[1]) : 2000;
    const long mib = argc > 2 ? atol(argv[2]) : 32;
    unsigned long sum = 0;

    if (rounds <= 0 || mib <= 0 || mib > 4096) {
        fprintf(stderr, "Usage: block_loop [ROUNDS] [MIB]\n");
        return 2;
    }
    for (long i = 0; i < rounds; i++) {
        volatile char *const p = malloc((size_t)mib << 20);
        if (p == NULL)
            return 1;
        for (long k = 0; k < (1L << 20); k += 4096)
            p[k] = (char)i;
        sum += (unsigned char)p[4096];
        free((void *)p);
    }
    printf("%lu\n", sum);
    return 0;
}
