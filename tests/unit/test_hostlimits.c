/*
 * Unit tests for launcher/hostlimits.c (the parsers of /proc/self/cgroup, mountinfo and
 * the cgroup limit files, SLURM's variables, the choice of the smallest source, the
 * reserve and the CPUs) and for launcher/hostlimits_probe.c on files of its own: a fake
 * /proc and fake cgroup hierarchies in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostlimits.h"
#include "hostlimits_probe.h"

#define MIB_KB 1024ULL

static int self_path(const char *text, const char *controller, char *out, size_t outlen)
{
    return ms_cgroup_self_path(text, strlen(text), controller, out, outlen);
}

static void test_cgroup_self_path(void **state)
{
    static const char hybrid[] = "12:cpu,cpuacct:/x\n"
                                 "4:memory:/process_api/b076\n"
                                 "1:name=systemd:/init.scope\n"
                                 "0::/user.slice/a:b\n";
    char out[64];
    (void)state;

    assert_int_equal(self_path(hybrid, NULL, out, sizeof out), 0);
    assert_string_equal(out, "/user.slice/a:b"); /* a colon in the path is kept */
    assert_int_equal(self_path(hybrid, "memory", out, sizeof out), 0);
    assert_string_equal(out, "/process_api/b076");
    assert_int_equal(self_path(hybrid, "cpu", out, sizeof out), 0);
    assert_string_equal(out, "/x");
    assert_int_equal(self_path(hybrid, "mem", out, sizeof out), -ENOENT);
    assert_int_equal(self_path("3:cpu,memory:/job\n", "memory", out, sizeof out), 0);
    assert_string_equal(out, "/job");
    /* A v1-only system has no "0::" line; a v2-only one no memory line. */
    assert_int_equal(self_path("4:memory:/a\n", NULL, out, sizeof out), -ENOENT);
    assert_int_equal(self_path("0::/\n", "memory", out, sizeof out), -ENOENT);
    assert_int_equal(self_path("0::/\n", NULL, out, sizeof out), 0);
    assert_string_equal(out, "/");
    /* No trailing newline. */
    assert_int_equal(self_path("0::/last", NULL, out, sizeof out), 0);
    assert_string_equal(out, "/last");
    /* Paths that would leave the hierarchy, or are not paths. */
    assert_int_equal(self_path("0::/../..\n", NULL, out, sizeof out), -EINVAL);
    assert_int_equal(self_path("0::/a/..\n", NULL, out, sizeof out), -EINVAL);
    assert_int_equal(self_path("0::relative\n", NULL, out, sizeof out), -EINVAL);
    assert_int_equal(self_path("0::\n", NULL, out, sizeof out), -EINVAL);
    assert_int_equal(self_path("0::/a..b\n", NULL, out, sizeof out), 0);
    assert_int_equal(self_path("0::/0123456789\n", NULL, out, 8), -ENAMETOOLONG);
    assert_int_equal(self_path("garbage\n", NULL, out, sizeof out), -ENOENT);
    assert_int_equal(self_path("", NULL, out, sizeof out), -ENOENT);
}

static int parse_line(const char *line, ms_mountinfo_t *m)
{
    return ms_mountinfo_parse(line, strlen(line), m);
}

