/*
 * UTF-8 at the byte level, for text memsweep did not write (labels, file names, database
 * text) and must cut, clean or escape without splitting a character.
 */
#ifndef MS_COMMON_UTF8_H
#define MS_COMMON_UTF8_H

#include <stddef.h>

/*
 * Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 when the bytes at s are not one. For output
 * that must be UTF-8, such as JSON.
 */
size_t ms_utf8_valid_len(const unsigned char *s);

/*
 * Length of the sequence its lead byte announces at s when its continuation bytes follow,
 * else 1: a stray byte, or a lead byte without its continuation, stands alone, so that
 * what follows it is handled in turn. s points at a non-NUL byte of a NUL-terminated text.
 */
size_t ms_utf8_seq_len(const char *s);

/*
 * Where to cut s (longer than max bytes) to keep at most max bytes without splitting a
 * character: max moved back to the first byte of the sequence it falls in, which is at
 * most three bytes back. Bytes that are not UTF-8 are cut at max.
 */
size_t ms_utf8_cut(const char *s, size_t max);

#endif
