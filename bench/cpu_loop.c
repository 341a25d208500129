/*
 * A CPU-bound program for bench_cpu.sh: integer hashing in a loop, with no allocation
 * after start, so any difference with the shim loaded is the sampler thread's cost.
 *
 * Usage: cpu_loop ITERATIONS
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    unsigned long long n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000000ULL;
    unsigned long long h = 1469598103934665603ULL;

    for (unsigned long long i = 0; i < n; i++) {
        h ^= i;
        h *= 1099511628211ULL;
    }
    printf("%llx\n", h);
    return 0;
}
