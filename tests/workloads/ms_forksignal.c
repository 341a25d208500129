/*
 * ms_forksignal: a program whose fork children end in a signal handler that arrives
 * while fork handlers run (ms_atforksig raises it), by _exit(7). The parent touches --mib
 * MiB, forks three children one after the other, prints how each ended, holds for
 * --hold-ms and exits 0. A child must end as itself: its end recorded as its own, never
 * as its parent's.
 *
 * Usage: ms_forksignal [--mib N] [--hold-ms T]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int ms_atforksig_registered(void);

static void on_usr1(int sig)
{
    (void)sig;
    _exit(7);
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    size_t mib = 64;
    long hold_ms = 1000;
    char *big;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--mib") == 0)
            mib = (size_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--hold-ms") == 0)
            hold_ms = strtol(argv[i + 1], NULL, 10);
    }
    if (!ms_atforksig_registered()) {
        fputs("ms_forksignal: the fork handler of ms_atforksig is not registered\n", stderr);
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    big = malloc(mib << 20);
    if (big == NULL)
        return 1;
    memset(big, 1, mib << 20);
    for (int i = 0; i < 3; i++) {
        int st = 0;
        const pid_t p = fork();
        if (p == 0) {
            pause(); /* the signal ends the child first */
            _exit(0);
        }
        if (p < 0 || waitpid(p, &st, 0) != p)
            return 1;
        printf("child %d: %s %d\n", i, WIFEXITED(st) ? "exit" : "signal",
               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    }
    fflush(stdout);
    {
        const struct timespec ts = {hold_ms / 1000, (hold_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    free(big);
    return 0;
}
