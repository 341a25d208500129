/*
 * Unit tests for launcher/memavail.c: the MemAvailable and memory.stat parsers on real
 * texts, the room left under a limit, and the reads on a fake /proc and fake cgroup v2
 * and v1 hierarchies in a temporary directory, whose files change between reads as a
 * running sweep's would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memavail.h"

#define MIB_KB 1024ULL
#define MIB (1024ULL * 1024ULL)

/* A value no parser sets, to see that a failing one leaves its output alone. */
#define UNTOUCHED 4242ULL

/* /proc/meminfo of a 6.x kernel, MemAvailable in the middle. */
static const char meminfo_6x[] = "MemTotal:       24683748 kB\n"
                                 "MemFree:        23984096 kB\n"
                                 "MemAvailable:   24234320 kB\n"
                                 "Buffers:            6808 kB\n"
                                 "Cached:           359276 kB\n"
                                 "SwapCached:            0 kB\n"
                                 "Active:           214736 kB\n"
                                 "Inactive:         168244 kB\n"
                                 "Inactive(file):   141312 kB\n"
                                 "Committed_AS:     111740 kB\n"
                                 "VmallocTotal:   34359738367 kB\n"
                                 "HugePages_Total:       0\n"
                                 "Hugepagesize:       2048 kB\n"
                                 "DirectMap2M:    25137152 kB\n";

/* /proc/meminfo of a 3.10 kernel, before MemAvailable existed. */
static const char meminfo_310[] = "MemTotal:        1015024 kB\n"
                                  "MemFree:          112844 kB\n"
                                  "Buffers:           93312 kB\n"
                                  "Cached:           524740 kB\n";

static int avail_parse(const char *text, unsigned long long *kb)
{
    return ms_meminfo_available_parse(text, strlen(text), kb);
}

static void test_meminfo_available_parse(void **state)
{
    unsigned long long kb = UNTOUCHED;
    (void)state;

    assert_int_equal(avail_parse(meminfo_6x, &kb), 0);
    assert_int_equal(kb, 24234320);
    /* Only the text given is read: cut before the line, it is not there. */
    kb = UNTOUCHED;
    assert_int_equal(ms_meminfo_available_parse(meminfo_6x, 50, &kb), -ENOENT);
    assert_int_equal(kb, UNTOUCHED);
    assert_int_equal(avail_parse(meminfo_310, &kb), -ENOENT);
    assert_int_equal(kb, UNTOUCHED);
    assert_int_equal(avail_parse("", &kb), -ENOENT);
    /* The key starts a line. */
    assert_int_equal(avail_parse("XMemAvailable: 5 kB\n", &kb), -ENOENT);
    /* The last line without its newline, and a value of 0 (a machine out of memory). */
    assert_int_equal(avail_parse("MemTotal: 9 kB\nMemAvailable: 7 kB", &kb), 0);
    assert_int_equal(kb, 7);
    assert_int_equal(avail_parse("MemAvailable:\t0 kB\n", &kb), 0);
    assert_int_equal(kb, 0);
    /* Not a whole number of kB. */
    kb = UNTOUCHED;
    assert_int_equal(avail_parse("MemAvailable:   abc kB\n", &kb), -EINVAL);
    assert_int_equal(avail_parse("MemAvailable:   12 MB\n", &kb), -EINVAL);
    assert_int_equal(avail_parse("MemAvailable:   12\n", &kb), -EINVAL);
    assert_int_equal(avail_parse("MemAvailable:   12 kBytes\n", &kb), -EINVAL);
    assert_int_equal(avail_parse("MemAvailable:   -12 kB\n", &kb), -EINVAL);
    assert_int_equal(avail_parse("MemAvailable:", &kb), -EINVAL);
    assert_int_equal(avail_parse("MemAvailable: 99999999999999999999999 kB\n", &kb), -EINVAL);
    assert_int_equal(kb, UNTOUCHED);
}

