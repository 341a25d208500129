/* The collector of `memsweep run` (see collector.h). */
#include "collector.h"
#include "poolfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "climsg.h"
#include "errbuf.h"
#include "memsweep/follow.h"
#include "memsweep/procfs.h"
#include "memsweep/spool.h"
#include "memsweep/spooldir.h"
#include "memsweep/spoolpub.h"
#include "spool_fold.h"
#include "spool_gc.h"
#include "spool_read.h"
#include "store.h"

#define NS_PER_MS 1000000LL

/* Longest the end of a sweep waits for the grid's next point to read what lives on. */
#define FINAL_WAIT_NS 1000000000LL

/* The tick thread's nice value, where the user may set it (see tick_main). */
#define TICK_NICE (-10)

/* Ticks kept while the database cannot take them; beyond, the oldest are dropped. */
#define TICKS_MAX (1u << 20)

/*
 * Chunks claimed but not written that discovery remembers for one pool. A run has a few
 * at most (claims that failed, processes killed between claim and header); a pool whose
 * claim count was scribbled over has up to MS_SPOOL_CHUNKS_MAX, and looking at each of
 * them at every tick would cost the tick thread its cadence. Past this many, discovery
 * waits at the next unwritten chunk, as it always may.
 */
#define LATER_MAX 4096

/* A process image the collector reads from outside. */
typedef struct watched {
    uint64_t key;
    int32_t pid;
    uint64_t start_ticks;
    uint64_t proc_off; /* where its ms_spool_proc_t is in the pool file */
    int fd;            /* its /proc/<pid>/status, once checked to be this process */
    int dead;          /* gone, ended, replaced by exec, or not ours to read */
    int stat_fd;       /* its /proc/<pid>/stat */
    int have_first;    /* vmexe_kb and startcode hold its first reading's figures */
    unsigned long long vmexe_kb;  /* VmExe at its first reading; -1 when not reported */
    unsigned long long startcode; /* field 26 of stat: where its text is mapped */
    int64_t started_ns;           /* its process header's, CLOCK_REALTIME */
    uint64_t last_round;          /* the round of the tick thread of its last tick; 0 none */
    int64_t pss_next;             /* CLOCK_MONOTONIC before which its PSS is not read */
} watched_t;

/*
 * A pool. The tick thread alone uses fd, resolved and procs; the fold thread alone sp and
 * folded_all; done and removed are set by one thread and read by another.
 */
typedef struct cpool {
    long long run_id;
    char *path;
    int fd;            /* for the tick's reads of headers */
    uint64_t resolved; /* chunks below this index are known, or in later */
    uint64_t *later;   /* claimed chunks below resolved not written yet */
    size_t n_later, cap_later;
    watched_t *procs;
    size_t n_procs, cap_procs;
    ms_spool_t *sp;    /* for the fold */
    int folded_all;    /* at the last fold */
    int quiet;         /* its processes were all found gone after the last fold */
    int warned;        /* a failure of its own fold was reported (fold thread) */
    uint64_t quiet_claimed; /* chunks claimed in the scan that was found quiet */
    int done;          /* its worker was reaped (atomic) */
    int removed;       /* the fold thread let it go (atomic): 2 until marked in the database */
    unsigned long long live_kb;  /* its processes' RSS summed in the last round (atomic) */
    unsigned long long peak_kb;  /* the highest such sum so far (atomic) */
    int64_t peak_ns;             /* the due time of that round, CLOCK_REALTIME (atomic) */
} cpool_t;

/* A pool as the supervisor's thread sees it, between its creation and its run's end. */
typedef struct mpool {
    long long run_id;
    int fd;
    char *path;
    cpool_t *cp;       /* the same pool as the threads see it; freed only by ms_collector_free */
} mpool_t;

typedef struct tick {
    uint64_t key;
    ms_fold_reading_t r;
} tick_t;

/*
 * Processes followed at once, at most; a request beyond them is not followed. One that
 * grows slowly and steadily is followed for as long as it keeps asking, a reading every
 * MS_FOLLOW_PERIOD_MAX_NS, about 0.5% of a core here: the cap bounds the follow thread.
 */
#define FOLLOW_MAX 64

/* A watched process whose growth the follow thread reads from outside. */
typedef struct followed {
    uint64_t key;
    int32_t pid;
    uint64_t start_ticks;
    unsigned long long startcode; /* fields 26 and 28 of stat, and VmExe, at the request: */
    unsigned long long startstack; /* an exec changes one of them (the last two even for a */
    unsigned long long vmexe_kb;   /* program built without PIE), or field 26 reads 0 */
    int status_fd, stat_fd;
    int64_t until, next, period; /* CLOCK_MONOTONIC */
    int64_t last_kb, stored_kb;
    int quiet;
    clockid_t cpu_clock;     /* the process's CPU clock */
    int have_cpu_clock;
    int64_t rise_t, rise_cpu; /* when RSS last rose, and the process's CPU time then */
    int have_high;
    tick_t high; /* the highest reading not stored */
} followed_t;

struct ms_collector {
    char *db_path;
    char *spool_dir;
    int64_t interval_ns;
    int64_t fold_ns;
    ms_spool_pool_t tmpl; /* the header of every new pool but its run id and time */

    /* mu guards pools (appended by the supervisor), ticks and stop. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t tick_thread, fold_thread;
    int started;
    int stop;
    cpool_t **pools;
    size_t n_pools, cap_pools;
    tick_t *ticks; /* taken, not yet handed to the fold */
    size_t n_ticks, cap_ticks;

    /* The supervisor's thread only. */
    mpool_t *mine;
    size_t n_mine, cap_mine;

    /* The fold thread only (and ms_collector_finish after the joins). */
    tick_t *pending; /* handed to the fold, not yet committed */
    size_t n_pending, cap_pending;
    sqlite3 *db;
    ms_fold_t *fold;
    ms_spool_host_t host;
    int have_host;
    struct rlimit user_nofile; /* the soft and hard limits the user gave memsweep */
    int raised_nofile;         /* the soft limit was raised: workers get user_nofile */
    int error_shown;
    int result;
    uint64_t taken, missed;

    /* The follow thread's: the FIFO it reads requests from, and what it follows. */
    char *follow_path;
    int follow_fd;
    int follow_wake; /* an eventfd: ms_collector_finish stops the thread at once */
    pthread_t follow_thread;
    int follow_started;
    followed_t follow[FOLLOW_MAX];
    size_t n_follow;

    /* The tick thread's (and ms_collector_finish's after the join): its next grid point. */
    int64_t next_due; /* CLOCK_MONOTONIC */
    uint64_t next_round; /* 0 until the thread starts */
    unsigned long long round_kb; /* RSS summed over the processes read in this round */
    unsigned long long live_kb;  /* ... of the last round (atomic) */
};

/*
 * A doubling array with room for one more element: the array to use (moved, perhaps), or
 * NULL with *cap and the array unchanged when memory is short. first: the first capacity.
 */
