/*
 * ms_envspawn: a program that takes the shim's variables away from its children, as
 * sandboxes, sudo-like wrappers and test harnesses do, and then starts children.
 *
 *   --mode unset-preload  unsetenv("LD_PRELOAD") (MEMSWEEP_* stay)
 *   --mode clearenv       clearenv(), then PATH=/usr/bin:/bin only
 *
 * The parent allocates and touches --mib MiB, changes its environment, then starts three
 * children one after the other and waits for each:
 *
 *   exec   fork() and execv() of this program with --child exec
 *   spawn  posix_spawn() of this program with --child spawn
 *   fork   fork() without exec: the child runs --child fork's code in the parent's image
 *
 * Each child allocates and touches --child-mib MiB, holds it for --hold-ms, and prints
 * whether it has LD_PRELOAD; the parent prints the same of its own environment after the
 * change, and how each child ended. With the shim or without it the output is the same.
 * Exit status 0, or 1 when a child failed. With --wait-file PATH the parent, once its
 * environment is changed, waits until PATH exists before it starts the children: a test
 * then sees the parent measured after the change, however slowly the machine runs.
 *
 * Usage: ms_envspawn --mode unset-preload|clearenv [--mib P] [--child-mib C] [--hold-ms T]
 *                    [--wait-file PATH]
 */
#include <errno.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl_common.h"

#define MIB ((size_t)1 << 20)

extern char **environ;

/*
 * Whether LD_PRELOAD reaches this process. The MEMSWEEP_ variables are not printed: the
 * shim adds MEMSWEEP_RUN_ID to its process's environment, so they differ from an
 * uninstrumented run by design.
 */
static void print_env(const char *who)
{
    printf("%s: LD_PRELOAD %s\n", who, getenv("LD_PRELOAD") != NULL ? "set" : "unset");
}

static int run_child(const char *how, long mib, long hold_ms)
{
    char who[32];
    unsigned char *p = malloc((size_t)mib * MIB + 1);
    uint64_t sum;

    if (p == NULL)
        return 1;
    sum = touch_pages(p, (size_t)mib * MIB, 9);
    sleep_ms(hold_ms);
    snprintf(who, sizeof who, "child %s", how);
    print_env(who);
    fflush(stdout);
    return sum_pages(p, (size_t)mib * MIB) == sum ? 0 : 1;
}

static int wait_child(const char *how, pid_t pid)
{
    int st;

    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    printf("parent: child %s %s %d\n", how, WIFEXITED(st) ? "exit" : "signal",
           WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    fflush(stdout);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    enum { OPT_MODE = 256, OPT_MIB, OPT_CHILD_MIB, OPT_HOLD, OPT_CHILD, OPT_WAIT };
    static const struct option longopts[] = {
        {"mode", required_argument, NULL, OPT_MODE},
        {"mib", required_argument, NULL, OPT_MIB},
        {"child-mib", required_argument, NULL, OPT_CHILD_MIB},
        {"hold-ms", required_argument, NULL, OPT_HOLD},
        {"child", required_argument, NULL, OPT_CHILD},
        {"wait-file", required_argument, NULL, OPT_WAIT},
        {NULL, 0, NULL, 0},
    };
    const char *mode = NULL, *child = NULL, *wait = NULL;
    long mib = 0, child_mib = 0, hold_ms = 0;
    char mib_arg[32], hold_arg[32];
    unsigned char *p;
    uint64_t sum;
    pid_t pid;
    int c, failed = 0;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == OPT_MODE)
            mode = optarg;
        else if (c == OPT_CHILD)
            child = optarg;
        else if (c == OPT_WAIT)
            wait = optarg;
        else if (!((c == OPT_MIB && parse_long(optarg, 0, 4096, &mib) == 0) ||
                   (c == OPT_CHILD_MIB && parse_long(optarg, 0, 4096, &child_mib) == 0) ||
                   (c == OPT_HOLD && parse_long(optarg, 0, 600000, &hold_ms) == 0))) {
            fprintf(stderr, "ms_envspawn: bad option '%s'\n", argv[optind - 1]);
            return 2;
        }
    }
    if (child != NULL)
        return run_child(child, child_mib, hold_ms);
    if (mode == NULL || optind < argc ||
        (strcmp(mode, "unset-preload") != 0 && strcmp(mode, "clearenv") != 0)) {
        fputs("usage: ms_envspawn --mode unset-preload|clearenv [--mib P] [--child-mib C]"
              " [--hold-ms T] [--wait-file PATH]\n", stderr);
        return 2;
    }

    p = malloc((size_t)mib * MIB + 1);
    if (p == NULL)
        return 1;
    sum = touch_pages(p, (size_t)mib * MIB, 4);
    if (strcmp(mode, "unset-preload") == 0) {
        if (unsetenv("LD_PRELOAD") != 0)
            return 1;
    } else if (clearenv() != 0 || setenv("PATH", "/usr/bin:/bin", 1) != 0) {
        return 1;
    }
    print_env("parent");
    fflush(stdout);
    wait_file(wait);

    snprintf(mib_arg, sizeof mib_arg, "%ld", child_mib);
    snprintf(hold_arg, sizeof hold_arg, "%ld", hold_ms);
    {
        char *const args[] = {argv[0], (char *)"--child", (char *)"exec", (char *)"--child-mib",
                              mib_arg, (char *)"--hold-ms", hold_arg, NULL};
        pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            execv("/proc/self/exe", args);
            _exit(127);
        }
        failed |= wait_child("exec", pid);
    }
    {
        char *const args[] = {argv[0], (char *)"--child", (char *)"spawn", (char *)"--child-mib",
                              mib_arg, (char *)"--hold-ms", hold_arg, NULL};
        const int rc = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ);
        if (rc != 0) {
            fprintf(stderr, "ms_envspawn: posix_spawn: %s\n", strerror(rc));
            return 1;
        }
        failed |= wait_child("spawn", pid);
    }
    pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0)
        exit(run_child("fork", child_mib, hold_ms));
    failed |= wait_child("fork", pid);
    printf("parent: %ld MiB %s\n", mib,
           sum_pages(p, (size_t)mib * MIB) == sum ? "intact" : "CHANGED");
    free(p);
    return failed ? 1 : 0;
}
