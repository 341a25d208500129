/* Memory by parameter value: labels split into NAME=value, runs grouped, the table rendered. */
#include "parammem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "stats.h"
#include "textclean.h"
#include "utf8.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Length of the name of a pair that starts at s, or 0 when none starts there. */
static size_t pair_name_len(const char *s)
{
    size_t k = 0;

    while (s[k] != '\0' && s[k] != ' ' && s[k] != '=')
        k++;
    return k > 0 && s[k] == '=' ? k : 0;
}

int ms_param_label_next(const char **cursor, ms_param_pair_t *pair)
{
    const char *s = *cursor;
    const char *value, *end;
    size_t name_len;

    if (s == NULL || (name_len = pair_name_len(s)) == 0)
        return 0;
    value = s + name_len + 1;
    /* The value ends at the first space that a pair follows; other spaces are its own. */
    end = value;
    for (;;) {
        const char *sp = strchr(end, ' ');
        if (sp == NULL) {
            end += strlen(end);
            break;
        }
        if (pair_name_len(sp + 1) > 0) {
            end = sp;
            break;
        }
        end = sp + 1;
    }
    pair->name = s;
    pair->name_len = name_len;
    pair->value = value;
    pair->value_len = (size_t)(end - value);
    *cursor = *end == ' ' ? end + 1 : end;
    return 1;
}

/*
 * Whether label, whole (cut 0) or up to its last n bytes (cut 1, n the bytes before the
 * "..."), is command as ms_label_text escapes it; a cut label must leave some of the
 * command out.
 */
static int escaped_match(const char *label, size_t n, const char *command, int cut)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, j = 0;

    while (i < n) {
        const unsigned char c = (unsigned char)command[j];
        char esc[4];
        size_t k;

        if (c == '\0')
            return 0;
        if (c >= 0x20 && c != 0x7F) {
            if ((unsigned char)label[i] != c)
                return 0;
            i++;
            j++;
            continue;
        }
        esc[0] = '\\';
        k = 2;
        switch (c) {
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 0xF];
            k = 4;
            break;
        }
        if (n - i < k || memcmp(label + i, esc, k) != 0)
            return 0;
        i += k;
        j++;
    }
    return cut ? command[j] != '\0' : command[j] == '\0';
}

int ms_param_label_is_command(const char *label, const char *command)
{
    size_t n;

    if (label == NULL || command == NULL)
        return 0;
    /* `memsweep exec` joins the words without escaping them. */
    if (strcmp(label, command) == 0)
        return 1;
    n = strlen(label);
    if (escaped_match(label, n, command, 0))
        return 1;
    return n >= 3 && memcmp(label + n - 3, "...", 3) == 0 &&
           escaped_match(label, n - 3, command, 1);
}

/*
 * Whether the n bytes at s are a decimal number (an optional sign, digits with an
 * optional point, an optional exponent), with its value in *out. Hexadecimal, "inf" and
 * "nan", which strtod also takes, are words here.
 */
static int parse_number(const char *s, size_t n, double *out)
{
    char buf[MS_PARAM_LABEL_MAX + 1];
    size_t i = 0, digits = 0;

    if (n == 0 || n >= sizeof buf)
        return 0;
    if (s[i] == '+' || s[i] == '-')
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_digits = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0)
            return 0;
    }
    if (i != n)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* Out of range, strtod gives HUGE_VAL or 0, which still order correctly. */
    *out = strtod(buf, NULL);
    return 1;
}

/* Copies the n bytes at s into dst, cut where a character ends and marked when too long. */
static void copy_text(char dst[MS_PARAM_TEXT_MAX], const char *s, size_t n)
{
    if (n < MS_PARAM_TEXT_MAX) {
        memcpy(dst, s, n);
        dst[n] = '\0';
        return;
    }
    n = ms_utf8_cut(s, MS_PARAM_TEXT_MAX - 4);
    memcpy(dst, s, n);
    memcpy(dst + n, "...", 4);
}

/* One NAME=value of one run. */
typedef struct entry {
    size_t name;       /* index of the name, in order of first appearance */
    const char *value;
    size_t len;
    size_t run;        /* index of the run; SIZE_MAX once the run named it again */
} entry_t;