static void test_mountinfo_parse(void **state)
{
    ms_mountinfo_t m;
    (void)state;

    assert_int_equal(parse_line("40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 "
                                "cgroup2 rw", &m), 0);
    assert_string_equal(m.root, "/");
    assert_string_equal(m.point, "/sys/fs/cgroup/unified");
    assert_string_equal(m.fstype, "cgroup2");
    assert_string_equal(m.super, "rw");
    /* Optional fields before the separator; a v1 hierarchy's controllers. */
    assert_int_equal(parse_line("34 30 0:31 /docker/ab /sys/fs/cgroup/memory rw shared:9 "
                                "master:2 - cgroup cgroup rw,memory", &m), 0);
    assert_string_equal(m.root, "/docker/ab");
    assert_string_equal(m.fstype, "cgroup");
    assert_string_equal(m.super, "rw,memory");
    /* Escapes of the kernel: blank, tab, backslash. */
    assert_int_equal(parse_line("1 2 0:1 / /tmp/a\\040b\\011c\\134d rw - cgroup2 none rw", &m),
                     0);
    assert_string_equal(m.point, "/tmp/a b\tc\\d");
    /* Malformed: no separator, fields missing after it, bad escapes, too few fields. */
    assert_int_equal(parse_line("1 2 0:1 / /x rw cgroup2 none rw", &m), -EINVAL);
    assert_int_equal(parse_line("1 2 0:1 / /x rw - cgroup2 none", &m), -EINVAL);
    assert_int_equal(parse_line("1 2 0:1 / /x\\04 rw - cgroup2 none rw", &m), -EINVAL);
    assert_int_equal(parse_line("1 2 0:1 / /x\\400 rw - cgroup2 none rw", &m), -EINVAL);
    assert_int_equal(parse_line("1 2 0:1 / /x\\000 rw - cgroup2 none rw", &m), -EINVAL);
    assert_int_equal(parse_line("1 2 0:1 /", &m), -EINVAL);
    assert_int_equal(parse_line("", &m), -EINVAL);
}

static void test_cgroup_dir(void **state)
{
    char out[64];
    (void)state;

    assert_int_equal(ms_cgroup_dir("/sys/fs/cgroup", "/", "/job/step", out, sizeof out), 0);
    assert_string_equal(out, "/sys/fs/cgroup/job/step");
    assert_int_equal(ms_cgroup_dir("/sys/fs/cgroup", "/", "/", out, sizeof out), 0);
    assert_string_equal(out, "/sys/fs/cgroup");
    /* A container's mount shows only its own subtree. */
    assert_int_equal(ms_cgroup_dir("/sys/fs/cgroup", "/docker/ab", "/docker/ab/sub", out,
                                   sizeof out), 0);
    assert_string_equal(out, "/sys/fs/cgroup/sub");
    assert_int_equal(ms_cgroup_dir("/sys/fs/cgroup", "/docker/ab", "/docker/ab", out,
                                   sizeof out), 0);
    assert_string_equal(out, "/sys/fs/cgroup");
    assert_int_equal(ms_cgroup_dir("/sys/fs/cgroup", "/docker/ab", "/docker/abc", out,
                                   sizeof out), -ENOENT);
    assert_int_equal(ms_cgroup_dir("/sys/fs/cgroup", "/docker/ab", "/other", out, sizeof out),
                     -ENOENT);
    assert_int_equal(ms_cgroup_dir("/sys/fs/cgroup", "/", "/a/../..", out, sizeof out), -EINVAL);
    /* 14 + 49 bytes and the terminator fit in 64; one more does not. */
    assert_int_equal(ms_cgroup_dir("/sys/fs/cgroup", "/", "/012345678901234567890123456789"
                                   "012345678901234567", out, sizeof out), 0);
    assert_int_equal(ms_cgroup_dir("/sys/fs/cgroup", "/", "/012345678901234567890123456789"
                                   "0123456789012345678", out, sizeof out), -ENAMETOOLONG);
}

