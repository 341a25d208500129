/* `memsweep report`: a sweep as one self-contained HTML page. */
#ifndef MS_CLI_CLI_REPORT_H
#define MS_CLI_CLI_REPORT_H

int ms_cmd_report(int argc, char **argv);

#endif
