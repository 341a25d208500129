/*
 * ms_spawn: starts children every way that shares the parent's memory until the child
 * execs or exits, which is the hardest case for code living inside the parent:
 *
 *   posix_spawn  glibc's, a clone(CLONE_VM | CLONE_VFORK) child running on a stack of its
 *                own; its file actions send the child's stdout to DIR/posix_spawn.out
 *   vfork-exec   vfork() called by the program, then execve() of the child
 *   vfork-exit   vfork() then _exit(5) at once, no exec
 *   vfork-fail   vfork() then execve() of a path that does not exist, then _exit(127)
 *   spawn-fail   posix_spawn() of a path that does not exist (glibc returns the error)
 *
 * The parent first allocates and touches --mib MiB; the exec'd children run CHILD with
 * its ARGs and "--print <how>". The parent waits for each child and prints how it ended,
 * then checks that its own memory still holds what it wrote. Exit status 0, or 1 when a
 * child did not end as expected.
 *
 * Usage: ms_spawn --dir DIR [--mib P] CHILD [ARG]...
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl_common.h"

#define MIB ((size_t)1 << 20)
#define MAX_ARGS 64
#define MISSING "/nonexistent/ms_spawn-no-such-program"

extern char **environ;

static char *child_argv[MAX_ARGS + 3];

/* "exit N" or "signal N" of a wait status. */
static void describe(const char *how, int st, char *out, size_t cap)
{
    snprintf(out, cap, "%s: %s %d", how, WIFEXITED(st) ? "exit" : "signal",
             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static int wait_child(pid_t pid, int *st)
{
    while (waitpid(pid, st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

/* The argv of an exec'd child: CHILD ARG... --print HOW. */
static char *const *argv_for(int nargs, const char *how)
{
    child_argv[nargs] = (char *)"--print";
    child_argv[nargs + 1] = (char *)how;
    child_argv[nargs + 2] = NULL;
    return child_argv;
}

/*
 * In a vfork child only execve and _exit are safe; the child runs on the parent's stack
 * until then, so this function keeps everything it needs in arguments.
 */
__attribute__((noinline)) static pid_t vfork_exec(const char *path, char *const *argv,
                                                   int exit_at_once)
{
    const pid_t pid = vfork();

    if (pid == 0) {
        if (!exit_at_once)
            execve(path, argv, environ);
        _exit(exit_at_once ? 5 : 127);
    }
    return pid;
}

static int run_posix_spawn(const char *dir, int nargs, char *line, size_t cap)
{
    posix_spawn_file_actions_t fa;
    char out[4096];
    pid_t pid;
    int st, rc;

    snprintf(out, sizeof out, "%s/posix_spawn.out", dir);
    if (posix_spawn_file_actions_init(&fa) != 0 ||
        posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644) != 0)
        return -1;
    rc = posix_spawn(&pid, child_argv[0], &fa, NULL, argv_for(nargs, "posix_spawn"), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        snprintf(line, cap, "posix_spawn: error %s", strerror(rc));
        return -1;
    }
    if (wait_child(pid, &st) != 0)
        return -1;
    describe("posix_spawn", st, line, cap);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int run_vfork(int nargs, const char *how, const char *path, int exit_at_once,
                     int expect, char *line, size_t cap)
{
    pid_t pid;
    int st;

    fflush(stdout); /* the exec'd child writes to the same stdout */
    pid = vfork_exec(path, argv_for(nargs, how), exit_at_once);
    if (pid < 0 || wait_child(pid, &st) != 0) {
        snprintf(line, cap, "%s: vfork failed: %s", how, strerror(errno));
        return -1;
    }
    describe(how, st, line, cap);
    return WIFEXITED(st) && WEXITSTATUS(st) == expect ? 0 : -1;
}

static int run_spawn_fail(int nargs, char *line, size_t cap)
{
    pid_t pid;
    const int rc = posix_spawn(&pid, MISSING, NULL, NULL, argv_for(nargs, "spawn-fail"),
                               environ);

    snprintf(line, cap, "spawn-fail: %s", rc == 0 ? "started" : strerror(rc));
    if (rc == 0) {
        int st;
        wait_child(pid, &st);
        return -1;
    }
    return rc == ENOENT ? 0 : -1;
}

int main(int argc, char **argv)
{
    enum { OPT_DIR = 256, OPT_MIB };
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, OPT_DIR},
        {"mib", required_argument, NULL, OPT_MIB},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    long mib = 0;
    char line[256];
    unsigned char *p = NULL;
    uint64_t sum = 0;
    int nargs, c, failed = 0;

    opterr = 0;
    /* '+': stop at CHILD, whose own options follow. */
    while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        if (c == OPT_DIR) {
            dir = optarg;
        } else if (c != OPT_MIB || parse_long(optarg, 0, 4096, &mib) != 0) {
            fprintf(stderr, "ms_spawn: bad option '%s'\n", argv[optind - 1]);
            return 2;
        }
    }
    nargs = argc - optind;
    if (dir == NULL || nargs < 1 || nargs > MAX_ARGS) {
        fputs("usage: ms_spawn --dir DIR [--mib P] CHILD [ARG]...\n", stderr);
        return 2;
    }
    for (int i = 0; i < nargs; i++)
        child_argv[i] = argv[optind + i];
    if (mib > 0) {
        p = malloc((size_t)mib * MIB);
        if (p == NULL)
            return 1;
        sum = touch_pages(p, (size_t)mib * MIB, 3);
    }

    failed |= run_posix_spawn(dir, nargs, line, sizeof line);
    puts(line);
    failed |= run_vfork(nargs, "vfork-exec", child_argv[0], 0, 0, line, sizeof line);
    puts(line);
    failed |= run_vfork(nargs, "vfork-exit", child_argv[0], 1, 5, line, sizeof line);
    puts(line);
    failed |= run_vfork(nargs, "vfork-fail", MISSING, 0, 127, line, sizeof line);
    puts(line);
    failed |= run_spawn_fail(nargs, line, sizeof line);
    puts(line);
    printf("parent: %ld MiB %s\n", mib,
           p == NULL || sum_pages(p, (size_t)mib * MIB) == sum ? "intact" : "CHANGED");
    free(p);
    return failed ? 1 : 0;
}
