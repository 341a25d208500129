/*
 * libFuzzer target for the plan of a sweep (launcher/params.c): -P parsing, value lists and
 * ranges, the product of the parameters, templating with {NAME} and {run}, commands files,
 * labels and the check that every run fits what execve accepts.
 *
 * The input is a list of fields separated by NUL bytes. The first byte of a field says
 * what the rest of it is:
 *   P  a -P argument, NAME=VALUES
 *   V  a value list, parsed on its own
 *   A  an argument of the command template; the first one is the command
 *   L  a length byte, then text for ms_label_text with that length as its limit
 *   E  "ENV_BYTES,ARG_MAX" for the size check (default: 2000 bytes of environment and
 *      the usual 2 MiB)
 *   C  everything after this byte, NULs included, is a commands file: commands mode
 * Other fields are ignored. The seeds in tests/fuzz/corpus/params/ are written this way.
 *
 * Besides what the sanitizers find, every promise of params.h that can be checked here
 * is: messages and labels are one line of printable text, a list parses back to the text
 * it came from, a range counts up by its step, expanded runs agree with an independent
 * expansion of the template, and the size check's verdict holds for the runs it names
 * and for the first, middle and last run.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise: say which and stop, so that libFuzzer keeps the input. */
static void require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_params: %s\n", what);
        abort();
    }
}

/* Nonzero when s holds no byte below 0x20 and no DEL. */
static int printable(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return 0;
    }
    return 1;
}

static void require_message(const char *err)
{
    require(err[0] != '\0', "an error without a message");
    require(printable(err), "a message with a control character");
}