static void *grow(void *v, size_t *cap, size_t elem, size_t first)
{
    const size_t ncap = *cap != 0 ? *cap * 2 : first;
    void *nv = realloc(v, ncap * elem);

    if (nv != NULL)
        *cap = ncap;
    return nv;
}

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t real_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Creates dir (mode 0700) or checks that the existing one is the user's own and private. */
int ms_collector_spool_dir(const char *sweep_dir, const char *db_path, char *out, size_t len,
                           char *err, size_t errlen)
{
    struct statfs fs;
    int rc;

    if (statfs(sweep_dir, &fs) == 0 && ms_spooldir_is_network_fs((unsigned long long)fs.f_type)) {
        char parent[64];
        /* A pool is a shared mapping and its processes' pids are this machine's. */
        rc = ms_spooldir_for_db(out, len, db_path, NULL);
        if (rc != 0) {
            ms_set_err(err, errlen, "%s: %s", db_path, strerror(-rc));
            return rc;
        }
        snprintf(parent, sizeof parent, "/tmp/memsweep-%lu", (unsigned long)getuid());
        rc = ms_own_dir(parent, err, errlen);
    } else {
        rc = snprintf(out, len, "%s/spool", sweep_dir) >= (int)len ? -ENAMETOOLONG : 0;
        if (rc != 0)
            ms_set_err(err, errlen, "%s: %s", sweep_dir, strerror(-rc));
    }
    return rc == 0 ? ms_own_dir(out, err, errlen) : rc;
}

/* The header fields every pool of this sweep shares. */
static void init_template(ms_collector_t *c, long long interval_ms)
{
    ms_spool_pool_t *h = &c->tmpl;

    memset(h, 0, sizeof *h);
    h->magic = MS_SPOOL_MAGIC;
    h->version = MS_SPOOL_VERSION;
    h->header_bytes = MS_SPOOL_HEADER_BYTES;
    h->chunk_bytes = MS_SPOOL_CHUNK_BYTES;
    h->flags = MS_SPOOL_WATCHED;
    h->watcher_pid = (int32_t)getpid();
    h->interval_ms = (uint32_t)interval_ms;
    if (c->have_host) {
        h->pidns_ino = c->host.pidns_ino;
        h->boot_id_hi = c->host.boot_hi;
        h->boot_id_lo = c->host.boot_lo;
    } else {
        h->watcher_pid = 0;
    }
    if (gethostname(h->host, sizeof h->host - 1) != 0)
        h->host[0] = '\0';
}

static void say(ms_collector_t *c, const char *what, const char *err)
{
    /* One line per sweep: a database that refuses one fold usually refuses the next. */
    if (c->error_shown)
        return;
    c->error_shown = 1;
    ms_cli_error("%s%s", what, err);
}

/* The pool at index i, or NULL past the end: the array moves when the supervisor adds. */
static cpool_t *pool_at(ms_collector_t *c, size_t i)
{
    cpool_t *p = NULL;

    pthread_mutex_lock(&c->mu);
    if (i < c->n_pools)
        p = c->pools[i];
    pthread_mutex_unlock(&c->mu);
    return p;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    const ssize_t n = pread(fd, buf, len, (off_t)off);

    return n == (ssize_t)len ? 0 : -1;
}

static void bury(watched_t *w);

/* What resolve() found of one chunk. */
enum { CHUNK_KNOWN, CHUNK_NOT_YET, CHUNK_PAST_FILE };

/*
 * Looks at the chunk at index i: a first chunk whose process header is in place becomes a
 * watched image; any other written chunk is known and ignored. CHUNK_NOT_YET for a chunk
 * claimed but not written (yet), CHUNK_PAST_FILE when the file does not reach it.
 */
static int resolve(ms_collector_t *c, cpool_t *p, uint64_t i)
{
    const uint64_t off = ms_spool_chunk_offset(&c->tmpl, i);
    ms_spool_chunk_t ch;
    ms_spool_proc_t pr;
    watched_t *w;
    int rc;

    if (pread_all(p->fd, &ch, sizeof ch, off) != 0)
        return CHUNK_PAST_FILE;
    if (ch.magic == 0)
        return CHUNK_NOT_YET;
    if (ch.magic != MS_SPOOL_CHUNK_MAGIC || ch.seq != 0 || ch.key == 0)
        return CHUNK_KNOWN;
    rc = ms_spool_read_proc(p->fd, off + sizeof ch, c->tmpl.version, &pr, NULL, 0);
    if (rc == -EAGAIN)
        return CHUNK_NOT_YET;
    if (rc != 0)
        return CHUNK_KNOWN;
    if (p->n_procs == p->cap_procs) {
        watched_t *nw = grow(p->procs, &p->cap_procs, sizeof *nw, 8);
        if (nw == NULL)
            return CHUNK_NOT_YET;
        p->procs = nw;
    }
    /*
     * An image of the same process (pid and start time) before this one called exec:
     * what /proc shows from now on is the new image's, never the old one's.
     */
    for (size_t k = 0; k < p->n_procs; k++)
        if (!p->procs[k].dead && p->procs[k].pid == pr.pid &&
            p->procs[k].start_ticks == pr.start_ticks)
            bury(&p->procs[k]);
    w = &p->procs[p->n_procs++];
    memset(w, 0, sizeof *w);
    w->key = ch.key;
    w->pid = pr.pid;
    w->start_ticks = pr.start_ticks;
    w->proc_off = off + sizeof ch;
    w->fd = -1;
    w->stat_fd = -1;
    w->started_ns = pr.started_ns;
    w->last_round = 0;
    /* Only a process of this namespace can be found by its pid here. */
    w->dead = (pr.flags & MS_SPOOL_SELF_SAMPLED) != 0 || !c->have_host ||
              pr.pidns_ino != c->host.pidns_ino || pr.end_state == MS_SPOOL_END_DONE;
    return CHUNK_KNOWN;
}

/*
 * Learns the process images that wrote their first chunk since the last tick. A chunk
 * claimed but not written yet is remembered and looked at again at every tick, and the
 * scan goes on past it: its writer may never write it (killed between its claim and its
 * header, or a claim that failed after its add), and the processes that claimed later
 * chunks must not go unwatched for it.
 */
static void discover(ms_collector_t *c, cpool_t *p)
{
    uint64_t next = 0;
    size_t k = 0;

    if (p->fd < 0 ||
        pread_all(p->fd, &next, sizeof next, offsetof(ms_spool_pool_t, next_chunk)) != 0)
        return;
    if (next > MS_SPOOL_CHUNKS_MAX)
        next = MS_SPOOL_CHUNKS_MAX;
    for (size_t i = 0; i < p->n_later; i++)
        if (resolve(c, p, p->later[i]) != CHUNK_KNOWN)
            p->later[k++] = p->later[i];
    p->n_later = k;
    while (p->resolved < next) {
        const int r = resolve(c, p, p->resolved);
        if (r == CHUNK_PAST_FILE)
            return; /* the file grows before a chunk there is written */
        if (r == CHUNK_NOT_YET) {
            if (p->n_later == LATER_MAX)
                return; /* a pool whose claims are not believable: see LATER_MAX */
            if (p->n_later == p->cap_later) {
                uint64_t *nl = grow(p->later, &p->cap_later, sizeof *nl, 8);
                if (nl == NULL)
                    return; /* looked at again at the next tick */
                p->later = nl;
            }
            p->later[p->n_later++] = p->resolved;
        }
        p->resolved++;
    }
}

