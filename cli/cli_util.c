/* Messages, clocks, number parsing and /proc/meminfo for the memsweep subcommands. */
#include "cli_util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "memsweep/defaults.h"
#include "sweepread.h"

void ms_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    /* SQLite's messages quote schema text, which can span lines. */
    for (char *p = err; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = '?';
}

/*
 * Writes "memsweep: " and the message as one line, whatever text of the user's it quotes:
 * control characters are shown as \xHH and a message longer than 1 KiB is cut.
 */
static void __attribute__((format(printf, 1, 0))) write_message(const char *fmt, va_list ap)
{
    char buf[1024];
    const int n = vsnprintf(buf, sizeof buf, fmt, ap);

    fputs("memsweep: ", stderr);
    for (const unsigned char *p = (const unsigned char *)buf; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fprintf(stderr, "\\x%02x", *p);
        else
            fputc(*p, stderr);
    }
    if (n >= (int)sizeof buf)
        fputs("...", stderr);
    fputc('\n', stderr);
}

void ms_cli_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    write_message(fmt, ap);
    va_end(ap);
}

void ms_cli_usage_error(const char *sub, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    write_message(fmt, ap);
    va_end(ap);
    if (sub != NULL)
        fprintf(stderr, "Try 'memsweep %s --help'.\n", sub);
    else
        fputs("Try 'memsweep --help'.\n", stderr);
}

/* The long option that `--name[=value]` names, accepting unique abbreviations. */
static const struct option *long_option_of(const struct option *longopts, const char *arg,
                                           int *ambiguous)
{
    const size_t len = strcspn(arg + 2, "=");
    const struct option *found = NULL;

    *ambiguous = 0;
    for (const struct option *o = longopts; o->name != NULL; o++) {
        if (strncmp(o->name, arg + 2, len) != 0)
            continue;
        if (strlen(o->name) == len)
            return o;
        if (found != NULL)
            *ambiguous = 1;
        found = o;
    }
    return *ambiguous ? NULL : found;
}

void ms_cli_getopt_error(const char *sub, const struct option *longopts, char **argv, int c)
{
    const char *last = optind > 0 ? argv[optind - 1] : "";
    const int is_long = strncmp(last, "--", 2) == 0 && last[2] != '\0';
    int ambiguous = 0;
    const struct option *o = is_long ? long_option_of(longopts, last, &ambiguous) : NULL;
    const int len = is_long ? (int)strcspn(last, "=") : 0;

    /* A short option in a cluster leaves optind on its own word: trust optopt then. */
    if (!is_long || (optopt != 0 && (o == NULL || o->val != optopt))) {
        if (c == ':')
            ms_cli_usage_error(sub, "option '-%c' requires an argument", optopt);
        else
            ms_cli_usage_error(sub, "unknown option '-%c'", optopt);
    } else if (c == ':') {
        ms_cli_usage_error(sub, "option '%.*s' requires an argument", len, last);
    } else if (ambiguous) {
        ms_cli_usage_error(sub, "ambiguous option '%.*s'", len, last);
    } else if (o != NULL && o->has_arg == no_argument && last[len] == '=') {
        ms_cli_usage_error(sub, "option '--%s' does not take an argument", o->name);
    } else {
        ms_cli_usage_error(sub, "unknown option '%.*s'", len, last);
    }
}

int ms_cli_read_sweep(const char *sub, int argc, char **argv, sqlite3 **db,
                      ms_sweep_data_t *data, char *name, size_t namelen)
{
    char err[1024];
    struct stat st;

    if (optind >= argc) {
        ms_cli_usage_error(sub, "missing PATH (a sweep directory or database)");
        return 2;
    }
    if (optind + 1 < argc) {
        ms_cli_usage_error(sub, "unexpected argument '%s'", argv[optind + 1]);
        return 2;
    }
    if (ms_sweep_open(argv[optind], db, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        return 1;
    }
    if (stat(argv[optind], &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(name, namelen, "%s/%s", argv[optind], MS_DB_FILE);
    else
        snprintf(name, namelen, "%s", argv[optind]);
    if (ms_sweep_read(*db, name, data, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        sqlite3_close(*db);
        *db = NULL;
        return 1;
    }
    return 0;
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    if (clock_gettime(id, &ts) != 0)
        abort(); /* Both clocks always exist on Linux. */
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t ms_now_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

int64_t ms_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

int ms_parse_ll(const char *text, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    /* strtoll would skip leading white space: a number is a sign and digits. */
    if (text == NULL || !(isdigit((unsigned char)text[0]) || text[0] == '-' || text[0] == '+'))
        return -EINVAL;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int ms_parse_double(const char *text, double min, double max, double *out)
{
    char *end;
    double v;

    if (text == NULL || !(isdigit((unsigned char)text[0]) || text[0] == '-' ||
                          text[0] == '+' || text[0] == '.'))
        return -EINVAL;
    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || *end != '\0' || end == text || !isfinite(v) || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}
