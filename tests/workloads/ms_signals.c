/*
 * ms_signals: a program whose signal handling leaves no room for anyone else's signals.
 * Code running inside it must neither send it a signal nor change its masks; the output
 * of this program shows both, and is the same with the shim as without.
 *
 *   --mode handlers   unblocks every signal and installs a counting SA_SIGINFO handler
 *                     for every signal that can be caught (SIGCHLD, SIGALRM, SIGPROF,
 *                     SIGSEGV and the real-time ones included). It then allocates,
 *                     holds, forks --children children one after the other (each must
 *                     see no handler run in it), raises every caught signal once
 *                     (real-time ones through sigqueue with a value the handler checks),
 *                     lets ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF expire once each,
 *                     and prints how often each handler ran. A genuine fault (SIGSEGV,
 *                     SIGBUS, SIGILL, SIGFPE, SIGTRAP from the hardware) restores the
 *                     default action, so it still ends the process instead of looping.
 *   --mode block-all  blocks every signal first thing in main, then allocates, holds,
 *                     sends itself SIGINT, SIGUSR1, SIGTERM and a queued SIGRTMIN+2, all of
 *                     which must stay pending (one thread with them unblocked would take
 *                     them and die), forks children (each checks it inherited the full
 *                     mask and no pending signal), and finally takes every pending signal
 *                     with sigtimedwait and prints them in the order taken.
 *
 * Both print the mask main started with. Exit status 0, or 1 when a check failed. With
 * --wait-file PATH the hold after the allocation lasts, after --hold-ms, until PATH
 * exists: a test then sees the process measured while it holds, however slowly the
 * machine runs.
 *
 * Usage: ms_signals --mode handlers|block-all [--mib N] [--children K] [--hold-ms T]
 *                   [--wait-file PATH]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wl_common.h"

#define MIB ((size_t)1 << 20)

/* Longest wait for a timer to expire once, in milliseconds of wall time. */
#define TIMER_WAIT_MS 10000

static volatile sig_atomic_t counts[NSIG];
static volatile sig_atomic_t bad_values;
static int caught[NSIG]; /* a handler is installed */

static const char *name_of(int sig, char *buf, size_t cap)
{
    const char *abbrev;

    if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
        snprintf(buf, cap, "SIGRTMIN+%d", sig - SIGRTMIN);
        return buf;
    }
    abbrev = sigabbrev_np(sig);
    snprintf(buf, cap, "SIG%s", abbrev != NULL ? abbrev : "?");
    return buf;
}

static void print_set(const char *what, const sigset_t *set)
{
    char buf[32];
    int n = 0;

    printf("%s:", what);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sigismember(set, sig) == 1) {
            printf(" %s", name_of(sig, buf, sizeof buf));
            n++;
        }
    }
    printf("%s\n", n == 0 ? " none" : "");
}

static int is_fault(int sig)
{
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP;
}

static void on_signal(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    counts[sig]++;
    if (info->si_code == SI_QUEUE && info->si_value.sival_int != sig)
        bad_values++;
    /* si_code > 0: sent by the kernel for a real fault, which returning would repeat. */
    if (is_fault(sig) && info->si_code > 0)
        signal(sig, SIG_DFL);
}

static long total_count(void)
{
    long n = 0;

    for (int sig = 1; sig < NSIG; sig++)
        n += counts[sig];
    return n;
}

static unsigned char *occupy(long mib, unsigned seed)
{
    unsigned char *p = malloc((size_t)mib * MIB + 1);

    if (p == NULL) {
        fputs("ms_signals: malloc failed\n", stderr);
        exit(1);
    }
    touch_pages(p, (size_t)mib * MIB, seed);
    return p;
}

static int wait_child(pid_t pid, long i)
{
    int st;

    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    printf("child %ld: %s %d\n", i, WIFEXITED(st) ? "exit" : "signal",
           WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Arms `which` to expire once and waits until the handler of `sig` has run once more. */
static int one_expiry(int which, int sig, int busy)
{
    const struct itimerval once = {{0, 0}, {0, 20000}};
    const sig_atomic_t before = counts[sig];
    volatile unsigned long spin = 0;
    long waited = 0;

    if (setitimer(which, &once, NULL) != 0)
        return -1;
    while (counts[sig] == before && waited < TIMER_WAIT_MS) {
        if (busy) {
            /* Virtual and profiling timers count CPU time: burn some. */
            for (int k = 0; k < 1000000; k++)
                spin++;
            waited++; /* roughly; only a bound against hanging */
        } else {
            sleep_ms(1);
            waited++;
        }
    }
    return counts[sig] == before + 1 ? 0 : -1;
}

/* The file that ends the hold after the allocation (--wait-file); NULL: none. */
static const char *hold_file;

static int run_handlers(long mib, long children, long hold_ms)
{
    struct sigaction sa;
    unsigned char *p;
    char buf[32];
    int failed = 0, n_caught = 0;

    /* Whatever mask this process inherited, every handler must be able to run. */
    sigemptyset(&sa.sa_mask);
    if (sigprocmask(SIG_SETMASK, &sa.sa_mask, NULL) != 0)
        return 1;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        /* glibc keeps the two below SIGRTMIN for itself and refuses them. */
        caught[sig] = sigaction(sig, &sa, NULL) == 0;
        n_caught += caught[sig];
    }
    printf("handlers installed: %d\n", n_caught);
    p = occupy(mib, 1);
    sleep_ms(hold_ms);
    wait_file(hold_file);

    fflush(stdout);
    for (long i = 0; i < children; i++) {
        const pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            const long at_fork = total_count();
            unsigned char *q = occupy(8, 2);
            sleep_ms(hold_ms / 4);
            free(q);
            _exit(total_count() == at_fork ? 0 : 100);
        }
        failed |= wait_child(pid, i);
    }

    for (int sig = 1; sig < SIGRTMIN; sig++) {
        if (caught[sig] && raise(sig) != 0)
            failed = 1;
    }
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++) {
        const union sigval v = {.sival_int = sig};
        if (caught[sig] && sigqueue(getpid(), sig, v) != 0)
            failed = 1;
    }
    if (one_expiry(ITIMER_REAL, SIGALRM, 0) != 0 || one_expiry(ITIMER_VIRTUAL, SIGVTALRM, 1) != 0 ||
        one_expiry(ITIMER_PROF, SIGPROF, 1) != 0) {
        fputs("ms_signals: a timer did not expire exactly once\n", stderr);
        failed = 1;
    }

    for (int sig = 1; sig < NSIG; sig++) {
        if (caught[sig])
            printf("%s %d\n", name_of(sig, buf, sizeof buf), (int)counts[sig]);
    }
    printf("wrong sigqueue values: %d\n", (int)bad_values);
    free(p);
    return failed || bad_values != 0;
}