/* Appends to a buffer of ticks; the caller holds what guards it. */
static void add_tick_to(tick_t **v, size_t *n, size_t *cap, uint64_t *missed, const tick_t *t)
{
    if (*n == *cap) {
        size_t ncap = *cap != 0 ? *cap * 2 : 256;
        tick_t *nt;
        if (ncap > TICKS_MAX)
            ncap = TICKS_MAX;
        if (*n == ncap) {
            /* The database has refused them for long: the oldest go, counted. */
            memmove(*v, *v + 1, (*n - 1) * sizeof **v);
            (*n)--;
            (*missed)++;
        } else {
            nt = realloc(*v, ncap * sizeof *nt);
            if (nt == NULL) {
                (*missed)++;
                return;
            }
            *v = nt;
            *cap = ncap;
        }
    }
    (*v)[(*n)++] = *t;
}

static void add_tick(ms_collector_t *c, const tick_t *t)
{
    pthread_mutex_lock(&c->mu);
    add_tick_to(&c->ticks, &c->n_ticks, &c->cap_ticks, &c->missed, t);
    pthread_mutex_unlock(&c->mu);
}

static void bury(watched_t *w)
{
    if (w->fd >= 0)
        close(w->fd);
    if (w->stat_fd >= 0)
        close(w->stat_fd);
    w->fd = -1;
    w->stat_fd = -1;
    w->dead = 1;
}

/* RssAnon, RssFile and RssShmem of a status file's text into r; -1 for one not there. */
static void breakdown_of(const char *buf, size_t n, ms_fold_reading_t *r)
{
    unsigned long long v;

    r->anon_kb = ms_procfs_kb_field(buf, n, "RssAnon:", &v) == 0 ? (int64_t)v : -1;
    r->file_kb = ms_procfs_kb_field(buf, n, "RssFile:", &v) == 0 ? (int64_t)v : -1;
    r->shmem_kb = ms_procfs_kb_field(buf, n, "RssShmem:", &v) == 0 ? (int64_t)v : -1;
}

/*
 * PSS of a process whose run has another live process, at most once a tick and for at
 * most 1/PSS_DUTY of the time spent on this process: the kernel walks every mapping to
 * produce it (about 4 ms for 1 GiB), holding the process's memory-map lock, which the
 * program's page faults wait for. A round reads PSS for at most 1/PSS_ROUND_SHARE of an
 * interval in all, so that many large processes due at once do not delay the ticks; the
 * rest are read in the rounds after. The figures stay -1 when not due or not read.
 */
#define PSS_DUTY 100
#define PSS_ROUND_SHARE 10

