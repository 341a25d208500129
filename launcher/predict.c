/* Predicting a run's peak from the finished runs of its sweep (see predict.h). */
#include "predict.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * One group of finished runs sharing a key: a label ("same parameters"), or the values of
 * every parameter but one ("trend": then value is the numeric value of the parameter left
 * out, and a group holds one entry per value).
 */
typedef struct entry {
    char *key;
    double value;      /* trend groups: the left-out parameter's value */
    unsigned long long peak_kb; /* the largest peak with this key (and value) */
    size_t runs;
    /* Inertness groups ("I" keys: every parameter but one the same): */
    unsigned long long min_kb; /* the smallest peak */
    size_t first;              /* the left-out parameter's value index of the first run */
    int multi;                 /* runs with two values of it at least */
    struct entry *next; /* in the hash chain */
} entry_t;

#define BUCKETS_MIN 256

/*
 * Runs that differ only in one parameter and peak within this fraction of each other show
 * that the parameter does not move memory (a seed, a replicate): its new values are then
 * no guess.
 */
#define INERT_SPREAD 0.10

/*
 * The largest prediction, in KiB (4 PiB, hostlimits.h's "no limit"): a trend extrapolated
 * far, or a tiny safety factor, stays a number that sums without overflow.
 */
#define PREDICT_MAX_KB (1ULL << 42)

/* x / sf in whole KiB, rounded up and held to PREDICT_MAX_KB. */
static unsigned long long with_headroom(double x, double sf)
{
    const double v = ceil(x / sf);

    return v >= (double)PREDICT_MAX_KB ? PREDICT_MAX_KB : (unsigned long long)v;
}

