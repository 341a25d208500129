/* The memory available to this sweep now: parsers, the formula and the reads (memavail.h). */
#include "memavail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memsweep/procfs.h"
#include "textclean.h"

/* mountinfo of a host with thousands of mounts stays far below this. */
#define PROC_FILE_MAX (8u << 20)

/*
 * /proc/meminfo and memory.stat are about 60 lines, a few KiB. A file that does not fit
 * is taken as unreadable rather than cut, since a cut line would read as a smaller number.
 */
#define TEXT_MAX 16384

/*
 * Finds the line of [text, text + len) that starts with key (klen bytes), followed by a
 * blank when word is set, and sets *pos just past the key. Returns 0 or -ENOENT.
 */
static int find_line(const char *text, size_t len, const char *key, size_t klen, int word,
                     size_t *pos)
{
    size_t i = 0;

    while (i < len) {
        if (len - i >= klen + (word ? 1 : 0) && memcmp(text + i, key, klen) == 0 &&
            (!word || text[i + klen] == ' ' || text[i + klen] == '\t')) {
            *pos = i + klen;
            return 0;
        }
        while (i < len && text[i] != '\n')
            i++;
        i++;
    }
    return -ENOENT;
}

/* Whether only blanks are left of the line at text[pos]. */
static int at_line_end(const char *text, size_t len, size_t pos)
{
    while (pos < len && (text[pos] == ' ' || text[pos] == '\t'))
        pos++;
    return pos == len || text[pos] == '\n';
}

int ms_meminfo_available_parse(const char *text, size_t len, unsigned long long *kb)
{
    static const char key[] = "MemAvailable:";
    unsigned long long v;
    size_t pos;

    if (find_line(text, len, key, sizeof key - 1, 0, &pos) != 0)
        return -ENOENT;
    if (ms_procfs_number(text, len, &pos, &v) != 0)
        return -EINVAL;
    while (pos < len && text[pos] == ' ')
        pos++;
    if (len - pos < 2 || memcmp(text + pos, "kB", 2) != 0 || !at_line_end(text, len, pos + 2))
        return -EINVAL;
    *kb = v;
    return 0;
}

int ms_memory_stat_field(const char *text, size_t len, const char *key,
                         unsigned long long *value)
{
    const size_t klen = strlen(key);
    unsigned long long v;
    size_t pos;

    if (klen == 0)
        return -EINVAL;
    if (find_line(text, len, key, klen, 1, &pos) != 0)
        return -ENOENT;
    if (ms_procfs_number(text, len, &pos, &v) != 0 || !at_line_end(text, len, pos))
        return -EINVAL;
    *value = v;
    return 0;
}

unsigned long long ms_cgroup_available_kb(unsigned long long limit_kb,
                                          unsigned long long usage_kb,
                                          unsigned long long inactive_kb)
{
    const unsigned long long working = usage_kb > inactive_kb ? usage_kb - inactive_kb : 0;

    return working < limit_kb ? limit_kb - working : 0;
}

/* A file of one decimal number and its newline, as memory.current is. Returns 0 or -EINVAL. */
static int one_number(const char *text, size_t len, unsigned long long *v)
{
    size_t pos = 0;

    if (ms_procfs_number(text, len, &pos, v) != 0)
        return -EINVAL;
    if (pos < len && text[pos] == '\n')
        pos++;
    return pos == len ? 0 : -EINVAL;
}

/*
 * Reads the whole file at path into buf (size bytes), NUL-terminated, *len bytes before
 * the NUL; no allocation, as it runs several times a second. Returns 0, -errno, or
 * -EFBIG when it does not fit.
 */
static int read_text(const char *path, char *buf, size_t size, size_t *len)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    int rc = 0;

    if (fd < 0)
        return -errno;
    for (;;) {
        ssize_t got;

        if (n + 1 >= size) {
            rc = -EFBIG;
            break;
        }
        got = read(fd, buf + n, size - 1 - n);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (rc != 0)
        return rc;
    buf[n] = '\0';
    *len = n;
    return 0;
}

static const char *limit_file(int version)
{
    return version == 2 ? "memory.max" : "memory.limit_in_bytes";
}

/*
 * Whether a v1 cgroup's limit leaves out its children: its memory.use_hierarchy is 0
 * (kernels before 5.x allowed it). The parent's flag decides, not the child's: the kernel
 * links a new child's counter to its parent's only when the parent's flag is set, and the
 * flag cannot change while the cgroup has children.
 */
static int hierarchy_off(const char *dir)
{
    char path[PATH_MAX + 32];
    char text[64];
    size_t len = 0;

    if (snprintf(path, sizeof path, "%s/memory.use_hierarchy", dir) >= (int)sizeof path ||
        read_text(path, text, sizeof text, &len) != 0)
        return 0;
    return (len == 1 || (len == 2 && text[1] == '\n')) && text[0] == '0';
}

/*
 * Keeps in m memsweep's cgroup of one hierarchy (version 2, or 1 for the v1 memory
 * controller) and the ancestors that have its memory limit file. Returns how many.
 */