static int run_block_all(long mib, long children, long hold_ms)
{
    const union sigval v = {.sival_int = 42};
    sigset_t all, pending;
    siginfo_t info;
    unsigned char *p;
    char buf[32];
    int failed = 0;

    sigfillset(&all);
    if (sigprocmask(SIG_BLOCK, &all, NULL) != 0)
        return 1;
    p = occupy(mib, 3);
    sleep_ms(hold_ms);
    wait_file(hold_file);
    if (kill(getpid(), SIGTERM) != 0 || kill(getpid(), SIGINT) != 0 ||
        kill(getpid(), SIGUSR1) != 0 || sigqueue(getpid(), SIGRTMIN + 2, v) != 0)
        return 1;
    sigpending(&pending);
    print_set("pending after sending", &pending);

    fflush(stdout);
    for (long i = 0; i < children; i++) {
        const pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            sigset_t mask, child_pending;
            int ok;
            unsigned char *q = occupy(8, 4);
            sleep_ms(hold_ms / 4);
            free(q);
            sigprocmask(SIG_SETMASK, NULL, &mask);
            sigpending(&child_pending);
            ok = sigisemptyset(&child_pending);
            for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP && sigismember(&all, sig) == 1)
                    ok &= sigismember(&mask, sig) == 1;
            _exit(ok ? 0 : 1);
        }
        failed |= wait_child(pid, i);
    }
    sigpending(&pending);
    print_set("pending after the children", &pending);

    printf("taken:");
    for (;;) {
        const struct timespec zero = {0, 0};
        const int sig = sigtimedwait(&all, &info, &zero);
        if (sig < 0)
            break;
        printf(" %s", name_of(sig, buf, sizeof buf));
        if (sig == SIGRTMIN + 2 && info.si_value.sival_int != 42)
            printf("(wrong value %d)", info.si_value.sival_int);
    }
    putchar('\n');
    free(p);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    enum { OPT_MODE = 256, OPT_MIB, OPT_CHILDREN, OPT_HOLD, OPT_WAIT };
    static const struct option longopts[] = {
        {"mode", required_argument, NULL, OPT_MODE},
        {"mib", required_argument, NULL, OPT_MIB},
        {"children", required_argument, NULL, OPT_CHILDREN},
        {"hold-ms", required_argument, NULL, OPT_HOLD},
        {"wait-file", required_argument, NULL, OPT_WAIT},
        {NULL, 0, NULL, 0},
    };
    const char *mode = NULL;
    long mib = 0, children = 0, hold_ms = 0;
    sigset_t at_start;
    int c;

    /* First, before anything can change it. */
    sigprocmask(SIG_SETMASK, NULL, &at_start);
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == OPT_MODE)
            mode = optarg;
        else if (c == OPT_WAIT)
            hold_file = optarg;
        else if (!((c == OPT_MIB && parse_long(optarg, 0, 4096, &mib) == 0) ||
                   (c == OPT_CHILDREN && parse_long(optarg, 0, 64, &children) == 0) ||
                   (c == OPT_HOLD && parse_long(optarg, 0, 600000, &hold_ms) == 0))) {
            fprintf(stderr, "ms_signals: bad option '%s'\n", argv[optind - 1]);
            return 2;
        }
    }
    if (mode == NULL || optind < argc ||
        (strcmp(mode, "handlers") != 0 && strcmp(mode, "block-all") != 0)) {
        fputs("usage: ms_signals --mode handlers|block-all [--mib N] [--children K]"
              " [--hold-ms T] [--wait-file PATH]\n", stderr);
        return 2;
    }
    print_set("blocked at start", &at_start);
    if (strcmp(mode, "handlers") == 0)
        return run_handlers(mib, children, hold_ms);
    return run_block_all(mib, children, hold_ms);
}
