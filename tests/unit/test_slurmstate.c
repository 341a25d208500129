/*
 * Unit tests for launcher/slurmstate.c and launcher/planfile.c: SLURM's records as
 * `scontrol show job -o` and the jobcomp/filetxt log write them (lines taken from SLURM
 * 22.05 on Debian 12), the states memsweep gives each end, slurmstepd's memory-kill line,
 * and the plan file of `memsweep run --slurm` written and read back, damaged ones refused.
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
#include <sys/stat.h>
#include <unistd.h>

#include "memsweep/schema.h"
#include "planfile.h"
#include "shardfix.h"
#include "slurmstate.h"

/* A task killed by OverMemoryKill, as scontrol shows it (cut). */
static const char killed[] =
    "JobId=31 ArrayJobId=30 ArrayTaskId=1 JobName=memsweep-sweep UserId=root(0) "
    "JobState=FAILED Reason=JobLaunchFailure Dependency=(null) Requeue=1 Restarts=0 "
    "ExitCode=0:9 RunTime=00:00:02 Command=/tmp/x y/array.sh WorkDir=/tmp/work dir "
    "StdErr=/tmp/out/slurm-30_1.err StdIn=/dev/null StdOut=/tmp/out/slurm-30_1.out\n";

static void test_field(void **state)
{
    char v[64];
    (void)state;

    assert_true(ms_slurm_field(killed, "JobState", v, sizeof v));
    assert_string_equal(v, "FAILED");
    assert_true(ms_slurm_field(killed, "ExitCode", v, sizeof v));
    assert_string_equal(v, "0:9");
    /* A value with a blank runs to the next KEY= word. */
    assert_true(ms_slurm_field(killed, "Command", v, sizeof v));
    assert_string_equal(v, "/tmp/x y/array.sh");
    assert_true(ms_slurm_field(killed, "WorkDir", v, sizeof v));
    assert_string_equal(v, "/tmp/work dir");
    /* A key is whole: JobId is not ArrayJobId, State is not JobState. */
    assert_true(ms_slurm_field(killed, "JobId", v, sizeof v));
    assert_string_equal(v, "31");
    assert_false(ms_slurm_field(killed, "State", v, sizeof v));
    assert_false(ms_slurm_field(killed, "Partition", v, sizeof v));
}

static void test_record_is(void **state)
{
    (void)state;
    assert_true(ms_slurm_record_is(killed, "30_1"));
    assert_true(ms_slurm_record_is(killed, "31"));
    assert_false(ms_slurm_record_is(killed, "30_10"));
    assert_false(ms_slurm_record_is(killed, "3_1"));
    assert_false(ms_slurm_record_is(killed, "30"));
}

static void test_parse_end(void **state)
{
    ms_batch_end_t e;
    (void)state;

    assert_int_equal(ms_slurm_parse_end(killed, &e), 1);
    assert_string_equal(e.state, "FAILED");
    assert_true(e.have_signal);
    assert_int_equal(e.signal, 9);
    assert_false(e.have_exit_code);
    assert_string_equal(ms_batch_status(&e), MS_STATUS_KILLED);
    snprintf(e.reason, sizeof e.reason, "slurmstepd-n1: error: StepId=31.batch exceeded memory "
                                        "limit (70000 > 61440), being killed");
    assert_string_equal(ms_batch_status(&e), MS_STATUS_OOM);

    assert_int_equal(ms_slurm_parse_end("JobId=5 JobState=COMPLETED ExitCode=0:0", &e), 1);
    assert_string_equal(ms_batch_status(&e), MS_STATUS_OK);
    /* The job's exit is not the exit of a run whose exec died unrecorded. */
    assert_string_equal(ms_batch_status_unrecorded(&e), MS_STATUS_LOST);
    assert_int_equal(ms_slurm_parse_end("JobId=5 JobState=COMPLETED ExitCode=3:0", &e), 1);
    assert_true(e.have_exit_code);
    assert_int_equal(e.exit_code, 3);
    assert_string_equal(ms_batch_status(&e), MS_STATUS_FAILED);
    assert_string_equal(ms_batch_status_unrecorded(&e), MS_STATUS_LOST);
    assert_int_equal(ms_slurm_parse_end("JobId=5 JobState=TIMEOUT ExitCode=0:15", &e), 1);
    assert_string_equal(ms_batch_status(&e), MS_STATUS_TIMEOUT);
    assert_string_equal(ms_batch_status_unrecorded(&e), MS_STATUS_TIMEOUT);
    /* sacct's form, through the same parser. */
    assert_int_equal(ms_slurm_parse_end("State=CANCELLED by 0 ExitCode=0:15", &e), 1);
    assert_string_equal(e.state, "CANCELLED");
    assert_string_equal(ms_batch_status(&e), MS_STATUS_CANCELLED);
    assert_int_equal(ms_slurm_parse_end("JobState=OUT_OF_MEMORY ExitCode=0:125", &e), 1);
    assert_string_equal(ms_batch_status(&e), MS_STATUS_OOM);
    assert_int_equal(ms_slurm_parse_end("JobState=NODE_FAIL ExitCode=0:0", &e), 1);
    assert_string_equal(ms_batch_status(&e), MS_STATUS_LOST);
    assert_int_equal(ms_slurm_parse_end("JobState=PREEMPTED ExitCode=0:15", &e), 1);
    assert_string_equal(ms_batch_status(&e), MS_STATUS_CANCELLED);
    /* Not ended yet, or no state at all. */
    assert_int_equal(ms_slurm_parse_end("JobId=5 JobState=RUNNING ExitCode=0:0", &e), 0);
    assert_int_equal(ms_slurm_parse_end("JobId=5 JobState=PENDING", &e), 0);
    assert_int_equal(ms_slurm_parse_end("JobId=5 JobState=REQUEUED", &e), 0);
    assert_int_equal(ms_slurm_parse_end("JobId=5 ExitCode=0:0", &e), 0);
    assert_int_equal(ms_slurm_parse_end("", &e), 0);
}

