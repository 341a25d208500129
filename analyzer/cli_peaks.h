/* `memsweep peaks`: periodic versus allocation-driven peaks of a recorded sweep. */
#ifndef MS_ANALYZER_CLI_PEAKS_H
#define MS_ANALYZER_CLI_PEAKS_H

/* Runs the subcommand; argv[0] is "peaks". Returns the process exit status. */
int ms_cmd_peaks(int argc, char **argv);

#endif
