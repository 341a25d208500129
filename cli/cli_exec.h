/* `memsweep exec`: one command as one run of a sweep made of shards. */
#ifndef MS_CLI_CLI_EXEC_H
#define MS_CLI_CLI_EXEC_H

/* argv starts at "exec"; returns the exit status (the command's). */
int ms_cmd_exec(int argc, char **argv);

#endif
