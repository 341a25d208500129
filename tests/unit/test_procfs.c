/* Unit tests for the /proc parsers in include/memsweep/procfs.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "memsweep/procfs.h"

static const char status_text[] = "Name:\tpython3\n"
                                  "VmPeak:\t  300000 kB\n"
                                  "VmHWM:\t   123456 kB\n"
                                  "VmRSS:\t    99999 kB\n";

static void test_status_fields(void **state)
{
    unsigned long long kb = 0;
    (void)state;
    assert_int_equal(ms_procfs_kb_field(status_text, strlen(status_text), "VmHWM:", &kb), 0);
    assert_int_equal(kb, 123456);
    assert_int_equal(ms_procfs_kb_field(status_text, strlen(status_text), "VmRSS:", &kb), 0);
    assert_int_equal(kb, 99999);
}

static void test_status_key_must_start_line(void **state)
{
    /* "HWM:" occurs inside "VmHWM:" but never at the start of a line. */
    unsigned long long kb = 42;
    (void)state;
    assert_int_equal(ms_procfs_kb_field(status_text, strlen(status_text), "HWM:", &kb), -1);
    assert_int_equal(kb, 42);
}

static void test_meminfo_and_truncation(void **state)
{
    const char mi[] = "MemTotal:       24594048 kB\nMemFree:        1000 kB\n";
    unsigned long long kb = 0;
    (void)state;
    assert_int_equal(ms_procfs_kb_field(mi, strlen(mi), "MemTotal:", &kb), 0);
    assert_int_equal(kb, 24594048ULL);
    /* A buffer cut before the digits yields an error, not a zero. */
    assert_int_equal(ms_procfs_kb_field(mi, 10, "MemTotal:", &kb), -1);
}

static void test_statm(void **state)
{
    const char statm[] = "12345 678 90 1 0 2 0\n";
    unsigned long long pages = 0;
    (void)state;
    assert_int_equal(ms_procfs_statm_resident(statm, strlen(statm), &pages), 0);
    assert_int_equal(pages, 678);
    assert_int_equal(ms_procfs_statm_resident("12345", 5, &pages), -1);
    assert_int_equal(ms_procfs_statm_resident("x 1", 3, &pages), -1);
}

static void test_overflow_rejected(void **state)
{
    const char big[] = "VmHWM: 99999999999999999999999 kB\n";
    unsigned long long kb = 0;
    (void)state;
    assert_int_equal(ms_procfs_kb_field(big, strlen(big), "VmHWM:", &kb), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_fields),
        cmocka_unit_test(test_status_key_must_start_line),
        cmocka_unit_test(test_meminfo_and_truncation),
        cmocka_unit_test(test_statm),
        cmocka_unit_test(test_overflow_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
