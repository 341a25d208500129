/* `memsweep run`: runs a parameter sweep under the shim and writes its advisory. */
#ifndef MS_CLI_CLI_RUN_H
#define MS_CLI_CLI_RUN_H

/*
 * Entry point of the subcommand; argv[0] is "run". Returns the process exit status:
 * 0 when every run ended ok, 1 when a run did not or memsweep itself failed, 2 for a
 * usage error, 130 when a stop signal interrupted the sweep.
 */
int ms_cmd_run(int argc, char **argv);

#endif
