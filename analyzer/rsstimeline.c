/* The time-aligned sum of the readings of a sweep's processes (rsstimeline.h). */
#include "rsstimeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ms_rss_sum_init(ms_rss_sum_t *s, size_t n_proc)
{
    memset(s, 0, sizeof *s);
    s->cur = calloc(n_proc > 0 ? n_proc : 1, sizeof *s->cur);
    if (s->cur == NULL)
        return -ENOMEM;
    s->n_proc = n_proc;
    return 0;
}

long long ms_rss_sum_reading(ms_rss_sum_t *s, size_t proc, int64_t t_ns, long long rss_kb)
{
    s->total += rss_kb - s->cur[proc];
    s->cur[proc] = rss_kb;
    if (!s->have_max || s->total > s->max) {
        s->have_max = 1;
        s->max = s->total;
        s->max_at_ns = t_ns;
    }
    return s->total;
}

long long ms_rss_sum_end(ms_rss_sum_t *s, size_t proc)
{
    s->total -= s->cur[proc];
    s->cur[proc] = 0;
    return s->total;
}

void ms_rss_sum_free(ms_rss_sum_t *s)
{
    free(s->cur);
    memset(s, 0, sizeof *s);
}