/* A name seen in the labels. */
typedef struct name_seen {
    const char *s;
    size_t len;
    size_t last_run;   /* 1 + the index of the last run that named it */
    size_t last_entry; /* that run's entry */
} name_seen_t;

/* The runs of one value of one name: a slice of the sorted entries. */
typedef struct group {
    size_t start, count;
    size_t first_run;
    int numeric;
    double number;
    double end_median, end_max, peak_median, peak_max, peak_p95;
} group_t;

static int cmp_entry(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    const size_t n = x->len < y->len ? x->len : y->len;
    int c;

    if (x->name != y->name)
        return x->name < y->name ? -1 : 1;
    c = memcmp(x->value, y->value, n);
    if (c != 0)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return (x->run > y->run) - (x->run < y->run);
}

static int cmp_group_first(const void *a, const void *b)
{
    const group_t *x = a, *y = b;
    return (x->first_run > y->first_run) - (x->first_run < y->first_run);
}

static int cmp_group_number(const void *a, const void *b)
{
    const group_t *x = a, *y = b;

    if (x->number != y->number)
        return x->number < y->number ? -1 : 1;
    return cmp_group_first(a, b);
}

/* Adds the pairs of run i's label to the entries, growing them as needed. */
static int add_label(const char *label, size_t i, name_seen_t *names, size_t *n_names,
                     int *dropped, entry_t **entries, size_t *n, size_t *cap)
{
    const char *cursor = label;
    ms_param_pair_t p;

    while (ms_param_label_next(&cursor, &p)) {
        size_t k = 0;
        while (k < *n_names && !(names[k].len == p.name_len &&
                                 memcmp(names[k].s, p.name, p.name_len) == 0))
            k++;
        if (k == *n_names) {
            if (k == MS_PARAM_NAMES_MAX) {
                *dropped = 1;
                continue;
            }
            names[k].s = p.name;
            names[k].len = p.name_len;
            names[k].last_run = 0;
            (*n_names)++;
        }
        if (names[k].last_run == i + 1) {
            /* Named twice: which value the run had is unknown. */
            (*entries)[names[k].last_entry].run = SIZE_MAX;
            continue;
        }
        if (*n == *cap) {
            const size_t ncap = *cap != 0 ? *cap * 2 : 256;
            entry_t *e = realloc(*entries, ncap * sizeof *e);
            if (e == NULL)
                return -ENOMEM;
            *entries = e;
            *cap = ncap;
        }
        (*entries)[*n] = (entry_t){.name = k, .value = p.value, .len = p.value_len, .run = i};
        names[k].last_run = i + 1;
        names[k].last_entry = *n;
        (*n)++;
    }
    return 0;
}

/* The figures of group g over its runs, with end and peak as scratch room. */
static void group_stats(group_t *g, const entry_t *e, const ms_param_run_t *runs, double *end,
                        double *peak)
{
    for (size_t k = 0; k < g->count; k++) {
        end[k] = runs[e[g->start + k].run].end_mb;
        peak[k] = runs[e[g->start + k].run].peak_mb;
    }
    ms_stats_sort(end, g->count);
    ms_stats_sort(peak, g->count);
    g->end_median = ms_stats_percentile(end, g->count, 50.0);
    g->end_max = end[g->count - 1];
    g->peak_median = ms_stats_percentile(peak, g->count, 50.0);
    g->peak_max = peak[g->count - 1];
    g->peak_p95 = ms_stats_percentile(peak, g->count, 95.0);
}

/*
 * Fills the table's entry for one name from its slice of the sorted entries (values
 * grouped), or leaves it when the name has a single value. groups has room for count.
 */
