/* `memsweep advise`: print the advisory of any sweep database. */
#ifndef MS_CLI_CLI_ADVISE_H
#define MS_CLI_CLI_ADVISE_H

/* Runs the subcommand; argv[0] is "advise". Returns the process exit status. */
int ms_cmd_advise(int argc, char **argv);

#endif
