/*
 * ms_forktree: a process tree made by fork() alone, never exec, every process with a
 * footprint of its own, all of them holding it at the same time.
 *
 * The parent forks --children children; child i allocates and touches (i + 1) x --step-mib
 * MiB, and child 0 also forks a grandchild of --grandchild-mib MiB. Then the parent
 * allocates --mib MiB itself. Every child and the grandchild, once its memory is
 * resident, writes DIR/<name>.pid with its pid (the only output that differs from run to
 * run; <name> is child-<i> or grandchild) and reports on a shared pipe. When all have, the
 * parent holds for --hold-ms (and, with --wait-file PATH, until PATH exists, so that a
 * test lets the tree go once it has seen each process measured with its memory, however
 * slowly the machine runs) and lets them go. Each child and the grandchild then checks
 * its memory still holds what it wrote, writes DIR/<name>.txt with its size and checksum,
 * and exits with status 10 + i (the grandchild with 7, which child 0 reports in its file).
 * The parent prints each child's exit status and exits 0, or 1 with a message on stderr.
 *
 * Usage: ms_forktree --dir DIR [--children N] [--step-mib S] [--grandchild-mib G]
 *                    [--mib P] [--hold-ms T] [--wait-file PATH]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl_common.h"

#define MIB ((size_t)1 << 20)
#define MAX_CHILDREN 32L
#define MAX_MIB 4096L
#define MAX_MS 600000L
#define GRANDCHILD_STATUS 7

typedef struct {
    const char *dir;
    long children, step_mib, grandchild_mib, mib, hold_ms;
    int ready[2]; /* each process writes one byte here once its memory is resident */
    int go[2];    /* the parent closes the write end to let everyone finish */
} tree_t;

static void die(const char *what)
{
    fprintf(stderr, "ms_forktree[%ld]: %s: %s\n", (long)getpid(), what, strerror(errno));
    exit(1);
}

static unsigned char *occupy(long mib, unsigned seed, uint64_t *sum)
{
    unsigned char *p;

    if (mib == 0) {
        *sum = 0;
        return NULL;
    }
    p = malloc((size_t)mib * MIB);
    if (p == NULL)
        die("malloc");
    *sum = touch_pages(p, (size_t)mib * MIB, seed);
    return p;
}

static void write_file(const tree_t *t, const char *name, const char *text);

/*
 * Writes DIR/<name>.pid, tells the parent this process is resident, then waits until it
 * closes `go`.
 */
static void report_and_wait(const tree_t *t, const char *name)
{
    char text[32], file[64];
    char c = 1;
    ssize_t n;

    snprintf(text, sizeof text, "%ld\n", (long)getpid());
    snprintf(file, sizeof file, "%s.pid", name);
    write_file(t, file, text);
    if (write(t->ready[1], &c, 1) != 1)
        die("write to the ready pipe");
    do
        n = read(t->go[0], &c, 1);
    while (n < 0 && errno == EINTR);
    if (n != 0)
        die("read from the go pipe");
}

static void write_file(const tree_t *t, const char *name, const char *text)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", t->dir, name);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0)
        die(path);
}

/* Checks the block, writes DIR/<name>.txt, and exits with `status`. */
static void finish(const tree_t *t, const char *name, long mib, const unsigned char *p,
                   uint64_t sum, const char *extra, int status)
{
    char text[512], file[64];
    const uint64_t now = p != NULL ? sum_pages(p, (size_t)mib * MIB) : 0;

    snprintf(text, sizeof text, "%s: %ld MiB, checksum %016" PRIx64 " %s%s\n", name, mib,
             sum, now == sum ? "intact" : "CHANGED", extra);
    snprintf(file, sizeof file, "%s.txt", name);
    write_file(t, file, text);
    exit(now == sum ? status : 1);
}

static void run_grandchild(const tree_t *t)
{
    uint64_t sum;
    unsigned char *p = occupy(t->grandchild_mib, 99, &sum);

    report_and_wait(t, "grandchild");
    finish(t, "grandchild", t->grandchild_mib, p, sum, "", GRANDCHILD_STATUS);
}