static void add_param(ms_param_table_t *t, const name_seen_t *name, const entry_t *e,
                      size_t count, const ms_param_run_t *runs, group_t *groups, double *end,
                      double *peak)
{
    size_t n_groups = 0;
    int numeric = 1;
    ms_param_mem_t *p;

    for (size_t k = 0; k < count;) {
        group_t *g = &groups[n_groups++];
        size_t m = k + 1;
        while (m < count && e[m].len == e[k].len && memcmp(e[m].value, e[k].value, e[k].len) == 0)
            m++;
        memset(g, 0, sizeof *g);
        g->start = k;
        g->count = m - k;
        g->first_run = e[k].run; /* sorted by run within a value */
        g->numeric = parse_number(e[k].value, e[k].len, &g->number);
        numeric = numeric && g->numeric;
        k = m;
    }
    if (n_groups < 2)
        return;
    t->n_params++;
    if (t->n_shown == MS_PARAM_SHOW_PARAMS)
        return;
    /* Every value's median counts for the verdict, shown or not. */
    for (size_t k = 0; k < n_groups; k++)
        group_stats(&groups[k], e, runs, end, peak);
    qsort(groups, n_groups, sizeof *groups, numeric ? cmp_group_number : cmp_group_first);
    p = &t->params[t->n_shown++];
    copy_text(p->name, name->s, name->len);
    p->n_values = n_groups;
    p->numeric = numeric;
    p->median_peak_min = groups[0].peak_median;
    p->median_peak_max = groups[0].peak_median;
    for (size_t k = 0; k < n_groups; k++) {
        const group_t *g = &groups[k];
        if (g->peak_median < p->median_peak_min)
            p->median_peak_min = g->peak_median;
        if (g->peak_median > p->median_peak_max)
            p->median_peak_max = g->peak_median;
        if (k < MS_PARAM_SHOW_VALUES) {
            ms_param_value_t *v = &p->values[p->n_shown++];
            copy_text(v->text, e[g->start].value, e[g->start].len);
            v->runs = g->count;
            v->end_median = g->end_median;
            v->end_max = g->end_max;
            v->peak_median = g->peak_median;
            v->peak_max = g->peak_max;
            v->peak_p95 = g->peak_p95;
        }
    }
    /* A smallest median of 0 against any larger one is more than any ratio. */
    p->moves = p->median_peak_max > MS_PARAM_MOVES_RATIO * p->median_peak_min;
}

