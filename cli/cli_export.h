/* `memsweep export`: a sweep's runs or samples as CSV. */
#ifndef MS_CLI_CLI_EXPORT_H
#define MS_CLI_CLI_EXPORT_H

int ms_cmd_export(int argc, char **argv);

#endif
