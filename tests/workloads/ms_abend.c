/*
 * ms_abend: allocates and touches --mib MiB, prints a line, holds for --hold-ms and then,
 * with --wait-file PATH, until PATH exists, and then ends in one of the ways that skip
 * the C library's exit handlers:
 *
 *   exit    exit(0), the ordinary way, for comparison
 *   _exit   _exit(3): no atexit handlers, no stdio flush, no destructors
 *   abort   abort(): SIGABRT
 *   segv    a store into a page mapped without access: a real SIGSEGV from the MMU,
 *           not a raise()
 *   exit_group  the exit_group system call made directly, status 0, as the Go runtime
 *           ends a program: no C library code runs at all
 *
 * Everything printed is flushed before the end, so that stdout is the same whichever way
 * the process ends. --wait-file lets a test end the process once what it wants to see is
 * in the database (a tick showing the memory), where a fixed hold would race with a busy
 * machine.
 *
 * Usage: ms_abend --end exit|_exit|abort|segv|exit_group [--mib N] [--hold-ms T]
 *                 [--wait-file PATH]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wl_common.h"

#define MIB ((size_t)1 << 20)

static const char usage_text[] =
    "Usage: ms_abend --end exit|_exit|abort|segv|exit_group [--mib N] [--hold-ms T]\n"
    "                [--wait-file P]\n"
    "Allocate and touch memory, then end without the C library's usual exit path.\n"
    "\n"
    "  --end HOW        exit: exit(0); _exit: _exit(3); abort: abort(), SIGABRT;\n"
    "                   segv: a store into a page mapped without access, SIGSEGV;\n"
    "                   exit_group: the system call itself, status 0, as Go exits\n"
    "  --mib N          allocate N MiB with malloc and touch every page (default 0)\n"
    "  --hold-ms T      sleep T ms after allocating (default 0)\n"
    "  --wait-file P    after the hold, wait until the file P exists\n"
    "  --help           show this help and exit\n";

/* Keeps the block reachable, so the compiler cannot drop the allocation or its writes. */
static unsigned char *volatile block;

int main(int argc, char **argv)
{
    enum { OPT_END = 256, OPT_MIB, OPT_HOLD, OPT_WAIT_FILE, OPT_HELP };
    static const struct option longopts[] = {
        {"end", required_argument, NULL, OPT_END},
        {"mib", required_argument, NULL, OPT_MIB},
        {"hold-ms", required_argument, NULL, OPT_HOLD},
        {"wait-file", required_argument, NULL, OPT_WAIT_FILE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *end = NULL;
    const char *wait_path = NULL;
    long mib = 0, hold_ms = 0;
    volatile int *guard;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == OPT_HELP) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (c == OPT_END)
            end = optarg;
        else if (c == OPT_WAIT_FILE)
            wait_path = optarg;
        else if (!((c == OPT_MIB && parse_long(optarg, 0, 4096, &mib) == 0) ||
                   (c == OPT_HOLD && parse_long(optarg, 0, 600000, &hold_ms) == 0))) {
            fprintf(stderr, "ms_abend: bad option '%s'\n", argv[optind - 1]);
            return 2;
        }
    }
    if (end == NULL || optind < argc ||
        (strcmp(end, "exit") != 0 && strcmp(end, "_exit") != 0 && strcmp(end, "abort") != 0 &&
         strcmp(end, "segv") != 0 && strcmp(end, "exit_group") != 0)) {
        fputs("usage: ms_abend --end exit|_exit|abort|segv|exit_group [--mib N] [--hold-ms T]"
              " [--wait-file P]\n", stderr);
        return 2;
    }
    /* Mapped before the allocation, so that the end itself allocates nothing. */
    guard = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard == MAP_FAILED) {
        perror("ms_abend: mmap");
        return 1;
    }
    block = malloc((size_t)mib * MIB + 1);
    if (block == NULL)
        return 1;
    touch_pages(block, (size_t)mib * MIB, 1);
    printf("ms_abend: %ld MiB resident, ending with %s\n", mib, end);
    fflush(stdout);
    sleep_ms(hold_ms);
    wait_file(wait_path);
    if (strcmp(end, "_exit") == 0)
        _exit(3);
    if (strcmp(end, "exit_group") == 0)
        syscall(SYS_exit_group, 0);
    if (strcmp(end, "abort") == 0)
        abort();
    if (strcmp(end, "exit_group") == 0)
        syscall(SYS_exit_group, 0);
    if (strcmp(end, "segv") == 0) {
        *guard = 1;
        fputs("ms_abend: the store into a PROT_NONE page did not fault\n", stderr);
        return 1;
    }
    exit(0);
}
