/*
 * The plan of a sweep: parameters (-P NAME=VALUES), their cartesian product, templating
 * of `{NAME}` placeholders, and the lines of a --commands file. Pure logic: nothing here
 * reads files, prints or looks at the environment, so unit tests call it directly.
 *
 * Error reporting: functions that can reject input take an err buffer and fill it with a
 * one-line message without the "memsweep: " prefix.
 */
#ifndef MS_LAUNCHER_PARAMS_H
#define MS_LAUNCHER_PARAMS_H

#include <stddef.h>

/* Largest number of runs one sweep may plan. Above it the sweep is refused. */
#define MS_MAX_RUNS 1000000

/* Placeholder name that expands to the run's 1-based sequence number. */
#define MS_PARAM_RUN "run"

/*
 * Labels are for people: a value longer than MS_LABEL_VALUE_MAX bytes, or a command line
 * (the label of a run without parameters) longer than MS_LABEL_LINE_MAX, is cut there
 * and ends with "...". The run's command keeps every byte.
 */
#define MS_LABEL_VALUE_MAX 100
#define MS_LABEL_LINE_MAX 200

/*
 * Linux's limits on what one execve carries. One argument or environment string, its NUL
 * included, may be at most MS_EXEC_STRLEN_MAX bytes (MAX_ARG_STRLEN). All the strings
 * with their NULs and pointers may take sysconf(_SC_ARG_MAX) bytes (a quarter of the stack
 * limit), but never more than MS_EXEC_ARG_MAX_CAP (three quarters of the kernel's default
 * 8 MiB stack limit), nor less than MS_EXEC_STRLEN_MAX.
 */
#define MS_EXEC_STRLEN_MAX 131072
#define MS_EXEC_ARG_MAX_CAP (6 * 1024 * 1024)

/*
 * Bytes of that budget ms_plan_check_exec keeps for what it cannot count before the sweep
 * starts: the path execvp finds the program at, a #! interpreter line, and the variables
 * the launcher adds for each worker (the database path, the run id, the interval).
 */
#define MS_EXEC_RESERVE (3 * 4096)

/* One -P parameter: a name and its values, in the order they were given. */
typedef struct ms_param {
    char *name;
    char **values;
    size_t n_values;
} ms_param_t;

/* Every -P parameter, in command-line order; the first one varies slowest. */
typedef struct ms_params {
    ms_param_t *items;
    size_t n;
} ms_params_t;

/* The command lines of a --commands file, in file order. */
typedef struct ms_commands {
    char **lines;
    size_t n;
} ms_commands_t;

/*
 * What to run: either a templated argv (template mode, run through execvp) or the lines
 * of a commands file (commands mode, each run through /bin/sh -c). Exactly one of argv
 * and commands is set. The plan borrows everything it points to.
 */
typedef struct ms_plan {
    const ms_params_t *params;       /* template mode; may hold no parameter */
    char *const *argv;               /* template mode: COMMAND ARGS... */
    size_t argc;
    const ms_commands_t *commands;   /* commands mode */
    size_t n_runs;                   /* filled by ms_plan_init */
} ms_plan_t;

/* One run of the plan, expanded. Owned by the caller; release with ms_run_spec_free. */
typedef struct ms_run_spec {
    size_t seq;    /* 1-based sequence number */
    char **argv;   /* template mode: expanded, NULL-terminated; NULL in commands mode */
    char *line;    /* commands mode: the shell command line; NULL in template mode */
    char *label;   /* "NAME=value NAME=value", or the command line without parameters */
    char *command; /* the expanded argv joined with spaces, or the command line */
} ms_run_spec_t;

/* Nonzero when s is a non-empty identifier: [A-Za-z_][A-Za-z0-9_]*. */
int ms_is_identifier(const char *s);

/*
 * Parses the VALUES part of -P into a freshly allocated array of strings. VALUES is a
 * comma-separated list ("a,b,c": no empty item) or, when it contains ".." and no comma,
 * an inclusive integer range "START..END" or "START..END:STEP" (64-bit, negative
 * allowed, START <= END, STEP > 0). Returns 0, -EINVAL (message in err), -E2BIG when a
 * range has more than MS_MAX_RUNS values, or -ENOMEM.
 */
int ms_values_parse(const char *text, char ***values, size_t *n, char *err, size_t errlen);

/* Frees an array of n strings and the array. */
void ms_strv_free(char **v, size_t n);

/*
 * Parses one -P argument "NAME=VALUES" and appends it to p. NAME must be an identifier,
 * not MS_PARAM_RUN and not already present. Returns 0, -EINVAL, -E2BIG (also when the
 * values would take the number of runs above MS_MAX_RUNS, which is found before they are
 * allocated) or -ENOMEM; p is unchanged on failure.
 */
int ms_params_add(ms_params_t *p, const char *spec, char *err, size_t errlen);

/* Releases every parameter and leaves p empty. */
void ms_params_free(ms_params_t *p);

