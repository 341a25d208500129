/* Parameters, their cartesian product, templating and commands files (see params.h). */
#include "params.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

/* Longest text accepted for one bound of a range; a 64-bit integer needs 20. */
#define NUMBER_MAX 64

static int is_ident_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_ident_char(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

int ms_is_identifier(const char *s)
{
    if (!is_ident_start(*s))
        return 0;
    for (s++; *s != '\0'; s++) {
        if (!is_ident_char(*s))
            return 0;
    }
    return 1;
}

/* Length of the identifier that starts at s and is closed by '}', or 0 if there is none. */
static size_t placeholder_len(const char *s)
{
    size_t n = 0;

    if (!is_ident_start(s[0]))
        return 0;
    while (is_ident_char(s[n]))
        n++;
    return s[n] == '}' ? n : 0;
}

void ms_strv_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Converts a value known to lie in [LLONG_MIN, LLONG_MAX] from two's complement bits. */
static long long from_u64(unsigned long long u)
{
    if (u <= (unsigned long long)LLONG_MAX)
        return (long long)u;
    return -(long long)(~u) - 1;
}

/* Copies [s, s + n) into buf as a string; -EINVAL when it does not fit. */
static int copy_part(const char *s, size_t n, char *buf, size_t buflen)
{
    if (n >= buflen)
        return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

static int parse_range(const char *text, char ***values, size_t *n, char *err, size_t errlen)
{
    char start_s[NUMBER_MAX], end_s[NUMBER_MAX], step_s[NUMBER_MAX];
    const char *dots = strstr(text, "..");
    const char *end_p = dots + 2;
    const char *colon = strchr(end_p, ':');
    long long start, end, step = 1;
    unsigned long long span, count;
    char **v;

    if (copy_part(text, (size_t)(dots - text), start_s, sizeof start_s) != 0 ||
        copy_part(end_p, colon != NULL ? (size_t)(colon - end_p) : strlen(end_p), end_s,
                  sizeof end_s) != 0 ||
        ms_parse_ll(start_s, LLONG_MIN, LLONG_MAX, &start) != 0 ||
        ms_parse_ll(end_s, LLONG_MIN, LLONG_MAX, &end) != 0) {
        ms_set_err(err, errlen, "invalid range '%s' (expected START..END or START..END:STEP)",
                text);
        return -EINVAL;
    }
    if (colon != NULL) {
        if (copy_part(colon + 1, strlen(colon + 1), step_s, sizeof step_s) != 0 ||
            ms_parse_ll(step_s, LLONG_MIN, LLONG_MAX, &step) != 0) {
            ms_set_err(err, errlen, "invalid step in range '%s'", text);
            return -EINVAL;
        }
        if (step <= 0) {
            ms_set_err(err, errlen, "the step of range '%s' must be positive", text);
            return -EINVAL;
        }
    }
    if (start > end) {
        ms_set_err(err, errlen, "range '%s' is empty: its start is above its end", text);
        return -EINVAL;
    }
    /* Unsigned arithmetic: the span of two 64-bit integers can exceed LLONG_MAX. */
    span = (unsigned long long)end - (unsigned long long)start;
    /* Compared before adding 1, which would wrap for the full 64-bit range. */
    if (span / (unsigned long long)step >= MS_MAX_RUNS) {
        ms_set_err(err, errlen, "range '%s' has more than %d values", text, MS_MAX_RUNS);
        return -E2BIG;
    }
    count = span / (unsigned long long)step + 1;
    v = calloc((size_t)count, sizeof *v);
    if (v == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < (size_t)count; i++) {
        const unsigned long long u =
            (unsigned long long)start + (unsigned long long)i * (unsigned long long)step;
        char num[32];

        snprintf(num, sizeof num, "%lld", from_u64(u));
        v[i] = strdup(num);
        if (v[i] == NULL) {
            ms_strv_free(v, i);
            return -ENOMEM;
        }
    }
    *values = v;
    *n = (size_t)count;
    return 0;
}

static int parse_list(const char *text, char ***values, size_t *n, char *err, size_t errlen)
{
    size_t count = 1;
    size_t i = 0;
    const char *s = text;
    char **v;

    for (const char *c = text; *c != '\0'; c++) {
        if (*c == ',')
            count++;
    }
    if (count > MS_MAX_RUNS) {
        ms_set_err(err, errlen, "list '%s' has more than %d values", text, MS_MAX_RUNS);
        return -E2BIG;
    }
    v = calloc(count, sizeof *v);
    if (v == NULL)
        return -ENOMEM;
    for (;;) {
        const char *comma = strchr(s, ',');
        const size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);

        if (len == 0) {
            ms_set_err(err, errlen, "empty value in list '%s'", text);
            ms_strv_free(v, i);
            return -EINVAL;
        }
        v[i] = strndup(s, len);
        if (v[i] == NULL) {
            ms_strv_free(v, i);
            return -ENOMEM;
        }
        i++;
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    *values = v;
    *n = count;
    return 0;
}

int ms_values_parse(const char *text, char ***values, size_t *n, char *err, size_t errlen)
{
    if (*text == '\0') {
        ms_set_err(err, errlen, "empty parameter list");
        return -EINVAL;
    }
    if (strstr(text, "..") != NULL && strchr(text, ',') == NULL)
        return parse_range(text, values, n, err, errlen);
    return parse_list(text, values, n, err, errlen);
}

const ms_param_t *ms_params_find(const ms_params_t *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->n; i++) {
        const ms_param_t *q = &p->items[i];
        if (strlen(q->name) == len && memcmp(q->name, name, len) == 0)
            return q;
    }
    return NULL;
}

int ms_params_add(ms_params_t *p, const char *spec, char *err, size_t errlen)
{
    const char *eq = strchr(spec, '=');
    char why[256];
    char *name = NULL;
    char **values = NULL;
    size_t n_values = 0;
    ms_param_t *items;
    int rc;

    if (eq == NULL) {
        ms_set_err(err, errlen, "invalid parameter '%s' (expected NAME=VALUES)", spec);
        return -EINVAL;
    }
    name = strndup(spec, (size_t)(eq - spec));
    if (name == NULL)
        return -ENOMEM;
    if (!ms_is_identifier(name)) {
        ms_set_err(err, errlen,
                "invalid parameter name '%s' (letters, digits and '_', not starting with "
                "a digit)",
                name);
        rc = -EINVAL;
        goto fail;
    }
    if (strcmp(name, MS_PARAM_RUN) == 0) {
        ms_set_err(err, errlen, "parameter name '%s' is reserved for the run number", name);
        rc = -EINVAL;
        goto fail;
    }
    if (ms_params_find(p, name, strlen(name)) != NULL) {
        ms_set_err(err, errlen, "parameter '%s' is given twice", name);
        rc = -EINVAL;
        goto fail;
    }
    rc = ms_values_parse(eq + 1, &values, &n_values, why, sizeof why);
    if (rc == -EINVAL || rc == -E2BIG)
        ms_set_err(err, errlen, "parameter '%s': %s", name, why);
    if (rc != 0)
        goto fail;
    items = realloc(p->items, (p->n + 1) * sizeof *items);
    if (items == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    p->items = items;
    p->items[p->n].name = name;
    p->items[p->n].values = values;
    p->items[p->n].n_values = n_values;
    p->n++;
    return 0;

fail:
    ms_strv_free(values, n_values);
    free(name);
    return rc;
}

void ms_params_free(ms_params_t *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].name);
        ms_strv_free(p->items[i].values, p->items[i].n_values);
    }
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

