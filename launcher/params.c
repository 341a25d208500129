/* Parameters, their cartesian product, templating and commands files (see params.h). */
#include "params.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "numparse.h"
#include "utf8.h"

/* Longest text accepted for one bound of a range; a 64-bit integer needs 20. */
#define NUMBER_MAX 64

/* Bytes of the user's text that an error message quotes, and the buffer that holds it. */
#define QUOTE_MAX 60
#define QUOTE_SIZE (4 * QUOTE_MAX + 4)

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

/*
 * Writes n bytes of s as ms_label_text describes into out, which holds 4 * max + 4 bytes
 * (every byte kept may become four, then "..." and the NUL). Returns the length written.
 */
static size_t show_into(const char *s, size_t n, size_t max, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t keep = n;
    size_t o = 0;

    /* A UTF-8 character is not split. */
    if (n > max)
        keep = ms_utf8_cut(s, max);
    for (size_t i = 0; i < keep; i++) {
        const unsigned char c = (unsigned char)s[i];

        if (c >= 0x20 && c != 0x7F) {
            out[o++] = (char)c;
            continue;
        }
        out[o++] = '\\';
        switch (c) {
        case '\n':
            out[o++] = 'n';
            break;
        case '\r':
            out[o++] = 'r';
            break;
        case '\t':
            out[o++] = 't';
            break;
        default:
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xF];
            break;
        }
    }
    if (keep < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return o;
}

/* The first QUOTE_MAX bytes of user text n bytes long, on one line, for a message. */
static const char *quote_n(const char *s, size_t n, char buf[QUOTE_SIZE])
{
    show_into(s, n, QUOTE_MAX, buf);
    return buf;
}

static const char *quote(const char *s, char buf[QUOTE_SIZE])
{
    return quote_n(s, strlen(s), buf);
}

char *ms_label_text(const char *s, size_t max)
{
    const size_t n = strlen(s);
    const size_t keep = n < max ? n : max;
    char *out;

    /* Sized for what is kept, not for max: a huge max costs nothing on short text. */
    if (keep > (SIZE_MAX - 4) / 4)
        return NULL;
    out = malloc(4 * keep + 4);
    if (out == NULL)
        return NULL;
    show_into(s, n, keep, out);
    return out;
}

/* Converts a value known to lie in [LLONG_MIN, LLONG_MAX] from two's complement bits. */
static long long from_u64(unsigned long long u)
{
    if (u <= (unsigned long long)LLONG_MAX)
        return (long long)u;
    return -(long long)(~u) - 1;
}

/*
 * Copies [s, s + n) into buf as a string; -EINVAL when it does not fit or is not an
 * optional sign and decimal digits (strtoll would also skip leading white space, so that
 * "1..\n5" passed for 1..5).
 */
static int copy_part(const char *s, size_t n, char *buf, size_t buflen)
{
    size_t i = n > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0;

    if (n >= buflen || i == n)
        return -EINVAL;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

/*
 * The parsers of a value list take room, the most values the caller can use (at most
 * MS_MAX_RUNS). Above MS_MAX_RUNS they fail with -E2BIG and a message; above room only,
 * with -ERANGE and the number of values in *n, before anything is allocated.
 */
static int parse_range(const char *text, size_t room, char ***values, size_t *n, char *err,
                       size_t errlen)
{
    char start_s[NUMBER_MAX], end_s[NUMBER_MAX], step_s[NUMBER_MAX];
    char q[QUOTE_SIZE];
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
                quote(text, q));
        return -EINVAL;
    }
    if (colon != NULL) {
        if (copy_part(colon + 1, strlen(colon + 1), step_s, sizeof step_s) != 0 ||
            ms_parse_ll(step_s, LLONG_MIN, LLONG_MAX, &step) != 0) {
            ms_set_err(err, errlen, "invalid step in range '%s'", quote(text, q));
            return -EINVAL;
        }
        if (step <= 0) {
            ms_set_err(err, errlen, "the step of range '%s' must be positive", quote(text, q));
            return -EINVAL;
        }
    }
    if (start > end) {
        ms_set_err(err, errlen, "range '%s' is empty: its start is above its end",
                   quote(text, q));
        return -EINVAL;
    }
    /* Unsigned arithmetic: the span of two 64-bit integers can exceed LLONG_MAX. */
    span = (unsigned long long)end - (unsigned long long)start;
    /* Compared before adding 1, which would wrap for the full 64-bit range. */
    if (span / (unsigned long long)step >= MS_MAX_RUNS) {
        ms_set_err(err, errlen, "range '%s' has more than %d values", quote(text, q),
                   MS_MAX_RUNS);
        return -E2BIG;
    }
    count = span / (unsigned long long)step + 1;
    if (count > room) {
        *n = (size_t)count;
        return -ERANGE;
    }
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