static void read_pss(const ms_collector_t *c, watched_t *w, ms_fold_reading_t *r,
                     int64_t *budget_ns)
{
    char path[64], buf[1024];
    unsigned long long v, start;
    const int64_t now = mono_ns();
    struct timespec ts;
    int64_t took, cpu0;
    ssize_t n;
    int fd;

    r->pss_kb = r->pss_anon_kb = r->pss_shmem_kb = -1;
    if (now < w->pss_next || *budget_ns <= 0)
        return;
    /*
     * The cost is this thread's CPU time (the kernel's walk of the mappings), not the
     * time the read took on a busy machine, where waiting for a CPU would otherwise space
     * a process's reads out by seconds.
     */
    cpu0 = clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0
               ? (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec
               : 0;
    snprintf(path, sizeof path, "/proc/%ld/smaps_rollup", (long)w->pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    n = pread(fd, buf, sizeof buf, 0);
    close(fd);
    took = clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0
               ? (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec - cpu0
               : mono_ns() - now;
    *budget_ns -= took;
    w->pss_next = now + (took * PSS_DUTY > c->interval_ns ? took * PSS_DUTY : c->interval_ns);
    /*
     * Opened by the pid: the process's stat, kept open since it was checked, still
     * reads, so it was alive all along and the pid was never another's.
     */
    {
        char sbuf[1024];
        const ssize_t sn = pread(w->stat_fd, sbuf, sizeof sbuf, 0);
        if (sn <= 0 || ms_spool_parse_stat_field(sbuf, (size_t)sn, 22, &start) != 0 ||
            start != w->start_ticks)
            return;
    }
    if (n > 0 && ms_procfs_kb_field(buf, (size_t)n, "Pss:", &v) == 0) {
        r->pss_kb = (int64_t)v;
        if (ms_procfs_kb_field(buf, (size_t)n, "Pss_Anon:", &v) == 0)
            r->pss_anon_kb = (int64_t)v;
        if (ms_procfs_kb_field(buf, (size_t)n, "Pss_Shmem:", &v) == 0)
            r->pss_shmem_kb = (int64_t)v;
    }
}

/*
 * Reads one process's status from outside, checking it is still the same process, and
 * its PSS where shared is set and the round's budget allows.
 */
static void read_one(ms_collector_t *c, cpool_t *p, watched_t *w, uint64_t round,
                     int64_t due_ns, int shared, int64_t *pss_budget_ns)
{
    char buf[4096];
    unsigned long long rss, hwm;
    int64_t heap = -1;
    uint32_t end_state = 0;
    int64_t t_ns;
    tick_t t;
    ssize_t n;

    if (w->fd < 0) {
        char path[64];
        int e = 0;
        snprintf(path, sizeof path, "/proc/%ld/status", (long)w->pid);
        w->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (w->fd < 0)
            e = errno;
        snprintf(path, sizeof path, "/proc/%ld/stat", (long)w->pid);
        w->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (w->stat_fd < 0 && e == 0)
            e = errno;
        if (w->fd < 0 || w->stat_fd < 0) {
            if (e == EMFILE || e == ENFILE || e == ENOMEM) {
                /*
                 * No descriptor or memory left now says nothing about the process:
                 * opened again at the next tick, once other processes have ended.
                 */
                if (w->fd >= 0)
                    close(w->fd);
                if (w->stat_fd >= 0)
                    close(w->stat_fd);
                w->fd = -1;
                w->stat_fd = -1;
                return;
            }
            bury(w);
            return;
        }
    }
    {
        /*
         * Opened first, checked after, at every reading: the descriptors are surely that
         * process's (a dead one's fail), and its start time says it is the process the
         * image belongs to. An exec keeps the pid and the start time but replaces the
         * image, whose own record then ends: a new image registers itself (discover buries
         * this one), but one the shim cannot enter (static, setuid, environment cleared)
         * never does. Its text is then mapped elsewhere (field 26, with address-space
         * randomisation) or has another size (VmExe, below); either way the readings are
         * no longer this image's. (VmHWM cannot tell: read from outside, it can lag the
         * process's own figure by the per-thread counts not yet folded.)
         */
        char sbuf[1024];
        unsigned long long start, code;
        const ssize_t sn = pread(w->stat_fd, sbuf, sizeof sbuf, 0);
        if (sn <= 0 || ms_spool_parse_stat_field(sbuf, (size_t)sn, 22, &start) != 0 ||
            start != w->start_ticks ||
            ms_spool_parse_stat_field(sbuf, (size_t)sn, 26, &code) != 0 ||
            (w->have_first && code != w->startcode)) {
            bury(w);
            return;
        }
        w->startcode = code;
    }
    n = pread(w->fd, buf, sizeof buf, 0);
    if (n <= 0 || ms_procfs_kb_field(buf, (size_t)n, "VmRSS:", &rss) != 0) {
        bury(w); /* gone, or a zombie whose memory is released */
        return;
    }
    t_ns = real_ns();
    if (ms_procfs_kb_field(buf, (size_t)n, "VmHWM:", &hwm) != 0)
        hwm = (unsigned long long)-1;
    {
        unsigned long long exe_kb;
        if (ms_procfs_kb_field(buf, (size_t)n, "VmExe:", &exe_kb) != 0)
            exe_kb = (unsigned long long)-1;
        if (!w->have_first) {
            w->have_first = 1;
            w->vmexe_kb = exe_kb;
        } else if (exe_kb != w->vmexe_kb) {
            bury(w);
            return;
        }
    }
    if (pread_all(p->fd, &end_state, sizeof end_state,
                  w->proc_off + offsetof(ms_spool_proc_t, end_state)) == 0 &&
        end_state == MS_SPOOL_END_DONE) {
        bury(w); /* its own end reading follows */
        return;
    }
    c->round_kb += rss;
    if (pread_all(p->fd, &heap, sizeof heap, w->proc_off + offsetof(ms_spool_proc_t, heap_kb)) !=
            0 ||
        heap < -1)
        heap = -1;
    /*
     * At most one tick per point of the tick thread's grid, and none for a point due
     * before the process started: a round that wakes late still reads for its own point,
     * and the next round for the next, so lateness within an interval costs no tick. A
     * process has no more ticks than grid points in its life, and n ticks span at least
     * n - 2 intervals (each is read less than an interval after its point); two of them
     * may be closer than an interval when one round woke late and the next did not.
     */
    if (due_ns < w->started_ns || round <= w->last_round)
        return;
    w->last_round = round;
    t.key = w->key;
    t.r.kind = MS_SPOOL_KIND_TICK;
    t.r.t_ns = t_ns;
    t.r.rss_kb = (int64_t)rss;
    t.r.hwm_kb = hwm == (unsigned long long)-1 ? -1 : (int64_t)hwm;
    t.r.heap_kb = heap;
    breakdown_of(buf, (size_t)n, &t.r);
    t.r.pss_kb = t.r.pss_anon_kb = t.r.pss_shmem_kb = -1;
    if (shared)
        read_pss(c, w, &t.r, pss_budget_ns);
    add_tick(c, &t);
    c->taken++;
}

static void close_tick_side(cpool_t *p)
{
    for (size_t k = 0; k < p->n_procs; k++)
        bury(&p->procs[k]);
    p->n_procs = 0;
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

/* A process the tick thread still reads, in any pool. */
static int any_watched(ms_collector_t *c)
{
    cpool_t *p;

    for (size_t i = 0; (p = pool_at(c, i)) != NULL; i++)
        for (size_t k = 0; p->fd >= 0 && k < p->n_procs; k++)
            if (!p->procs[k].dead)
                return 1;
    return 0;
}

/* One round of readings, for the grid point `round` due at due_ns (CLOCK_REALTIME). */
static void take_ticks(ms_collector_t *c, uint64_t round, int64_t due_ns)
{
    int64_t pss_budget = c->interval_ns / PSS_ROUND_SHARE;
    cpool_t *p;

    c->round_kb = 0;
    for (size_t i = 0; (p = pool_at(c, i)) != NULL; i++) {
        size_t live = 0;
        if (p->fd < 0)
            continue;
        if (__atomic_load_n(&p->removed, __ATOMIC_ACQUIRE)) {
            close_tick_side(p);
            continue;
        }
        const unsigned long long before = c->round_kb;
        unsigned long long sum;
        discover(c, p);
        for (size_t k = 0; k < p->n_procs; k++)
            live += !p->procs[k].dead;
        /* PSS only where the run has more than one live process to share pages with. */
        for (size_t k = 0; k < p->n_procs; k++)
            if (!p->procs[k].dead)
                read_one(c, p, &p->procs[k], round, due_ns, live > 1, &pss_budget);
        sum = c->round_kb - before;
        __atomic_store_n(&p->live_kb, sum, __ATOMIC_RELAXED);
        if (sum > __atomic_load_n(&p->peak_kb, __ATOMIC_RELAXED)) {
            __atomic_store_n(&p->peak_ns, due_ns, __ATOMIC_RELAXED);
            __atomic_store_n(&p->peak_kb, sum, __ATOMIC_RELEASE);
        }
    }
    __atomic_store_n(&c->live_kb, c->round_kb, __ATOMIC_RELAXED);
}

unsigned long long ms_collector_live_rss_kb(const ms_collector_t *c)
{
    return c != NULL ? __atomic_load_n(&c->live_kb, __ATOMIC_RELAXED) : 0;
}

static void close_fold_side(cpool_t *p)
{
    ms_spool_close(p->sp);
    p->sp = NULL;
}

/* Unlinks the pool when its path still names the file it has open. */
static int unlink_pool(const cpool_t *p)
{
    struct stat a, b;

    if (p->sp == NULL || fstat(p->sp->fd, &a) != 0 || lstat(p->path, &b) != 0 ||
        a.st_dev != b.st_dev || a.st_ino != b.st_ino)
        return -1;
    return unlink(p->path);
}

/* The removal of a pool, decided by the fold thread: the tick thread closes its side. */
static void let_go(cpool_t *p, int value)
{
    close_fold_side(p);
    __atomic_store_n(&p->removed, value, __ATOMIC_RELEASE);
}

/* Runs a SAVEPOINT, RELEASE or ROLLBACK TO statement on the fold's connection. */
static int pool_savepoint(ms_collector_t *c, const char *sql)
{
    return ms_store_errno(sqlite3_exec(c->db, sql, NULL, NULL, NULL));
}

/*
 * Whether a failure of one pool's scan or fold can be the pool's own rather than the
 * database's: a full disk, a lock not had, a damaged or read-only file, or memory
 * refused would refuse every pool alike, and the whole fold waits for the next one.
 */
static int pool_error(int rc)
{
    return rc != -ENOSPC && rc != -EBUSY && rc != -EPROTO && rc != -EACCES && rc != -ENOMEM;
}

/*
 * Undoes what the fold of one pool wrote (ROLLBACK TO its savepoint, then RELEASE), the
 * images it settled included.
 */
static int rollback_pool(ms_collector_t *c, size_t settle_mark)
{
    if (pool_savepoint(c, "ROLLBACK TO pool") != 0)
        return -1;
    ms_fold_settle_undo(c->fold, settle_mark);
    return pool_savepoint(c, "RELEASE pool");
}

/*
 * One transaction: every pool's new records, each in a savepoint of its own, then the
 * ticks taken since the last fold.
 */
static int fold_all(ms_collector_t *c, int final)
{
    char err[512] = "";
    size_t removed = 0;
    size_t n;
    cpool_t *p;
    int rc;

    /* The ticks taken so far join those a failed fold left. */
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n_ticks; i++)
        add_tick_to(&c->pending, &c->n_pending, &c->cap_pending, &c->missed, &c->ticks[i]);
    c->n_ticks = 0;
    n = c->n_pools;
    pthread_mutex_unlock(&c->mu);
    /* Nothing to fold: the write lock is not taken for nothing. */
    if (n == 0 && c->n_pending == 0)
        return 0;

    rc = ms_fold_begin(c->fold, err, sizeof err);
    for (size_t i = 0; rc == 0 && (p = pool_at(c, i)) != NULL; i++) {
        ms_fold_stats_t st;
        size_t settle_mark;
        if (__atomic_load_n(&p->removed, __ATOMIC_ACQUIRE))
            continue;
        if (p->sp == NULL) {
            rc = ms_spool_open(p->path, &p->sp, err, sizeof err);
            /* Later scans skip the chunks of the images the fold has settled. */
            if (rc == 0)
                ms_spool_set_settled(p->sp, ms_fold_settled, c->fold);
        } else {
            rc = ms_spool_scan(p->sp, err, sizeof err);
        }
        if (rc == -ENOENT || rc == -EINVAL) {
            /*
             * Removed by `memsweep collect`, which committed its rows first; or a header
             * scribbled over, which loses this pool and no other.
             */
            if (rc == -EINVAL)
                say(c, "", err);
            let_go(p, 1);
            rc = 0;
            continue;
        }
        settle_mark = ms_fold_settle_mark(c->fold);
        if (rc == 0)
            rc = pool_savepoint(c, "SAVEPOINT pool");
        if (rc == 0)
            rc = ms_fold_pool(c->fold, p->sp, &st, err, sizeof err);
        if (rc == 0) {
            rc = pool_savepoint(c, "RELEASE pool");
            if (rc == 0)
                p->folded_all = st.folded_all;
        } else if (pool_error(rc) && rollback_pool(c, settle_mark) == 0) {
            /*
             * What this pool holds, not the database, refused the fold (a run id of
             * another sweep, a read that failed): it loses this fold and no other
             * pool's rows or ticks do. It is tried again at the next fold.
             */
            if (!p->warned) {
                p->warned = 1;
                ms_cli_error("%s; its records are not folded", err);
            }
            rc = 0;
        }
    }
    for (size_t i = 0; rc == 0 && i < c->n_pending; i++) {
        const tick_t *t = &c->pending[i];
        const int trc = ms_fold_tick(c->fold, t->key, &t->r);
        /* A tick of an image whose first chunk is unusable has no row to go to. */
        if (trc != 0 && trc != -ENOENT) {
            rc = trc;
            snprintf(err, sizeof err, "%s: cannot record a tick: %s", c->db_path,
                     sqlite3_errmsg(c->db));
        }
    }
    if (rc == 0)
        rc = ms_fold_commit(c->fold, err, sizeof err);
    else
        ms_fold_rollback(c->fold);
    if (rc != 0) {
        say(c, "", err);
        return rc;
    }
    c->n_pending = 0;

    /*
     * A pool goes once its run is over, all of it is folded and its processes are gone,
     * in two steps (spool_gc.h): after one fold its processes are found gone, and the
     * next fold, whose scan began after that, must have folded everything with no chunk
     * claimed meanwhile. Deciding on one fold lost records: a worker that claimed its
     * chunk, wrote and exited after the scan but before its reaping was seen looked like
     * a run with no process at all, and one still writing during the scan lost its end.
     */
    for (size_t i = 0; c->have_host && (p = pool_at(c, i)) != NULL; i++) {
        char why[256];
        const int was_quiet = p->quiet;
        if (__atomic_load_n(&p->removed, __ATOMIC_ACQUIRE) || p->sp == NULL)
            continue;
        p->quiet = 0;
        if (!was_quiet || !ms_spool_removal_confirmed(p->sp, &c->host, p->quiet_claimed,
                                                      p->folded_all, why, sizeof why)) {
            p->quiet = (__atomic_load_n(&p->done, __ATOMIC_ACQUIRE) || final) &&
                       ms_spool_removable(p->sp, &c->host, p->folded_all, why, sizeof why);
            p->quiet_claimed = p->sp->claimed;
            continue;
        }
        if (unlink_pool(p) == 0) {
            let_go(p, 2);
            removed++;
        } else {
            let_go(p, 1);
        }
    }
    if (removed > 0 && ms_fold_begin(c->fold, err, sizeof err) == 0) {
        for (size_t i = 0; (p = pool_at(c, i)) != NULL; i++) {
            const char *slash = strrchr(p->path, '/');
            if (__atomic_load_n(&p->removed, __ATOMIC_ACQUIRE) == 2) {
                (void)ms_fold_mark_removed(c->fold, slash != NULL ? slash + 1 : p->path,
                                           real_ns());
                __atomic_store_n(&p->removed, 1, __ATOMIC_RELEASE);
            }
        }
        (void)ms_fold_commit(c->fold, err, sizeof err);
    }
    return 0;
}

/* Waits until the monotonic time at, or until asked to stop; returns 0 when asked to stop. */
static int wait_until(ms_collector_t *c, int64_t at)
{
    struct timespec ts = {.tv_sec = (time_t)(at / 1000000000LL),
                          .tv_nsec = (long)(at % 1000000000LL)};
    int go;

    pthread_mutex_lock(&c->mu);
    while (!c->stop && mono_ns() < at)
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    go = !c->stop;
    pthread_mutex_unlock(&c->mu);
    return go;
}

/* ---- following growth (include/memsweep/follow.h) ---------------------------------- */

static void unfollow(ms_collector_t *c, size_t i)
{
    followed_t *const f = &c->follow[i];

    if (f->have_high && f->high.r.rss_kb > f->stored_kb)
        add_tick(c, &f->high);
    if (f->status_fd >= 0)
        close(f->status_fd);
    if (f->stat_fd >= 0)
        close(f->stat_fd);
    c->follow[i] = c->follow[--c->n_follow];
}

/* CPU time of followed process f, ns; -1 when unknown. */
static int64_t followed_cpu(const followed_t *f)
{
    struct timespec ts;

    if (!f->have_cpu_clock || clock_gettime(f->cpu_clock, &ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * Fields 22 (start time), 26 (start of the text) and 28 (start of the stack) of the
 * process's stat. A start of the text of 0 is an image being set up by exec: -1.
 */
static int stat_identity(int fd, unsigned long long *start, unsigned long long *code,
                         unsigned long long *stack)
{
    char buf[1024];
    const ssize_t n = pread(fd, buf, sizeof buf, 0);

    if (n <= 0 || ms_spool_parse_stat_field(buf, (size_t)n, 22, start) != 0 ||
        ms_spool_parse_stat_field(buf, (size_t)n, 26, code) != 0 ||
        ms_spool_parse_stat_field(buf, (size_t)n, 28, stack) != 0 || *code == 0)
        return -1;
    return 0;
}

/*
 * A request from a watched process: followed from now on, or again from now on. The
 * process is opened by its pid and checked by its start time to be the one that asked
 * (a message names a process of this user's, who alone can write the FIFO).
 */
static void take_request(ms_collector_t *c, const ms_spool_follow_t *m, int64_t now)
{
    unsigned long long start, code, stack, exe_kb;
    char path[64], buf[4096];
    followed_t *f;
    ssize_t n;

    if (m->magic != MS_SPOOL_FOLLOW_MAGIC || m->pid <= 0 || m->key == 0 || m->rss_kb < 0)
        return;
    for (size_t i = 0; i < c->n_follow; i++) {
        f = &c->follow[i];
        if (f->key == m->key && f->pid == m->pid) {
            f->until = now + MS_FOLLOW_MAX_NS;
            f->period = MS_FOLLOW_PERIOD_MIN_NS;
            f->next = now + f->period;
            f->quiet = 0;
            f->rise_t = now;
            f->rise_cpu = followed_cpu(f);
            return;
        }
    }
    if (c->n_follow == FOLLOW_MAX)
        return;
    f = &c->follow[c->n_follow];
    memset(f, 0, sizeof *f);
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)m->pid);
    f->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%ld/status", (long)m->pid);
    f->status_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->stat_fd < 0 || f->status_fd < 0 ||
        stat_identity(f->stat_fd, &start, &code, &stack) != 0 || start != m->start_ticks ||
        (n = pread(f->status_fd, buf, sizeof buf, 0)) <= 0 ||
        ms_procfs_kb_field(buf, (size_t)n, "VmExe:", &exe_kb) != 0) {
        if (f->stat_fd >= 0)
            close(f->stat_fd);
        if (f->status_fd >= 0)
            close(f->status_fd);
        return;
    }
    f->key = m->key;
    f->pid = m->pid;
    f->start_ticks = m->start_ticks;
    f->startcode = code;
    f->startstack = stack;
    f->vmexe_kb = exe_kb;
    f->until = now + MS_FOLLOW_MAX_NS;
    f->period = MS_FOLLOW_PERIOD_MIN_NS;
    f->next = now + f->period;
    f->last_kb = f->stored_kb = m->rss_kb;
    f->have_cpu_clock = clock_getcpuclockid(m->pid, &f->cpu_clock) == 0;
    f->rise_t = now;
    f->rise_cpu = followed_cpu(f);
    c->n_follow++;
}

/* One reading of followed process i; 0 to go on following it, -1 to stop. */
static int follow_read(ms_collector_t *c, size_t i, int64_t now)
{
    followed_t *const f = &c->follow[i];
    unsigned long long start, code, stack, v;
    char buf[4096];
    tick_t t;
    ssize_t n;

    /* Still that process, still that image (an exec maps its text and stack elsewhere). */
    if (stat_identity(f->stat_fd, &start, &code, &stack) != 0 || start != f->start_ticks ||
        code != f->startcode || stack != f->startstack)
        return -1;
    n = pread(f->status_fd, buf, sizeof buf, 0);
    if (n <= 0 || ms_procfs_kb_field(buf, (size_t)n, "VmRSS:", &v) != 0 ||
        ms_procfs_kb_field(buf, (size_t)n, "VmExe:", &start) != 0 || start != f->vmexe_kb)
        return -1;
    memset(&t, 0, sizeof t);
    t.key = f->key;
    t.r.kind = MS_SPOOL_KIND_GROWTH;
    t.r.t_ns = real_ns();
    t.r.rss_kb = (int64_t)v;
    t.r.hwm_kb = ms_procfs_kb_field(buf, (size_t)n, "VmHWM:", &v) == 0 ? (int64_t)v : -1;
    breakdown_of(buf, (size_t)n, &t.r);
    t.r.heap_kb = -1;
    t.r.pss_kb = t.r.pss_anon_kb = t.r.pss_shmem_kb = -1;
    if (ms_follow_store_due(t.r.rss_kb, f->stored_kb)) {
        add_tick(c, &t);
        f->stored_kb = t.r.rss_kb;
        f->have_high = 0;
    } else if (t.r.rss_kb > f->stored_kb && (!f->have_high || t.r.rss_kb > f->high.r.rss_kb)) {
        f->high = t;
        f->have_high = 1;
    }
    if (t.r.rss_kb > f->last_kb) {
        f->period = ms_follow_next_period(f->period, t.r.rss_kb - f->last_kb, t.r.rss_kb);
        f->quiet = 0;
        f->rise_t = now;
        f->rise_cpu = followed_cpu(f);
    } else {
        /* Not rising: less often, until it stops. */
        f->quiet++;
        f->period = f->period * 2 < MS_FOLLOW_PERIOD_MAX_NS ? f->period * 2 : MS_FOLLOW_PERIOD_MAX_NS;
    }
    f->last_kb = t.r.rss_kb;
    f->next = now + f->period;
    if (now >= f->until)
        return -1;
    if (f->quiet > 0) {
        const int64_t cpu = followed_cpu(f);
        if (ms_follow_quiet(f->quiet, cpu >= 0 && f->rise_cpu >= 0 ? cpu - f->rise_cpu : -1,
                            now - f->rise_t))
            return -1;
    }
    return 0;
}

/*
 * The follow thread: requests from the FIFO, and the readings of the processes they
 * name, each at its own period, until ms_collector_finish wakes it to stop (it looks at
 * the stop flag every 100 ms too).
 */
static void *follow_main(void *arg)
{
    ms_collector_t *c = arg;
    struct pollfd pfd[2] = {{.fd = c->follow_fd, .events = POLLIN},
                            {.fd = c->follow_wake, .events = POLLIN}};

    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), TICK_NICE);
    for (;;) {
        int64_t now = mono_ns(), wake = now + 100 * NS_PER_MS;
        struct timespec ts;
        int stop;

        pthread_mutex_lock(&c->mu);
        stop = c->stop;
        pthread_mutex_unlock(&c->mu);
        if (stop)
            break;
        for (size_t i = 0; i < c->n_follow; i++)
            if (c->follow[i].next < wake)
                wake = c->follow[i].next;
        ts.tv_sec = (time_t)((wake > now ? wake - now : 0) / 1000000000LL);
        ts.tv_nsec = (long)((wake > now ? wake - now : 0) % 1000000000LL);
        if (ppoll(pfd, 2, &ts, NULL) > 0 && (pfd[1].revents & POLLIN))
            break; /* ms_collector_finish */
        if (pfd[0].revents & POLLIN) {
            ms_spool_follow_t m[64];
            const ssize_t got = read(c->follow_fd, m, sizeof m);
            now = mono_ns();
            /* Each message is written whole (smaller than PIPE_BUF): whole ones only. */
            for (ssize_t k = 0; got > 0 && k < got / (ssize_t)sizeof m[0]; k++)
                take_request(c, &m[k], now);
        }
        now = mono_ns();
        for (size_t i = 0; i < c->n_follow;) {
            if (c->follow[i].next <= now && follow_read(c, i, now) != 0)
                unfollow(c, i);
            else
                i++;
        }
    }
    while (c->n_follow > 0)
        unfollow(c, 0);
    return NULL;
}

/*
 * The FIFO beside the pools that watched processes write their requests into. Without it
 * (a filesystem that has no FIFOs) nothing is followed from outside, and nothing else
 * changes. Opened for reading and writing, so that it never reads as closed.
 */
static void open_follow(ms_collector_t *c)
{
    c->follow_fd = -1;
    c->follow_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->follow_wake < 0)
        return;
    if (asprintf(&c->follow_path, "%s/%s%ld", c->spool_dir, MS_SPOOL_FOLLOW_PREFIX,
                 (long)getpid()) < 0) {
        c->follow_path = NULL;
        return;
    }
    (void)unlink(c->follow_path);
    if (mkfifo(c->follow_path, 0600) != 0 ||
        (c->follow_fd = open(c->follow_path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
        (void)unlink(c->follow_path);
        free(c->follow_path);
        c->follow_path = NULL;
        c->follow_fd = -1;
    }
}

static void close_follow(ms_collector_t *c)
{
    if (c->follow_path != NULL)
        (void)unlink(c->follow_path);
    if (c->follow_fd >= 0)
        close(c->follow_fd);
    if (c->follow_wake >= 0)
        close(c->follow_wake);
    free(c->follow_path);
    c->follow_path = NULL;
    c->follow_fd = -1;
    c->follow_wake = -1;
}

/*
 * The tick thread: readings at a steady cadence, never waiting for the database, so that
 * neither a fold nor another connection's lock can delay them.
 */
static void *tick_main(void *arg)
{
    ms_collector_t *c = arg;

    /*
     * Ahead of the workers and the readers where the user may raise priorities (root, or
     * RLIMIT_NICE): a round is short, and one that wakes an interval late loses a tick of
     * every process. Elsewhere the thread keeps memsweep's priority (setpriority fails and
     * nothing else changes). Linux's nice is per thread.
     */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), TICK_NICE);
    c->next_due = mono_ns();
    c->next_round = 1;
    while (wait_until(c, c->next_due)) {
        int64_t now;
        take_ticks(c, c->next_round, c->next_due + (real_ns() - mono_ns()));
        c->next_due += c->interval_ns;
        c->next_round++;
        now = mono_ns();
        if (c->next_due <= now) {
            /* Late by whole intervals (the thread was not scheduled): not taken, counted. */
            const int64_t late = (now - c->next_due) / c->interval_ns + 1;
            pthread_mutex_lock(&c->mu);
            c->missed += (uint64_t)late;
            pthread_mutex_unlock(&c->mu);
            c->next_due += late * c->interval_ns;
            c->next_round += (uint64_t)late;
        }
    }
    return NULL;
}