static int is_ident_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_ident_char(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* The value list must be what text says: the list's items, or the range's numbers. */
static void check_values(const char *text, char **v, size_t n)
{
    require(n >= 1 && n <= MS_MAX_RUNS, "a value list with no value or too many");
    if (strstr(text, "..") != NULL && strchr(text, ',') == NULL) {
        long long prev = 0;

        for (size_t i = 0; i < n; i++) {
            char *end;
            const long long x = strtoll(v[i], &end, 10);

            require(*end == '\0' && end != v[i], "a range value that is not a number");
            require(i == 0 || x > prev, "a range that does not count up");
            if (i >= 2)
                require(x - prev == prev - strtoll(v[i - 2], NULL, 10),
                        "a range with an uneven step");
            prev = x;
        }
    } else {
        size_t pos = 0;

        for (size_t i = 0; i < n; i++) {
            const size_t len = strlen(v[i]);

            require(len > 0, "an empty value in a list");
            require(strncmp(text + pos, v[i], len) == 0, "a list value that is not in the text");
            pos += len;
            require(text[pos] == (i + 1 < n ? ',' : '\0'), "a list that is not the text");
            pos++;
        }
    }
}

static void fuzz_values(const char *text)
{
    char err[512] = "";
    char **v = NULL;
    size_t n = 0;
    const int rc = ms_values_parse(text, &v, &n, err, sizeof err);

    if (rc == 0) {
        check_values(text, v, n);
        ms_strv_free(v, n);
        return;
    }
    require(rc == -EINVAL || rc == -E2BIG, "ms_values_parse: an unexpected error");
    require(v == NULL, "ms_values_parse: values left after an error");
    require_message(err);
}

static void fuzz_params_add(ms_params_t *p, const char *spec)
{
    char err[512] = "";
    const size_t before = p->n;
    const int rc = ms_params_add(p, spec, err, sizeof err);
    size_t runs;

    if (rc != 0) {
        require(rc == -EINVAL || rc == -E2BIG, "ms_params_add: an unexpected error");
        require(p->n == before, "ms_params_add: a rejected parameter was kept");
        require_message(err);
        return;
    }
    require(p->n == before + 1, "ms_params_add: no parameter added");
    {
        const ms_param_t *q = &p->items[p->n - 1];
        const char *eq = strchr(spec, '=');

        require(eq != NULL && strlen(q->name) == (size_t)(eq - spec) &&
                    memcmp(q->name, spec, strlen(q->name)) == 0,
                "ms_params_add: the name is not the text before '='");
        require(ms_is_identifier(q->name) && strcmp(q->name, MS_PARAM_RUN) != 0,
                "ms_params_add: a name that is not allowed");
        check_values(eq + 1, q->values, q->n_values);
    }
    require(ms_params_count(p, &runs) == 0, "ms_params_add: too many runs accepted");
}

static void fuzz_label(const char *field)
{
    const size_t max = (unsigned char)field[0];
    const char *text = field[0] != '\0' ? field + 1 : field;
    char *label = ms_label_text(text, max);

    require(label != NULL, "ms_label_text: NULL");
    require(printable(label), "ms_label_text: a control character");
    require(strlen(label) <= 4 * max + 3, "ms_label_text: longer than its limit allows");
    if (strlen(text) <= max && printable(text))
        require(strcmp(label, text) == 0, "ms_label_text: changed a short printable text");
    if (strlen(text) > max)
        require(strlen(label) >= 3 && strcmp(label + strlen(label) - 3, "...") == 0,
                "ms_label_text: a cut text without \"...\"");
    free(label);
}

/* The template expanded by its definition in params.h, independently of params.c. */
static char *reference_expand(const char *tmpl, const ms_params_t *p, const size_t *choice,
                              size_t seq)
{
    size_t cap = strlen(tmpl) + 1;
    size_t len = 0;
    char *out;

    out = malloc(cap);
    require(out != NULL, "out of memory");
    for (const char *s = tmpl; *s != '\0';) {
        const char *add = s;
        size_t add_len = 1;
        size_t n = 0;
        char num[32];

        if (*s == '{' && is_ident_start(s[1])) {
            while (is_ident_char(s[1 + n]))
                n++;
            if (s[1 + n] == '}') {
                if (n == strlen(MS_PARAM_RUN) && memcmp(s + 1, MS_PARAM_RUN, n) == 0) {
                    snprintf(num, sizeof num, "%zu", seq);
                    add = num;
                } else {
                    size_t k = 0;

                    while (k < p->n && !(strlen(p->items[k].name) == n &&
                                         memcmp(p->items[k].name, s + 1, n) == 0))
                        k++;
                    require(k < p->n, "a placeholder that ms_plan_init let pass");
                    add = p->items[k].values[choice[k]];
                }
                add_len = strlen(add);
                s += n + 2;
            } else {
                s++;
            }
        } else {
            s++;
        }
        if (len + add_len + 1 > cap) {
            cap = 2 * (len + add_len + 1);
            out = realloc(out, cap);
            require(out != NULL, "out of memory");
        }
        memcpy(out + len, add, add_len);
        len += add_len;
    }
    out[len] = '\0';
    return out;
}

/* What execve would be asked to carry for argv; *too_long when one string is over. */
static uint64_t exec_total(char *const *argv, uint64_t env, int *too_long)
{
    uint64_t total = env + MS_EXEC_RESERVE + sizeof(char *);

    *too_long = 0;
    for (size_t i = 0; argv[i] != NULL; i++) {
        const size_t len = strlen(argv[i]);

        if (len + 1 > MS_EXEC_STRLEN_MAX)
            *too_long = 1;
        total += len + 1 + sizeof(char *);
    }
    return total;
}

static uint64_t clamp_limit(long arg_max)
{
    if (arg_max < MS_EXEC_STRLEN_MAX)
        return MS_EXEC_STRLEN_MAX;
    if (arg_max > MS_EXEC_ARG_MAX_CAP)
        return MS_EXEC_ARG_MAX_CAP;
    return (uint64_t)arg_max;
}

/* The run a size check message names ("run N ..." or "command N ..."), or 0. */
static size_t named_run(const char *err)
{
    unsigned long long n = 0;

    if (sscanf(err, "run %llu", &n) == 1 || sscanf(err, "command %llu", &n) == 1)
        return (size_t)n;
    return 0;
}

/* Expands run seq and checks it against the reference and the size check's verdict. */
static void check_run(const ms_plan_t *plan, size_t seq, size_t env, long arg_max,
                      int check_rc, size_t bad_seq)
{
    ms_run_spec_t spec;
    uint64_t total;
    int too_long;
    int fits;

    require(ms_plan_expand(plan, seq, &spec) == 0, "ms_plan_expand failed");
    require(spec.seq == seq, "ms_plan_expand: wrong seq");
    require(spec.label != NULL && printable(spec.label), "a label that is not one line");
    require(spec.command != NULL, "a run without its command");
    if (plan->commands != NULL) {
        char *const sh_argv[] = {"sh", "-c", spec.line, NULL};

        require(spec.argv == NULL && spec.line != NULL, "commands mode without its line");
        require(strcmp(spec.line, plan->commands->lines[seq - 1]) == 0,
                "a run that is not its line");
        require(strcmp(spec.command, spec.line) == 0, "a command that is not the line");
        total = exec_total(sh_argv, env, &too_long);
    } else {
        size_t *choice = calloc(plan->params->n + 1, sizeof *choice);
        char *joined;

        require(choice != NULL, "out of memory");
        require(spec.line == NULL && spec.argv != NULL, "template mode without its argv");
        ms_params_choice(plan->params, seq - 1, choice);
        for (size_t i = 0; i < plan->argc; i++) {
            char *want = reference_expand(plan->argv[i], plan->params, choice, seq);

            require(spec.argv[i] != NULL && strcmp(spec.argv[i], want) == 0,
                    "an argument that differs from the reference expansion");
            free(want);
        }
        require(spec.argv[plan->argc] == NULL, "an argv that is not NULL-terminated");
        joined = ms_join_words(spec.argv, plan->argc);
        require(joined != NULL && strcmp(joined, spec.command) == 0,
                "a command that is not the joined argv");
        free(joined);
        free(choice);
        total = exec_total(spec.argv, env, &too_long);
    }
    fits = !too_long && total <= clamp_limit(arg_max);
    if (check_rc == 0)
        require(fits, "the size check passed a run execve would refuse");
    if (check_rc == -E2BIG && seq == bad_seq)
        require(!fits, "the size check named a run that fits");
    if (check_rc == -E2BIG && bad_seq != 0 && seq < bad_seq)
        require(fits, "the size check named a run after one that does not fit");
    ms_run_spec_free(&spec);
}

static void fuzz_plan(ms_plan_t *plan, size_t env, long arg_max)
{
    char err[1024] = "";
    size_t seqs[4];
    size_t bad = 0;
    int rc = ms_plan_init(plan, err, sizeof err);

    if (rc != 0) {
        require(rc == -EINVAL || rc == -E2BIG, "ms_plan_init: an unexpected error");
        require_message(err);
        return;
    }
    require(plan->n_runs >= 1 && plan->n_runs <= MS_MAX_RUNS, "ms_plan_init: a bad run count");
    err[0] = '\0';
    rc = ms_plan_check_exec(plan, env, arg_max, err, sizeof err);
    require(rc == 0 || rc == -E2BIG, "ms_plan_check_exec: an unexpected error");
    if (rc != 0) {
        require_message(err);
        bad = named_run(err);
        require(bad <= plan->n_runs, "the size check named a run beyond the plan");
        require(bad != 0 || env > clamp_limit(arg_max) - MS_EXEC_RESERVE,
                "the size check refused without naming a run");
    }
    seqs[0] = 1;
    seqs[1] = plan->n_runs;
    seqs[2] = (plan->n_runs + 1) / 2;
    seqs[3] = bad != 0 ? bad : 1;
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        /* The earlier runs must fit when a later one is named; only the one before it is tried. */
        check_run(plan, seqs[i], env, arg_max, rc, bad);
        if (bad > 1 && i == 3)
            check_run(plan, bad - 1, env, arg_max, rc, bad);
    }
}