int ms_params_count(const ms_params_t *p, size_t *runs)
{
    size_t total = 1;

    for (size_t i = 0; i < p->n; i++) {
        const size_t k = p->items[i].n_values;
        if (k == 0 || total > MS_MAX_RUNS / k)
            return -E2BIG;
        total *= k;
    }
    *runs = total;
    return 0;
}

void ms_params_choice(const ms_params_t *p, size_t idx, size_t *choice)
{
    /* Mixed radix with the last parameter as the least significant digit. */
    for (size_t i = p->n; i-- > 0;) {
        const size_t k = p->items[i].n_values;
        choice[i] = idx % k;
        idx /= k;
    }
}

int ms_template_check(const char *tmpl, const ms_params_t *p, char *err, size_t errlen)
{
    for (const char *s = tmpl; *s != '\0'; s++) {
        size_t len;

        if (*s != '{')
            continue;
        len = placeholder_len(s + 1);
        if (len == 0)
            continue;
        if (!(len == strlen(MS_PARAM_RUN) && memcmp(s + 1, MS_PARAM_RUN, len) == 0) &&
            ms_params_find(p, s + 1, len) == NULL) {
            ms_set_err(err, errlen, "unknown placeholder '{%.*s}' in '%s'", (int)len, s + 1,
                    tmpl);
            return -EINVAL;
        }
        s += len + 1;
    }
    return 0;
}

