/* Whole-text decimal number parsing with range checks. */
#include "numparse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

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
