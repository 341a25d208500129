/* The memsweep command's messages on stderr, one line each whatever text they quote. */
#include "climsg.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
