/*
 * The messages of the memsweep command on stderr: runtime errors, usage errors and what
 * getopt_long rejected, each as the house style words them.
 */
#ifndef MS_COMMON_CLIMSG_H
#define MS_COMMON_CLIMSG_H

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

#endif