int ms_param_table_compute(const ms_param_run_t *runs, size_t n, ms_param_table_t *out)
{
    name_seen_t names[MS_PARAM_NAMES_MAX];
    size_t n_names = 0;
    entry_t *entries = NULL;
    size_t n_entries = 0, cap = 0, kept = 0;
    group_t *groups = NULL;
    double *end = NULL, *peak = NULL;
    int rc = 0;

    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        if (runs[i].label == NULL)
            continue;
        rc = add_label(runs[i].label, i, names, &n_names, &out->names_dropped, &entries,
                       &n_entries, &cap);
        if (rc != 0)
            goto out;
    }
    /* The runs that named a parameter twice count for none of its values. */
    for (size_t k = 0; k < n_entries; k++)
        if (entries[k].run != SIZE_MAX)
            entries[kept++] = entries[k];
    if (kept == 0)
        goto out;
    qsort(entries, kept, sizeof *entries, cmp_entry);
    groups = malloc(kept * sizeof *groups);
    end = malloc(n * sizeof *end);
    peak = malloc(n * sizeof *peak);
    if (groups == NULL || end == NULL || peak == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    /* Sorted by name first, and names are numbered in order of first appearance. */
    for (size_t k = 0; k < kept;) {
        size_t m = k + 1;
        while (m < kept && entries[m].name == entries[k].name)
            m++;
        add_param(out, &names[entries[k].name], &entries[k], m - k, runs, groups, end, peak);
        k = m;
    }
out:
    free(entries);
    free(groups);
    free(end);
    free(peak);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

long long ms_param_value_workers(const ms_param_value_t *v, int have_usable, long long usable_mb,
                                 double safety_factor)
{
    if (!have_usable)
        return -1;
    return ms_advisory_workers(usable_mb, v->peak_p95, safety_factor);
}

void ms_param_table_write(FILE *f, const ms_param_table_t *t, int have_usable,
                          long long usable_mb, double safety_factor)
{
    for (size_t i = 0; i < t->n_shown; i++) {
        const ms_param_mem_t *p = &t->params[i];

        fputs("ParamMemory: ", f);
        ms_write_clean(f, p->name, 0);
        fprintf(f, " %s (median peak %.1f to %.1f MiB across %zu values)\n",
                p->moves ? "moves memory" : "does not move memory", p->median_peak_min,
                p->median_peak_max, p->n_values);
        for (size_t k = 0; k < p->n_shown; k++) {
            const ms_param_value_t *v = &p->values[k];
            const long long w = ms_param_value_workers(v, have_usable, usable_mb, safety_factor);

            fputs("ParamMemory_", f);
            ms_write_clean(f, p->name, 0);
            fputc('=', f);
            ms_write_clean(f, v->text, 0);
            fprintf(f, ": runs %zu, end median %.1f max %.1f, peak median %.1f max %.1f", v->runs,
                    v->end_median, v->end_max, v->peak_median, v->peak_max);
            if (w >= 0)
                fprintf(f, ", conservative %lld", w);
            fputc('\n', f);
        }
        if (p->n_values > p->n_shown) {
            fprintf(f, "ParamMemory: %zu more values of ", p->n_values - p->n_shown);
            ms_write_clean(f, p->name, 0);
            fputs(" not shown\n", f);
        }
    }
    if (t->n_params > t->n_shown)
        fprintf(f, "ParamMemory: %zu more parameters not shown\n", t->n_params - t->n_shown);
    if (t->names_dropped)
        fputs("ParamMemory: parameter names after the first " STR(MS_PARAM_NAMES_MAX)
              " found in the labels were not examined\n",
              f);
}

void ms_param_table_write_json(FILE *f, int *first, const ms_param_table_t *t, int have_usable,
                               long long usable_mb, double safety_factor)
{
    int tfirst = 1;

    ms_json_key(f, first, "ParamMemory");
    for (size_t i = 0; i < t->n_shown; i++) {
        const ms_param_mem_t *p = &t->params[i];
        int pfirst = 1;

        ms_json_key(f, &tfirst, p->name);
        ms_json_bool(f, &pfirst, "MovesMemory", p->moves);
        ms_json_dec1(f, &pfirst, "MedianPeakRSS_Smallest_MB", p->median_peak_min);
        ms_json_dec1(f, &pfirst, "MedianPeakRSS_Largest_MB", p->median_peak_max);
        ms_json_int(f, &pfirst, "ValuesTotal", (long long)p->n_values);
        ms_json_int(f, &pfirst, "ValuesNotShown", (long long)(p->n_values - p->n_shown));
        ms_json_bool(f, &pfirst, "Numeric", p->numeric);
        ms_json_key(f, &pfirst, "Values");
        fputc('[', f);
        for (size_t k = 0; k < p->n_shown; k++) {
            const ms_param_value_t *v = &p->values[k];
            const long long w = ms_param_value_workers(v, have_usable, usable_mb, safety_factor);
            int vfirst = 1;

            if (k > 0)
                fputc(',', f);
            ms_json_str(f, &vfirst, "Value", v->text);
            ms_json_int(f, &vfirst, "Runs", (long long)v->runs);
            ms_json_dec1(f, &vfirst, "MedianRSS_End_MB", v->end_median);
            ms_json_dec1(f, &vfirst, "MaxRSS_End_MB", v->end_max);
            ms_json_dec1(f, &vfirst, "MedianPeakRSS_MB", v->peak_median);
            ms_json_dec1(f, &vfirst, "MaxPeakRSS_MB", v->peak_max);
            ms_json_dec1(f, &vfirst, "P95PeakRSS_MB", v->peak_p95);
            if (w >= 0)
                ms_json_int(f, &vfirst, "RecommendedMaxWorkers_Conservative", w);
            else
                ms_json_null(f, &vfirst, "RecommendedMaxWorkers_Conservative");
            fputc('}', f);
        }
        fputs("]}", f);
    }
    fputs(tfirst ? "{}" : "}", f);
    ms_json_int(f, first, "ParamMemoryNotShown", (long long)(t->n_params - t->n_shown));
    ms_json_bool(f, first, "ParamMemoryNamesDropped", t->names_dropped);
}