/* memory.stat of a cgroup v2 group (6.x), inactive_file after names that contain it. */
static const char stat_v2[] = "anon 1744896\n"
                              "file 7839744\n"
                              "kernel 1200128\n"
                              "file_mapped 307200\n"
                              "file_dirty 147456\n"
                              "inactive_anon 1732608\n"
                              "active_anon 12288\n"
                              "inactive_file 749568\n"
                              "active_file 7090176\n"
                              "unevictable 0\n"
                              "workingset_refault_file 2354\n"
                              "pgfault 43105\n";

/* memory.stat of a cgroup v1 group with children: its own and its subtree's figures. */
static const char stat_v1[] = "cache 7839744\n"
                              "rss 1744896\n"
                              "inactive_anon 1732608\n"
                              "active_anon 12288\n"
                              "inactive_file 749568\n"
                              "active_file 7090176\n"
                              "hierarchical_memory_limit 9223372036854771712\n"
                              "total_cache 97839744\n"
                              "total_inactive_anon 11732608\n"
                              "total_inactive_file 50749568\n"
                              "total_active_file 37090176\n"
                              "total_unevictable 0";

static int stat_field(const char *text, const char *key, unsigned long long *v)
{
    return ms_memory_stat_field(text, strlen(text), key, v);
}

static void test_memory_stat_field(void **state)
{
    unsigned long long v = UNTOUCHED;
    (void)state;

    assert_int_equal(stat_field(stat_v2, "inactive_file", &v), 0);
    assert_int_equal(v, 749568);
    assert_int_equal(stat_field(stat_v2, "file", &v), 0);
    assert_int_equal(v, 7839744); /* not file_mapped nor file_dirty */
    assert_int_equal(stat_field(stat_v2, "anon", &v), 0);
    assert_int_equal(v, 1744896);
    /* v1: the whole name, so each key finds its own line whichever comes first. */
    assert_int_equal(stat_field(stat_v1, "inactive_file", &v), 0);
    assert_int_equal(v, 749568);
    assert_int_equal(stat_field(stat_v1, "total_inactive_file", &v), 0);
    assert_int_equal(v, 50749568);
    assert_int_equal(stat_field(stat_v1, "total_unevictable", &v), 0); /* no newline */
    assert_int_equal(v, 0);
    assert_int_equal(stat_field(stat_v1, "hierarchical_memory_limit", &v), 0);
    assert_int_equal(v, 9223372036854771712ULL);
    /* A name that is only a part of others, or absent. */
    v = UNTOUCHED;
    assert_int_equal(stat_field(stat_v2, "inactive", &v), -ENOENT);
    assert_int_equal(stat_field(stat_v2, "total_inactive_file", &v), -ENOENT);
    assert_int_equal(stat_field(stat_v2, "nactive_file", &v), -ENOENT);
    assert_int_equal(stat_field("", "inactive_file", &v), -ENOENT);
    assert_int_equal(stat_field("inactive_file\n", "inactive_file", &v), -ENOENT);
    assert_int_equal(v, UNTOUCHED);
    /* A line of that name whose value is not a whole number. */
    assert_int_equal(stat_field("inactive_file x\n", "inactive_file", &v), -EINVAL);
    assert_int_equal(stat_field("inactive_file 12 34\n", "inactive_file", &v), -EINVAL);
    assert_int_equal(stat_field("inactive_file 12x\n", "inactive_file", &v), -EINVAL);
    assert_int_equal(stat_field("inactive_file 99999999999999999999999\n", "inactive_file",
                                &v),
                     -EINVAL);
    assert_int_equal(stat_field(stat_v2, "", &v), -EINVAL);
    assert_int_equal(v, UNTOUCHED);
}

