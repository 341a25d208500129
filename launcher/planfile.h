/*
 * A sweep's plan written to a file, so that each task of a SLURM job array can expand
 * its own run (`memsweep run --slurm` writes it, `memsweep exec --plan FILE --plan-index
 * I` reads it): the parameters as -P gave them and the command template, or the lines of
 * a commands file. Strings are stored whole (NUL-terminated, any other byte allowed), so
 * that values reach the program byte for byte, as with `memsweep run`.
 *
 * Functions that fail return a negative errno code with a one-line message in err.
 */
#ifndef MS_LAUNCHER_PLANFILE_H
#define MS_LAUNCHER_PLANFILE_H

#include <stddef.h>

#include "params.h"

/*
 * The -P texts of the plan ("NAME=VALUES", as given), needed to write it: the parsed
 * parameters keep only their values.
 */
typedef struct ms_plan_source {
    char *const *param_specs;
    size_t n_param_specs;
    char *const *argv;           /* template mode, else NULL */
    size_t argc;
    const ms_commands_t *commands; /* commands mode, else NULL */
} ms_plan_source_t;

/* Writes the plan to a new file at path (written whole, then renamed into place; -EEXIST when path exists). */
int ms_planfile_write(const char *path, const ms_plan_source_t *src, char *err, size_t errlen);

/* A plan read back: owns everything plan points to. */
typedef struct ms_planfile {
    ms_plan_t plan;
    ms_params_t params;
    ms_commands_t commands;
    char **argv;
    size_t argc;
    char *text; /* the file */
} ms_planfile_t;

/*
 * Reads the plan file at path and initializes its plan (ms_plan_init). Parses a text that
 * may be damaged: every count and string is checked. -EINVAL for a file that is not a plan.
 */
int ms_planfile_read(const char *path, ms_planfile_t *out, char *err, size_t errlen);

/* Parses the contents of a plan file (len bytes at text, which it keeps). */
int ms_planfile_parse(char *text, size_t len, ms_planfile_t *out, char *err, size_t errlen);

void ms_planfile_free(ms_planfile_t *p);

#endif