static void test_cgroup_find_dir_and_parent(void **state)
{
    static const char mi[] =
        "31 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
        "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "50 30 0:40 /elsewhere /mnt/cg2 rw - cgroup2 cgroup2 rw\n"
        "not a mountinfo line\n"
        "40 30 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
    char dir[128], point[64];
    (void)state;

    /* The first cgroup2 mount does not show /job: the second one does. */
    assert_int_equal(ms_cgroup_find_dir(mi, strlen(mi), 2, "/job/step", dir, sizeof dir, point,
                                        sizeof point), 0);
    assert_string_equal(dir, "/sys/fs/cgroup/unified/job/step");
    assert_string_equal(point, "/sys/fs/cgroup/unified");
    assert_int_equal(ms_cgroup_find_dir(mi, strlen(mi), 1, "/process_api/b0", dir, sizeof dir,
                                        point, sizeof point), 0);
    assert_string_equal(dir, "/sys/fs/cgroup/memory/process_api/b0");
    assert_int_equal(ms_cgroup_find_dir(mi, 30, 1, "/a", dir, sizeof dir, point, sizeof point),
                     -ENOENT); /* only part of the cpu line */

    /* Up to the mount point and no further. */
    assert_int_equal(ms_cgroup_parent_dir(dir, point), 1);
    assert_string_equal(dir, "/sys/fs/cgroup/memory/process_api");
    assert_int_equal(ms_cgroup_parent_dir(dir, point), 1);
    assert_string_equal(dir, "/sys/fs/cgroup/memory");
    assert_int_equal(ms_cgroup_parent_dir(dir, point), 0);
    assert_string_equal(dir, "/sys/fs/cgroup/memory");
    strcpy(dir, "/sys/fs/cgroup/memoryX/a");
    assert_int_equal(ms_cgroup_parent_dir(dir, point), 0);
}

static int limit(const char *text, int version, unsigned long long *kb)
{
    return ms_cgroup_limit_parse(text, strlen(text), version, kb);
}

static void test_cgroup_limit_parse(void **state)
{
    unsigned long long kb = 0;
    (void)state;

    assert_int_equal(limit("629145600\n", 2, &kb), 1);
    assert_int_equal(kb, 600 * MIB_KB);
    assert_int_equal(limit("629146623", 1, &kb), 1); /* rounded down to KiB */
    assert_int_equal(kb, 600 * MIB_KB);
    assert_int_equal(limit("1024\n", 2, &kb), 1);
    assert_int_equal(kb, 1);
    kb = 7;
    assert_int_equal(limit("max\n", 2, &kb), 0);
    assert_int_equal(limit("max", 2, &kb), 0);
    assert_int_equal(kb, 7);
    /* v1's unlimited, with 4 KiB and with 64 KiB pages; 4 PiB and above is no limit. */
    assert_int_equal(limit("9223372036854771712\n", 1, &kb), 0);
    assert_int_equal(limit("9223372036854710272\n", 1, &kb), 0);
    assert_int_equal(limit("4503599627370496\n", 2, &kb), 0);
    assert_int_equal(limit("4503599627369472\n", 2, &kb), 1);
    assert_int_equal(kb, (1ULL << 42) - 1);
    /* Not a limit. */
    assert_int_equal(limit("max\n", 1, &kb), -EINVAL);
    assert_int_equal(limit("", 2, &kb), -EINVAL);
    assert_int_equal(limit("\n", 2, &kb), -EINVAL);
    assert_int_equal(limit("600M\n", 2, &kb), -EINVAL);
    assert_int_equal(limit("-1\n", 1, &kb), -EINVAL);
    assert_int_equal(limit(" 629145600\n", 2, &kb), -EINVAL);
    assert_int_equal(limit("629145600\n\n", 2, &kb), -EINVAL);
    assert_int_equal(limit("maxi", 2, &kb), -EINVAL);
    assert_int_equal(limit("99999999999999999999999\n", 2, &kb), -EINVAL);
    assert_int_equal(limit("1023\n", 2, &kb), -EINVAL);
    assert_int_equal(limit("0\n", 2, &kb), -EINVAL);
}

