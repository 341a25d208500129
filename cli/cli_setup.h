/* What `memsweep run` and `memsweep exec` both find before a worker starts. */
#ifndef MS_CLI_CLI_SETUP_H
#define MS_CLI_CLI_SETUP_H

#include "hostlimits.h"

#define SHIM_NAME "libmemsweep.so"

/*
 * Finds the shim: preload (--preload) when not NULL, else next to the memsweep
 * executable (the build tree), else in the library directory of an installation, and
 * checks that it is this memsweep's. Returns an absolute path (malloc'd), or NULL after
 * printing why.
 */
char *ms_cli_find_shim(const char *preload);

/*
 * What a sweep may use: the memory (the smallest source, or mem_total_mb when >= 0), its
 * reserve (reserve_mb when >= 0, else by the source's rule), and the CPUs. Sources that
 * make no sense are left out, with a warning on stderr.
 */
void ms_cli_find_machine(long long mem_total_mb, long long reserve_mb, ms_mem_choice_t *mem,
                         long long *cpus);

/* Largest --mem-total-mb and --reserve-mb, in MiB. */
#define MS_CLI_MAX_MEM_MB (1LL << 40)

/*
 * The values of options several subcommands share, parsed: -1 with *out set, or, after
 * a usage error naming the subcommand sub, the exit status 2.
 */
int ms_cli_opt_interval(const char *sub, const char *arg, long long *out);
int ms_cli_opt_mem_total(const char *sub, const char *arg, long long *out);
int ms_cli_opt_reserve(const char *sub, const char *arg, long long *out);

#endif
