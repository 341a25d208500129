/*
 * The exec family, exported so that an image that replaces itself leaves a last reading
 * first: VmHWM restarts in the new image, and the peak the old one reached since its last
 * reading would otherwise be lost (a Perl script that builds a 200 MiB string and then
 * runs `exec sleep`). Each function takes the reading (ms__before_exec, which does
 * nothing in a vfork child or an image that is not recording) and then does what the C
 * library's does: execve and execveat are the system calls themselves, execv and execvp
 * pass the environment, the execl forms build the argument vector, and execvpe (the
 * search of PATH, with its fallbacks) and fexecve (where the kernel lacks execveat) are
 * the C library's own, found with dlsym at load (ms__exec_resolve, from the constructor;
 * at their first use when a program execs before the shim's constructor has run).
 *
 * Everything here may run in a vfork child or a signal handler (execve is
 * async-signal-safe): the argument vectors of the execl forms live on the stack, sized to
 * the arguments as the C library sizes them, never in malloc's memory.
 */
#include "shim_internal.h"

#include <alloca.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MS_EXPORT __attribute__((visibility("default")))

extern char **environ;

typedef int (*execvpe_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);

static void *next_of(const char *name, void *_Atomic *cache)
{
    void *p = atomic_load_explicit(cache, memory_order_acquire);

    if (p == NULL) {
        const int saved = errno;
        p = dlsym(RTLD_NEXT, name);
        atomic_store_explicit(cache, p, memory_order_release);
        errno = saved;
    }
    return p;
}

static void *_Atomic next_execvpe_p;
static void *_Atomic next_fexecve_p;

void ms__exec_resolve(void)
{
    (void)next_of("execvpe", &next_execvpe_p);
    (void)next_of("fexecve", &next_fexecve_p);
}

static int sys_execve(const char *path, char *const argv[], char *const envp[])
{
    return (int)syscall(SYS_execve, path, argv, envp);
}

MS_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    ms__image_exec();
    return sys_execve(path, argv, envp);
}

MS_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                       int flags)
{
    ms__image_exec();
    return (int)syscall(SYS_execveat, dirfd, path, argv, envp, flags);
}

MS_EXPORT int execv(const char *path, char *const argv[])
{
    ms__image_exec();
    return sys_execve(path, argv, environ);
}

MS_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    execvpe_fn fn;
    void *p;

    ms__image_exec();
    p = next_of("execvpe", &next_execvpe_p);
    if (p == NULL) {
        errno = ENOSYS;
        return -1;
    }
    memcpy(&fn, &p, sizeof fn);
    return fn(file, argv, envp);
}

MS_EXPORT int execvp(const char *file, char *const argv[])
{
    return execvpe(file, argv, environ);
}

MS_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    fexecve_fn fn;
    void *p;
    const void *av = argv, *ev = envp;

    /*
     * The C library's checks. Its header declares both pointers nonnull, and the compiler
     * would drop a plain test of them: the copies are hidden from it first.
     */
    __asm__("" : "+r"(av), "+r"(ev));
    if (fd < 0 || av == NULL || ev == NULL) {
        errno = EINVAL;
        return -1;
    }
    ms__image_exec();
    syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
    if (errno != ENOSYS)
        return -1;
    /* An old kernel: the C library's way through /proc/self/fd. */
    p = next_of("fexecve", &next_fexecve_p);
    if (p == NULL) {
        errno = ENOSYS;
        return -1;
    }
    memcpy(&fn, &p, sizeof fn);
    return fn(fd, argv, envp);
}

/*
 * The argument vector of an execl form: arg0 and the arguments after it up to the NULL,
 * and, with want_env, the environment after that NULL. kind: 0 execl, 1 execlp, 2 execle.
 */
static int exec_list(int kind, const char *path, const char *arg0, va_list ap)
{
    char **argv;
    size_t n = 1;
    char *const *envp = environ;
    va_list count;

    va_copy(count, ap);
    while (va_arg(count, char *) != NULL)
        n++;
    va_end(count);
    /* As the C library does: on the stack, however many arguments there are. */
    argv = alloca((n + 1) * sizeof(char *));
    argv[0] = (char *)arg0;
    for (size_t i = 1; i <= n; i++)
        argv[i] = va_arg(ap, char *);
    if (kind == 2)
        envp = va_arg(ap, char *const *);
    if (kind == 1)
        return execvpe(path, argv, envp);
    ms__image_exec();
    return sys_execve(path, argv, envp);
}

MS_EXPORT int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    int rc;

    va_start(ap, arg);
    rc = exec_list(0, path, arg, ap);
    va_end(ap);
    return rc;
}

MS_EXPORT int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    int rc;

    va_start(ap, arg);
    rc = exec_list(1, file, arg, ap);
    va_end(ap);
    return rc;
}

MS_EXPORT int execle(const char *path, const char *arg, ...)
{
    va_list ap;
    int rc;

    va_start(ap, arg);
    rc = exec_list(2, path, arg, ap);
    va_end(ap);
    return rc;
}
