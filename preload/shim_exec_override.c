/*
 * The exec family, exported so that an image that replaces itself leaves a last reading
 * first: VmHWM restarts in the new image, and the peak the old one reached since its last
 * reading would otherwise be lost (a Perl script that builds a 200 MiB string and then
 * runs `exec sleep`). Each function takes the reading (ms__before_exec, which does
 * nothing in a vfork child or an image that is not recording) and then does what the C
 * library's does: execve and execveat are the system calls themselves, execv and execvp
 * pass the environment, the execl forms build the argument vector, and execvpe (the
 * search of PATH, with its fallbacks) and fexecve (where the kernel lacks execveat) are
 * the C library's own, found once with dlsym.
 *
 * Everything here may run in a vfork child or a signal handler (execve is
 * async-signal-safe): the argument vectors of the execl forms live on the stack, or in
 * an anonymous mapping when they are too long for it, never in malloc's memory.
 */
#include "shim_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MS_EXPORT __attribute__((visibility("default")))

/* Arguments of an execl form kept on the stack; longer lists go to a mapping. */
#define STACK_ARGS 256

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

static int sys_execve(const char *path, char *const argv[], char *const envp[])
{
    return (int)syscall(SYS_execve, path, argv, envp);
}

MS_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    ms__before_exec();
    return sys_execve(path, argv, envp);
}

MS_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                       int flags)
{
    ms__before_exec();
    return (int)syscall(SYS_execveat, dirfd, path, argv, envp, flags);
}

MS_EXPORT int execv(const char *path, char *const argv[])
{
    ms__before_exec();
    return sys_execve(path, argv, environ);
}

MS_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    execvpe_fn fn;
    void *p;

    ms__before_exec();
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

    ms__before_exec();
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
    char *stack_args[STACK_ARGS];
    char **argv = stack_args;
    size_t n = 1, map_len = 0;
    char *const *envp = environ;
    va_list count;
    int rc;

    va_copy(count, ap);
    while (va_arg(count, char *) != NULL)
        n++;
    va_end(count);
    if (n + 1 > STACK_ARGS) {
        map_len = (n + 1) * sizeof(char *);
        argv = ms__sys_mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0);
        if (argv == MAP_FAILED) {
            errno = E2BIG;
            return -1;
        }
    }
    argv[0] = (char *)arg0;
    for (size_t i = 1; i <= n; i++)
        argv[i] = va_arg(ap, char *);
    if (kind == 2)
        envp = va_arg(ap, char *const *);
    if (kind == 1) {
        rc = execvpe(path, argv, envp);
    } else {
        ms__before_exec();
        rc = sys_execve(path, argv, envp);
    }
    if (map_len != 0) {
        const int saved = errno;
        ms__sys_munmap(argv, map_len);
        errno = saved;
    }
    return rc;
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
