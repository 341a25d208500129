/*
 * Whole-text number parsing for options and parameter values: a number is a sign and
 * digits (and a fraction for a decimal), nothing before or after it.
 */
#ifndef MS_COMMON_NUMPARSE_H
#define MS_COMMON_NUMPARSE_H

/*
 * Parses a whole decimal integer in [min, max]. Returns 0, or -EINVAL when text is not
 * such a number.
 */
int ms_parse_ll(const char *text, long long min, long long max, long long *out);

/* Parses a finite decimal number in [min, max]. Returns 0 or -EINVAL. */
int ms_parse_double(const char *text, double min, double max, double *out);

#endif
