/*
 * Unit tests for launcher/runusage.c: statm, the oom_kill lines of memory.events,
 * memory.oom_control and /proc/vmstat as the kernel writes them, and the launcher's own
 * RSS and counters on this machine. Finding the cgroup is hostlimits' (test_hostlimits).
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
    }
    printf("self RSS %llu KiB; cgroup counter: %s; machine counter: %s\n", kb,
           cg.available ? cg.path : "none", machine.available ? machine.path : "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statm),
        cmocka_unit_test(test_oom_kill_lines),
        cmocka_unit_test(test_this_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