static void test_cgroup_available_kb(void **state)
{
    (void)state;

    /* 1 GiB limit, 400 MiB in use of which 90 MiB inactive page cache: 310 MiB working. */
    assert_int_equal(ms_cgroup_available_kb(1024 * MIB_KB, 400 * MIB_KB, 90 * MIB_KB),
                     714 * MIB_KB);
    assert_int_equal(ms_cgroup_available_kb(1024 * MIB_KB, 400 * MIB_KB, 0), 624 * MIB_KB);
    /* More inactive cache than usage (read at another instant): nothing is in use. */
    assert_int_equal(ms_cgroup_available_kb(1024 * MIB_KB, 90 * MIB_KB, 400 * MIB_KB),
                     1024 * MIB_KB);
    /* A working set at or above the limit (a limit lowered under it) leaves nothing. */
    assert_int_equal(ms_cgroup_available_kb(1024 * MIB_KB, 2048 * MIB_KB, 100 * MIB_KB), 0);
    assert_int_equal(ms_cgroup_available_kb(1024 * MIB_KB, 1124 * MIB_KB, 100 * MIB_KB), 0);
    assert_int_equal(ms_cgroup_available_kb(1024 * MIB_KB, 1124 * MIB_KB, 101 * MIB_KB), 1024);
    /* Usage over the limit but mostly page cache: the cache is reclaimed first. */
    assert_int_equal(ms_cgroup_available_kb(1024 * MIB_KB, 1500 * MIB_KB, 1000 * MIB_KB),
                     524 * MIB_KB);
}

/* ---- the reads, on a fake /proc and fake hierarchies ---------------------------------- */

static char tmp[PATH_MAX];
static char paths_buf[3][PATH_MAX + 32];

static void put(const char *rel, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(const char *rel, const char *fmt, ...)
{
    char path[PATH_MAX + 64];
    va_list ap;
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    assert_int_equal(fclose(f), 0);
}

static void del(const char *rel)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    assert_int_equal(unlink(path), 0);
}

static void mkd(const char *rel)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    assert_int_equal(mkdir(path, 0755), 0);
}

static int setup_tree(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "%s/ms-memavail.XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmp) == NULL)
        return -1;
    return 0;
}

