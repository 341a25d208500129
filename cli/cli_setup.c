/* What `memsweep run` and `memsweep exec` both find before a worker starts (cli_setup.h). */
#include "cli_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "climsg.h"
#include "exeprobe.h"
#include "hostlimits_probe.h"
#include "memsweep/defaults.h"
#include "memsweep/marker.h"
#include "memsweep/version.h"
#include "numparse.h"

/*
 * Nonzero when path names a readable regular file. Otherwise *err is the errno value,
 * or 0 when the file exists but is neither a regular file nor a directory.
 */
static int readable_file(const char *path, int *err)
{
    struct stat st;
    const int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        *err = errno;
        return 0;
    }
    if (fstat(fd, &st) != 0) {
        *err = errno;
        close(fd);
        return 0;
    }
    close(fd);
    if (S_ISDIR(st.st_mode)) {
        *err = EISDIR;
        return 0;
    }
    if (!S_ISREG(st.st_mode)) {
        *err = 0;
        return 0;
    }
    return 1;
}

/*
 * Whether the file at path (named as name in messages) is the shim of this memsweep: the
 * loader would preload anything, and a sweep run with another library, or a shim of
 * another version writing a schema this analyzer may not read, is measured wrongly or
 * not at all. Prints why not.
 */
static int is_our_shim(const char *name, const char *path)
{
    char version[MS_SHIM_MARKER_MAX];
    char why[256];
    const int rc = ms_shim_check_file(path, version, sizeof version, why, sizeof why);

    if (rc == -ENOEXEC || rc == -EXDEV || rc == -ENOMSG || rc == -EBADMSG) {
        ms_cli_error("%s: not the memsweep shim (%s)", name, why);
        return 0;
    }
    if (rc != 0) {
        ms_cli_error("%s: %s", name, why);
        return 0;
    }
    if (strcmp(version, MS_VERSION) != 0) {
        ms_cli_error("%s: not the memsweep shim of this version (it is %s, memsweep is %s)",
                     name, version, MS_VERSION);
        return 0;
    }
    return 1;
}

/*
 * Finds the shim: --preload, else next to the memsweep executable (the build tree), else
 * in the library directory of an installation, and checks that it is this memsweep's.
 * Returns an absolute path, or NULL after printing why.
 */
char *ms_cli_find_shim(const char *preload)
{
    char exe[PATH_MAX];
    char *found = NULL;
    char *abs;
    int e = 0;

    if (preload != NULL) {
        if (!readable_file(preload, &e)) {
            ms_cli_error("%s: %s", preload, e != 0 ? strerror(e) : "not a regular file");
            return NULL;
        }
        found = strdup(preload);
    } else {
        /* Build tree first: an installed copy must not shadow the shim being developed. */
        static const char *const subdirs[] = {".", MS_BIN_TO_LIBDIR};
        const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

        if (n > 0) {
            const char *dir;

            exe[n] = '\0';
            dir = dirname(exe);
            for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0] && found == NULL; i++) {
                char *cand;
                if (asprintf(&cand, "%s/%s/%s", dir, subdirs[i], SHIM_NAME) < 0) {
                    ms_cli_error("%s", strerror(ENOMEM));
                    return NULL;
                }
                if (readable_file(cand, &e))
                    found = cand;
                else
                    free(cand);
            }
        }
        if (found == NULL) {
            ms_cli_error("cannot find %s (use --preload)", SHIM_NAME);
            return NULL;
        }
    }
    if (found == NULL) {
        ms_cli_error("%s", strerror(ENOMEM));
        return NULL;
    }
    abs = realpath(found, NULL);
    if (abs == NULL)
        ms_cli_error("%s: %s", found, strerror(errno));
    free(found);
    /* The loader splits LD_PRELOAD at colons and blanks, so such a path cannot be named. */
    if (abs != NULL && strpbrk(abs, ": \t\n") != NULL) {
        ms_cli_error("%s: the path contains a colon or a blank, which LD_PRELOAD cannot hold",
                     abs);
        free(abs);
        abs = NULL;
    }
    if (abs != NULL && !is_our_shim(preload != NULL ? preload : abs, abs)) {
        free(abs);
        abs = NULL;
    }
    return abs;
}

/*
 * What this sweep may use: the memory (the smallest source, or --mem-total-mb), its
 * reserve, and the CPUs. Sources that make no sense are left out, with a warning.
 */
void ms_cli_find_machine(long long mem_total_mb, long long reserve_mb, ms_mem_choice_t *mem,
                         long long *cpus)
{
    ms_probe_paths_t paths;
    ms_slurm_env_t slurm;
    ms_mem_probe_t probe;

    ms_probe_paths_default(&paths);
    ms_slurm_env_get(&slurm);
    ms_mem_probe(&paths, &slurm, &probe);
    /* With --mem-total-mb only MemTotal is used, as the machine's: no need to complain. */
    if (mem_total_mb < 0) {
        for (size_t i = 0; i < probe.n_warnings; i++)
            ms_cli_error("warning: %s", probe.warning[i]);
        if (probe.more_warnings > 0)
            ms_cli_error("warning: %zu more memory sources not used", probe.more_warnings);
    }
    ms_mem_decide(probe.cand, probe.n, mem_total_mb, reserve_mb, mem);
    if (ms_cpus_choose(ms_probe_affinity_cpus(), slurm.cpus_on_node, cpus) != 0)
        ms_cli_error("warning: SLURM_CPUS_ON_NODE='%.64s' is not a positive whole number; "
                     "not used", slurm.cpus_on_node);
}


int ms_cli_opt_interval(const char *sub, const char *arg, long long *out)
{
    if (ms_parse_ll(arg, MS_MIN_INTERVAL_MS, MS_MAX_INTERVAL_MS, out) == 0)
        return -1;
    ms_cli_usage_error(sub, "invalid interval '%s' (expected milliseconds from %d to %d)", arg,
                       MS_MIN_INTERVAL_MS, MS_MAX_INTERVAL_MS);
    return 2;
}

int ms_cli_opt_mem_total(const char *sub, const char *arg, long long *out)
{
    if (ms_parse_ll(arg, 1, MS_CLI_MAX_MEM_MB, out) == 0)
        return -1;
    ms_cli_usage_error(sub, "--mem-total-mb: '%s' is not a positive whole number of MiB", arg);
    return 2;
}

int ms_cli_opt_reserve(const char *sub, const char *arg, long long *out)
{
    if (ms_parse_ll(arg, 0, MS_CLI_MAX_MEM_MB, out) == 0)
        return -1;
    ms_cli_usage_error(sub, "--reserve-mb: '%s' is not a whole number of MiB", arg);
    return 2;
}