/* A growing string. */
typedef struct strbuf {
    char *s;
    size_t len;
    size_t cap;
} strbuf_t;

static int sb_add(strbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 64;
        char *t;

        while (cap < b->len + n + 1)
            cap *= 2;
        t = realloc(b->s, cap);
        if (t == NULL)
            return -ENOMEM;
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

static int sb_adds(strbuf_t *b, const char *s)
{
    return sb_add(b, s, strlen(s));
}

/* Returns the finished string, never NULL on success (an empty buffer gives ""). */
static char *sb_finish(strbuf_t *b)
{
    if (b->s == NULL && sb_add(b, "", 0) != 0)
        return NULL;
    return b->s;
}

int ms_template_expand(const char *tmpl, const ms_params_t *p, const size_t *choice,
                       size_t seq, char **out, char *err, size_t errlen)
{
    strbuf_t b = {0};
    const char *s = tmpl;
    int rc = -ENOMEM;

    while (*s != '\0') {
        const char *brace = strchr(s, '{');
        size_t len;

        if (brace == NULL) {
            if (sb_adds(&b, s) != 0)
                goto fail;
            break;
        }
        if (sb_add(&b, s, (size_t)(brace - s)) != 0)
            goto fail;
        len = placeholder_len(brace + 1);
        if (len == 0) {
            if (sb_add(&b, "{", 1) != 0)
                goto fail;
            s = brace + 1;
            continue;
        }
        if (len == strlen(MS_PARAM_RUN) && memcmp(brace + 1, MS_PARAM_RUN, len) == 0) {
            char num[32];
            snprintf(num, sizeof num, "%zu", seq);
            if (sb_adds(&b, num) != 0)
                goto fail;
        } else {
            const ms_param_t *q = ms_params_find(p, brace + 1, len);
            if (q == NULL) {
                ms_set_err(err, errlen, "unknown placeholder '{%.*s}' in '%s'", (int)len,
                        brace + 1, tmpl);
                rc = -EINVAL;
                goto fail;
            }
            if (sb_adds(&b, q->values[choice[q - p->items]]) != 0)
                goto fail;
        }
        s = brace + len + 2;
    }
    *out = sb_finish(&b);
    if (*out == NULL)
        goto fail;
    return 0;

fail:
    free(b.s);
    *out = NULL;
    return rc;
}

char *ms_params_label(const ms_params_t *p, const size_t *choice)
{
    strbuf_t b = {0};

    for (size_t i = 0; i < p->n; i++) {
        const ms_param_t *q = &p->items[i];
        if ((i > 0 && sb_add(&b, " ", 1) != 0) || sb_adds(&b, q->name) != 0 ||
            sb_add(&b, "=", 1) != 0 || sb_adds(&b, q->values[choice[i]]) != 0) {
            free(b.s);
            return NULL;
        }
    }
    return sb_finish(&b);
}

char *ms_join_words(char *const *v, size_t n)
{
    strbuf_t b = {0};

    for (size_t i = 0; i < n; i++) {
        if ((i > 0 && sb_add(&b, " ", 1) != 0) || sb_adds(&b, v[i]) != 0) {
            free(b.s);
            return NULL;
        }
    }
    return sb_finish(&b);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

int ms_commands_parse(const char *text, size_t len, ms_commands_t *out, char *err,
                      size_t errlen)
{
    ms_commands_t c = {0};
    size_t cap = 0;
    size_t pos = 0;
    const char *nul = memchr(text, '\0', len);

    if (nul != NULL) {
        size_t at = 1;
        for (const char *t = text; t < nul; t++)
            at += *t == '\n';
        ms_set_err(err, errlen, "line %zu: NUL byte in a command line", at);
        return -EINVAL;
    }
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;
        size_t first = 0;

        pos += n + (nl != NULL ? 1 : 0);
        if (n > 0 && line[n - 1] == '\r')
            n--;
        while (first < n && is_blank(line[first]))
            first++;
        if (first == n || line[first] == '#')
            continue;
        /* Leading blanks mean nothing to the shell; dropping them keeps labels tidy. */
        line += first;
        n -= first;
        if (c.n == cap) {
            size_t ncap = cap != 0 ? cap * 2 : 16;
            char **t = realloc(c.lines, ncap * sizeof *t);
            if (t == NULL)
                goto nomem;
            c.lines = t;
            cap = ncap;
        }
        c.lines[c.n] = strndup(line, n);
        if (c.lines[c.n] == NULL)
            goto nomem;
        c.n++;
    }
    *out = c;
    return 0;

nomem:
    ms_commands_free(&c);
    return -ENOMEM;
}

void ms_commands_free(ms_commands_t *c)
{
    ms_strv_free(c->lines, c->n);
    c->lines = NULL;
    c->n = 0;
}

int ms_plan_init(ms_plan_t *plan, char *err, size_t errlen)
{
    int rc;

    if (plan->commands != NULL) {
        if (plan->commands->n == 0) {
            ms_set_err(err, errlen, "no command in the commands file");
            return -EINVAL;
        }
        if (plan->commands->n > MS_MAX_RUNS) {
            ms_set_err(err, errlen, "the commands file has %zu commands, more than the limit of %d",
                    plan->commands->n, MS_MAX_RUNS);
            return -E2BIG;
        }
        plan->n_runs = plan->commands->n;
        return 0;
    }
    if (plan->argc == 0) {
        ms_set_err(err, errlen, "no command given");
        return -EINVAL;
    }
    for (size_t i = 0; i < plan->argc; i++) {
        rc = ms_template_check(plan->argv[i], plan->params, err, errlen);
        if (rc != 0)
            return rc;
    }
    rc = ms_params_count(plan->params, &plan->n_runs);
    if (rc != 0) {
        ms_set_err(err, errlen, "the parameters give more than %d runs", MS_MAX_RUNS);
        return rc;
    }
    return 0;
}

int ms_plan_expand(const ms_plan_t *plan, size_t seq, ms_run_spec_t *spec)
{
    size_t *choice = NULL;
    int rc = -ENOMEM;

    memset(spec, 0, sizeof *spec);
    spec->seq = seq;
    if (plan->commands != NULL) {
        spec->line = strdup(plan->commands->lines[seq - 1]);
        spec->label = strdup(plan->commands->lines[seq - 1]);
        spec->command = strdup(plan->commands->lines[seq - 1]);
        if (spec->line == NULL || spec->label == NULL || spec->command == NULL)
            goto fail;
        return 0;
    }
    choice = calloc(plan->params->n + 1, sizeof *choice);
    spec->argv = calloc(plan->argc + 1, sizeof *spec->argv);
    if (choice == NULL || spec->argv == NULL)
        goto fail;
    ms_params_choice(plan->params, seq - 1, choice);
    for (size_t i = 0; i < plan->argc; i++) {
        /* ms_plan_init checked the placeholders, so only ENOMEM is left. */
        rc = ms_template_expand(plan->argv[i], plan->params, choice, seq, &spec->argv[i],
                                NULL, 0);
        if (rc != 0)
            goto fail;
    }
    rc = -ENOMEM;
    spec->command = ms_join_words(spec->argv, plan->argc);
    if (spec->command == NULL)
        goto fail;
    spec->label = plan->params->n > 0 ? ms_params_label(plan->params, choice)
                                      : strdup(spec->command);
    if (spec->label == NULL)
        goto fail;
    free(choice);
    return 0;

fail:
    free(choice);
    ms_run_spec_free(spec);
    return rc;
}

void ms_run_spec_free(ms_run_spec_t *spec)
{
    if (spec->argv != NULL) {
        for (size_t i = 0; spec->argv[i] != NULL; i++)
            free(spec->argv[i]);
        free(spec->argv);
    }
    free(spec->line);
    free(spec->label);
    free(spec->command);
    memset(spec, 0, sizeof *spec);
}