static int teardown_tree(void **state)
{
    char cmd[PATH_MAX + 16];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

/*
 * The fake machine: a cgroup v2 hierarchy at <tmp>/cg2 with memsweep in /job/step, a v1
 * memory hierarchy at <tmp>/cg1 with memsweep in /v1job/step, and MemAvailable of
 * 8000000 kB, more than any limit below unless a test lowers it.
 */
static void fake_proc(ms_probe_paths_t *p)
{
    char mi[4 * PATH_MAX];

    mkd("cg2");
    mkd("cg2/job");
    mkd("cg2/job/step");
    mkd("cg1");
    mkd("cg1/v1job");
    mkd("cg1/v1job/step");
    put("meminfo", "MemTotal:       9000000 kB\nMemAvailable:   8000000 kB\n");
    put("self_cgroup", "5:memory:/v1job/step\n0::/job/step\n");
    snprintf(mi, sizeof mi,
             "20 1 0:3 / /proc rw - proc proc rw\n"
             "30 1 0:27 / %s/cg2 rw - cgroup2 cgroup2 rw\n"
             "31 1 0:28 / %s/cg1 rw - cgroup cgroup rw,memory\n",
             tmp, tmp);
    put("mountinfo", "%s", mi);
    snprintf(paths_buf[0], sizeof paths_buf[0], "%s/meminfo", tmp);
    snprintf(paths_buf[1], sizeof paths_buf[1], "%s/self_cgroup", tmp);
    snprintf(paths_buf[2], sizeof paths_buf[2], "%s/mountinfo", tmp);
    p->meminfo = paths_buf[0];
    p->self_cgroup = paths_buf[1];
    p->mountinfo = paths_buf[2];
}

/* One cgroup's files: limit (NULL: none), usage in MiB and inactive page cache in MiB. */
static void v2_group(const char *rel, const char *limit, unsigned long long usage_mib,
                     unsigned long long inactive_mib)
{
    char f[PATH_MAX];

    snprintf(f, sizeof f, "%s/memory.max", rel);
    put(f, "%s\n", limit != NULL ? limit : "max");
    snprintf(f, sizeof f, "%s/memory.current", rel);
    put(f, "%llu\n", usage_mib * MIB);
    snprintf(f, sizeof f, "%s/memory.stat", rel);
    put(f, "anon 1744896\nfile 7839744\nfile_dirty 147456\ninactive_anon 1732608\n"
           "inactive_file %llu\nactive_file 7090176\n",
        inactive_mib * MIB);
}

/* Checks the text naming the cgroup <tmp>/rel with that limit and working set in MiB. */
static void want_cgroup(const char *got, const char *rel, unsigned long long limit_mib,
                        unsigned long long used_mib)
{
    char want[PATH_MAX + 192];

    snprintf(want, sizeof want, "cgroup %s/%s: limit %llu MiB, in use %llu MiB", tmp, rel,
             limit_mib, used_mib);
    assert_string_equal(got, want);
}

static void test_read_v2(void **state)
{
    ms_probe_paths_t p;
    ms_memavail_t m;
    unsigned long long kb = UNTOUCHED;
    char src[PATH_MAX + 128];
    char want[PATH_MAX + 64];
    (void)state;

    fake_proc(&p);
    /* The top of the hierarchy has no memory.max (the kernel gives the root none). v1
     * has a small limit, which must not be read when v2 has the controller. */
    v2_group("cg2/job", NULL, 400, 90);
    v2_group("cg2/job/step", NULL, 300, 100);
    put("cg1/v1job/memory.limit_in_bytes", "%llu\n", 100 * MIB);
    put("cg1/v1job/memory.usage_in_bytes", "%llu\n", 10 * MIB);

    ms_memavail_open(&m, &p);
    assert_int_equal(m.version, 2);
    assert_int_equal(m.n, 2);
    snprintf(want, sizeof want, "%s/cg2/job/step", tmp);
    assert_string_equal(m.dir, want);

    /* No limit anywhere: the machine's MemAvailable. */
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 8000000);
    snprintf(want, sizeof want, "%s/meminfo MemAvailable", tmp);
    assert_string_equal(src, want);

    /* A limit on the parent only, set after open: it is read, working set 310 MiB. */
    put("cg2/job/memory.max", "%llu\n", 1024 * MIB);
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 714 * MIB_KB);
    want_cgroup(src, "cg2/job", 1024, 310);

    /* Limits on both: the step's room (800 - 200) is smaller. */
    put("cg2/job/step/memory.max", "%llu\n", 800 * MIB);
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 600 * MIB_KB);
    want_cgroup(src, "cg2/job/step", 800, 200);

    /* The parent's usage grows (a sibling's): its room, 1024 - 910, is now the smaller. */
    v2_group("cg2/job", "1073741824", 1000, 90);
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 114 * MIB_KB);
    want_cgroup(src, "cg2/job", 1024, 910);

    /* The step's limit lowered under its working set: nothing is left, and it says so. */
    put("cg2/job/step/memory.max", "%llu\n", 150 * MIB);
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 0);
    want_cgroup(src, "cg2/job/step", 150, 200);

    /* A tie names the deepest cgroup. */
    v2_group("cg2/job", "1073741824", 400, 90);
    v2_group("cg2/job/step", "838860800", 86, 0);
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 714 * MIB_KB);
    want_cgroup(src, "cg2/job/step", 800, 86);

    /* The machine has as much as the limits leave: the cgroup is named. */
    put("meminfo", "MemTotal:       9000000 kB\nMemAvailable:   %llu kB\n", 714 * MIB_KB);
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 714 * MIB_KB);
    want_cgroup(src, "cg2/job/step", 800, 86);

    /* The machine has less than the limits leave. */
    put("meminfo", "MemTotal:       9000000 kB\nMemAvailable:   100000 kB\n");
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 100000);
    snprintf(want, sizeof want, "%s/meminfo MemAvailable", tmp);
    assert_string_equal(src, want);
    put("meminfo", "MemTotal:       9000000 kB\nMemAvailable:   8000000 kB\n");

    /* A usage that makes no sense leaves the step out; a missing memory.stat counts all
     * of the parent's usage as in use. */
    put("cg2/job/step/memory.current", "lots\n");
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 714 * MIB_KB);
    del("cg2/job/memory.stat");
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 624 * MIB_KB);
    want_cgroup(src, "cg2/job", 1024, 400);
    /* A garbled limit is no limit. */
    put("cg2/job/memory.max", "1 GiB\n");
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 8000000);

    /* Without MemAvailable (an old kernel) a cgroup still answers; a caller may not want
     * the text. */
    v2_group("cg2/job", "1073741824", 400, 90);
    put("meminfo", "MemTotal:       9000000 kB\n");
    kb = UNTOUCHED;
    assert_int_equal(ms_memavail_read(&m, &kb, NULL, 0), 0);
    assert_int_equal(kb, 714 * MIB_KB);
    /* Nothing readable at all: an error, and nothing set. */
    put("cg2/job/memory.max", "max\n");
    kb = UNTOUCHED;
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), -ENOENT);
    del("meminfo");
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), -ENOENT);
    assert_int_equal(kb, UNTOUCHED);

    /* A short text buffer gets a cut text, never an overflow. */
    put("meminfo", "MemAvailable:   8000000 kB\n");
    put("cg2/job/memory.max", "%llu\n", 1024 * MIB);
    assert_int_equal(ms_memavail_read(&m, &kb, src, 16), 0);
    assert_true(strlen(src) < 16);
    assert_int_equal(strncmp(src, "cgroup", 6), 0);
}