/* The parameter called name, or NULL. */
const ms_param_t *ms_params_find(const ms_params_t *p, const char *name, size_t len);

/*
 * Number of runs in the cartesian product (1 when there is no parameter). Returns 0, or
 * -E2BIG when the product exceeds MS_MAX_RUNS (*runs is then unspecified).
 */
int ms_params_count(const ms_params_t *p, size_t *runs);

/*
 * The value index of each parameter for the run with 0-based index idx of the product,
 * the first parameter varying slowest. choice has p->n entries.
 */
void ms_params_choice(const ms_params_t *p, size_t idx, size_t *choice);

/* Nonzero when tmpl holds a placeholder, `{identifier}`: its expansion varies by run. */
int ms_template_has_placeholder(const char *tmpl);

/*
 * Checks that every `{identifier}` in tmpl names a parameter of p or MS_PARAM_RUN.
 * Returns 0, or -EINVAL with "unknown placeholder '{x}' in 'ARG'" in err.
 */
int ms_template_check(const char *tmpl, const ms_params_t *p, char *err, size_t errlen);

/*
 * Expands tmpl: each `{NAME}` becomes the chosen value of parameter NAME and `{run}`
 * the decimal seq. Braces that do not enclose an identifier are copied as they are.
 * Returns 0 with a new string in *out, -EINVAL for an unknown placeholder (message in
 * err), or -ENOMEM.
 */
int ms_template_expand(const char *tmpl, const ms_params_t *p, const size_t *choice,
                       size_t seq, char **out, char *err, size_t errlen);

/*
 * The label of a run: "NAME=value NAME=value" in parameter order, each value written as
 * ms_label_text does with MS_LABEL_VALUE_MAX. NULL on ENOMEM.
 */
char *ms_params_label(const ms_params_t *p, const size_t *choice);

/*
 * Text for a label or a message that stays on one line and stays short: each control
 * character (a newline, a tab, an escape...) is written as \n, \r, \t or \xHH, and only the
 * first max bytes of s are kept, cut back to a UTF-8 character boundary and followed by
 * "..." when s is longer. Other bytes, backslashes included, are kept as they are, so the
 * text is not meant to be decoded: the exact bytes are in the run's argv. NULL on ENOMEM.
 */
char *ms_label_text(const char *s, size_t max);

/* The n strings of v joined with single spaces. NULL on ENOMEM. */
char *ms_join_words(char *const *v, size_t n);

/*
 * Splits the text of a commands file into command lines, skipping blank lines and lines
 * whose first non-blank character is '#'. Leading blanks are dropped, and so is a "\r"
 * before a newline, so files with CRLF line ends work; the rest of a line is kept as it
 * is. The last line needs no newline. Returns 0 (possibly with no line), -EINVAL when
 * the text holds a NUL byte (message in err, "line N: ..."), or -ENOMEM.
 */
int ms_commands_parse(const char *text, size_t len, ms_commands_t *out, char *err,
                      size_t errlen);

void ms_commands_free(ms_commands_t *c);

/*
 * Validates the plan and fills plan->n_runs: every template argument's placeholders
 * must be known, the product must not exceed MS_MAX_RUNS, a commands file must hold at
 * least one line. Returns 0, -EINVAL or -E2BIG with a message in err.
 */
int ms_plan_init(ms_plan_t *plan, char *err, size_t errlen);

/*
 * What execve counts for the NULL-terminated vector v (an environment): each string with
 * its NUL, and a pointer for each string and for the NULL.
 */
size_t ms_exec_bytes(char *const *v);

/*
 * Checks, before anything starts, that the kernel will execute every run of a plan that
 * passed ms_plan_init, so that a sweep is not refused one run at a time: each argument of
 * the expanded command (in commands mode, the line given to sh -c) must fit in
 * MS_EXEC_STRLEN_MAX, and all of them together with env_bytes of environment (what
 * ms_exec_bytes counts for the workers' environment) and MS_EXEC_RESERVE must fit in
 * arg_max, the value of sysconf(_SC_ARG_MAX) (bounded as MS_EXEC_ARG_MAX_CAP says).
 * Takes time in proportion to the number of runs only when the longest values come near
 * a limit. Returns 0, -E2BIG with a message naming the first run that would not fit, or
 * -ENOMEM (with strerror's message in err).
 */
int ms_plan_check_exec(const ms_plan_t *plan, size_t env_bytes, long arg_max, char *err,
                       size_t errlen);

/*
 * Expands run seq (1-based, at most plan->n_runs) of a plan that passed ms_plan_init.
 * The label is written as ms_params_label does or, without parameters, is the command
 * line as ms_label_text writes it with MS_LABEL_LINE_MAX. Returns 0 or -ENOMEM; *spec is
 * zeroed on failure.
 */
int ms_plan_expand(const ms_plan_t *plan, size_t seq, ms_run_spec_t *spec);

void ms_run_spec_free(ms_run_spec_t *spec);

#endif
