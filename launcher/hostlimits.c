/* The memory and CPUs a sweep may use: parsers and rules on text and values (hostlimits.h). */
#include "hostlimits.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "memsweep/defaults.h"
#include "memsweep/schema.h"

/* The most CPUs SLURM_CPUS_ON_NODE may name: beyond any machine Linux runs on. */
#define MAX_CPUS 1048576LL

/* SLURM's memory figures in MiB: below MS_MEM_KB_UNLIMITED once in KiB. */
#define SLURM_MB_MAX ((long long)(MS_MEM_KB_UNLIMITED / 1024ULL))

int ms_mem_kind_is_limit(ms_mem_kind_t kind)
{
    switch (kind) {
    case MS_MEM_CGROUP2:
    case MS_MEM_CGROUP1:
    case MS_MEM_SLURM_NODE:
    case MS_MEM_SLURM_CPU:
        return 1;
    case MS_MEM_MEMINFO:
    case MS_MEM_OPTION:
        break;
    }
    return 0;
}

/* Whether a path has a ".." component, which would climb out of the hierarchy. */
static int goes_up(const char *path)
{
    for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2) {
        const int starts = p == path || p[-1] == '/';
        const int ends = p[2] == '\0' || p[2] == '/';
        if (starts && ends)
            return 1;
    }
    return 0;
}

/* Whether the comma-separated list [s, s + len) holds the item word. */
static int list_has(const char *s, size_t len, const char *word)
{
    const size_t wl = strlen(word);
    size_t i = 0;

    while (i <= len) {
        size_t j = i;
        while (j < len && s[j] != ',')
            j++;
        if (j - i == wl && memcmp(s + i, word, wl) == 0)
            return 1;
        i = j + 1;
    }
    return 0;
}

int ms_cgroup_self_path(const char *text, size_t len, const char *controller, char *out,
                        size_t outlen)
{
    size_t i = 0;

    while (i < len) {
        size_t end = i;
        const char *c1, *c2;

        while (end < len && text[end] != '\n')
            end++;
        /* hierarchy-ID:controller-list:cgroup-path; the path may hold colons itself. */
        c1 = memchr(text + i, ':', end - i);
        c2 = c1 != NULL ? memchr(c1 + 1, ':', (size_t)(text + end - (c1 + 1))) : NULL;
        if (c2 != NULL) {
            const size_t list_len = (size_t)(c2 - (c1 + 1));
            int match;

            if (controller == NULL)
                match = c1 - (text + i) == 1 && text[i] == '0' && list_len == 0;
            else
                match = list_len > 0 && list_has(c1 + 1, list_len, controller);
            if (match) {
                const char *path = c2 + 1;
                const size_t plen = (size_t)(text + end - path);

                if (plen + 1 > outlen)
                    return -ENAMETOOLONG;
                memcpy(out, path, plen);
                out[plen] = '\0';
                if (plen == 0 || out[0] != '/' || memchr(out, '\0', plen) != NULL ||
                    goes_up(out))
                    return -EINVAL;
                return 0;
            }
        }
        i = end + 1;
    }
    return -ENOENT;
}

/*
 * Copies the mountinfo field [s, s + n) into out, undoing the kernel's \ooo escapes.
 * Returns 0, or -EINVAL when it does not fit or an escape is malformed.
 */
static int unescape_field(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '\\') {
            unsigned v = 0;
            if (i + 3 >= n)
                return -EINVAL;
            for (int k = 1; k <= 3; k++) {
                const char d = s[i + (size_t)k];
                if (d < '0' || d > '7')
                    return -EINVAL;
                v = v * 8 + (unsigned)(d - '0');
            }
            if (v == 0 || v > 255)
                return -EINVAL;
            c = (char)v;
            i += 3;
        }
        if (o + 1 >= outlen)
            return -EINVAL;
        out[o++] = c;
    }
    if (outlen == 0)
        return -EINVAL;
    out[o] = '\0';
    return 0;
}

int ms_mountinfo_parse(const char *line, size_t len, ms_mountinfo_t *m)
{
    const char *field[16];
    size_t flen[16];
    size_t nf = 0;
    size_t i = 0;
    size_t sep;

    while (i < len && nf < sizeof field / sizeof field[0]) {
        size_t j = i;
        while (j < len && line[j] != ' ')
            j++;
        if (j > i) {
            field[nf] = line + i;
            flen[nf] = j - i;
            nf++;
        }
        i = j + 1;
    }
    /* Six fixed fields, optional ones, "-", then fstype, source and super options. */
    for (sep = 6; sep < nf; sep++)
        if (flen[sep] == 1 && field[sep][0] == '-')
            break;
    if (sep + 3 >= nf)
        return -EINVAL;
    if (unescape_field(field[3], flen[3], m->root, sizeof m->root) != 0 ||
        unescape_field(field[4], flen[4], m->point, sizeof m->point) != 0 ||
        unescape_field(field[sep + 1], flen[sep + 1], m->fstype, sizeof m->fstype) != 0 ||
        unescape_field(field[sep + 3], flen[sep + 3], m->super, sizeof m->super) != 0)
        return -EINVAL;
    return 0;
}

