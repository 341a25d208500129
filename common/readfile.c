/* Reading a whole small file into memory (see readfile.h). */
#include "readfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int ms_read_file(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t cap = 0;
    size_t n = 0;
    int rc = 0;

    if (f == NULL)
        return -errno;
    for (;;) {
        size_t got;

        if (cap - n < 4096) {
            char *t;
            cap = cap != 0 ? cap * 2 : 8192;
            t = realloc(buf, cap);
            if (t == NULL) {
                rc = -ENOMEM;
                goto out;
            }
            buf = t;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = errno != 0 ? -errno : -EIO;
            break;
        }
    }
out:
    fclose(f);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}
