/*
 * libFuzzer target for the parser of recorded stack frames (analyzer/symbolize.h,
 * ms_frame_parse), which reads stacks.frames from any database handed to `peaks` or
 * `report`. The input is one line. Besides what the sanitizers find, the promises of the
 * header are checked: every part lies inside the line, the offset's text is hex after
 * "+0x", the symbol and the build-id hold no space, a build-id is an even number of hex
 * digits, and a line with a NUL or a newline is refused.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize.h"

static void check_inside(const char *p, size_t n, const uint8_t *line, size_t len)
{
    if (p == NULL)
        return;
    if ((const uint8_t *)p < line || (const uint8_t *)p + n > line + len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_frame_t fr;
    const int rc = ms_frame_parse((const char *)data, size, &fr);

    if (rc != 0) {
        if (fr.module != NULL || fr.symbol != NULL || fr.build_id != NULL)
            abort(); /* cleared on failure */
        return 0;
    }
    if (memchr(data, '\0', size) != NULL || memchr(data, '\n', size) != NULL)
        abort();
    check_inside(fr.module, fr.module_len, data, size);
    check_inside(fr.symbol, fr.symbol_len, data, size);
    check_inside(fr.build_id, fr.build_id_len, data, size);
    if (fr.module != NULL && fr.module_len == 0)
        abort();
    if (fr.symbol != NULL && memchr(fr.symbol, ' ', fr.symbol_len) != NULL)
        abort();
    if (fr.build_id != NULL) {
        if (fr.build_id_len == 0 || fr.build_id_len % 2 != 0)
            abort();
        for (size_t i = 0; i < fr.build_id_len; i++)
            if (!isxdigit((unsigned char)fr.build_id[i]))
                abort();
    }
    return 0;
}
