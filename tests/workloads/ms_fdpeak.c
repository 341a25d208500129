/*
 * A program that closes the descriptors it did not open (as daemons do), opens its own
 * input and output files on the numbers that frees, and then reaches a new memory peak,
 * for which the shim captures a stack in this very thread. Its input must still read from
 * the start and its output must hold only what it wrote itself: the stack capture may
 * not read, write or close any descriptor of the program's. It first sleeps WAIT_MS
 * milliseconds (0 for not at all), for a test that wants the shim's sampler running for a
 * while before the descriptors are closed.
 *
 * Usage: ms_fdpeak INPUT OUTPUT WAIT_MS
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Keeps the block reachable, so the compiler cannot drop the allocation or its writes. */
static char *volatile block;

int main(int argc, char **argv)
{
    const size_t size = (size_t)300 << 20;
    struct timespec wait;
    struct stat st;
    char first = 0;
    ssize_t n;
    int in, out;
    long ms;

    if (argc != 4) {
        fputs("usage: ms_fdpeak INPUT OUTPUT WAIT_MS\n", stderr);
        return 2;
    }
    ms = atol(argv[3]);
    wait.tv_sec = ms / 1000;
    wait.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&wait, NULL);
    for (int fd = 3; fd < 20; fd++)
        close(fd);
    in = open(argv[1], O_RDONLY);
    out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0)
        return 1;
    block = malloc(size);
    if (block == NULL)
        return 1;
    memset(block, 1, size);
    free(block);
    block = NULL;
    n = read(in, &first, 1);
    if (write(out, "ok\n", 3) != 3 || fstat(out, &st) != 0)
        return 1;
    printf("in %d out %d read %zd '%c' out_size %lld\n", in, out, n, first,
           (long long)st.st_size);
    return 0;
}
