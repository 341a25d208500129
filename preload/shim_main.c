/*
 * Entry points of libmemsweep.so: the constructor that reads the environment and starts
 * the sampler, the destructor that asks it for the end sample, and the fork handlers.
 * Each runs inside the program, so each keeps errno as it found it, and none of them can
 * block for longer than MS__WAIT_MS.
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
    const char *s = getenv(MS_ENV_INTERVAL_MS);
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
    const char *s = getenv(name);
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
    const char *s = getenv(name);

    if (s == NULL || s[0] == '\0' || strcmp(s, "1") == 0)
        return 1;
    if (strcmp(s, "0") == 0)
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
    a->max_per_s = (unsigned)read_number(MS_ENV_ALLOC_MAX_PER_S, 0, ALLOC_PER_S_MAX,
                                         MS_DEFAULT_ALLOC_MAX_PER_S, "samples a second");
}

static int64_t read_run_id(void)
{
    const char *s = getenv(MS_ENV_RUN_ID);
    uint64_t v;

    if (s == NULL || s[0] == '\0')
        return 0;
    if (parse_decimal(s, &v) == 0 && v > 0 && v <= INT64_MAX)
        return (int64_t)v;
    warn_env(MS_ENV_RUN_ID, s, "not a run id; recording a run of this program's own");
    return 0;
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

    ms__sampler_fork_prepare();
    errno = saved;
}

static void fork_parent(void)
{
    const int saved = errno;

    ms__sampler_fork_parent();
    errno = saved;
}

static void fork_child(void)
{
    const int saved = errno;

    ms__sampler_fork_child();
    errno = saved;
}

/*
 * Without MEMSWEEP_RUN_ID the first process creates a run and exports its id, so that
 * the program's children join that run instead of each starting one. The wait happens
 * before main, while the program has no threads that could race with setenv.
 */
static void export_run(const ms_config_t *cfg, int was_relative)
{
    char buf[32];
    ms_fmt_t f;
    int64_t run_id;

    if (ms__sampler_wait_registered(&run_id, MS__WAIT_MS) != 0)
        return;
    ms__fmt_init(&f, buf, sizeof(buf));
    ms__fmt_i64(&f, run_id);
    setenv(MS_ENV_RUN_ID, buf, 1);
    if (was_relative)
        setenv(MS_ENV_DB, cfg->db_path, 1);
}

__attribute__((constructor)) static void shim_init(void)
{
    static ms_config_t cfg;
    ms_alloc_config_t alloc;
    const int saved = errno;
    const char *db = getenv(MS_ENV_DB);
    const char *debug;
    int rel;

    /* Until measuring is certain, the allocation hooks only forward. */
    if (db == NULL || db[0] == '\0') {
        ms__alloc_off();
        goto out;
    }
    debug = getenv(MS_ENV_DEBUG);
    ms__diag_init(debug != NULL && strcmp(debug, "1") == 0);
    cfg.started_ns = ms__clock_ns(CLOCK_REALTIME);
    cfg.interval_ms = read_interval();
    cfg.run_id = read_run_id();
    cfg.private_fds = read_switch(MS_ENV_PRIVATE_FDS);
    read_alloc_config(&alloc);
    rel = absolute_path(db, cfg.db_path, sizeof(cfg.db_path));
    if (rel < 0) {
        ms__alloc_off();
        char buf[256];
        ms_fmt_t f;
        ms__fmt_init(&f, buf, sizeof(buf));
        ms__fmt_str(&f, "memsweep: ");
        ms__fmt_mem(&f, db, strnlen(db, 64));
        ms__fmt_str(&f, rel == -ENAMETOOLONG ? ": path too long" : ": no working directory");
        ms__fmt_str(&f, "; not measuring");
        ms__diag_line(&f);
        goto out;
    }
    if (ms__diag_debug()) {
        char buf[MS__PATH_MAX + 128];
        ms_fmt_t f;
        ms__diag_debug_start(&f, buf, sizeof(buf));
        ms__fmt_str(&f, "sampling every ");
        ms__fmt_i64(&f, cfg.interval_ms);
        ms__fmt_str(&f, " ms into ");
        ms__fmt_str(&f, cfg.db_path);
        if (cfg.run_id != 0) {
            ms__fmt_str(&f, ", run ");
            ms__fmt_i64(&f, cfg.run_id);
        } else {
            ms__fmt_str(&f, ", in a run of its own");
        }
        ms__diag_line(&f);
        ms__diag_debug_start(&f, buf, sizeof(buf));
        if (alloc.enabled) {
            ms__fmt_str(&f, "allocation samples every ");
            ms__fmt_i64(&f, (int64_t)(alloc.step_bytes >> 20));
            ms__fmt_str(&f, " MiB of heap growth and before releases of ");
            ms__fmt_i64(&f, (int64_t)(alloc.release_bytes >> 20));
            ms__fmt_str(&f, " MiB, at most ");
            ms__fmt_i64(&f, alloc.max_per_s);
            ms__fmt_str(&f, alloc.stacks ? " a second, with stacks" : " a second, no stacks");
        } else {
            ms__fmt_str(&f, "allocation samples off");
        }
        ms__diag_line(&f);
    }
    /*
     * The hooks start sampling before the sampler runs, so that its start reading has the
     * heap figure; its queue waits for it.
     */
    ms__alloc_configure(&alloc);
    /*
     * Without the handlers a forked child is simply not measured; the parent still is.
     * Its allocation hooks then take no sample either, being in another process than the
     * one configured (shim_trigger.c).
     */
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    ms__resolve_exit();
    /*
     * Every descriptor the shim will need is opened now, while no code of the program can
     * be opening or closing descriptors at the same time (shim_vfs.c says why that
     * matters); from the end of this function on, nothing of the shim takes a low number.
     */
    ms__vfs_low_ok(1);
    ms__store_init();
    ms__procfd_open();
    ms__vfs_expect_private(cfg.private_fds);
    ms__vfs_reserve(cfg.db_path);
    if (ms__sampler_start(&cfg) != 0) {
        ms__alloc_off();
        ms__vfs_low_ok(0);
        goto out;
    }
    if (cfg.run_id == 0) {
        export_run(&cfg, rel);
        /* Registering may have created the database and its WAL. */
        ms__vfs_reserve(cfg.db_path);
    }
    ms__vfs_low_ok(0);
out:
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

void ms__before_exit(void)
{
    const int saved = errno;

    ms__sampler_stop(MS__WAIT_MS);
    ms__diag_flush_relay();
    errno = saved;
}

__attribute__((destructor)) static void shim_fini(void)
{
    const int saved = errno;

    ms__sampler_stop(MS__WAIT_MS);
    ms__diag_flush_relay();
    errno = saved;
}
