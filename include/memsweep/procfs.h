/*
 * Parsers for the /proc files memsweep reads: /proc/<pid>/statm, /proc/<pid>/status and
 * /proc/meminfo. They only parse a buffer the caller has read, never allocate, never
 * touch errno or stdio, so the shim can call them from its sampler thread and unit tests
 * can call them on fixed text.
 */
#ifndef MS_MEMSWEEP_PROCFS_H
#define MS_MEMSWEEP_PROCFS_H

#include <stddef.h>

/*
 * Reads a decimal unsigned number at buf[*pos], skipping leading blanks, and advances
 * *pos past it. Returns 0, or -1 when there is no digit or the value overflows.
 */
static inline int ms_procfs_number(const char *buf, size_t len, size_t *pos,
                                   unsigned long long *out)
{
    size_t i = *pos;
    unsigned long long v = 0;
    int digits = 0;

    while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    while (i < len && buf[i] >= '0' && buf[i] <= '9') {
        unsigned d = (unsigned)(buf[i] - '0');
        if (v > (~0ULL - d) / 10)
            return -1;
        v = v * 10 + d;
        digits++;
        i++;
    }
    if (digits == 0)
        return -1;
    *pos = i;
    *out = v;
    return 0;
}

/*
 * Resident pages from the text of /proc/<pid>/statm ("size resident shared ..."): the
 * second field. Returns 0, or -1 if the text is malformed.
 */
static inline int ms_procfs_statm_resident(const char *buf, size_t len,
                                           unsigned long long *pages)
{
    size_t pos = 0;
    unsigned long long size;

    if (ms_procfs_number(buf, len, &pos, &size) != 0)
        return -1;
    return ms_procfs_number(buf, len, &pos, pages);
}

/*
 * The kB value of the line starting with `key` (for example "VmHWM:" in
 * /proc/<pid>/status or "MemTotal:" in /proc/meminfo). The key must start a line and
 * include its colon. Returns 0, or -1 if the key is absent or its value malformed.
 */
static inline int ms_procfs_kb_field(const char *buf, size_t len, const char *key,
                                     unsigned long long *kb)
{
    size_t klen = 0;
    size_t i = 0;

    while (key[klen] != '\0')
        klen++;
    if (klen == 0)
        return -1;
    while (i + klen <= len) {
        size_t k = 0;
        while (k < klen && buf[i + k] == key[k])
            k++;
        if (k == klen) {
            size_t pos = i + klen;
            return ms_procfs_number(buf, len, &pos, kb);
        }
        while (i < len && buf[i] != '\n')
            i++;
        i++;
    }
    return -1;
}

#endif