static void test_slurm(void **state)
{
    ms_mem_candidate_t c;
    (void)state;

    assert_int_equal(ms_slurm_mem_per_node("600", &c), 1);
    assert_int_equal(c.kind, MS_MEM_SLURM_NODE);
    assert_int_equal(c.kb, 600 * MIB_KB);
    assert_string_equal(c.source, "SLURM_MEM_PER_NODE=600");
    assert_int_equal(ms_slurm_mem_per_node(NULL, &c), 0);
    assert_int_equal(ms_slurm_mem_per_node("0", &c), 0); /* --mem=0: the whole node */
    assert_int_equal(ms_slurm_mem_per_node("600M", &c), -EINVAL);
    assert_int_equal(ms_slurm_mem_per_node("", &c), -EINVAL);
    assert_int_equal(ms_slurm_mem_per_node(" 600", &c), -EINVAL);
    assert_int_equal(ms_slurm_mem_per_node("600\n", &c), -EINVAL);
    assert_int_equal(ms_slurm_mem_per_node("-1", &c), -EINVAL);
    assert_int_equal(ms_slurm_mem_per_node("4294967296", &c), -EINVAL); /* 4 PiB */
    assert_int_equal(ms_slurm_mem_per_node("4294967295", &c), 1);

    assert_int_equal(ms_slurm_mem_per_cpu("300", "2", &c), 1);
    assert_int_equal(c.kind, MS_MEM_SLURM_CPU);
    assert_int_equal(c.kb, 600 * MIB_KB);
    assert_string_equal(c.source, "SLURM_MEM_PER_CPU=300 x SLURM_CPUS_ON_NODE=2");
    assert_int_equal(ms_slurm_mem_per_cpu("300", NULL, &c), 0);
    assert_int_equal(ms_slurm_mem_per_cpu(NULL, "2", &c), 0);
    assert_int_equal(ms_slurm_mem_per_cpu("0", "2", &c), 0);
    assert_int_equal(ms_slurm_mem_per_cpu("300", "x", &c), -EINVAL);
    assert_int_equal(ms_slurm_mem_per_cpu("x", "2", &c), -EINVAL);
    assert_int_equal(ms_slurm_mem_per_cpu("x", NULL, &c), -EINVAL);
    assert_int_equal(ms_slurm_mem_per_cpu("300", "0", &c), -EINVAL);
    assert_int_equal(ms_slurm_mem_per_cpu("4294967295", "2", &c), -EINVAL); /* product */
}

static void test_choose_and_decide(void **state)
{
    ms_mem_candidate_t c[4];
    ms_mem_choice_t ch;
    (void)state;

    ms_mem_candidate_simple(&c[0], MS_MEM_MEMINFO, 24105 * MIB_KB);
    ms_mem_candidate_cgroup(&c[1], MS_MEM_CGROUP2, 600 * MIB_KB, "/sys/fs/cgroup/job");
    assert_int_equal(ms_mem_choose(c, 0), -1);
    assert_int_equal(ms_mem_choose(c, 1), 0);
    assert_int_equal(ms_mem_choose(c, 2), 1);

    /* A limit below the machine: its figure, its source, the limit's reserve. */
    ms_mem_decide(c, 2, -1, -1, &ch);
    assert_true(ch.have_total);
    assert_int_equal(ch.total_kb, 600 * MIB_KB);
    assert_string_equal(ch.source, "cgroup memory.max /sys/fs/cgroup/job");
    assert_true(ch.have_host);
    assert_int_equal(ch.host_kb, 24105 * MIB_KB);
    assert_int_equal(ch.reserve_mb, 64);
    assert_int_equal(ch.rule, MS_RESERVE_RULE_LIMIT);

    /* --reserve-mb overrides the rule. */
    ms_mem_decide(c, 2, -1, 10, &ch);
    assert_int_equal(ch.reserve_mb, 10);
    assert_int_equal(ch.rule, MS_RESERVE_RULE_OPTION);

    /* --mem-total-mb replaces every source, as a whole machine. */
    ms_mem_decide(c, 2, 4096, -1, &ch);
    assert_int_equal(ch.total_kb, 4096 * MIB_KB);
    assert_string_equal(ch.source, "--mem-total-mb");
    assert_int_equal(ch.reserve_mb, 1024);
    assert_int_equal(ch.rule, MS_RESERVE_RULE_MACHINE);
    assert_int_equal(ch.host_kb, 24105 * MIB_KB);

    /* A limit equal to the machine is no narrower: the machine is named. */
    ms_mem_candidate_cgroup(&c[1], MS_MEM_CGROUP1, 24105 * MIB_KB, "/sys/fs/cgroup/memory/x");
    ms_mem_decide(c, 2, -1, -1, &ch);
    assert_string_equal(ch.source, "/proc/meminfo");
    assert_int_equal(ch.reserve_mb, 1024);
    assert_int_equal(ch.rule, MS_RESERVE_RULE_MACHINE);

    /* The smallest of several; a cgroup and SLURM of the same size: the cgroup, which the
     * kernel enforces. A large limit gets the capped reserve. */
    ms_mem_candidate_cgroup(&c[1], MS_MEM_CGROUP2, 20000 * MIB_KB, "/sys/fs/cgroup/a");
    ms_slurm_mem_per_node("20000", &c[2]);
    ms_slurm_mem_per_node("30000", &c[3]);
    ms_mem_decide(c, 4, -1, -1, &ch);
    assert_string_equal(ch.source, "cgroup memory.max /sys/fs/cgroup/a");
    assert_int_equal(ch.reserve_mb, 1024);
    assert_int_equal(ch.rule, MS_RESERVE_RULE_LIMIT);
    ms_slurm_mem_per_node("4096", &c[3]);
    ms_mem_decide(c, 4, -1, -1, &ch);
    assert_string_equal(ch.source, "SLURM_MEM_PER_NODE=4096");
    assert_int_equal(ch.reserve_mb, 410);

    /* Without MemTotal a limit still stands; the machine's figure is unknown. */
    ms_mem_decide(c + 1, 1, -1, -1, &ch);
    assert_true(ch.have_total);
    assert_false(ch.have_host);

    /* Nothing at all. */
    ms_mem_decide(c, 0, -1, -1, &ch);
    assert_false(ch.have_total);
    assert_false(ch.have_host);
    assert_int_equal(ch.reserve_mb, 1024);
}