static int parse_list(const char *text, size_t room, char ***values, size_t *n, char *err,
                      size_t errlen)
{
    char q[QUOTE_SIZE];
    size_t count = 1;
    size_t i = 0;
    const char *s = text;
    char **v;

    for (const char *c = text; *c != '\0'; c++) {
        if (*c == ',')
            count++;
    }
    if (count > MS_MAX_RUNS) {
        ms_set_err(err, errlen, "list '%s' has more than %d values", quote(text, q),
                   MS_MAX_RUNS);
        return -E2BIG;
    }
    if (count > room) {
        *n = count;
        return -ERANGE;
    }
    v = calloc(count, sizeof *v);
    if (v == NULL)
        return -ENOMEM;
    for (;;) {
        const char *comma = strchr(s, ',');
        const size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);

        if (len == 0) {
            ms_set_err(err, errlen, "empty value in list '%s'", quote(text, q));
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

static int parse_values(const char *text, size_t room, char ***values, size_t *n, char *err,
                        size_t errlen)
{
    if (*text == '\0') {
        ms_set_err(err, errlen, "empty parameter list");
        return -EINVAL;
    }
    if (strstr(text, "..") != NULL && strchr(text, ',') == NULL)
        return parse_range(text, room, values, n, err, errlen);
    return parse_list(text, room, values, n, err, errlen);
}

int ms_values_parse(const char *text, char ***values, size_t *n, char *err, size_t errlen)
{
    return parse_values(text, MS_MAX_RUNS, values, n, err, errlen);
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
    char why[512];
    char q[QUOTE_SIZE];
    size_t runs;
    char *name = NULL;
    char **values = NULL;
    size_t n_values = 0;
    ms_param_t *items;
    int rc;

    if (eq == NULL) {
        ms_set_err(err, errlen, "invalid parameter '%s' (expected NAME=VALUES)",
                   quote(spec, q));
        return -EINVAL;
    }
    name = strndup(spec, (size_t)(eq - spec));
    if (name == NULL)
        return -ENOMEM;
    if (!ms_is_identifier(name)) {
        ms_set_err(err, errlen,
                "invalid parameter name '%s' (letters, digits and '_', not starting with "
                "a digit)",
                quote(name, q));
        rc = -EINVAL;
        goto fail;
    }
    if (strcmp(name, MS_PARAM_RUN) == 0) {
        ms_set_err(err, errlen, "parameter name '%s' is reserved for the run number",
                   quote(name, q));
        rc = -EINVAL;
        goto fail;
    }
    if (ms_params_find(p, name, strlen(name)) != NULL) {
        ms_set_err(err, errlen, "parameter '%s' is given twice", quote(name, q));
        rc = -EINVAL;
        goto fail;
    }
    /*
     * The values must leave the product within MS_MAX_RUNS: found before they are
     * allocated, so that many large ranges cost nothing before they are refused.
     */
    if (ms_params_count(p, &runs) != 0)
        runs = MS_MAX_RUNS + 1;
    rc = parse_values(eq + 1, MS_MAX_RUNS / runs, &values, &n_values, why, sizeof why);
    if (rc == -ERANGE) {
        ms_set_err(err, errlen,
                   "parameter '%s': its %zu values would make more than %d runs with the "
                   "parameters before it",
                   quote(name, q), n_values, MS_MAX_RUNS);
        values = NULL;
        n_values = 0;
        rc = -E2BIG;
        goto fail;
    }
    if (rc == -EINVAL || rc == -E2BIG)
        ms_set_err(err, errlen, "parameter '%s': %s", quote(name, q), why);
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

int ms_template_has_placeholder(const char *tmpl)
{
    for (const char *s = strchr(tmpl, '{'); s != NULL; s = strchr(s + 1, '{')) {
        if (placeholder_len(s + 1) > 0)
            return 1;
    }
    return 0;
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
            char qn[QUOTE_SIZE], qt[QUOTE_SIZE];

            ms_set_err(err, errlen, "unknown placeholder '{%s}' in '%s'",
                       quote_n(s + 1, len, qn), quote(tmpl, qt));
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
                char qn[QUOTE_SIZE], qt[QUOTE_SIZE];

                ms_set_err(err, errlen, "unknown placeholder '{%s}' in '%s'",
                           quote_n(brace + 1, len, qn), quote(tmpl, qt));
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
    char shown[4 * MS_LABEL_VALUE_MAX + 4];
    strbuf_t b = {0};

    for (size_t i = 0; i < p->n; i++) {
        const ms_param_t *q = &p->items[i];
        const char *v = q->values[choice[i]];
        const size_t n = show_into(v, strlen(v), MS_LABEL_VALUE_MAX, shown);

        if ((i > 0 && sb_add(&b, " ", 1) != 0) || sb_adds(&b, q->name) != 0 ||
            sb_add(&b, "=", 1) != 0 || sb_add(&b, shown, n) != 0) {
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

size_t ms_exec_bytes(char *const *v)
{
    size_t n = sizeof(char *);

    for (; *v != NULL; v++)
        n += strlen(*v) + 1 + sizeof(char *);
    return n;
}

/*
 * Parameters with more than one value: each doubles the runs at least, so a plan within
 * MS_MAX_RUNS has fewer than VARY_MAX of them.
 */
#define VARY_MAX 20
_Static_assert((1L << VARY_MAX) > MS_MAX_RUNS, "VARY_MAX parameters exceed MS_MAX_RUNS");

/* Decimal digits of n. */
static uint64_t digits(size_t n)
{
    uint64_t d = 1;

    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

/* The budget of one execve (see MS_EXEC_ARG_MAX_CAP). */
static uint64_t exec_limit(long arg_max)
{
    if (arg_max < MS_EXEC_STRLEN_MAX)
        return MS_EXEC_STRLEN_MAX;
    if (arg_max > MS_EXEC_ARG_MAX_CAP)
        return MS_EXEC_ARG_MAX_CAP;
    return (uint64_t)arg_max;
}

/* "run N (label)" for run idx (0-based), or "run N" when there is no parameter. */
static void run_name(const ms_params_t *p, size_t idx, char *out, size_t outlen)
{
    size_t *choice = p->n > 0 ? calloc(p->n, sizeof *choice) : NULL;
    char *label = NULL;

    if (choice != NULL) {
        ms_params_choice(p, idx, choice);
        label = ms_params_label(p, choice);
    }
    if (label != NULL)
        snprintf(out, outlen, "run %zu (%s)", idx + 1, label);
    else
        snprintf(out, outlen, "run %zu", idx + 1);
    free(label);
    free(choice);
}

/*
 * How the length of template argument tmpl depends on the run: *fixed bytes are the same
 * in every run (text, and parameters with one value), {run} occurs *runs times, and the
 * parameter vary[k] uses[k] times. Follows ms_template_expand exactly.
 */
static void shape_arg(const char *tmpl, const ms_params_t *p, const size_t *vary, size_t m,
                      uint64_t *fixed, uint64_t *runs, uint64_t *uses)
{
    const char *s = tmpl;

    *fixed = 0;
    *runs = 0;
    memset(uses, 0, m * sizeof *uses);
    while (*s != '\0') {
        const char *brace = strchr(s, '{');
        const ms_param_t *q;
        size_t len;

        if (brace == NULL) {
            *fixed += strlen(s);
            break;
        }
        *fixed += (uint64_t)(brace - s);
        len = placeholder_len(brace + 1);
        if (len == 0) {
            *fixed += 1;
            s = brace + 1;
            continue;
        }
        s = brace + len + 2;
        if (len == strlen(MS_PARAM_RUN) && memcmp(brace + 1, MS_PARAM_RUN, len) == 0) {
            *runs += 1;
            continue;
        }
        /* ms_plan_init checked that every placeholder names a parameter. */
        q = ms_params_find(p, brace + 1, len);
        if (q == NULL)
            abort();
        if (q->n_values == 1) {
            *fixed += strlen(q->values[0]);
            continue;
        }
        for (size_t k = 0; k < m; k++) {
            if (vary[k] == (size_t)(q - p->items))
                uses[k]++;
        }
    }
}

static int check_commands(const ms_commands_t *c, uint64_t env, uint64_t limit, char *err,
                          size_t errlen)
{
    for (size_t i = 0; i < c->n; i++) {
        const uint64_t len = strlen(c->lines[i]);
        /* execve("/bin/sh", {"sh", "-c", line, NULL}, envp) */
        const uint64_t total = sizeof "sh" + sizeof "-c" + len + 1 + 4 * sizeof(char *) + env;

        if (len + 1 > MS_EXEC_STRLEN_MAX) {
            ms_set_err(err, errlen,
                       "command %zu is %llu bytes long; the system accepts at most %d for the "
                       "command line of sh -c",
                       i + 1, (unsigned long long)len, MS_EXEC_STRLEN_MAX - 1);
            return -E2BIG;
        }
        if (total > limit) {
            ms_set_err(err, errlen,
                       "command %zu would take %llu bytes with the environment; the system "
                       "accepts at most %llu (ARG_MAX)",
                       i + 1, (unsigned long long)total, (unsigned long long)limit);
            return -E2BIG;
        }
    }
    return 0;
}

/* Fills err for run idx: argument i is len bytes long, or all of them take total bytes. */
static int exec_error(const ms_params_t *p, size_t idx, size_t i, uint64_t len,
                      uint64_t total, uint64_t limit, char *err, size_t errlen)
{
    char name[768];

    run_name(p, idx, name, sizeof name);
    if (total == 0)
        ms_set_err(err, errlen,
                   "%s: argv[%zu] would be %llu bytes long; the system accepts at most %d "
                   "for one argument",
                   name, i, (unsigned long long)len, MS_EXEC_STRLEN_MAX - 1);
    else
        ms_set_err(err, errlen,
                   "%s: the command would take %llu bytes with the environment; the system "
                   "accepts at most %llu (ARG_MAX)",
                   name, (unsigned long long)total, (unsigned long long)limit);
    return -E2BIG;
}

/*
 * Template mode. The length of argument i in a run is fixed[i] + runs[i] * digits(seq) +
 * the sum over varying parameters k of uses[i][k] * (length of k's value in the run).
 * Taking each parameter's longest value and the last run's digits bounds it from above;
 * only when a bound is over a limit are the runs gone through, to find the first one that
 * really is (the bound may be a few bytes high: the run with the longest values need not
 * be the last one).
 */
static int check_template(const ms_plan_t *plan, uint64_t env, uint64_t limit, char *err,
                          size_t errlen)
{
    const ms_params_t *p = plan->params;
    const size_t argc = plan->argc;
    const uint64_t last_digits = digits(plan->n_runs);
    size_t vary[VARY_MAX];
    uint64_t maxlen[VARY_MAX] = {0};
    uint64_t tot_uses[VARY_MAX] = {0};
    size_t choice[VARY_MAX] = {0};
    uint64_t *lens[VARY_MAX] = {0};
    uint64_t *fixed = calloc(argc, sizeof *fixed);
    uint64_t *runs = calloc(argc, sizeof *runs);
    uint64_t *bound = calloc(argc, sizeof *bound);
    uint64_t *uses = NULL;
    uint64_t base = env + sizeof(char *);
    uint64_t tot_runs = 0;
    uint64_t tot_bound;
    size_t m = 0;
    int over = 0;
    int rc = -ENOMEM;

    for (size_t j = 0; j < p->n; j++) {
        if (p->items[j].n_values < 2)
            continue;
        /* ms_plan_init checked the number of runs, which bounds this. */
        if (m == VARY_MAX)
            abort();
        vary[m] = j;
        for (size_t v = 0; v < p->items[j].n_values; v++) {
            const uint64_t len = strlen(p->items[j].values[v]);
            if (len > maxlen[m])
                maxlen[m] = len;
        }
        m++;
    }
    uses = calloc(argc * m + 1, sizeof *uses);
    if (fixed == NULL || runs == NULL || bound == NULL || uses == NULL)
        goto out;

    for (size_t i = 0; i < argc; i++) {
        uint64_t *u = uses + i * m;

        shape_arg(plan->argv[i], p, vary, m, &fixed[i], &runs[i], u);
        bound[i] = fixed[i] + runs[i] * last_digits;
        for (size_t k = 0; k < m; k++) {
            bound[i] += u[k] * maxlen[k];
            tot_uses[k] += u[k];
        }
        base += fixed[i] + 1 + sizeof(char *);
        tot_runs += runs[i];
        if (bound[i] + 1 > MS_EXEC_STRLEN_MAX)
            over = 1;
    }
    tot_bound = base + tot_runs * last_digits;
    for (size_t k = 0; k < m; k++)
        tot_bound += tot_uses[k] * maxlen[k];
    if (!over && tot_bound <= limit) {
        rc = 0;
        goto out;
    }

    for (size_t k = 0; k < m; k++) {
        const ms_param_t *q = &p->items[vary[k]];

        lens[k] = malloc(q->n_values * sizeof *lens[k]);
        if (lens[k] == NULL)
            goto out;
        for (size_t v = 0; v < q->n_values; v++)
            lens[k][v] = strlen(q->values[v]);
    }
    /* Run by run, the varying parameters turning like ms_params_choice's odometer. */
    for (size_t idx = 0; idx < plan->n_runs; idx++) {
        const uint64_t d = digits(idx + 1);
        uint64_t total = base + tot_runs * d;

        for (size_t k = 0; k < m; k++)
            total += tot_uses[k] * lens[k][choice[k]];
        for (size_t i = 0; i < argc; i++) {
            const uint64_t *u = uses + i * m;
            uint64_t len;

            if (bound[i] + 1 <= MS_EXEC_STRLEN_MAX)
                continue;
            len = fixed[i] + runs[i] * d;
            for (size_t k = 0; k < m; k++)
                len += u[k] * lens[k][choice[k]];
            if (len + 1 > MS_EXEC_STRLEN_MAX) {
                rc = exec_error(p, idx, i, len, 0, limit, err, errlen);
                goto out;
            }
        }
        if (total > limit) {
            rc = exec_error(p, idx, 0, 0, total, limit, err, errlen);
            goto out;
        }
        for (size_t k = m; k-- > 0;) {
            if (++choice[k] < p->items[vary[k]].n_values)
                break;
            choice[k] = 0;
        }
    }
    rc = 0;
out:
    for (size_t k = 0; k < m; k++)
        free(lens[k]);
    free(fixed);
    free(runs);
    free(bound);
    free(uses);
    return rc;
}

int ms_plan_check_exec(const ms_plan_t *plan, size_t env_bytes, long arg_max, char *err,
                       size_t errlen)
{
    const uint64_t limit = exec_limit(arg_max);
    const uint64_t env = (uint64_t)env_bytes + MS_EXEC_RESERVE;
    int rc;

    /* Checked first, so that the sums below stay far from overflowing. */
    if (env_bytes > limit - MS_EXEC_RESERVE) {
        ms_set_err(err, errlen,
                   "the environment takes %zu bytes; with the program's path the system "
                   "accepts at most %llu (ARG_MAX)",
                   env_bytes, (unsigned long long)limit);
        return -E2BIG;
    }
    if (plan->commands != NULL)
        return check_commands(plan->commands, env, limit, err, errlen);
    rc = check_template(plan, env, limit, err, errlen);
    if (rc == -ENOMEM)
        ms_set_err(err, errlen, "%s", strerror(ENOMEM));
    return rc;
}

int ms_plan_expand(const ms_plan_t *plan, size_t seq, ms_run_spec_t *spec)
{
    size_t *choice = NULL;
    int rc = -ENOMEM;

    memset(spec, 0, sizeof *spec);
    spec->seq = seq;
    if (plan->commands != NULL) {
        spec->line = strdup(plan->commands->lines[seq - 1]);
        spec->label = ms_label_text(plan->commands->lines[seq - 1], MS_LABEL_LINE_MAX);
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
                                      : ms_label_text(spec->command, MS_LABEL_LINE_MAX);
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