static void test_read_v1(void **state)
{
    ms_probe_paths_t p;
    ms_memavail_t m;
    unsigned long long kb = UNTOUCHED;
    char src[PATH_MAX + 128];
    (void)state;

    fake_proc(&p);
    /* A hybrid system: the v2 hierarchy is there without the memory controller, whose
     * files are in v1. Every v1 level has the files, the top one unlimited. */
    put("cg1/memory.limit_in_bytes", "9223372036854771712\n");
    put("cg1/memory.usage_in_bytes", "%llu\n", 5000 * MIB);
    put("cg1/v1job/memory.limit_in_bytes", "%llu\n", 512 * MIB);
    put("cg1/v1job/memory.usage_in_bytes", "%llu\n", 300 * MIB);
    /* Its own inactive_file is 10 MiB, its subtree's 100 MiB; the usage is the subtree's. */
    put("cg1/v1job/memory.stat",
        "cache 7839744\ninactive_file %llu\nactive_file 7090176\ntotal_cache 97839744\n"
        "total_inactive_file %llu\ntotal_active_file 37090176\n",
        10 * MIB, 100 * MIB);
    put("cg1/v1job/step/memory.limit_in_bytes", "9223372036854771712\n");
    put("cg1/v1job/step/memory.usage_in_bytes", "%llu\n", 250 * MIB);

    ms_memavail_open(&m, &p);
    assert_int_equal(m.version, 1);
    assert_int_equal(m.n, 3);
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 312 * MIB_KB);
    want_cgroup(src, "cg1/v1job", 512, 200);

    /* A limit on the step too, with a memory.stat that is not one (all counts as used). */
    put("cg1/v1job/step/memory.limit_in_bytes", "%llu\n", 400 * MIB);
    put("cg1/v1job/step/memory.stat", "total_inactive_file many\n");
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 150 * MIB_KB);
    want_cgroup(src, "cg1/v1job/step", 400, 250);
    put("cg1/v1job/step/memory.limit_in_bytes", "9223372036854771712\n");

    /* v1job's memory.use_hierarchy of 0: its limit does not cover the step. */
    put("cg1/v1job/memory.use_hierarchy", "0\n");
    ms_memavail_open(&m, &p);
    assert_int_equal(m.version, 1);
    assert_int_equal(m.n, 1);
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 8000000);
    /* The root's 0 leaves out only the root; v1job's 1 (a child's flag) changes nothing. */
    put("cg1/v1job/memory.use_hierarchy", "1\n");
    put("cg1/memory.use_hierarchy", "0\n");
    put("cg1/v1job/step/memory.use_hierarchy", "1\n");
    ms_memavail_open(&m, &p);
    assert_int_equal(m.n, 2);
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 312 * MIB_KB);

    /* A v1-only system: no "0::" line at all. */
    put("self_cgroup", "5:memory:/v1job/step\n");
    ms_memavail_open(&m, &p);
    assert_int_equal(m.version, 1);
    assert_int_equal(m.n, 2);
}

