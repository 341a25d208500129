/*
 * Unit tests for launcher/runusage.c: statm, the oom_kill lines of memory.events,
 * memory.oom_control and /proc/vmstat, /proc/self/cgroup and mountinfo texts as the
 * kernel writes them (cgroup v2, v1, hybrid, containers, escaped mount points), and the
 * launcher's own RSS and counters on this machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runusage.h"

static void test_statm(void **state)
{
    unsigned long long kb = 0;
    (void)state;

    assert_int_equal(ms_parse_statm_rss_kb("2345 917 700 92 0 310 0\n", 4096, &kb), 0);
    assert_int_equal(kb, 917ULL * 4);
    assert_int_equal(ms_parse_statm_rss_kb("10 3", 65536, &kb), 0);
    assert_int_equal(kb, 3ULL * 64);
    kb = 7;
    assert_int_equal(ms_parse_statm_rss_kb("", 4096, &kb), -EINVAL);
    assert_int_equal(ms_parse_statm_rss_kb("12\n", 4096, &kb), -EINVAL);
    assert_int_equal(ms_parse_statm_rss_kb("12 x 3\n", 4096, &kb), -EINVAL);
    assert_int_equal(ms_parse_statm_rss_kb("12 -3 3\n", 4096, &kb), -EINVAL);
    assert_int_equal(ms_parse_statm_rss_kb("12 99999999999999999999 3\n", 4096, &kb), -EINVAL);
    assert_int_equal(ms_parse_statm_rss_kb("12 3 3\n", 0, &kb), -EINVAL);
    assert_int_equal(kb, 7);
}

static void test_oom_kill_lines(void **state)
{
    unsigned long long n = 99;
    (void)state;

    /* cgroup v2 memory.events */
    assert_int_equal(ms_parse_oom_kill("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\n"
                                       "oom_group_kill 0\n", &n), 0);
    assert_int_equal(n, 2);
    /* cgroup v1 memory.oom_control */
    assert_int_equal(ms_parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 17\n", &n), 0);
    assert_int_equal(n, 17);
    /* /proc/vmstat: oom_kill among many, no trailing newline */
    assert_int_equal(ms_parse_oom_kill("nr_free_pages 12\npgfault 99\noom_kill 102", &n), 0);
    assert_int_equal(n, 102);
    /* Names that only start alike are not the line. */
    n = 5;
    assert_int_equal(ms_parse_oom_kill("oom_kill_disable 0\noom_group_kill 4\n", &n), -ENOENT);
    assert_int_equal(ms_parse_oom_kill("", &n), -ENOENT);
    assert_int_equal(ms_parse_oom_kill("oom_kill x\n", &n), -EINVAL);
    assert_int_equal(ms_parse_oom_kill("oom_kill 3 4\n", &n), -EINVAL);
    assert_int_equal(n, 5);
}

static void test_proc_cgroup(void **state)
{
    static const char hybrid[] = "9:name=systemd:/\n8:pids:/\n"
                                 "4:memory:/process_api/d68\n3:cpuset:/\n"
                                 "2:cpu,cpuacct:/\n0::/user.slice\n";
    char buf[64];
    (void)state;

    assert_int_equal(ms_parse_proc_cgroup(hybrid, NULL, buf, sizeof buf), 0);
    assert_string_equal(buf, "/user.slice");
    assert_int_equal(ms_parse_proc_cgroup(hybrid, "memory", buf, sizeof buf), 0);
    assert_string_equal(buf, "/process_api/d68");
    assert_int_equal(ms_parse_proc_cgroup(hybrid, "cpuacct", buf, sizeof buf), 0);
    assert_string_equal(buf, "/");
    assert_int_equal(ms_parse_proc_cgroup(hybrid, "blkio", buf, sizeof buf), -ENOENT);
    /* "name=systemd" is not the "systemd" controller, nor "cpu" part of "cpu,cpuacct"'s
     * neighbour "cpuset". */
    assert_int_equal(ms_parse_proc_cgroup(hybrid, "systemd", buf, sizeof buf), -ENOENT);
    assert_int_equal(ms_parse_proc_cgroup("3:cpuset:/a\n", "cpu", buf, sizeof buf), -ENOENT);
    /* Pure v2, no trailing newline; pure v1 has no v2 line. */
    assert_int_equal(ms_parse_proc_cgroup("0::/system.slice/x.service", NULL, buf, sizeof buf),
                     0);
    assert_string_equal(buf, "/system.slice/x.service");
    assert_int_equal(ms_parse_proc_cgroup("4:memory:/a\n", NULL, buf, sizeof buf), -ENOENT);
    assert_int_equal(ms_parse_proc_cgroup("0::/a-path-longer-than-the-buffer\n", NULL, buf, 8),
                     -ENAMETOOLONG);
}

