/* `memsweep merge OUT PATH...`: several sweeps and shards written as one database. */
#ifndef MS_CLI_CLI_MERGE_H
#define MS_CLI_CLI_MERGE_H

int ms_cmd_merge(int argc, char **argv);

#endif
