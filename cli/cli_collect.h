/* `memsweep collect PATH`: folds pending spools into their database. */
#ifndef MS_LAUNCHER_CLI_COLLECT_H
#define MS_LAUNCHER_CLI_COLLECT_H

/*
 * Entry point of the subcommand; argv[0] is "collect". Returns the exit status: 0 when
 * every pool found was folded, 1 when one could not be read or the database could not be
 * written (a line on stderr says which), 2 for a usage error.
 */
int ms_cmd_collect(int argc, char **argv);

#endif
