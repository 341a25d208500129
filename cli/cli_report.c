/*
 * `memsweep report [-o FILE] PATH...`: the sweep (read as `advise` reads it) as one HTML
 * file that needs nothing else to be read: no network, no file beside it
 * (analyzer/report.h). The file is written under a temporary name in its directory and
 * renamed into place whole, so a reader never sees half a page; an existing file is
 * replaced only with --force.
 */
#include "cli_report.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_util.h"
#include "climsg.h"
#include "report.h"
#include "sweepread.h"

#define SUB "report"
#define DEFAULT_OUT "memsweep-report.html"

static const char usage_text[] =
    "Usage: memsweep report [OPTION]... PATH...\n"
    "Write a sweep as one self-contained HTML page: the advisory with its arithmetic, the\n"
    "total RSS of the running workers over time, each run's samples, peaks by parameter\n"
    "value, the periodic, allocation-driven and kernel views of each peak, and the large\n"
    "blocks live at each peak. The page works offline and fetches nothing. PATH is read\n"
    "as 'memsweep advise' reads it: a sweep directory, a database, several, or a sweep of\n"
    "shards.\n"
    "\n"
    "  -o, --output FILE  write to FILE (default " DEFAULT_OUT "; '-' for standard output)\n"
    "  -f, --force        replace FILE if it exists\n"
    "  -h, --help         show this help and exit\n";

/* Writes the page to a temporary file beside out, then renames it to out. */
static int write_file(const char *out, int force, sqlite3 *db, const char *name,
                      const ms_sweep_data_t *d, const ms_advisory_t *a)
{
    char tmp[4096], err[1024] = "";
    struct stat sb;
    FILE *f = NULL;
    int fd, rc;

    if (!force && lstat(out, &sb) == 0) {
        ms_cli_error("%s: file exists (use --force to replace it)", out);
        return 1;
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", out) >= sizeof tmp) {
        ms_cli_error("%s: %s", out, strerror(ENAMETOOLONG));
        return 1;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        ms_cli_error("%s: %s", out, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return 1;
    }
    rc = ms_report_write(f, db, name, d, a, err, sizeof err);
    if (rc == 0 && (fflush(f) != 0 || ferror(f) || fchmod(fd, 0644) != 0))
        snprintf(err, sizeof err, "%s: %s", out, strerror(errno)), rc = -EIO;
    if (fclose(f) != 0 && rc == 0)
        snprintf(err, sizeof err, "%s: %s", out, strerror(errno)), rc = -EIO;
    if (rc == 0 && rename(tmp, out) != 0)
        snprintf(err, sizeof err, "%s: %s", out, strerror(errno)), rc = -EIO;
    if (rc != 0) {
        unlink(tmp);
        ms_cli_error("%s", err);
        return 1;
    }
    return 0;
}

int ms_cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = DEFAULT_OUT;
    ms_advise_opts_t opts;
    ms_sweep_data_t data;
    ms_advisory_t adv;
    sqlite3 *db = NULL;
    char name[4096], err[1024] = "";
    int force = 0, c, rc, status = 1;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            if (out[0] == '\0') {
                ms_cli_usage_error(SUB, "--output: empty file name");
                return 2;
            }
            break;
        case 'f':
            force = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return fflush(stdout) == 0 ? 0 : 1;
        default:
            ms_cli_getopt_error(SUB, longopts, argv, c);
            return 2;
        }
    }
    memset(&data, 0, sizeof data);
    rc = ms_cli_read_sweep(SUB, argc, argv, &db, &data, name, sizeof name);
    if (rc != 0)
        return rc;
    ms_advise_opts_init(&opts);
    if (ms_sweep_advise(&data, &opts, &adv) != 0) {
        ms_cli_error("%s: out of memory", name);
        goto out;
    }
    if (strcmp(out, "-") == 0) {
        if (ms_report_write(stdout, db, name, &data, &adv, err, sizeof err) != 0) {
            ms_cli_error("%s", err);
            goto out;
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
            ms_cli_error("standard output: write error");
            goto out;
        }
    } else if (write_file(out, force, db, name, &data, &adv) != 0) {
        goto out;
    }
    status = 0;
out:
    ms_sweep_free(&data);
    sqlite3_close(db);
    return status;
}