/* The fold thread: every fold period, what the pools and the tick thread gathered. */
static void *fold_main(void *arg)
{
    ms_collector_t *c = arg;

    while (wait_until(c, mono_ns() + c->fold_ns))
        (void)fold_all(c, 0);
    return NULL;
}

int ms_collector_start(const char *db_path, const char *spool_dir, long long interval_ms,
                       ms_collector_t **out, char *err, size_t errlen)
{
    ms_collector_t *c = calloc(1, sizeof *c);
    pthread_condattr_t ca;
    sigset_t all, old;
    int rc;

    *out = NULL;
    if (c != NULL)
        c->follow_fd = c->follow_wake = -1;
    if (c == NULL || (c->db_path = strdup(db_path)) == NULL ||
        (c->spool_dir = strdup(spool_dir)) == NULL) {
        ms_collector_free(c);
        ms_set_err(err, errlen, "%s", strerror(ENOMEM));
        return -ENOMEM;
    }
    /*
     * The tick thread holds two descriptors for every live process it watches, which a
     * sweep of many processes takes past the usual soft limit of 1024. The limit is the
     * whole process's, so workers forked from here would inherit it: they get the user's
     * back before their exec (ms_collector_child_limits).
     */
    if (getrlimit(RLIMIT_NOFILE, &c->user_nofile) == 0 &&
        c->user_nofile.rlim_cur < c->user_nofile.rlim_max) {
        struct rlimit raised = c->user_nofile;
        raised.rlim_cur = raised.rlim_max;
        c->raised_nofile = setrlimit(RLIMIT_NOFILE, &raised) == 0;
    }
    c->interval_ns = interval_ms * NS_PER_MS;
    c->fold_ns = interval_ms > MS_COLLECT_FOLD_MS ? c->interval_ns : MS_COLLECT_FOLD_MS * NS_PER_MS;
    c->have_host = ms_spool_host_self(&c->host) == 0;
    init_template(c, interval_ms);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    rc = ms_store_open_write(db_path, 0, &c->db, err, errlen);
    if (rc == 0)
        rc = ms_fold_open(c->db, db_path, 0, &c->fold, err, errlen);
    if (rc != 0) {
        ms_collector_free(c);
        return rc;
    }
    /* The supervisor takes its signals synchronously: the thread must take none. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = -pthread_create(&c->tick_thread, NULL, tick_main, c);
    if (rc == 0) {
        rc = -pthread_create(&c->fold_thread, NULL, fold_main, c);
        if (rc != 0) {
            pthread_mutex_lock(&c->mu);
            c->stop = 1;
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
            pthread_join(c->tick_thread, NULL);
        }
    }
    /* Following from outside is an extra: without its thread, nothing is followed. */
    if (rc == 0) {
        open_follow(c);
        if (c->follow_fd >= 0 && pthread_create(&c->follow_thread, NULL, follow_main, c) == 0)
            c->follow_started = 1;
        else
            close_follow(c);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        ms_set_err(err, errlen, "cannot start the collector: %s", strerror(-rc));
        ms_collector_free(c);
        return rc;
    }
    c->started = 1;
    *out = c;
    return 0;
}

