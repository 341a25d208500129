/*
 * A preloadable library for tests: it logs how each child that the program reaps ended,
 * as the kernel reported it to the program itself. waitpid, wait4, wait3 and wait are
 * interposed (each one: glibc's own calls between them do not go through the dynamic
 * linker); every child they return is appended to the file named by MS_WAITLOG as one
 * line "PID exited STATUS" or "PID killed SIGNAL". The program's view of its children is
 * thus observed without tracing it (ptrace stops a process at every signal it receives,
 * which changes the timing of signal races) and without the shim's records. The lines are
 * formatted and written with write(2) alone, since programs reap children in signal
 * handlers.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t waitpid(pid_t pid, int *wstatus, int options);
pid_t wait4(pid_t pid, int *wstatus, int options, struct rusage *rusage);
pid_t wait(int *wstatus);
pid_t wait3(int *wstatus, int options, struct rusage *rusage);

/* Appends the decimal digits of v to p; returns the end. */
static char *put_uint(char *p, unsigned long v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static void log_reaped(pid_t pid, int status)
{
    const char *const path = getenv("MS_WAITLOG");
    if (path == NULL || pid <= 0)
        return;
    char line[96];
    char *p = put_uint(line, (unsigned long)pid);
    if (WIFEXITED(status)) {
        memcpy(p, " exited ", 8);
        p = put_uint(p + 8, (unsigned long)WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        memcpy(p, " killed ", 8);
        p = put_uint(p + 8, (unsigned long)WTERMSIG(status));
    } else {
        return; /* stopped or continued: not an end */
    }
    *p++ = '\n';
    const int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    const ssize_t w = write(fd, line, (size_t)(p - line));
    (void)w;
    close(fd);
}

pid_t wait4(pid_t pid, int *wstatus, int options, struct rusage *rusage)
{
    static pid_t (*real)(pid_t, int *, int, struct rusage *);
    if (real == NULL)
        real = (pid_t(*)(pid_t, int *, int, struct rusage *))dlsym(RTLD_NEXT, "wait4");
    if (real == NULL) {
        errno = ENOSYS;
        return -1;
    }
    int status = 0;
    const pid_t r = real(pid, &status, options, rusage);
    if (r > 0) {
        const int saved = errno;
        log_reaped(r, status);
        errno = saved;
        if (wstatus != NULL)
            *wstatus = status;
    }
    return r;
}

pid_t waitpid(pid_t pid, int *wstatus, int options)
{
    return wait4(pid, wstatus, options, NULL);
}

pid_t wait(int *wstatus)
{
    return wait4(-1, wstatus, 0, NULL);
}

pid_t wait3(int *wstatus, int options, struct rusage *rusage)
{
    return wait4(-1, wstatus, options, rusage);
}