struct ms_predict {
    const ms_params_t *params;
    size_t n_params;
    double sf;
    double *num;       /* the numeric value of each value of each parameter (NAN: none) */
    unsigned char *seen; /* a run with this value of this parameter was learned */
    unsigned char *moves; /* per parameter: two values of it, all else the same, differed */
    unsigned char *still; /* per parameter: two such values peaked within INERT_SPREAD */
    size_t *num_off;   /* where parameter i's values start in num */
    entry_t **bucket;
    size_t n_buckets, n_entries;
    unsigned long long largest_kb;
    size_t learned;
    int64_t *to_peak;  /* times to peak learned so far */
    size_t n_to_peak, cap_to_peak;
    char *keybuf;      /* scratch for keys */
    size_t keycap;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* A number only when the whole value is one, finite. */
static double numeric(const char *s)
{
    char *end;
    double v;

    if (*s == '\0')
        return NAN;
    v = strtod(s, &end);
    return *end == '\0' && isfinite(v) ? v : NAN;
}

ms_predict_t *ms_predict_new(const ms_params_t *params, double safety_factor)
{
    ms_predict_t *p = calloc(1, sizeof *p);
    size_t total = 0;

    if (p == NULL)
        return NULL;
    p->params = params;
    p->n_params = params != NULL ? params->n : 0;
    p->sf = safety_factor > 0.0 && safety_factor <= 1.0 ? safety_factor : 1.0;
    p->n_buckets = BUCKETS_MIN;
    p->bucket = calloc(p->n_buckets, sizeof *p->bucket);
    p->num_off = calloc(p->n_params + 1, sizeof *p->num_off);
    if (p->bucket == NULL || p->num_off == NULL)
        goto fail;
    for (size_t i = 0; i < p->n_params; i++) {
        p->num_off[i] = total;
        total += params->items[i].n_values;
    }
    p->num_off[p->n_params] = total;
    p->num = calloc(total + 1, sizeof *p->num);
    p->seen = calloc(total + 1, sizeof *p->seen);
    p->moves = calloc(p->n_params + 1, 1);
    p->still = calloc(p->n_params + 1, 1);
    if (p->num == NULL || p->seen == NULL || p->moves == NULL || p->still == NULL)
        goto fail;
    for (size_t i = 0; i < p->n_params; i++)
        for (size_t k = 0; k < params->items[i].n_values; k++)
            p->num[p->num_off[i] + k] = numeric(params->items[i].values[k]);
    return p;
fail:
    ms_predict_free(p);
    return NULL;
}

/*
 * The key of a trend group of parameter `left` ("T<left>:<i0>,<i1>,*,..."), or of the
 * label ("L" + label) when left is SIZE_MAX, in p->keybuf. Returns it or NULL on ENOMEM.
 */
static const char *make_key(ms_predict_t *p, const size_t *choice, const char *label,
                            size_t left)
{
    size_t need = left == SIZE_MAX ? strlen(label) + 2 : 24 + p->n_params * 21;
    size_t o;

    if (need > p->keycap) {
        char *nb = realloc(p->keybuf, need);
        if (nb == NULL)
            return NULL;
        p->keybuf = nb;
        p->keycap = need;
    }
    if (left == SIZE_MAX) {
        p->keybuf[0] = 'L';
        memcpy(p->keybuf + 1, label, need - 1);
        return p->keybuf;
    }
    o = (size_t)snprintf(p->keybuf, need, "T%zu:", left);
    for (size_t i = 0; i < p->n_params; i++) {
        if (i == left)
            o += (size_t)snprintf(p->keybuf + o, need - o, "*,");
        else
            o += (size_t)snprintf(p->keybuf + o, need - o, "%zu,", choice[i]);
    }
    return p->keybuf;
}

static entry_t *find(const ms_predict_t *p, const char *key, double value)
{
    for (entry_t *e = p->bucket[hash_str(key) % p->n_buckets]; e != NULL; e = e->next)
        if (strcmp(e->key, key) == 0 && (isnan(value) ? isnan(e->value) : e->value == value))
            return e;
    return NULL;
}

static int grow_table(ms_predict_t *p)
{
    const size_t nb = p->n_buckets * 2;
    entry_t **b = calloc(nb, sizeof *b);

    if (b == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < p->n_buckets; i++) {
        entry_t *e = p->bucket[i];
        while (e != NULL) {
            entry_t *next = e->next;
            const size_t h = hash_str(e->key) % nb;
            e->next = b[h];
            b[h] = e;
            e = next;
        }
    }
    free(p->bucket);
    p->bucket = b;
    p->n_buckets = nb;
    return 0;
}

/* Adds peak_kb to the entry (key, value), creating it. 0 or -ENOMEM. */
static int add(ms_predict_t *p, const char *key, double value, unsigned long long peak_kb)
{
    entry_t *e = find(p, key, value);
    size_t h;

    if (e != NULL) {
        if (peak_kb > e->peak_kb)
            e->peak_kb = peak_kb;
        e->runs++;
        return 0;
    }
    if (p->n_entries >= p->n_buckets && grow_table(p) != 0)
        return -ENOMEM;
    e = calloc(1, sizeof *e);
    if (e == NULL || (e->key = strdup(key)) == NULL) {
        free(e);
        return -ENOMEM;
    }
    e->value = value;
    e->peak_kb = peak_kb;
    e->runs = 1;
    h = hash_str(key) % p->n_buckets;
    e->next = p->bucket[h];
    p->bucket[h] = e;
    p->n_entries++;
    return 0;
}

int ms_predict_learn(ms_predict_t *p, const size_t *choice, const char *label,
                     unsigned long long peak_kb, int64_t to_peak_ns)
{
    const char *key;

    if (peak_kb == 0)
        return 0;
    key = make_key(p, choice, label != NULL ? label : "", SIZE_MAX);
    if (key == NULL || add(p, key, NAN, peak_kb) != 0)
        return -ENOMEM;
    for (size_t i = 0; choice != NULL && i < p->n_params; i++) {
        const double v = p->num[p->num_off[i] + choice[i]];
        char *ikey;
        entry_t *e;
        p->seen[p->num_off[i] + choice[i]] = 1;
        /* Whether parameter i moves memory, from runs that differ in it alone. */
        ikey = (char *)make_key(p, choice, NULL, i);
        if (ikey == NULL)
            return -ENOMEM;
        ikey[0] = 'I';
        if (add(p, ikey, NAN, peak_kb) != 0 || (e = find(p, ikey, NAN)) == NULL)
            return -ENOMEM;
        if (e->runs == 1) {
            e->min_kb = peak_kb;
            e->first = choice[i];
        } else {
            if (peak_kb < e->min_kb)
                e->min_kb = peak_kb;
            e->multi |= choice[i] != e->first;
        }
        if (e->multi) {
            if ((double)e->peak_kb > (double)e->min_kb * (1.0 + INERT_SPREAD))
                p->moves[i] = 1;
            else
                p->still[i] = 1;
        }
        if (isnan(v))
            continue;
        key = make_key(p, choice, NULL, i);
        if (key == NULL || add(p, key, v, peak_kb) != 0)
            return -ENOMEM;
    }
    if (to_peak_ns >= 0) {
        if (p->n_to_peak == p->cap_to_peak) {
            const size_t nc = p->cap_to_peak ? p->cap_to_peak * 2 : 64;
            int64_t *nt = realloc(p->to_peak, nc * sizeof *nt);
            if (nt == NULL)
                return -ENOMEM;
            p->to_peak = nt;
            p->cap_to_peak = nc;
        }
        {
            /* Kept sorted, so that the median is a lookup however often it is asked. */
            size_t lo = 0, hi = p->n_to_peak;
            while (lo < hi) {
                const size_t mid = lo + (hi - lo) / 2;
                if (p->to_peak[mid] <= to_peak_ns)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            memmove(p->to_peak + lo + 1, p->to_peak + lo,
                    (p->n_to_peak - lo) * sizeof *p->to_peak);
            p->to_peak[lo] = to_peak_ns;
            p->n_to_peak++;
        }
    }
    if (peak_kb > p->largest_kb)
        p->largest_kb = peak_kb;
    p->learned++;
    return 0;
}

/*
 * The trend of parameter i at the run's value x: 1 with *kb, or 0 when fewer than two
 * other values of i are measured with every other parameter the same.
 */
static int trend(const ms_predict_t *p, const size_t *choice, size_t i, double x,
                 const char *key, double *kb)
{
    const ms_param_t *par = &p->params->items[i];
    /* The two nearest measured values below x and above it. */
    double lo[2] = {NAN, NAN}, hi[2] = {NAN, NAN};
    double lo_kb[2] = {0, 0}, hi_kb[2] = {0, 0};
    size_t measured = 0;

    for (size_t k = 0; k < par->n_values; k++) {
        const double v = p->num[p->num_off[i] + k];
        const entry_t *e;
        if (k == choice[i] || isnan(v) || v == x || (e = find(p, key, v)) == NULL)
            continue;
        measured++;
        if (v < x) {
            if (isnan(lo[0]) || v > lo[0]) {
                lo[1] = lo[0], lo_kb[1] = lo_kb[0];
                lo[0] = v, lo_kb[0] = (double)e->peak_kb;
            } else if (isnan(lo[1]) || v > lo[1]) {
                lo[1] = v, lo_kb[1] = (double)e->peak_kb;
            }
        } else {
            if (isnan(hi[0]) || v < hi[0]) {
                hi[1] = hi[0], hi_kb[1] = hi_kb[0];
                hi[0] = v, hi_kb[0] = (double)e->peak_kb;
            } else if (isnan(hi[1]) || v < hi[1]) {
                hi[1] = v, hi_kb[1] = (double)e->peak_kb;
            }
        }
    }
    if (measured < 2)
        return 0;
    if (!isnan(lo[0]) && !isnan(hi[0])) {
        /* Between two measured values: the larger, as memory need not be linear. */
        *kb = lo_kb[0] > hi_kb[0] ? lo_kb[0] : hi_kb[0];
    } else if (!isnan(lo[0])) {
        /* Beyond the largest value: the line through the two nearest, not below the nearest. */
        const double slope = (lo_kb[0] - lo_kb[1]) / (lo[0] - lo[1]);
        const double y = lo_kb[0] + slope * (x - lo[0]);
        *kb = y > lo_kb[0] ? y : lo_kb[0];
    } else {
        /* Below the smallest value: the nearest's peak, as a smaller value may not shrink. */
        *kb = hi_kb[0];
    }
    return 1;
}

int ms_predict_run(const ms_predict_t *cp, const size_t *choice, const char *label,
                   unsigned long long *kb, char *basis, size_t len)
{
    ms_predict_t *p = (ms_predict_t *)cp; /* only the scratch key buffer changes */
    const entry_t *e;
    const char *key;
    double best = -1.0;
    size_t best_param = SIZE_MAX;

    if (p->learned == 0)
        return 0;
    key = make_key(p, choice, label != NULL ? label : "", SIZE_MAX);
    if (key != NULL && (e = find(p, key, NAN)) != NULL) {
        *kb = with_headroom((double)e->peak_kb, p->sf);
        snprintf(basis, len, "same parameters (%zu run%s)", e->runs, e->runs == 1 ? "" : "s");
        return 1;
    }
    for (size_t i = 0; choice != NULL && i < p->n_params; i++) {
        const double x = p->num[p->num_off[i] + choice[i]];
        double t;
        if (isnan(x) || (key = make_key(p, choice, NULL, i)) == NULL)
            continue;
        if (trend(p, choice, i, x, key, &t) && t > best) {
            best = t;
            best_param = i;
        }
    }
    if (best_param != SIZE_MAX && best > 0.0) {
        *kb = with_headroom(best, p->sf);
        snprintf(basis, len, "trend of %s", p->params->items[best_param].name);
        return 1;
    }
    *kb = with_headroom((double)p->largest_kb, p->sf);
    snprintf(basis, len, "largest so far");
    return 1;
}

int ms_predict_is_new(const ms_predict_t *p, const size_t *choice)
{
    for (size_t i = 0; choice != NULL && i < p->n_params; i++)
        if (!p->seen[p->num_off[i] + choice[i]] && (p->moves[i] || !p->still[i]))
            return 1;
    return 0;
}

size_t ms_predict_count(const ms_predict_t *p)
{
    return p->learned;
}

int ms_predict_to_peak_ns(const ms_predict_t *p, int64_t *ns)
{
    if (p->n_to_peak == 0)
        return 0;
    *ns = p->n_to_peak % 2 == 1
              ? p->to_peak[p->n_to_peak / 2]
              : (p->to_peak[p->n_to_peak / 2 - 1] + p->to_peak[p->n_to_peak / 2]) / 2;
    return 1;
}

void ms_predict_free(ms_predict_t *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; p->bucket != NULL && i < p->n_buckets; i++) {
        entry_t *e = p->bucket[i];
        while (e != NULL) {
            entry_t *next = e->next;
            free(e->key);
            free(e);
            e = next;
        }
    }
    free(p->bucket);
    free(p->num);
    free(p->seen);
    free(p->moves);
    free(p->still);
    free(p->num_off);
    free(p->to_peak);
    free(p->keybuf);
    free(p);
}