static void run_child(const tree_t *t, long i)
{
    char name[32], extra[64] = "";
    uint64_t sum;
    unsigned char *p;
    pid_t gc = -1;
    int st;

    if (close(t->go[1]) != 0)
        die("close");
    if (i == 0 && t->grandchild_mib > 0) {
        gc = fork();
        if (gc < 0)
            die("fork of the grandchild");
        if (gc == 0)
            run_grandchild(t);
    }
    p = occupy((i + 1) * t->step_mib, (unsigned)i, &sum);
    snprintf(name, sizeof name, "child-%ld", i);
    report_and_wait(t, name);
    if (gc > 0) {
        while (waitpid(gc, &st, 0) < 0)
            if (errno != EINTR)
                die("waitpid of the grandchild");
        snprintf(extra, sizeof extra, ", grandchild exit %d",
                 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    finish(t, name, (i + 1) * t->step_mib, p, sum, extra, (int)(10 + i));
}

int main(int argc, char **argv)
{
    enum { OPT_DIR = 256, OPT_CHILDREN, OPT_STEP, OPT_GRAND, OPT_MIB, OPT_HOLD, OPT_WAIT };
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, OPT_DIR},
        {"children", required_argument, NULL, OPT_CHILDREN},
        {"step-mib", required_argument, NULL, OPT_STEP},
        {"grandchild-mib", required_argument, NULL, OPT_GRAND},
        {"mib", required_argument, NULL, OPT_MIB},
        {"hold-ms", required_argument, NULL, OPT_HOLD},
        {"wait-file", required_argument, NULL, OPT_WAIT},
        {NULL, 0, NULL, 0},
    };
    tree_t t = {NULL, 3, 16, 0, 0, 0, {-1, -1}, {-1, -1}};
    pid_t pids[MAX_CHILDREN];
    const char *wait = NULL;
    unsigned char *p;
    uint64_t sum;
    long waiting;
    int c, failed = 0;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        long *target;
        long lo = 0, hi = MAX_MIB;
        switch (c) {
        case OPT_DIR:
            t.dir = optarg;
            continue;
        case OPT_WAIT:
            wait = optarg;
            continue;
        case OPT_CHILDREN: target = &t.children, lo = 1, hi = MAX_CHILDREN; break;
        case OPT_STEP: target = &t.step_mib; break;
        case OPT_GRAND: target = &t.grandchild_mib; break;
        case OPT_MIB: target = &t.mib; break;
        case OPT_HOLD: target = &t.hold_ms, hi = MAX_MS; break;
        default:
            fprintf(stderr, "ms_forktree: bad option '%s'\n", argv[optind - 1]);
            return 2;
        }
        if (parse_long(optarg, lo, hi, target) != 0) {
            fprintf(stderr, "ms_forktree: invalid value '%s'\n", optarg);
            return 2;
        }
    }
    if (t.dir == NULL || optind < argc) {
        fputs("usage: ms_forktree --dir DIR [--children N] [--step-mib S]"
              " [--grandchild-mib G] [--mib P] [--hold-ms T] [--wait-file PATH]\n", stderr);
        return 2;
    }
    if (pipe(t.ready) != 0 || pipe(t.go) != 0)
        die("pipe");
    fflush(stdout);
    for (long i = 0; i < t.children; i++) {
        pids[i] = fork();
        if (pids[i] < 0)
            die("fork");
        if (pids[i] == 0)
            run_child(&t, i);
    }
    p = occupy(t.mib, 200, &sum);
    /* Every child and the grandchild report once. */
    waiting = t.children + (t.grandchild_mib > 0);
    while (waiting > 0) {
        char b;
        const ssize_t n = read(t.ready[0], &b, 1);
        if (n == 1)
            waiting--;
        else if (n == 0 || errno != EINTR)
            die("read from the ready pipe");
    }
    sleep_ms(t.hold_ms);
    wait_file(wait);
    if (close(t.go[1]) != 0)
        die("close");
    for (long i = 0; i < t.children; i++) {
        int st;
        while (waitpid(pids[i], &st, 0) < 0)
            if (errno != EINTR)
                die("waitpid");
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 10 + i)
            failed = 1;
        printf("child %ld: %s %d\n", i, WIFEXITED(st) ? "exit" : "signal",
               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    }
    printf("parent: %ld MiB %s\n", t.mib,
           p == NULL || sum_pages(p, (size_t)t.mib * MIB) == sum ? "intact" : "CHANGED");
    free(p);
    return failed;
}
