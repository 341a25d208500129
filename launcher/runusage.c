/* The launcher's floor under ru_maxrss and the out-of-memory kill counter (see runusage.h). */
#include "runusage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads a whole file (procfs reports size 0) into a NUL-terminated malloc'd buffer. */
static int read_text(const char *path, char **out)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int fd;
    int rc = 0;

    *out = NULL;
    if (buf == NULL)
        return -ENOMEM;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        free(buf);
        return rc;
    }
    for (;;) {
        ssize_t r;
        if (n + 1 == cap) {
            char *nb = cap < (16u << 20) ? realloc(buf, cap * 2) : NULL;
            if (nb == NULL) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/* Parses a decimal number of at most 19 digits at *p, moving *p past it. */
static int parse_u64(const char **p, unsigned long long *v)
{
    const char *s = *p;
    unsigned long long x = 0;
    int digits = 0;

    while (*s >= '0' && *s <= '9') {
        if (++digits > 19)
            return -EINVAL;
        x = x * 10 + (unsigned long long)(*s - '0');
        s++;
    }
    if (digits == 0)
        return -EINVAL;
    *p = s;
    *v = x;
    return 0;
}

int ms_parse_statm_rss_kb(const char *text, long page_size, unsigned long long *kb)
{
    const char *p = text;
    unsigned long long size, resident;

    if (page_size <= 0 || parse_u64(&p, &size) != 0 || *p != ' ')
        return -EINVAL;
    p++;
    if (parse_u64(&p, &resident) != 0 || (*p != ' ' && *p != '\n' && *p != '\0'))
        return -EINVAL;
    *kb = resident * (unsigned long long)(page_size / 1024);
    return 0;
}

int ms_self_rss_kb(unsigned long long *kb)
{
    char *text;
    int rc = read_text("/proc/self/statm", &text);

    if (rc != 0)
        return rc;
    rc = ms_parse_statm_rss_kb(text, sysconf(_SC_PAGESIZE), kb);
    free(text);
    return rc;
}

int ms_parse_oom_kill(const char *text, unsigned long long *n)
{
    static const char key[] = "oom_kill ";
    const char *line = text;

    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        if (strncmp(line, key, sizeof key - 1) == 0) {
            const char *p = line + sizeof key - 1;
            unsigned long long v;
            if (parse_u64(&p, &v) != 0 || (*p != '\n' && *p != '\0'))
                return -EINVAL;
            *n = v;
            return 0;
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return -ENOENT;
}

/* Copies n bytes of s into buf as a string. */
static int copy_out(const char *s, size_t n, char *buf, size_t len)
{
    if (n >= len)
        return -ENAMETOOLONG;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

/* Whether the comma-separated list [s, e) holds word. */
static int list_has(const char *s, const char *e, const char *word)
{
    const size_t wl = strlen(word);

    while (s < e) {
        const char *c = memchr(s, ',', (size_t)(e - s));
        const char *end = c != NULL ? c : e;
        if ((size_t)(end - s) == wl && memcmp(s, word, wl) == 0)
            return 1;
        s = end + 1;
    }
    return 0;
}

int ms_parse_proc_cgroup(const char *text, const char *controller, char *buf, size_t len)
{
    const char *line = text;

    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        const char *end = nl != NULL ? nl : line + strlen(line);
        const char *c1 = memchr(line, ':', (size_t)(end - line));
        const char *c2 = c1 != NULL ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;

        if (c2 != NULL) {
            const int v2 = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
            if (controller == NULL ? v2 : !v2 && list_has(c1 + 1, c2, controller))
                return copy_out(c2 + 1, (size_t)(end - c2 - 1), buf, len);
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return -ENOENT;
}

/* Copies the mountinfo field [s, e) into buf, decoding the kernel's \ooo escapes. */
static int copy_unescaped(const char *s, const char *e, char *buf, size_t len)
{
    size_t k = 0;

    while (s < e) {
        char ch = *s++;
        if (ch == '\\' && e - s >= 3 && s[0] >= '0' && s[0] <= '3' && s[1] >= '0' &&
            s[1] <= '7' && s[2] >= '0' && s[2] <= '7') {
            ch = (char)((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
            s += 3;
        }
        if (k + 1 >= len)
            return -ENAMETOOLONG;
        buf[k++] = ch;
    }
    buf[k] = '\0';
    return 0;
}

int ms_parse_cgroup_mount(const char *text, const char *controller, char *buf, size_t len,
                          char *root, size_t root_len)
{
    const char *line = text;

    /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS */
    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        const char *end = nl != NULL ? nl : line + strlen(line);
        const char *f[5] = {0};
        const char *p = line;
        const char *sep;
        int i = 0;

        while (i < 5 && p < end) {
            f[i++] = p;
            p = memchr(p, ' ', (size_t)(end - p));
            if (p == NULL)
                break;
            p++;
        }
        sep = p != NULL && i == 5 ? strstr(p, " - ") : NULL;
        if (sep != NULL && sep < end) {
            const char *fs = sep + 3;
            const char *fs_end = memchr(fs, ' ', (size_t)(end - fs));
            const char *mp_end = memchr(f[4], ' ', (size_t)(end - f[4]));
            if (fs_end != NULL && mp_end != NULL) {
                const size_t fl = (size_t)(fs_end - fs);
                int match = 0;
                if (controller == NULL)
                    match = fl == 7 && memcmp(fs, "cgroup2", 7) == 0;
                else if (fl == 6 && memcmp(fs, "cgroup", 6) == 0) {
                    /* SOURCE, then the super options, which name the controllers. */
                    const char *src_end = memchr(fs_end + 1, ' ', (size_t)(end - fs_end - 1));
                    match = src_end != NULL && list_has(src_end + 1, end, controller);
                }
                if (match) {
                    const int rc = copy_unescaped(f[3], f[4] - 1, root, root_len);
                    return rc != 0 ? rc : copy_unescaped(f[4], mp_end, buf, len);
                }
            }
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return -ENOENT;
}

/* Sets c's path to MOUNT/CGPATH/FILE when that file has an oom_kill line. */
static int try_cgroup(ms_oom_counter_t *c, const char *controller, const char *file,
                      const char *source)
{
    char *text = NULL;
    char mount[2048];
    char root[2048];
    char cg[2048];
    const char *rel;
    size_t rl;
    unsigned long long n;
    int rc;

    rc = read_text("/proc/self/mountinfo", &text);
    if (rc == 0)
        rc = ms_parse_cgroup_mount(text, controller, mount, sizeof mount, root, sizeof root);
    free(text);
    text = NULL;
    if (rc == 0)
        rc = read_text("/proc/self/cgroup", &text);
    if (rc == 0)
        rc = ms_parse_proc_cgroup(text, controller, cg, sizeof cg);
    free(text);
    text = NULL;
    if (rc != 0)
        return rc;
    /*
     * The mount shows the hierarchy from its root down (a container sees its own group
     * as "/" of a mount whose root is the group's host path), so that root is taken off
     * the process's path; a path outside it (a cgroup namespace) is already relative.
     */
    rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
    rel = cg;
    if (rl > 0 && strncmp(cg, root, rl) == 0 && (cg[rl] == '/' || cg[rl] == '\0'))
        rel = cg + rl;
    if (snprintf(c->path, sizeof c->path, "%s%s%s/%s", mount, rel[0] == '/' ? "" : "/",
                 strcmp(rel, "/") == 0 ? "" : rel, file) >= (int)sizeof c->path)
        return -ENAMETOOLONG;
    rc = read_text(c->path, &text);
    if (rc == 0)
        rc = ms_parse_oom_kill(text, &n);
    free(text);
    if (rc == 0)
        snprintf(c->source, sizeof c->source, "%s", source);
    return rc;
}

void ms_oom_counter_open_cgroup(ms_oom_counter_t *c)
{
    memset(c, 0, sizeof *c);
    if (try_cgroup(c, NULL, "memory.events", "cgroup v2 memory.events") == 0 ||
        try_cgroup(c, "memory", "memory.oom_control", "cgroup v1 memory.oom_control") == 0)
        c->available = 1;
}

void ms_oom_counter_open_machine(ms_oom_counter_t *c)
{
    char *text = NULL;
    unsigned long long n;

    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "/proc/vmstat");
    snprintf(c->source, sizeof c->source, "/proc/vmstat");
    c->available = read_text(c->path, &text) == 0 && ms_parse_oom_kill(text, &n) == 0;
    free(text);
}

int ms_oom_counter_read(const ms_oom_counter_t *c, unsigned long long *n)
{
    char *text;
    int rc;

    if (!c->available)
        return -ENOENT;
    rc = read_text(c->path, &text);
    if (rc != 0)
        return rc;
    rc = ms_parse_oom_kill(text, n);
    free(text);
    return rc;
}
