/* `memsweep advise PATH`: recompute and print the advisory of a recorded sweep. */
#include "cli_advise.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "advisory.h"
#include "cli_setup.h"
#include "cli_util.h"
#include "climsg.h"
#include "numparse.h"
#include "memsweep/defaults.h"
#include "sweepread.h"

static const char usage_text[] =
    "Usage: memsweep advise [OPTION]... PATH\n"
    "Print the memory advisory of a sweep: PATH is a sweep directory or its database.\n"
    "Works on any recorded sweep, also while it is still running.\n"
    "\n"
    "  --json                print one JSON object with the same field names\n"
    "  --mem-total-mb N      advise for a whole machine with N MiB of memory\n"
    "                        (default: the memory the sweep could use, as recorded)\n"
    "  --reserve-mb N        memory kept back before dividing (default: as recorded;\n"
    "                        1024 with --mem-total-mb)\n"
    "  --safety-factor F     multiplier on the capacity, 0 < F <= 1 (default: the one\n"
    "                        the sweep was run with, 0.85 unless given to 'run')\n"
    "  -h, --help            show this help and exit\n";

int ms_cmd_advise(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'J'},
        {"mem-total-mb", required_argument, NULL, 'M'},
        {"reserve-mb", required_argument, NULL, 'R'},
        {"safety-factor", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ms_advise_opts_t opts;
    ms_sweep_data_t data;
    ms_advisory_t adv;
    sqlite3 *db = NULL;
    char name[4096];
    int json = 0;
    int c, rc;

    ms_advise_opts_init(&opts);
    optind = 0; /* full reset, in case another subcommand parsed before */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'J':
            json = 1;
            break;
        case 'M':
            if ((rc = ms_cli_opt_mem_total("advise", optarg, &opts.mem_total_mb)) >= 0)
                return rc;
            break;
        case 'R':
            if ((rc = ms_cli_opt_reserve("advise", optarg, &opts.reserve_mb)) >= 0)
                return rc;
            break;
        case 'S':
            if (ms_parse_double(optarg, 0.0, 1.0, &opts.safety_factor) != 0 ||
                opts.safety_factor <= 0.0) {
                ms_cli_usage_error("advise",
                                   "--safety-factor: '%s' is not a number above 0 and at most 1",
                                   optarg);
                return 2;
            }
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            ms_cli_getopt_error("advise", longopts, argv, c);
            return 2;
        }
    }
    rc = ms_cli_read_sweep("advise", argc, argv, &db, &data, name, sizeof name);
    if (rc != 0)
        return rc;
    sqlite3_close(db);
    rc = ms_sweep_advise(&data, &opts, &adv);
    ms_sweep_free(&data);
    if (rc != 0) {
        ms_cli_error("%s: out of memory", argv[optind]);
        return 1;
    }
    if (json) {
        ms_advisory_write_json(stdout, &adv);
    } else {
        ms_advisory_write_pre(stdout, &adv.machine);
        fputc('\n', stdout);
        ms_advisory_write_post(stdout, &adv);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ms_cli_error("standard output: write error");
        return 1;
    }
    return 0;
}
