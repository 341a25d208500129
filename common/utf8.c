/* UTF-8 sequence lengths and character boundaries. */
#include "utf8.h"

size_t ms_utf8_valid_len(const unsigned char *s)
{
    const unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

/* Length of the UTF-8 sequence that starts with byte c, or 1 for a stray byte. */
static size_t lead_len(unsigned char c)
{
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    return 1;
}

size_t ms_utf8_seq_len(const char *s)
{
    const size_t n = lead_len((unsigned char)*s);

    /* The NUL that ends s is no continuation byte, so the loop never reads past it. */
    for (size_t i = 1; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            return 1;
    }
    return n;
}

size_t ms_utf8_cut(const char *s, size_t max)
{
    size_t start = max;

    for (int k = 0; k < 3 && start > 0 && ((unsigned char)s[start] & 0xC0) == 0x80; k++)
        start--;
    return ((unsigned char)s[start] & 0xC0) != 0x80 ? start : max;
}