void ms_collector_child_limits(const ms_collector_t *c)
{
    if (c != NULL && c->raised_nofile)
        (void)setrlimit(RLIMIT_NOFILE, &c->user_nofile);
}

/* Makes the pool at path known to both threads; *out is the pool. */
static int add_pool(ms_collector_t *c, long long run_id, char *path, cpool_t **out)
{
    cpool_t *p = calloc(1, sizeof *p);
    int rc = 0;

    if (p == NULL)
        return -ENOMEM;
    p->run_id = run_id;
    p->path = path;
    p->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    pthread_mutex_lock(&c->mu);
    if (c->n_pools == c->cap_pools) {
        cpool_t **np = grow(c->pools, &c->cap_pools, sizeof *np, 16);
        if (np == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        c->pools = np;
    }
    c->pools[c->n_pools++] = p;
    *out = p;
    p = NULL;
out:
    pthread_mutex_unlock(&c->mu);
    if (p != NULL) {
        if (p->fd >= 0)
            close(p->fd);
        free(p);
    }
    return rc;
}

int ms_collector_new_pool(ms_collector_t *c, long long run_id, const char **path, char *err,
                          size_t errlen)
{
    ms_spool_pool_t h = c->tmpl;
    mpool_t *m;
    cpool_t *cp = NULL;
    char *p = NULL, *p2 = NULL;
    int fd = -1;
    int rc;

    if (c->n_mine == c->cap_mine) {
        mpool_t *nm = grow(c->mine, &c->cap_mine, sizeof *nm, 16);
        if (nm == NULL)
            goto nomem;
        c->mine = nm;
    }
    h.run_id = run_id;
    rc = ms_pool_file_create(c->spool_dir, &h, MS_COLLECT_PREALLOC_CHUNKS, &fd, &p, err, errlen);
    if (rc != 0)
        return rc;
    p2 = strdup(p);
    if (p2 == NULL || add_pool(c, run_id, p2, &cp) != 0) {
        free(p2);
        unlink(p);
        goto nomem;
    }
    m = &c->mine[c->n_mine++];
    m->run_id = run_id;
    m->fd = fd;
    m->path = p;
    m->cp = cp;
    *path = p;
    return 0;

nomem:
    ms_set_err(err, errlen, "%s", strerror(ENOMEM));
    if (fd >= 0)
        close(fd);
    free(p);
    return -ENOMEM;
}

int ms_collector_run_rss(const ms_collector_t *c, long long run_id, unsigned long long *live_kb,
                         unsigned long long *peak_kb, int64_t *peak_ns)
{
    for (size_t i = 0; c != NULL && i < c->n_mine; i++) {
        const cpool_t *cp = c->mine[i].cp;
        if (c->mine[i].run_id != run_id || cp == NULL)
            continue;
        *live_kb = __atomic_load_n(&cp->live_kb, __ATOMIC_RELAXED);
        *peak_kb = __atomic_load_n(&cp->peak_kb, __ATOMIC_ACQUIRE);
        *peak_ns = __atomic_load_n(&cp->peak_ns, __ATOMIC_RELAXED);
        return 0;
    }
    return -ENOENT;
}

int ms_collector_run_done(ms_collector_t *c, long long run_id)
{
    uint64_t next = 0;
    int rc = -ENOENT;

    for (size_t i = 0; i < c->n_mine; i++) {
        mpool_t *m = &c->mine[i];
        if (m->run_id != run_id)
            continue;
        rc = pread_all(m->fd, &next, sizeof next, offsetof(ms_spool_pool_t, next_chunk)) == 0
                 ? next > 0
                 : -EIO;
        close(m->fd);
        free(m->path);
        *m = c->mine[--c->n_mine];
        pthread_mutex_lock(&c->mu);
        for (size_t k = 0; k < c->n_pools; k++)
            if (c->pools[k]->run_id == run_id)
                __atomic_store_n(&c->pools[k]->done, 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&c->mu);
        break;
    }
    return rc;
}

int ms_collector_finish(ms_collector_t *c)
{
    int rc;

    if (c == NULL)
        return 0;
    if (c->started) {
        pthread_mutex_lock(&c->mu);
        c->stop = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->tick_thread, NULL);
        pthread_join(c->fold_thread, NULL);
        if (c->follow_started) {
            const uint64_t one = 1;
            (void)!write(c->follow_wake, &one, sizeof one);
            pthread_join(c->follow_thread, NULL);
        }
        c->follow_started = 0;
        c->started = 0;
    }
    close_follow(c); /* before the spool directory may go */
    /*
     * Every worker is reaped: a last reading of what lives on (a daemon a worker left),
     * at the grid's next point, waited for when it is at most FINAL_WAIT_NS away (a
     * reading before it would be a second one in the last interval), and the last folds.
     * The second one removes the pools the first found with all their processes gone.
     */
    if (c->next_round != 0 && any_watched(c)) {
        const int64_t wait = c->next_due - mono_ns();
        if (wait > 0 && wait <= FINAL_WAIT_NS) {
            const struct timespec ts = {(time_t)(wait / 1000000000LL), (long)(wait % 1000000000LL)};
            while (nanosleep(&ts, NULL) != 0 && errno == EINTR && mono_ns() < c->next_due)
                ;
        }
        if (mono_ns() >= c->next_due)
            take_ticks(c, c->next_round, c->next_due + (real_ns() - mono_ns()));
    }
    rc = fold_all(c, 1);
    if (rc == 0)
        rc = fold_all(c, 1);
    (void)rmdir(c->spool_dir); /* only when empty */
    ms_fold_close(c->fold);
    c->fold = NULL;
    sqlite3_close(c->db);
    c->db = NULL;
    return rc;
}

void ms_collector_counts(const ms_collector_t *c, uint64_t *taken, uint64_t *missed)
{
    *taken = c->taken;
    *missed = c->missed;
}

void ms_collector_free(ms_collector_t *c)
{
    if (c == NULL)
        return;
    if (c->started)
        (void)ms_collector_finish(c);
    for (size_t i = 0; i < c->n_pools; i++) {
        close_tick_side(c->pools[i]);
        close_fold_side(c->pools[i]);
        free(c->pools[i]->procs);
        free(c->pools[i]->later);
        free(c->pools[i]->path);
        free(c->pools[i]);
    }
    for (size_t i = 0; i < c->n_mine; i++) {
        close(c->mine[i].fd);
        free(c->mine[i].path);
    }
    free(c->pools);
    free(c->mine);
    free(c->ticks);
    free(c->pending);
    ms_fold_close(c->fold);
    sqlite3_close(c->db);
    free(c->db_path);
    close_follow(c);
    free(c->spool_dir);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
