/* Reading a whole small file (a commands file, an advisory file) into memory. */
#ifndef MS_COMMON_READFILE_H
#define MS_COMMON_READFILE_H

#include <stddef.h>

/*
 * Reads the file at path into a new buffer, NUL-terminated (the NUL not counted in *len).
 * Returns 0, or -errno (-ENOMEM, or the open's or read's error).
 */
int ms_read_file(const char *path, char **text, size_t *len);

#endif
