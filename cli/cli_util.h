/* Small helpers shared by the memsweep subcommands: messages, clocks, number parsing. */
#ifndef MS_ANALYZER_CLI_UTIL_H
#define MS_ANALYZER_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Formats a one-line message into err (errlen bytes, cut when longer), as the functions
 * that report errors to their caller do: control characters (a newline in a file name or
 * in the schema text SQLite quotes) become '?'. Does nothing when err is NULL or errlen 0.
 */
void ms_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints "memsweep: <message>" and a newline to stderr. */
void ms_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Prints "memsweep: <message>" and "Try 'memsweep --help'." (or 'memsweep SUB --help'
 * when sub is not NULL) to stderr. Callers then exit with status 2.
 */
void ms_cli_usage_error(const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct option;

/*
 * Reports, as a usage error of subcommand sub, what getopt_long rejected: c is the '?' or
 * ':' it returned (the short option string must start with ':' for missing values to be
 * told apart), longopts the table it was given. Says which option was unknown, ambiguous,
 * missing its value or given one it does not take.
 */
void ms_cli_getopt_error(const char *sub, const struct option *longopts, char **argv, int c);

struct sqlite3;
struct ms_sweep_data;

/*
 * The one PATH operand of `advise` and `peaks`, left at argv[optind] after the options:
 * checks there is exactly one, opens the sweep and reads it. Returns 0 with *db open,
 * *data filled (the caller closes and frees them) and name set to how messages name the
 * database (PATH, or PATH/memsweep.db for a sweep directory), or, after printing why, the
 * exit status to leave with: 2 for a missing or extra operand, 1 when the sweep cannot
 * be read.
 */
int ms_cli_read_sweep(const char *sub, int argc, char **argv, struct sqlite3 **db,
                      struct ms_sweep_data *data, char *name, size_t namelen);

/* Nanoseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t ms_now_ns(void);

/* Nanoseconds on CLOCK_MONOTONIC, for measuring durations. */
int64_t ms_mono_ns(void);

/*
 * Parses a whole decimal integer in [min, max]. Returns 0, or -EINVAL when text is not
 * such a number.
 */
int ms_parse_ll(const char *text, long long min, long long max, long long *out);

/* Parses a finite decimal number in [min, max]. Returns 0 or -EINVAL. */
int ms_parse_double(const char *text, double min, double max, double *out);

#endif
