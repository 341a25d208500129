/* Unit tests for the spool directory rule in include/memsweep/spooldir.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "memsweep/spooldir.h"

static void test_next_to_database(void **state)
{
    char out[256];
    (void)state;
    assert_int_equal(ms_spooldir(out, sizeof(out), "/data/run/m.db", NULL, 0, 1000), 0);
    assert_string_equal(out, "/data/run/m.db.spool");
    assert_int_equal(ms_spooldir(out, sizeof(out), "/data/run/m.db", "", 0, 1000), 0);
    assert_string_equal(out, "/data/run/m.db.spool");
}

static void test_environment_wins(void **state)
{
    char out[256];
    (void)state;
    /* Even on a network filesystem, the user's own choice stands. */
    assert_int_equal(ms_spooldir(out, sizeof(out), "/nfs/m.db", "/scratch/sp", 1, 7), 0);
    assert_string_equal(out, "/scratch/sp");
}

static void test_network_goes_local(void **state)
{
    char out[256];
    (void)state;
    assert_int_equal(ms_spooldir(out, sizeof(out), "/home/u/x/m.db", NULL, 1, 1234), 0);
    assert_string_equal(out, "/tmp/memsweep-1234/%home%u%x%m.db.spool");
    assert_int_equal(ms_spooldir_local_parent(out, sizeof(out), 0), 0);
    assert_string_equal(out, "/tmp/memsweep-0");
}

static void test_relative_and_too_long(void **state)
{
    char out[24];
    (void)state;
    assert_int_equal(ms_spooldir(out, sizeof(out), "m.db", NULL, 0, 1), -EINVAL);
    /* "/a/b/c/d/e/f/g/h/m.db.spool" needs 28 bytes with its NUL; 21 + 1 fit exactly. */
    assert_int_equal(ms_spooldir(out, sizeof(out), "/a/b/c/d/e/f/g/h/m.db", NULL, 0, 1),
                     -ENAMETOOLONG);
    assert_int_equal(ms_spooldir(out, 22, "/a/b/c/d/e/m.db", NULL, 0, 1), 0);
    assert_string_equal(out, "/a/b/c/d/e/m.db.spool");
    assert_int_equal(ms_spooldir(out, 21, "/a/b/c/d/e/m.db", NULL, 0, 1), -ENAMETOOLONG);
}

static void test_db_dir_and_fs_types(void **state)
{
    (void)state;
    assert_int_equal(ms_spooldir_db_dir_len("/a/b/m.db"), 4);
    assert_int_equal(ms_spooldir_db_dir_len("/m.db"), 1);
    assert_true(ms_spooldir_is_network_fs(0x6969));
    assert_true(ms_spooldir_is_network_fs(0xFF534D42));
    assert_true(ms_spooldir_is_network_fs(0x65735546));
    assert_true(ms_spooldir_is_network_fs(0x0BD00BD0));
    assert_false(ms_spooldir_is_network_fs(0xEF53));     /* ext4 */
    assert_false(ms_spooldir_is_network_fs(0x01021994)); /* tmpfs */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_to_database),
        cmocka_unit_test(test_environment_wins),
        cmocka_unit_test(test_network_goes_local),
        cmocka_unit_test(test_relative_and_too_long),
        cmocka_unit_test(test_db_dir_and_fs_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