static void test_cpus_choose(void **state)
{
    long long n = 0;
    (void)state;

    assert_int_equal(ms_cpus_choose(2, NULL, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ms_cpus_choose(2, "1", &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ms_cpus_choose(2, "4", &n), 0); /* more than allowed: affinity wins */
    assert_int_equal(n, 2);
    assert_int_equal(ms_cpus_choose(2, "x", &n), -EINVAL);
    assert_int_equal(n, 2);
    assert_int_equal(ms_cpus_choose(2, "0", &n), -EINVAL);
    assert_int_equal(n, 2);
    assert_int_equal(ms_cpus_choose(0, NULL, &n), 0);
    assert_int_equal(n, 1);
}

/* ---- the probe, on a fake /proc and fake hierarchies ---------------------------------- */

static char tmp[PATH_MAX];

static void put(const char *rel, const char *text)
{
    char path[PATH_MAX + 64];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
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
    snprintf(tmp, sizeof tmp, "%s/ms-hostlimits.XXXXXX",
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
 * The fake machine: a cgroup v2 hierarchy mounted at "<tmp>/cg 2" (a blank, escaped in
 * mountinfo) with memsweep in /job/step, a v1 memory hierarchy at <tmp>/cg1 with
 * memsweep in /v1job, 24105 MiB of MemTotal.
 */
static void fake_proc(ms_probe_paths_t *p, char paths[3][PATH_MAX + 32])
{
    char mi[4 * PATH_MAX];

    mkd("cg 2");
    mkd("cg 2/job");
    mkd("cg 2/job/step");
    mkd("cg1");
    mkd("cg1/v1job");
    put("meminfo", "MemFree:  100 kB\nMemTotal:       24683748 kB\n");
    put("self_cgroup", "5:memory:/v1job\n0::/job/step\n");
    snprintf(mi, sizeof mi,
             "20 1 0:3 / /proc rw - proc proc rw\n"
             "30 1 0:27 / %s/cg\\0402 rw - cgroup2 cgroup2 rw\n"
             "31 1 0:28 / %s/cg1 rw - cgroup cgroup rw,memory\n",
             tmp, tmp);
    put("mountinfo", mi);
    snprintf(paths[0], sizeof paths[0], "%s/meminfo", tmp);
    snprintf(paths[1], sizeof paths[1], "%s/self_cgroup", tmp);
    snprintf(paths[2], sizeof paths[2], "%s/mountinfo", tmp);
    p->meminfo = paths[0];
    p->self_cgroup = paths[1];
    p->mountinfo = paths[2];
}

static const ms_mem_candidate_t *find_kind(const ms_mem_probe_t *pr, ms_mem_kind_t kind)
{
    for (size_t i = 0; i < pr->n; i++)
        if (pr->cand[i].kind == kind)
            return &pr->cand[i];
    return NULL;
}

static void test_probe_files(void **state)
{
    static char paths[3][PATH_MAX + 32];
    ms_probe_paths_t p;
    ms_slurm_env_t slurm = {NULL, NULL, NULL};
    ms_mem_probe_t pr;
    const ms_mem_candidate_t *c;
    char want[PATH_MAX + 64];
    (void)state;

    fake_proc(&p, paths);
    /* v2: no limit at the top (no file), 600 MiB on the job, none on the step. v1: a
     * garbled file where memsweep is, the unlimited sentinel above it. */
    put("cg 2/job/memory.max", "629145600\n");
    put("cg 2/job/step/memory.max", "max\n");
    put("cg1/v1job/memory.limit_in_bytes", "lots\n");
    put("cg1/memory.limit_in_bytes", "9223372036854771712\n");
    ms_mem_probe(&p, &slurm, &pr);
    assert_int_equal(pr.n, 2);
    c = find_kind(&pr, MS_MEM_MEMINFO);
    assert_non_null(c);
    assert_int_equal(c->kb, 24683748);
    c = find_kind(&pr, MS_MEM_CGROUP2);
    assert_non_null(c);
    assert_int_equal(c->kb, 600 * MIB_KB);
    snprintf(want, sizeof want, "cgroup memory.max %s/cg 2/job", tmp);
    assert_string_equal(c->source, want);
    assert_null(find_kind(&pr, MS_MEM_CGROUP1));
    assert_int_equal(pr.n_warnings, 1);
    assert_non_null(strstr(pr.warning[0], "/cg1/v1job/memory.limit_in_bytes: 'lots' is not a "
                                          "memory limit"));

    /* The deeper, smaller limit wins; on a tie the deepest cgroup is named. v1 now has a
     * limit of its own, and SLURM two figures. */
    put("cg 2/job/step/memory.max", "314572800\n");
    put("cg1/v1job/memory.limit_in_bytes", "524288000\n");
    slurm.mem_per_node = "1000";
    slurm.mem_per_cpu = "100";
    slurm.cpus_on_node = "2";
    ms_mem_probe(&p, &slurm, &pr);
    assert_int_equal(pr.n, 5);
    assert_int_equal(pr.n_warnings, 0);
    c = find_kind(&pr, MS_MEM_CGROUP2);
    assert_int_equal(c->kb, 300 * MIB_KB);
    snprintf(want, sizeof want, "cgroup memory.max %s/cg 2/job/step", tmp);
    assert_string_equal(c->source, want);
    assert_int_equal(find_kind(&pr, MS_MEM_CGROUP1)->kb, 500 * MIB_KB);
    assert_int_equal(find_kind(&pr, MS_MEM_SLURM_NODE)->kb, 1000 * MIB_KB);
    assert_int_equal(find_kind(&pr, MS_MEM_SLURM_CPU)->kb, 200 * MIB_KB);
    assert_string_equal(pr.cand[ms_mem_choose(pr.cand, pr.n)].source,
                        "SLURM_MEM_PER_CPU=100 x SLURM_CPUS_ON_NODE=2");
    /* v1 without use_hierarchy: the limits above the cgroup do not bound it. */
    put("cg1/v1job/memory.limit_in_bytes", "9223372036854771712\n");
    put("cg1/memory.limit_in_bytes", "104857600\n");
    ms_mem_probe(&p, &slurm, &pr);
    assert_int_equal(find_kind(&pr, MS_MEM_CGROUP1)->kb, 100 * MIB_KB);
    put("cg1/v1job/memory.use_hierarchy", "0\n");
    ms_mem_probe(&p, &slurm, &pr);
    assert_null(find_kind(&pr, MS_MEM_CGROUP1));
    put("cg1/v1job/memory.use_hierarchy", "1\n");
    ms_mem_probe(&p, &slurm, &pr);
    assert_int_equal(find_kind(&pr, MS_MEM_CGROUP1)->kb, 100 * MIB_KB);

    put("cg 2/job/memory.max", "314572800\n");
    slurm.mem_per_cpu = NULL;
    ms_mem_probe(&p, &slurm, &pr);
    assert_string_equal(find_kind(&pr, MS_MEM_CGROUP2)->source, want);
    /* SLURM_MEM_PER_CPU without SLURM_CPUS_ON_NODE is not used, and said so. */
    slurm.mem_per_cpu = "100";
    slurm.cpus_on_node = NULL;
    ms_mem_probe(&p, &slurm, &pr);
    assert_null(find_kind(&pr, MS_MEM_SLURM_CPU));
    assert_int_equal(pr.n_warnings, 1);
    assert_non_null(strstr(pr.warning[0], "SLURM_CPUS_ON_NODE is not"));
    slurm.mem_per_node = "6OO";
    slurm.mem_per_cpu = NULL;
    ms_mem_probe(&p, &slurm, &pr);
    assert_null(find_kind(&pr, MS_MEM_SLURM_NODE));
    assert_int_equal(pr.n_warnings, 1);
    assert_non_null(strstr(pr.warning[0], "SLURM_MEM_PER_NODE='6OO'"));

    /* A cgroup that is not there (removed, or seen from another namespace): nothing to
     * read, no limit invented, no complaint. A path that climbs out ("/.."): said so. */
    put("self_cgroup", "0::/elsewhere/job\n");
    slurm.mem_per_node = NULL;
    ms_mem_probe(&p, &slurm, &pr);
    assert_int_equal(pr.n, 1);
    assert_int_equal(pr.n_warnings, 0);
    put("self_cgroup", "0::/../job\n");
    ms_mem_probe(&p, &slurm, &pr);
    assert_int_equal(pr.n, 1);
    assert_int_equal(pr.n_warnings, 1);

    /* No /proc files at all: nothing, and nothing to complain about. */
    p.meminfo = p.self_cgroup = p.mountinfo = "/nonexistent/memsweep-test";
    ms_mem_probe(&p, &slurm, &pr);
    assert_int_equal(pr.n, 0);
    assert_int_equal(pr.n_warnings, 0);
}

static void test_probe_affinity(void **state)
{
    cpu_set_t saved, one;
    (void)state;

    assert_int_equal(sched_getaffinity(0, sizeof saved, &saved), 0);
    assert_int_equal(ms_probe_affinity_cpus(), CPU_COUNT(&saved));
    /* Pinned to one CPU the count follows, whatever the machine has. */
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &saved))
            continue;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
        assert_int_equal(ms_probe_affinity_cpus(), 1);
        assert_int_equal(sched_setaffinity(0, sizeof saved, &saved), 0);
        break;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cgroup_self_path),
        cmocka_unit_test(test_mountinfo_parse),
        cmocka_unit_test(test_cgroup_dir),
        cmocka_unit_test(test_cgroup_find_dir_and_parent),
        cmocka_unit_test(test_cgroup_limit_parse),
        cmocka_unit_test(test_slurm),
        cmocka_unit_test(test_choose_and_decide),
        cmocka_unit_test(test_cpus_choose),
        cmocka_unit_test_setup_teardown(test_probe_files, setup_tree, teardown_tree),
        cmocka_unit_test(test_probe_affinity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
