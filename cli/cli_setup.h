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

#endif