/* "ENV,ARG_MAX" */
static void parse_limits(const char *s, size_t *env, long *arg_max)
{
    char *end;
    const unsigned long long e = strtoull(s, &end, 10);

    if (*end != ',')
        return;
    *env = e > SIZE_MAX ? SIZE_MAX : (size_t)e;
    *arg_max = strtol(end + 1, NULL, 10);
}

static void fuzz_commands(const char *text, size_t len, size_t env, long arg_max)
{
    ms_commands_t c = {0};
    ms_params_t none = {0};
    ms_plan_t plan = {.params = &none, .commands = &c};
    char err[512] = "";
    const int rc = ms_commands_parse(text, len, &c, err, sizeof err);

    if (rc != 0) {
        require(rc == -EINVAL && memchr(text, '\0', len) != NULL,
                "ms_commands_parse refused text without a NUL");
        require_message(err);
        return;
    }
    for (size_t i = 0; i < c.n; i++) {
        const char *l = c.lines[i];

        require(l[0] != '\0' && l[0] != '#' && l[0] != ' ' && l[0] != '\t',
                "a blank, comment or indented command line");
        require(strchr(l, '\n') == NULL, "a command line with a newline");
    }
    if (c.n > 0)
        fuzz_plan(&plan, env, arg_max);
    ms_commands_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    char **argv = calloc(size / 2 + 1, sizeof *argv);
    ms_params_t params = {0};
    size_t argc = 0;
    size_t env = 2000;
    long arg_max = 2 * 1024 * 1024;
    size_t pos = 0;

    require(buf != NULL && argv != NULL, "out of memory");
    memcpy(buf, data, size);
    buf[size] = '\0';
    while (pos < size) {
        char *field = buf + pos;
        const size_t len = strlen(field);

        if (field[0] == 'C') {
            fuzz_commands(field + 1, size - pos - 1, env, arg_max);
            goto out;
        }
        switch (field[0]) {
        case 'P':
            fuzz_params_add(&params, field + 1);
            break;
        case 'V':
            fuzz_values(field + 1);
            break;
        case 'A':
            argv[argc++] = field + 1;
            break;
        case 'L':
            fuzz_label(field + 1);
            break;
        case 'E':
            parse_limits(field + 1, &env, &arg_max);
            break;
        default:
            break;
        }
        pos += len + 1;
    }
    {
        ms_plan_t plan = {.params = &params, .argv = argv, .argc = argc};

        fuzz_plan(&plan, env, arg_max);
    }
out:
    ms_params_free(&params);
    free(argv);
    free(buf);
    return 0;
}