static void test_read_no_cgroup(void **state)
{
    ms_probe_paths_t p;
    ms_memavail_t m;
    unsigned long long kb = UNTOUCHED;
    char src[PATH_MAX + 128];
    char want[PATH_MAX + 64];
    (void)state;

    fake_proc(&p);
    put("cg2/job/memory.max", "%llu\n", 64 * MIB);
    put("cg2/job/memory.current", "%llu\n", MIB);
    /* memsweep's cgroup is not visible here (another namespace, or removed). */
    put("self_cgroup", "0::/elsewhere/job\n");
    ms_memavail_open(&m, &p);
    assert_int_equal(m.version, 0);
    assert_int_equal(m.n, 0);
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 8000000);
    snprintf(want, sizeof want, "%s/meminfo MemAvailable", tmp);
    assert_string_equal(src, want);
    /* No /proc/self/cgroup at all. */
    p.self_cgroup = "/nonexistent/memsweep-test";
    ms_memavail_open(&m, &p);
    assert_int_equal(m.n, 0);
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), 0);
    assert_int_equal(kb, 8000000);
    /* Nor /proc/meminfo. */
    p.meminfo = "/nonexistent/memsweep-test";
    ms_memavail_open(&m, &p);
    kb = UNTOUCHED;
    assert_int_equal(ms_memavail_read(&m, &kb, src, sizeof src), -ENOENT);
    assert_int_equal(kb, UNTOUCHED);
}

/* A chain deeper than MS_MEMAVAIL_LEVELS keeps memsweep's cgroup and those nearest it. */
static void test_deep_chain(void **state)
{
    ms_probe_paths_t p;
    ms_memavail_t m;
    char rel[PATH_MAX] = "cg2";
    char self[PATH_MAX] = "0::";
    char f[PATH_MAX + 16];
    (void)state;

    fake_proc(&p);
    for (int i = 0; i < MS_MEMAVAIL_LEVELS + 4; i++) {
        strcat(rel, "/d");
        strcat(self, "/d");
        mkd(rel);
        snprintf(f, sizeof f, "%s/memory.max", rel);
        put(f, "max\n");
    }
    put("self_cgroup", "%s\n", self);
    ms_memavail_open(&m, &p);
    assert_int_equal(m.version, 2);
    assert_int_equal(m.n, MS_MEMAVAIL_LEVELS);
    assert_int_equal(m.end[0], strlen(m.dir));
    assert_int_equal(m.end[1], strlen(m.dir) - 2);
    assert_int_equal(m.end[MS_MEMAVAIL_LEVELS - 1], strlen(m.dir) - 2 * (MS_MEMAVAIL_LEVELS - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meminfo_available_parse),
        cmocka_unit_test(test_memory_stat_field),
        cmocka_unit_test(test_cgroup_available_kb),
        cmocka_unit_test_setup_teardown(test_read_v2, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_read_v1, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_read_no_cgroup, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_deep_chain, setup_tree, teardown_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
