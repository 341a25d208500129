/* The memsweep executable: dispatches to its subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_advise.h"
#include "cli_collect.h"
#include "cli_exec.h"
#include "cli_export.h"
#include "cli_merge.h"
#include "cli_peaks.h"
#include "cli_report.h"
#include "cli_run.h"
#include "climsg.h"
#include "memsweep/version.h"

/* A subcommand gets argv starting at its own name and returns the exit status. */
typedef struct subcommand {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
} subcommand_t;

static const subcommand_t subcommands[] = {
    {"run", ms_cmd_run, "run a parameter sweep and measure each worker's memory"},
    {"exec", ms_cmd_exec, "run one command as one run of a sweep, under any runner"},
    {"advise", ms_cmd_advise, "print the memory advisory of a recorded sweep"},
    {"peaks", ms_cmd_peaks, "compare periodic and allocation-driven peaks of a sweep"},
    {"report", ms_cmd_report, "write a sweep as one self-contained HTML page"},
    {"export", ms_cmd_export, "write a sweep's runs or samples as CSV"},
    {"merge", ms_cmd_merge, "write several sweeps and shards into one database"},
    {"collect", ms_cmd_collect, "fold pending spools into their database"},
};

#define N_SUBCOMMANDS (sizeof subcommands / sizeof subcommands[0])

static int usage(void)
{
    printf("Usage: memsweep COMMAND [ARG]...\n"
           "       memsweep --help | --version\n"
           "Measure the memory of each worker of a parameter sweep and advise how many\n"
           "workers fit on the machine.\n"
           "\n"
           "Commands:\n");
    for (size_t i = 0; i < N_SUBCOMMANDS; i++)
        printf("  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
    printf("\n"
           "Run 'memsweep COMMAND --help' for the options of a command.\n");
    return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (cmd == NULL) {
        ms_cli_usage_error(NULL, "no command given");
        return 2;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        return usage();
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("memsweep %s\n", MS_VERSION);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    }
    if (cmd[0] == '-') {
        ms_cli_usage_error(NULL, "unknown option '%s'", cmd);
        return 2;
    }
    for (size_t i = 0; i < N_SUBCOMMANDS; i++) {
        if (strcmp(cmd, subcommands[i].name) == 0)
            return subcommands[i].main(argc - 1, argv + 1);
    }
    ms_cli_usage_error(NULL, "unknown command '%s'", cmd);
    return 2;
}