int ms_cgroup_dir(const char *point, const char *root, const char *cgpath, char *out,
                  size_t outlen)
{
    const size_t rl = strlen(root);
    const char *rel;
    int n;

    if (cgpath[0] != '/' || goes_up(cgpath))
        return -EINVAL;
    if (strcmp(root, "/") == 0) {
        rel = cgpath;
    } else {
        if (strncmp(cgpath, root, rl) != 0 || (cgpath[rl] != '\0' && cgpath[rl] != '/'))
            return -ENOENT;
        rel = cgpath + rl;
    }
    if (strcmp(rel, "/") == 0)
        rel = "";
    /* A mount point of "/" would give "//path"; the kernel never mounts cgroups there,
     * but the path stays a correct one either way. */
    n = snprintf(out, outlen, "%s%s", strcmp(point, "/") == 0 ? "" : point, rel);
    if (n < 0 || (size_t)n >= outlen)
        return -ENAMETOOLONG;
    if (out[0] == '\0')
        snprintf(out, outlen, "/");
    return 0;
}

int ms_cgroup_find_dir(const char *text, size_t len, int version, const char *cgpath,
                       char *dir, size_t dirlen, char *point, size_t pointlen)
{
    ms_mountinfo_t m;
    size_t i = 0;

    while (i < len) {
        size_t end = i;

        while (end < len && text[end] != '\n')
            end++;
        if (ms_mountinfo_parse(text + i, end - i, &m) == 0) {
            const int match = version == 2
                                  ? strcmp(m.fstype, "cgroup2") == 0
                                  : strcmp(m.fstype, "cgroup") == 0 &&
                                        list_has(m.super, strlen(m.super), "memory");
            if (match && strlen(m.point) < pointlen &&
                ms_cgroup_dir(m.point, m.root, cgpath, dir, dirlen) == 0) {
                snprintf(point, pointlen, "%s", m.point);
                return 0;
            }
        }
        i = end + 1;
    }
    return -ENOENT;
}

int ms_cgroup_parent_dir(char *dir, const char *point)
{
    const size_t pl = strlen(point);
    const size_t dl = strlen(dir);
    char *slash;

    if (dl <= pl || strncmp(dir, point, pl) != 0 || dir[pl] != '/')
        return 0;
    slash = strrchr(dir, '/');
    if (slash == NULL || (size_t)(slash - dir) < pl)
        return 0;
    *slash = '\0';
    return 1;
}

/*
 * A decimal number that is the whole of [s, s + len) but for one trailing newline.
 * Returns 0, or -EINVAL (also on overflow).
 */