static void test_memory_line(void **state)
{
    char out[192];
    (void)state;

    assert_int_equal(ms_slurm_memory_kill_line("started\nslurmstepd-n1: error: StepId=7.batch "
                                               "exceeded memory limit (99 > 60), being killed\n"
                                               "more\n",
                                               out, sizeof out),
                     1);
    assert_string_equal(out, "slurmstepd-n1: error: StepId=7.batch exceeded memory limit (99 > "
                             "60), being killed");
    assert_int_equal(ms_slurm_memory_kill_line("Traceback\nMemoryError\n", out, sizeof out), 0);
}

static void roundtrip(const ms_plan_source_t *src, size_t runs, size_t seq, const char *label,
                      const char *command)
{
    char path[] = "/tmp/test_planfile.XXXXXX";
    char file[64], err[256];
    ms_planfile_t pf;
    ms_run_spec_t spec;
    const int fd = mkstemp(path);

    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    snprintf(file, sizeof file, "%s", path);
    assert_int_equal(ms_planfile_write(file, src, err, sizeof err), 0);
    /* Never over an existing file. */
    assert_int_not_equal(ms_planfile_write(file, src, err, sizeof err), 0);
    assert_int_equal(ms_planfile_read(file, &pf, err, sizeof err), 0);
    assert_int_equal(pf.plan.n_runs, runs);
    assert_int_equal(ms_plan_expand(&pf.plan, seq, &spec), 0);
    assert_string_equal(spec.label, label);
    assert_string_equal(spec.command, command);
    ms_run_spec_free(&spec);
    ms_planfile_free(&pf);
    unlink(file);
}

static void test_planfile(void **state)
{
    char *specs[] = {"mib=16,64", "seed=1..3"};
    char *argv[] = {"prog", "--mib", "{mib}", "--tag", "a b\n{seed}/{run}"};
    ms_commands_t cmds = {0};
    char err[256];
    (void)state;

    const ms_plan_source_t t = {.param_specs = specs, .n_param_specs = 2, .argv = argv, .argc = 5};
    roundtrip(&t, 6, 5, "mib=64 seed=2", "prog --mib 64 --tag a b\n2/5");
    static const char lines[] = "echo 1\n# no\nsleep 2 | cat\n";
    assert_int_equal(ms_commands_parse(lines, sizeof lines - 1, &cmds, err, sizeof err), 0);
    const ms_plan_source_t c = {.commands = &cmds};
    roundtrip(&c, 2, 2, "sleep 2 | cat", "sleep 2 | cat");
    ms_commands_free(&cmds);
}

