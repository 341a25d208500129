/*
 * ms_daemon: a program that turns itself into a daemon and keeps working after the
 * process that started it has gone.
 *
 *   --mode libc    the C library's daemon(0, 0): fork (the parent leaves with _exit),
 *                  setsid, chdir("/"), stdin, stdout and stderr to /dev/null
 *   --mode manual  the classic double fork by hand: fork (the parent returns from main),
 *                  setsid, fork again (the session leader leaves with _exit), chdir("/"),
 *                  umask, and 0, 1, 2 onto /dev/null; with --close-all, every descriptor
 *                  is closed first with close_range (those of any library in the process
 *                  included), as many daemons do
 *
 * The parent prints one line first. The daemon writes its pid to DIR/daemon.pid, checks
 * its new state, allocates and touches --mib MiB, holds it for --hold-ms and then until
 * the file --until names exists (so that a test can look at it while it runs; a minute
 * at most, so that a daemon whose test has gone does not stay behind), checks its
 * memory, and writes DIR/daemon.txt (what it found; the same from run to run). DIR and
 * the --until path must be absolute.
 *
 * Usage: ms_daemon --mode libc|manual [--close-all] --dir DIR [--mib N] [--hold-ms T]
 *                  [--until FILE]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wl_common.h"

#define MIB ((size_t)1 << 20)

/* Longest wait for the --until file, in 10 ms steps: one minute. */
#define UNTIL_STEPS 6000

/* The daemon has no stderr left; a failure is visible as a missing or wrong report. */
static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4096], tmp[4200];
    int fd;
    const size_t len = strlen(text);

    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        exit(3);
    if (write(fd, text, len) != (ssize_t)len || close(fd) != 0 || rename(tmp, path) != 0)
        exit(3);
}

/* What a daemon must be: its own session, in /, with its standard streams on /dev/null. */
static void describe_state(char *out, size_t cap)
{
    struct stat null_st, st;
    char cwd[4096];
    int on_null = 0;

    if (stat("/dev/null", &null_st) == 0)
        for (int fd = 0; fd < 3; fd++)
            on_null += fstat(fd, &st) == 0 && st.st_rdev == null_st.st_rdev &&
                       S_ISCHR(st.st_mode);
    snprintf(out, cap, "session leader: %s\ncwd: %s\nstdio on /dev/null: %d of 3\n",
             getsid(0) == getpid() ? "yes" : "no",
             getcwd(cwd, sizeof cwd) != NULL ? cwd : "?", on_null);
}

static int daemonize_manual(int close_all)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0)
        return -1;
    if (pid > 0)
        return 1; /* the original process returns from main */
    if (setsid() < 0)
        _exit(4);
    pid = fork();
    if (pid < 0)
        _exit(4);
    if (pid > 0)
        _exit(0);
    if (chdir("/") != 0)
        _exit(4);
    umask(022);
    if (close_all && close_range(0, ~0U, 0) != 0)
        _exit(4);
    fd = open("/dev/null", O_RDWR);
    if (fd < 0 || dup2(fd, 0) != 0 || dup2(fd, 1) != 1 || dup2(fd, 2) != 2)
        _exit(4);
    if (fd > 2)
        close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    enum { OPT_MODE = 256, OPT_CLOSE_ALL, OPT_DIR, OPT_MIB, OPT_HOLD, OPT_UNTIL };
    static const struct option longopts[] = {
        {"mode", required_argument, NULL, OPT_MODE},
        {"close-all", no_argument, NULL, OPT_CLOSE_ALL},
        {"dir", required_argument, NULL, OPT_DIR},
        {"mib", required_argument, NULL, OPT_MIB},
        {"hold-ms", required_argument, NULL, OPT_HOLD},
        {"until", required_argument, NULL, OPT_UNTIL},
        {NULL, 0, NULL, 0},
    };
    const char *mode = NULL, *dir = NULL, *until = NULL;
    long mib = 0, hold_ms = 0;
    int close_all = 0;
    char state[4400], report[4600], pidtext[32];
    unsigned char *p;
    uint64_t sum;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == OPT_MODE)
            mode = optarg;
        else if (c == OPT_CLOSE_ALL)
            close_all = 1;
        else if (c == OPT_DIR)
            dir = optarg;
        else if (c == OPT_UNTIL)
            until = optarg;
        else if (!((c == OPT_MIB && parse_long(optarg, 0, 4096, &mib) == 0) ||
                   (c == OPT_HOLD && parse_long(optarg, 0, 600000, &hold_ms) == 0))) {
            fprintf(stderr, "ms_daemon: bad option '%s'\n", argv[optind - 1]);
            return 2;
        }
    }
    if (mode == NULL || dir == NULL || dir[0] != '/' || optind < argc ||
        (until != NULL && until[0] != '/') ||
        (strcmp(mode, "libc") != 0 && strcmp(mode, "manual") != 0) ||
        (close_all && strcmp(mode, "manual") != 0)) {
        fputs("usage: ms_daemon --mode libc|manual [--close-all] --dir /ABSOLUTE/DIR"
              " [--mib N] [--hold-ms T] [--until /ABSOLUTE/FILE]\n", stderr);
        return 2;
    }
    printf("ms_daemon: becoming a daemon (%s)\n", mode);
    fflush(stdout);
    if (strcmp(mode, "libc") == 0) {
        if (daemon(0, 0) != 0) {
            perror("ms_daemon: daemon");
            return 1;
        }
    } else {
        const int r = daemonize_manual(close_all);
        if (r < 0) {
            perror("ms_daemon: fork");
            return 1;
        }
        if (r > 0)
            return 0;
    }

    snprintf(pidtext, sizeof pidtext, "%ld\n", (long)getpid());
    write_file(dir, "daemon.pid", pidtext);
    describe_state(state, sizeof state);
    p = malloc((size_t)mib * MIB + 1);
    if (p == NULL)
        exit(3);
    sum = touch_pages(p, (size_t)mib * MIB, 5);
    sleep_ms(hold_ms);
    for (int i = 0; until != NULL && access(until, F_OK) != 0 && i < UNTIL_STEPS; i++)
        sleep_ms(10);
    snprintf(report, sizeof report, "%smemory: %ld MiB, checksum %016" PRIx64 " %s\n", state,
             mib, sum, sum_pages(p, (size_t)mib * MIB) == sum ? "intact" : "CHANGED");
    free(p);
    write_file(dir, "daemon.txt", report);
    return 0;
}