static void test_cgroup_mount(void **state)
{
    static const char hybrid[] =
        "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
        "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
        "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    /* A container: the mount's root is the container's group; optional fields. */
    static const char container[] =
        "612 590 0:29 /docker/abc /sys/fs/cgroup ro,nosuid shared:9 master:1 - cgroup2 "
        "cgroup rw,nsdelegate\n";
    static const char escaped[] =
        "40 30 0:37 / /mnt/my\\040cgroups rw,relatime - cgroup cgroup rw,cpuset,memory\n";
    char mount[64], root[64];
    (void)state;

    assert_int_equal(ms_parse_cgroup_mount(hybrid, NULL, mount, sizeof mount, root, sizeof root),
                     0);
    assert_string_equal(mount, "/sys/fs/cgroup/unified");
    assert_string_equal(root, "/");
    assert_int_equal(
        ms_parse_cgroup_mount(hybrid, "memory", mount, sizeof mount, root, sizeof root), 0);
    assert_string_equal(mount, "/sys/fs/cgroup/memory");
    assert_int_equal(ms_parse_cgroup_mount(hybrid, "pids", mount, sizeof mount, root, sizeof root),
                     -ENOENT);
    assert_int_equal(
        ms_parse_cgroup_mount(hybrid, "systemd", mount, sizeof mount, root, sizeof root), -ENOENT);
    assert_int_equal(
        ms_parse_cgroup_mount(container, NULL, mount, sizeof mount, root, sizeof root), 0);
    assert_string_equal(mount, "/sys/fs/cgroup");
    assert_string_equal(root, "/docker/abc");
    assert_int_equal(
        ms_parse_cgroup_mount(escaped, "memory", mount, sizeof mount, root, sizeof root), 0);
    assert_string_equal(mount, "/mnt/my cgroups");
    assert_int_equal(ms_parse_cgroup_mount("garbage\n\n1 2 3\n", NULL, mount, sizeof mount, root,
                                           sizeof root),
                     -ENOENT);
    assert_int_equal(ms_parse_cgroup_mount(hybrid, "memory", mount, 8, root, sizeof root),
                     -ENAMETOOLONG);
}

/* On this machine: the launcher's RSS is plausible, and every counter found reads. */
static void test_this_machine(void **state)
{
    ms_oom_counter_t cg, machine;
    unsigned long long kb = 0, n;
    (void)state;

    assert_int_equal(ms_self_rss_kb(&kb), 0);
    assert_true(kb > 0 && kb < (1ULL << 30));
    ms_oom_counter_open_machine(&machine);
    if (machine.available) {
        assert_string_equal(machine.source, "/proc/vmstat");
        assert_int_equal(ms_oom_counter_read(&machine, &n), 0);
    } else {
        assert_int_equal(ms_oom_counter_read(&machine, &n), -ENOENT);
    }
    ms_oom_counter_open_cgroup(&cg);
    if (cg.available) {
        assert_int_equal(ms_oom_counter_read(&cg, &n), 0);
        assert_non_null(strstr(cg.path, "/memory."));
    }
    printf("self RSS %llu KiB; cgroup counter: %s; machine counter: %s\n", kb,
           cg.available ? cg.path : "none", machine.available ? machine.path : "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statm),
        cmocka_unit_test(test_oom_kill_lines),
        cmocka_unit_test(test_proc_cgroup),
        cmocka_unit_test(test_cgroup_mount),
        cmocka_unit_test(test_this_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
