/*
 * Entry points of libmemsweep.so: the constructor that reads the environment, finds the
 * run's pool (or creates one for a program measured without the launcher) and starts the
 * process image's records; the fork child handler; and the destructor and the exported
 * _exit and _Exit, which write the end. Each runs inside the program, so each keeps errno
 * as it found it, and none of them waits for anything.
 */
#include "shim_internal.h"

#include "memsweep/defaults.h"
#include "memsweep/env.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * The environment as the constructor was given it (libc's environ at that moment). The
 * constructor's variables are looked up here rather than with getenv, whose page of libc
 * a short program would otherwise pay a page fault for (about 10 µs on a virtual machine).
 */
static char **start_env;

static int same_text(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static const char *env_get(const char *name)
{
    if (start_env == NULL)
        return getenv(name);
    for (char **e = start_env; *e != NULL; e++) {
        const char *v = *e;
        const char *n = name;
        while (*n != '\0' && *v == *n) {
            v++;
            n++;
        }
        if (*n == '\0' && *v == '=')
            return v + 1;
    }
    return NULL;
}

/* Parses a whole string of decimal digits. Returns 0, or -EINVAL for anything else. */
static int parse_decimal(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (s[0] == '\0')
        return -EINVAL;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        const unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* One line about an environment variable we could not use, then the fallback taken. */
static void warn_env(const char *name, const char *value, const char *problem)
{
    char buf[512];
    ms_fmt_t f;

    ms__fmt_init(&f, buf, sizeof(buf));
    ms__fmt_str(&f, "memsweep: ");
    ms__fmt_str(&f, name);
    ms__fmt_str(&f, "=");
    ms__fmt_mem(&f, value, strnlen(value, 64));
    ms__fmt_str(&f, ": ");
    ms__fmt_str(&f, problem);
    ms__diag_line(&f);
}

static unsigned read_interval(void)
{
    const char *s = env_get(MS_ENV_INTERVAL_MS);
    uint64_t v;

    if (s == NULL || s[0] == '\0')
        return MS_DEFAULT_INTERVAL_MS;
    if (parse_decimal(s, &v) == 0 && v >= MS_MIN_INTERVAL_MS && v <= MS_MAX_INTERVAL_MS)
        return (unsigned)v;
    {
        char buf[160];
        ms_fmt_t f;
        ms__fmt_init(&f, buf, sizeof(buf));
        ms__fmt_str(&f, "not a whole number of milliseconds from ");
        ms__fmt_i64(&f, MS_MIN_INTERVAL_MS);
        ms__fmt_str(&f, " to ");
        ms__fmt_i64(&f, MS_MAX_INTERVAL_MS);
        ms__fmt_str(&f, "; using ");
        ms__fmt_i64(&f, MS_DEFAULT_INTERVAL_MS);
        warn_env(MS_ENV_INTERVAL_MS, s, buf);
    }
    return MS_DEFAULT_INTERVAL_MS;
}

/* A whole number from min to max, or the default and one line saying so. */
static uint64_t read_number(const char *name, uint64_t min, uint64_t max, uint64_t def,
                            const char *unit)
{
    const char *s = env_get(name);
    uint64_t v;

    if (s == NULL || s[0] == '\0')
        return def;
    if (parse_decimal(s, &v) == 0 && v >= min && v <= max)
        return v;
    {
        char buf[160];
        ms_fmt_t f;
        ms__fmt_init(&f, buf, sizeof(buf));
        ms__fmt_str(&f, "not a whole number of ");
        ms__fmt_str(&f, unit);
        ms__fmt_str(&f, " from ");
        ms__fmt_i64(&f, (int64_t)min);
        ms__fmt_str(&f, " to ");
        ms__fmt_i64(&f, (int64_t)max);
        ms__fmt_str(&f, "; using ");
        ms__fmt_i64(&f, (int64_t)def);
        warn_env(name, s, buf);
    }
    return def;
}

/* "0" or "1"; unset or empty is on. */
static int read_switch(const char *name)
{
    const char *s = env_get(name);

    if (s == NULL || s[0] == '\0' || same_text(s, "1"))
        return 1;
    if (same_text(s, "0"))
        return 0;
    warn_env(name, s, "not 0 or 1; using 1");
    return 1;
}

/* Largest step or release size accepted, in MiB (1 TiB). */
#define ALLOC_MB_MAX 1048576

/* Most allocation-driven samples a second accepted; 0 takes none and counts them. */
#define ALLOC_PER_S_MAX 100000

static void read_alloc_config(ms_alloc_config_t *a)
{
    a->enabled = read_switch(MS_ENV_ALLOC);
    a->stacks = read_switch(MS_ENV_STACKS);
    a->step_bytes = read_number(MS_ENV_ALLOC_STEP_MB, 1, ALLOC_MB_MAX,
                                MS_DEFAULT_ALLOC_STEP_MB, "MiB") << 20;
    a->release_bytes = read_number(MS_ENV_RELEASE_MB, 1, ALLOC_MB_MAX,
                                   MS_DEFAULT_RELEASE_MB, "MiB") << 20;
    /* By default the release size: the blocks whose release is worth a sample. */
    a->block_bytes = read_number(MS_ENV_BLOCK_MB, 0, ALLOC_MB_MAX, a->release_bytes >> 20,
                                 "MiB") << 20;
    a->max_per_s = (unsigned)read_number(MS_ENV_ALLOC_MAX_PER_S, 0, ALLOC_PER_S_MAX,
                                         MS_DEFAULT_ALLOC_MAX_PER_S, "samples a second");
}

/*
 * Makes the database path absolute, so that neither a chdir of the program nor a child
 * started elsewhere moves it. Returns 1 when it was relative.
 */
static int absolute_path(const char *path, char *out, size_t cap)
{
    ms_fmt_t f;

    ms__fmt_init(&f, out, cap);
    if (path[0] == '/') {
        ms__fmt_str(&f, path);
        return f.truncated ? -ENAMETOOLONG : 0;
    }
    if (getcwd(out, cap) == NULL)
        return -errno;
    f.len = strlen(out);
    ms__fmt_str(&f, "/");
    ms__fmt_str(&f, path);
    return f.truncated ? -ENAMETOOLONG : 1;
}

static void fork_prepare(void)
{
    const int saved = errno;

    ms__image_fork_prepare();
    errno = saved;
}

static void fork_parent(void)
{
    const int saved = errno;

    ms__image_fork_parent();
    errno = saved;
}

static void fork_child(void)
{
    const int saved = errno;

    ms__alloc_fork_child(ms__image_fork_child());
    /* Last: signals held since the prepare handler may now arrive, in a child made whole. */
    ms__image_fork_child_done();
    errno = saved;
}

/* "memsweep: <what>; not measuring", where what names the file and the reason. */
static void not_measuring(const char *what)
{
    char buf[MS__PATH_MAX + 256];
    ms_fmt_t f;

    ms__fmt_init(&f, buf, sizeof(buf));
    ms__fmt_str(&f, "memsweep: ");
    ms__fmt_str(&f, what);
    ms__fmt_str(&f, "; not measuring");
    ms__diag_line(&f);
}

/* The same, as "memsweep: <path>: <why>; not measuring". */
static __attribute__((noinline)) void not_measuring_because(const char *path, const char *why)
{
    char buf[MS__PATH_MAX + 160];
    ms_fmt_t f;

    ms__fmt_init(&f, buf, sizeof(buf));
    ms__fmt_str(&f, path);
    ms__fmt_str(&f, ": ");
    ms__fmt_str(&f, why);
    not_measuring(buf);
}

/*
 * The run's pool, named by MEMSWEEP_SPOOL: the common case, so it keeps its frame small
 * (the path buffers of create_pool would put the calls below it on stack pages that a
 * short program never touches otherwise, each a page fault).
 */
static __attribute__((noinline)) int open_pool(const char *spool)
{
    char whybuf[256];
    ms_fmt_t why;
    int err;

    ms__fmt_init(&why, whybuf, sizeof(whybuf));
    err = ms__pool_open(spool, &why);
    if (err != 0)
        not_measuring_because(spool, whybuf);
    return err;
}

/* A new pool for a program measured with MEMSWEEP_DB only. */
static __attribute__((noinline)) int create_pool(const char *db, unsigned interval_ms)
{
    char whybuf[MS__PATH_MAX + 128];
    char db_abs[MS__PATH_MAX];
    ms_fmt_t why;
    int rel, err;

    ms__fmt_init(&why, whybuf, sizeof(whybuf));
    rel = absolute_path(db, db_abs, sizeof(db_abs));
    if (rel < 0) {
        ms__fmt_mem(&why, db, strnlen(db, 64));
        ms__fmt_str(&why, rel == -ENAMETOOLONG ? ": path too long" : ": no working directory");
        not_measuring(whybuf);
        return rel;
    }
    err = ms__pool_create(db_abs, interval_ms, &why);
    if (err != 0) {
        not_measuring(whybuf);
        return err;
    }
    setenv(MS_ENV_SPOOL, ms__pool_path(), 1);
    if (rel)
        setenv(MS_ENV_DB, db_abs, 1);
    return 0;
}

/*
 * The pool of the run: MEMSWEEP_SPOOL's, or, for a program measured with MEMSWEEP_DB
 * only, a new one in the database's spool directory, whose path is exported so that the
 * program's children join the same run. setenv is safe here, before main, while the
 * program has no threads that could read the environment at the same time.
 */
static int find_pool(const char *spool, const char *db, unsigned interval_ms)
{
    if (spool != NULL && spool[0] != '\0')
        return open_pool(spool);
    return create_pool(db, interval_ms);
}

/* glibc passes the program's argc, argv and environment to a library's constructors. */
__attribute__((constructor)) static void shim_init(int argc, char **argv, char **envp)
{
    ms_alloc_config_t alloc;
    const int saved = errno;
    const char *spool, *db, *debug;
    int64_t started_ns, start_mono_ns;
    unsigned interval_ms;

    start_env = envp;
    /*
     * The exec functions that are the C library's, in every process the shim is loaded
     * into, measured or not: none is then looked up in a vfork child or a signal handler.
     */
    ms__exec_resolve();
    spool = env_get(MS_ENV_SPOOL);
    db = env_get(MS_ENV_DB);
    /* Until measuring is certain, the allocation hooks only forward. */
    if ((spool == NULL || spool[0] == '\0') && (db == NULL || db[0] == '\0')) {
        ms__alloc_off();
        goto out;
    }
    started_ns = ms__clock_sys_ns(CLOCK_REALTIME);
    start_mono_ns = ms__clock_sys_ns(CLOCK_MONOTONIC);
    debug = env_get(MS_ENV_DEBUG);
    ms__diag_init(debug != NULL && same_text(debug, "1"));
    ms__proc_exe_reset();
    ms__proc_args_init(argc, argv);
    interval_ms = read_interval();
    read_alloc_config(&alloc);
    if (find_pool(spool, db, interval_ms) != 0) {
        ms__alloc_off();
        goto out;
    }
    /* The run's interval is the pool's: every process of a run samples alike. */
    if (ms__pool_info()->interval_ms != 0)
        interval_ms = ms__pool_info()->interval_ms;
    /*
     * Without the handler a forked child would write into its parent's chunks: a process
     * that cannot register it is not measured.
     */
    if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0) {
        ms__alloc_off();
        goto out;
    }
    /* The hooks sample from now on, so that the start reading has the heap figure. */
    ms__alloc_configure(&alloc);
    ms__resolve_exit();
    if (ms__image_start(getppid(), started_ns, start_mono_ns, ms__alloc_heap_kb(),
                        interval_ms) != 0)
        ms__alloc_off();
out:
    start_env = NULL;
    errno = saved;
}

/* The _exit the program would have called without the shim. */
static void (*next_exit)(int);

void ms__resolve_exit(void)
{
    const int saved = errno;
    void *sym = dlsym(RTLD_NEXT, "_exit");

    /* Converting a data pointer from dlsym to a function pointer, as POSIX allows. */
    memcpy(&next_exit, &sym, sizeof next_exit);
    errno = saved;
}

void ms__real_exit(int status)
{
    if (next_exit != NULL)
        next_exit(status);
    for (;;)
        syscall(SYS_exit_group, status);
}

static void end_image(void)
{
    const int saved = errno;

    /*
     * Not in a vfork child, which shares the parent's memory and must change nothing (its
     * pid is not the owner's). An image whose end another thread is writing gets here
     * too: ms__image_end waits for that thread.
     */
    if (ms__pid() == ms__spool_owner()) {
        /* No more allocation-driven samples; the exiting thread's count is folded. */
        ms__alloc_stop();
        ms__image_end(ms__alloc_heap_kb());
    }
    errno = saved;
}

void ms__before_exit(void)
{
    end_image();
}

__attribute__((destructor)) static void shim_fini(void)
{
    end_image();
}