static size_t find_levels(ms_memavail_t *m, int version, const char *self, size_t self_len,
                          const char *mountinfo, size_t mi_len)
{
    char cgpath[PATH_MAX];
    char dir[PATH_MAX];
    char point[PATH_MAX];

    if (ms_cgroup_self_path(self, self_len, version == 2 ? NULL : "memory", cgpath,
                            sizeof cgpath) != 0 ||
        ms_cgroup_find_dir(mountinfo, mi_len, version, cgpath, dir, sizeof dir, point,
                           sizeof point) != 0)
        return 0;
    memcpy(m->dir, dir, sizeof m->dir);
    m->n = 0;
    /* Under cgroup v2 a level has the file only where its parent enables the memory
     * controller; on a hybrid system the v2 hierarchy has it nowhere. */
    do {
        char path[PATH_MAX + 32];

        if (snprintf(path, sizeof path, "%s/%s", dir, limit_file(version)) >= (int)sizeof path)
            break;
        if (access(path, F_OK) == 0)
            m->end[m->n++] = strlen(dir);
    } while (m->n < MS_MEMAVAIL_LEVELS && ms_cgroup_parent_dir(dir, point) &&
             !(version == 1 && hierarchy_off(dir)));
    if (m->n > 0)
        m->version = version;
    return m->n;
}

void ms_memavail_open(ms_memavail_t *m, const ms_probe_paths_t *paths)
{
    char *self = NULL, *mountinfo = NULL;
    size_t self_len = 0, mi_len = 0;

    memset(m, 0, sizeof *m);
    snprintf(m->meminfo, sizeof m->meminfo, "%s", paths->meminfo);
    if (ms_probe_slurp(paths->self_cgroup, PROC_FILE_MAX, &self, &self_len) == 0 &&
        ms_probe_slurp(paths->mountinfo, PROC_FILE_MAX, &mountinfo, &mi_len) == 0 &&
        find_levels(m, 2, self, self_len, mountinfo, mi_len) == 0)
        find_levels(m, 1, self, self_len, mountinfo, mi_len);
    free(self);
    free(mountinfo);
}

/* Reads the file of that name in level i's directory. */
static int read_level_file(const ms_memavail_t *m, size_t i, const char *file, char *buf,
                           size_t size, size_t *len)
{
    char path[PATH_MAX + 32];

    if (snprintf(path, sizeof path, "%.*s/%s", (int)m->end[i], m->dir, file) >=
        (int)sizeof path)
        return -ENAMETOOLONG;
    return read_text(path, buf, size, len);
}

/*
 * Level i's limit, usage and inactive page cache in KiB. The usage is rounded up and the
 * rest down, so that the room left is never overstated. Returns 1, or 0 when the level
 * has no limit now or its limit or usage cannot be read.
 */
static int read_level(const ms_memavail_t *m, size_t i, char *buf, size_t size,
                      unsigned long long *limit_kb, unsigned long long *usage_kb,
                      unsigned long long *inactive_kb)
{
    const int v2 = m->version == 2;
    unsigned long long bytes;
    size_t len = 0;

    if (read_level_file(m, i, limit_file(m->version), buf, size, &len) != 0 ||
        ms_cgroup_limit_parse(buf, len, m->version, limit_kb) != 1)
        return 0;
    if (read_level_file(m, i, v2 ? "memory.current" : "memory.usage_in_bytes", buf, size,
                        &len) != 0 ||
        one_number(buf, len, &bytes) != 0)
        return 0;
    *usage_kb = bytes / 1024ULL + (bytes % 1024ULL != 0);
    /* v1's memory.stat has the cgroup's own inactive_file and, as total_inactive_file,
     * that of its whole subtree, which is what its usage counts. */
    *inactive_kb = 0;
    if (read_level_file(m, i, "memory.stat", buf, size, &len) == 0 &&
        ms_memory_stat_field(buf, len, v2 ? "inactive_file" : "total_inactive_file",
                             &bytes) == 0)
        *inactive_kb = bytes / 1024ULL;
    return 1;
}

int ms_memavail_read(const ms_memavail_t *m, unsigned long long *kb, char *source,
                     size_t len)
{
    char buf[TEXT_MAX];
    char text[PATH_MAX + 96];
    unsigned long long best = 0, avail;
    size_t n = 0;
    int found = 0;
    int rc;

    text[0] = '\0';
    /* The deepest level first, and only a smaller figure replaces one: it is named on a tie. */
    for (size_t i = 0; i < m->n; i++) {
        unsigned long long limit, usage, inactive;

        if (!read_level(m, i, buf, sizeof buf, &limit, &usage, &inactive))
            continue;
        avail = ms_cgroup_available_kb(limit, usage, inactive);
        if (found && avail >= best)
            continue;
        found = 1;
        best = avail;
        snprintf(text, sizeof text, "cgroup %.*s: limit %llu MiB, in use %llu MiB",
                 (int)m->end[i], m->dir, limit / 1024ULL,
                 (usage > inactive ? usage - inactive : 0) / 1024ULL);
    }
    rc = read_text(m->meminfo, buf, sizeof buf, &n);
    if (rc == 0)
        rc = ms_meminfo_available_parse(buf, n, &avail);
    if (rc == 0 && (!found || avail < best)) {
        found = 1;
        best = avail;
        snprintf(text, sizeof text, "%s MemAvailable", m->meminfo);
    }
    if (!found)
        return rc;
    *kb = best;
    /* A cgroup's name is anyone's text: no control character reaches the caller's output. */
    if (source != NULL && len > 0)
        ms_clean_text(source, len, text);
    return 0;
}