static void test_planfile_damaged(void **state)
{
#define BAD(s) {s, sizeof(s) - 1}
    static const struct {
        const char *text;
        size_t len;
    } bad[] = {
        BAD(""),
        BAD("memsweep-plan 1"),
        BAD("memsweep-plan 2\0template\0" "0\0" "1\0true\0"),
        BAD("memsweep-plan 1\0template\0" "1\0" "mib=1,2\0" "0\0"),
        BAD("memsweep-plan 1\0template\0" "1\0" "mib=1,2\0" "2\0true\0"),
        BAD("memsweep-plan 1\0template\0" "x\0" "1\0true\0"),
        BAD("memsweep-plan 1\0template\0" "0\0" "1\0true\0extra\0"),
        BAD("memsweep-plan 1\0template\0" "0\0" "1\0true"),
        BAD("memsweep-plan 1\0commands\0" "0\0"),
        BAD("memsweep-plan 1\0commands\0" "2\0one\0"),
        BAD("memsweep-plan 1\0other\0" "0\0"),
        BAD("memsweep-plan 1\0template\0" "1\0" "bad name=1\0" "1\0true\0"),
    };
#undef BAD
    char err[256];
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms_planfile_t pf;
        char *text = malloc(bad[i].len + 1);
        assert_non_null(text);
        memcpy(text, bad[i].text, bad[i].len);
        err[0] = '\0';
        assert_int_not_equal(ms_planfile_parse(text, bad[i].len, &pf, err, sizeof err), 0);
        assert_true(err[0] != '\0');
        free(text);
    }
    {
        /* The same layout whole is a plan: the cases above fail for their damage. */
        static const char good[] = "memsweep-plan 1\0template\0" "1\0" "mib=1,2\0" "1\0true\0";
        ms_planfile_t pf;
        char *text = malloc(sizeof good - 1);
        assert_non_null(text);
        memcpy(text, good, sizeof good - 1);
        assert_int_equal(ms_planfile_parse(text, sizeof good - 1, &pf, err, sizeof err), 0);
        assert_int_equal(pf.plan.n_runs, 2);
        ms_planfile_free(&pf);
    }
}

/* A fake command in dir: a shell script printing text. */
static void fake(const char *dir, const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\ncat <<'EOF'\n%sEOF\n", text);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
}

static void test_array_lookup(void **state)
{
    char dir[] = "/tmp/test_slurmstate.XXXXXX";
    char *old = getenv("PATH") != NULL ? strdup(getenv("PATH")) : NULL;
    ms_batch_end_t ends[12];
    unsigned char have[12];
    char cmd[128];
    (void)state;

    assert_non_null(mkdtemp(dir));
    /* No accounting: sacct fails; scontrol knows one task run, one over memory, and a
     * record of tasks cancelled while pending. */
    fake(dir, "sacct", "");
    snprintf(cmd, sizeof cmd, "%s/sacct", dir);
    {
        FILE *f = fopen(cmd, "w");
        assert_non_null(f);
        fputs("#!/bin/sh\nexit 1\n", f);
        fclose(f);
    }
    fake(dir, "scontrol",
         "JobId=41 ArrayJobId=40 ArrayTaskId=0 JobState=COMPLETED Reason=None ExitCode=0:0\n"
         "JobId=42 ArrayJobId=40 ArrayTaskId=1 JobState=FAILED Reason=JobLaunchFailure ExitCode=0:9 StdErr=/nonexistent\n"
         "JobId=40 ArrayJobId=40 ArrayTaskId=4-6,9%2 JobState=CANCELLED Reason=None ExitCode=0:0\n"
         "JobId=43 ArrayJobId=400 ArrayTaskId=2 JobState=TIMEOUT ExitCode=0:15\n");
    {
        char path[128];
        snprintf(path, sizeof path, "%s:/usr/bin:/bin", dir);
        setenv("PATH", path, 1);
    }
    ms_slurm_array_lookup("40", 12, ends, have);
    if (old != NULL)
        setenv("PATH", old, 1);
    free(old);
    assert_int_equal(have[0], 1);
    assert_string_equal(ends[0].state, "COMPLETED");
    assert_int_equal(have[1], 1);
    assert_int_equal(ends[1].signal, 9);
    for (int t = 2; t < 12; t++)
        assert_int_equal(have[t], t == 4 || t == 5 || t == 6 || t == 9);
    assert_string_equal(ends[5].state, "CANCELLED");
    assert_string_equal(ms_batch_status(&ends[9]), MS_STATUS_CANCELLED);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field),
        cmocka_unit_test(test_record_is),
        cmocka_unit_test(test_parse_end),
        cmocka_unit_test(test_memory_line),
        cmocka_unit_test(test_planfile),
        cmocka_unit_test(test_planfile_damaged),
        cmocka_unit_test(test_array_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