static int whole_number(const char *s, size_t len, unsigned long long *out)
{
    unsigned long long v = 0;

    if (len > 0 && s[len - 1] == '\n')
        len--;
    if (len == 0)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        const unsigned d = (unsigned)(s[i] - '0');
        if (s[i] < '0' || s[i] > '9' || v > (~0ULL - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int ms_cgroup_limit_parse(const char *text, size_t len, int version, unsigned long long *kb)
{
    unsigned long long bytes;

    if (version == 2 && (len == 3 || (len == 4 && text[3] == '\n')) &&
        memcmp(text, "max", 3) == 0)
        return 0;
    if (whole_number(text, len, &bytes) != 0)
        return -EINVAL;
    if (bytes / 1024ULL >= MS_MEM_KB_UNLIMITED)
        return 0;
    if (bytes < 1024ULL)
        return -EINVAL;
    *kb = bytes / 1024ULL;
    return 1;
}

/*
 * A SLURM variable's value as a whole number in [0, max]. Returns 1 with *out, 0 when
 * unset (NULL), -EINVAL when it is not such a number.
 */
static int slurm_number(const char *text, long long max, long long *out)
{
    unsigned long long v;

    if (text == NULL)
        return 0;
    if (whole_number(text, strlen(text), &v) != 0 || text[strlen(text) - 1] == '\n' ||
        v > (unsigned long long)max)
        return -EINVAL;
    *out = (long long)v;
    return 1;
}

int ms_slurm_mem_per_node(const char *mem_per_node, ms_mem_candidate_t *c)
{
    long long mb;
    const int rc = slurm_number(mem_per_node, SLURM_MB_MAX - 1, &mb);

    if (rc <= 0)
        return rc;
    if (mb == 0) /* --mem=0: all the memory of the node */
        return 0;
    memset(c, 0, sizeof *c);
    c->kind = MS_MEM_SLURM_NODE;
    c->kb = (unsigned long long)mb * 1024ULL;
    snprintf(c->source, sizeof c->source, "%s=%lld", MS_MEM_SOURCE_SLURM_NODE, mb);
    return 1;
}

int ms_slurm_mem_per_cpu(const char *mem_per_cpu, const char *cpus_on_node,
                         ms_mem_candidate_t *c)
{
    long long mb = 0, cpus = 0;
    const int rm = slurm_number(mem_per_cpu, SLURM_MB_MAX - 1, &mb);
    const int rcpu = slurm_number(cpus_on_node, MAX_CPUS, &cpus);

    if (rm < 0 || (rm > 0 && rcpu < 0))
        return -EINVAL;
    if (rm == 0 || rcpu == 0 || mb == 0)
        return 0;
    if (cpus == 0)
        return -EINVAL;
    /* Both are bounded, so the product cannot overflow; it must stay a plausible size. */
    if ((unsigned long long)mb * (unsigned long long)cpus >= (unsigned long long)SLURM_MB_MAX)
        return -EINVAL;
    memset(c, 0, sizeof *c);
    c->kind = MS_MEM_SLURM_CPU;
    c->kb = (unsigned long long)mb * (unsigned long long)cpus * 1024ULL;
    snprintf(c->source, sizeof c->source, "%s=%lld x SLURM_CPUS_ON_NODE=%lld",
             MS_MEM_SOURCE_SLURM_CPU, mb, cpus);
    return 1;
}

void ms_mem_candidate_simple(ms_mem_candidate_t *c, ms_mem_kind_t kind, unsigned long long kb)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->kb = kb;
    snprintf(c->source, sizeof c->source, "%s",
             kind == MS_MEM_OPTION ? MS_MEM_SOURCE_OPTION : MS_MEM_SOURCE_MEMINFO);
}

void ms_mem_candidate_cgroup(ms_mem_candidate_t *c, ms_mem_kind_t kind, unsigned long long kb,
                             const char *dir)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->kb = kb;
    /* A directory too long for the text is cut: the figure is still right. */
    snprintf(c->source, sizeof c->source, "%s %s",
             kind == MS_MEM_CGROUP1 ? MS_MEM_SOURCE_CGROUP1 : MS_MEM_SOURCE_CGROUP2, dir);
}

int ms_mem_choose(const ms_mem_candidate_t *c, size_t n)
{
    int best = -1;

    for (size_t i = 0; i < n; i++)
        if (best < 0 || c[i].kb < c[best].kb)
            best = (int)i;
    return best;
}

void ms_mem_decide(const ms_mem_candidate_t *c, size_t n, long long total_mb,
                   long long reserve_mb, ms_mem_choice_t *out)
{
    ms_mem_kind_t kind = MS_MEM_MEMINFO;

    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        if (c[i].kind == MS_MEM_MEMINFO) {
            out->have_host = 1;
            out->host_kb = c[i].kb;
            break;
        }
    }
    if (total_mb >= 0) {
        out->have_total = 1;
        out->total_kb = (unsigned long long)total_mb * 1024ULL;
        kind = MS_MEM_OPTION;
        snprintf(out->source, sizeof out->source, "%s", MS_MEM_SOURCE_OPTION);
    } else {
        const int best = ms_mem_choose(c, n);
        if (best >= 0) {
            out->have_total = 1;
            out->total_kb = c[best].kb;
            kind = c[best].kind;
            snprintf(out->source, sizeof out->source, "%s", c[best].source);
        }
    }
    if (reserve_mb >= 0) {
        out->reserve_mb = reserve_mb;
        out->rule = MS_RESERVE_RULE_OPTION;
    } else if (out->have_total && ms_mem_kind_is_limit(kind)) {
        out->reserve_mb = ms_limit_reserve_mb((long long)(out->total_kb / 1024ULL));
        out->rule = MS_RESERVE_RULE_LIMIT;
    } else {
        out->reserve_mb = MS_DEFAULT_RESERVE_MB;
        out->rule = MS_RESERVE_RULE_MACHINE;
    }
}

int ms_cpus_choose(long long affinity, const char *slurm_cpus, long long *cpus)
{
    long long s = 0;
    const int rc = slurm_number(slurm_cpus, MAX_CPUS, &s);

    *cpus = affinity > 0 ? affinity : 1;
    if (rc < 0 || (rc > 0 && s == 0))
        return -EINVAL;
    if (rc > 0 && s < *cpus)
        *cpus = s;
    return 0;
}
