/*
 * The sampler thread: the only thread of the shim and the only one that touches the
 * database. It takes a `start` reading as soon as it runs, a `tick` every interval and an
 * `end` reading when the destructor asks, and writes what it has (the pending readings)
 * in one short transaction each time, or every FLUSH_GAP_NS at short intervals, so that a
 * SIGKILL loses at most one interval or FLUSH_GAP_NS.
 *
 * Short-lived processes: the start reading is taken before the database is opened, and a
 * process that is already exiting by the time the database is open gets its processes
 * row, start and end in a single transaction. The program's own threads wait for the
 * sampler only in the destructor (for the end sample), in fork (for the connection to
 * close) and, without MEMSWEEP_RUN_ID, in the constructor (for the run's id); each wait is
 * bounded by MS__WAIT_MS.
 *
 * An exit whose wait runs out (a database busy with many writers, a machine too loaded
 * to schedule the sampler) must not lose readings silently. Every commit passes a gate
 * under mu: the exiting thread either finds the end stored, or lets a commit that is under
 * way finish (it holds the lock already and needs only CPU), or closes the gate, after
 * which the sampler never commits again. Only then does it count what the sampler holds
 * and say, in one line, how many readings of the process were not stored: a loss is then
 * either in the database or in that line, never in both and never in neither.
 *
 * Allocation-driven samples (shim_trigger.c) are taken in the program's threads and wait
 * in a lock-free queue; the sampler moves them to its pending readings before each write,
 * so they reach the database with the next tick's transaction. The sampler's own
 * allocations are never counted as the program's: it sets the hooks' re-entrancy guard
 * for good as its first act.
 *
 * Fork: SQLite keeps, per process, a record of the POSIX locks held on each open file.
 * A child inherits that record but not the locks, so a connection the child opened while
 * its copy of the parent's connection was still open would count on locks it does not
 * hold, and could read a WAL index that another process is rebuilding. No connection may
 * therefore be open across fork(): the sampler holds db_lock while its connection is open,
 * and the fork prepare handler wakes it and takes db_lock (bounded) for the duration of
 * the fork. Woken, the sampler closes the connection, giving up at once any wait for a
 * database lock; it reopens at its next write. The child starts afresh: new mutexes, new
 * thread, new processes row. Its first write waits for its first tick (or its exit), since
 * most forked children exec at once and the new image registers itself.
 */
#include "shim_internal.h"

#include "memsweep/schema.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* The sampler's stack, ample for SQLite; a program with huge static TLS gets the default. */
#define SAMPLER_STACK_BYTES (256 * 1024)

/*
 * Shortest time between two writes of ticks. At the default interval every tick is
 * written at once; at short intervals (20 ms) the ticks of this long go out together, so
 * that a hundred processes sampling at once do not queue for the database's one write
 * lock fifty times a second each. A SIGKILL loses the readings of at most this long or
 * one interval, whichever is longer.
 */
#define FLUSH_GAP_NS (200 * 1000000LL)

/* Ticks that fall due while a write waits for the database's lock (tick_while_waiting). */
#define LATE_MAX 64

typedef struct {
    /* Shared with the program's threads; mu guards the plain fields of this group. */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* to the sampler: exit requested, a fork starts or is over */
    pthread_cond_t done; /* from the sampler: registered, finished, gave up */
    int active;          /* a sampler was started for this process (owner) */
    pid_t owner;
    int registered;
    int finished;
    int gave_up;
    int committing;      /* a COMMIT is under way (the gate let it through) */
    int end_stored;      /* the transaction with the end has committed */
    atomic_int abandoned; /* the exit stopped waiting: the gate lets nothing through */
    int64_t run_id;            /* the run the process is registered in */
    atomic_int exit_requested; /* set under mu, also read without it */
    atomic_int forking;        /* forks waiting for, or holding, db_lock */
    pthread_mutex_t db_lock;   /* held by the sampler while its connection is open */

    /* The sampler thread's own, except in fork handlers while db_lock is held. */
    ms_config_t cfg;
    int defer_first;
    ms_ident_t ident;
    ms_dest_t dest;
    ms_store_t store;
    int db_open; /* store is open, and so db_lock is held */
    ms_reading_t end;
    int writing_end;     /* the write under way carries the end */
    atomic_long held;    /* pending and late readings, and the end once taken */
    atomic_int end_held; /* the end reading is among them */
    int64_t unstored;    /* readings dropped before they could be written */
    char note[160];      /* the first reason writing failed; "" while none did */
    int64_t next_tick_ns; /* CLOCK_MONOTONIC */
    int64_t start_mono_ns; /* when the process image started (or forked), CLOCK_MONOTONIC */
    int64_t interval_ns;
    ms_reading_t late[LATE_MAX];
    size_t nlate;
    ms_reading_t pending[MS__PENDING_MAX];
    size_t npending;
    ms_stack_t stacks[MS__PENDING_STACKS]; /* of pending readings whose stack is not -1 */
    size_t nstacks;
} ms_sampler_t;

static ms_sampler_t g;

/* The locks this thread's fork_prepare got, for the parent and child handlers. */
enum { HELD_DB = 1, HELD_MU = 2 };
static _Thread_local int fork_held;

static void deadline_after(struct timespec *ts, int64_t ns_from_now)
{
    const int64_t t = ms__clock_ns(CLOCK_MONOTONIC) + ns_from_now;

    ts->tv_sec = (time_t)(t / 1000000000);
    ts->tv_nsec = (long)(t % 1000000000);
}

static void deadline_at(struct timespec *ts, int64_t mono_ns)
{
    ts->tv_sec = (time_t)(mono_ns / 1000000000);
    ts->tv_nsec = (long)(mono_ns % 1000000000);
}

static void init_mutexes(void)
{
    pthread_mutex_init(&g.mu, NULL);
    pthread_mutex_init(&g.db_lock, NULL);
}

/*
 * Conditions wait on CLOCK_MONOTONIC, which no change of the wall clock disturbs. A forked
 * child creates them anew: they may still list waiters from the parent's sampler, a
 * thread the child does not have.
 */
static void init_conds(void)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g.wake, &ca);
    pthread_cond_init(&g.done, &ca);
    pthread_condattr_destroy(&ca);
}

static void debug_line(const char *what, int64_t n)
{
    char buf[256];
    ms_fmt_t f;

    if (!ms__diag_debug())
        return;
    ms__diag_debug_start(&f, buf, sizeof(buf));
    ms__fmt_str(&f, what);
    if (n >= 0)
        ms__fmt_i64(&f, n);
    ms__diag_line(&f);
}

/*
 * Appends a reading, dropping the oldest tick when the database has been unusable too
 * long; what is dropped is counted and reported on the processes row.
 */
/* What the sampler holds, for an exiting thread that has to count it (see the top). */
static void publish_held(void)
{
    atomic_store_explicit(&g.held, (long)(g.npending + g.nlate), memory_order_relaxed);
}

static void push(const ms_reading_t *r)
{
    if (g.npending == MS__PENDING_MAX) {
        g.unstored++;
        size_t i = 0;
        while (i < g.npending && strcmp(g.pending[i].kind, MS_KIND_TICK) != 0)
            i++;
        if (i == g.npending)
            i = g.npending - 1;
        memmove(&g.pending[i], &g.pending[i + 1],
                (g.npending - i - 1) * sizeof(g.pending[0]));
        g.npending--;
    }
    g.pending[g.npending++] = *r;
    publish_held();
}

/*
 * A reading of the sampler's own, with the live heap; it also moves the level of the next
 * `alloc` sample and counts towards the peak that decides when a stack is captured.
 */
static int read_now(ms_reading_t *r, const char *kind)
{
    const int err = ms__proc_reading(r, kind);

    r->heap_kb = ms__alloc_heap_kb();
    r->stack = -1;
    if (err == 0) {
        ms__alloc_rebase();
        ms__trigger_note_rss(r->rss_kb);
    }
    return err;
}

static void take(const char *kind)
{
    ms_reading_t r;
    const int err = read_now(&r, kind);

    if (err == 0) {
        push(&r);
        return;
    }
    /* Counted with the readings that could not be stored: both are lost. */
    g.unstored++;
    if (err == -EBADF) {
        if (!ms__vfs_private())
            ms__vfs_want_renew();
        debug_line("the program closed the status descriptor; reading skipped", -1);
    } else {
        debug_line("could not read /proc/self/status; reading skipped", -1);
    }
}

/*
 * The end reading also completes the processes row, so it exists even when /proc could
 * not be read: then it carries only the time, and no end sample is written.
 */
static void take_end(void)
{
    if (read_now(&g.end, MS_KIND_END) == 0) {
        push(&g.end);
        atomic_store(&g.end_held, 1);
        return;
    }
    g.end.t_ns = ms__clock_ns(CLOCK_REALTIME);
    g.end.rss_kb = -1;
    g.end.hwm_kb = -1;
}

/*
 * Moves the allocation-driven samples waiting in the queue to the pending readings,
 * leaving room for the sampler's own. What does not fit stays queued: the queue then
 * fills, and the program's threads count what they cannot add.
 */
static void drain(void)
{
    ms_alloc_sample_t s;

    while (g.npending < MS__PENDING_MAX - MS__PENDING_OWN && ms__allocq_pop(&s)) {
        ms_reading_t *r;
        if (s.kind == MS__SAMPLE_NONE)
            continue; /* its thread could not read /proc */
        r = &g.pending[g.npending++];
        r->t_ns = s.t_ns;
        r->rss_kb = s.rss_kb;
        r->hwm_kb = s.hwm_kb;
        r->heap_kb = s.heap_kb;
        r->kind = s.kind == MS__SAMPLE_RELEASE ? MS_KIND_RELEASE : MS_KIND_ALLOC;
        r->stack = -1;
        if (s.stack.depth > 0 && g.nstacks < MS__PENDING_STACKS) {
            g.stacks[g.nstacks] = s.stack;
            r->stack = (int)g.nstacks++;
        }
        publish_held();
    }
}

static void alloc_stats(ms_alloc_stats_t *s)
{
    s->tracking = ms__alloc_tracking();
    ms__trigger_drops(&s->dropped_rate, &s->dropped_queue);
    s->unstored = g.unstored;
    memcpy(s->note, g.note, sizeof(s->note));
}

/* Lets every waiting fork through before the sampler takes db_lock again. */
static void wait_forks_over(void)
{
    if (atomic_load(&g.forking) == 0)
        return;
    pthread_mutex_lock(&g.mu);
    while (atomic_load(&g.forking) != 0) {
        struct timespec ts;
        deadline_after(&ts, (int64_t)MS__WAIT_MS * 1000000);
        if (pthread_cond_timedwait(&g.wake, &g.mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&g.mu);
}

enum { WOKE_TICK, WOKE_EXIT, WOKE_FORK };

/*
 * Waits for the next tick, for the destructor, or for a fork that needs the connection
 * closed (a fork while no connection is open needs nothing from the sampler).
 */
static int wait_tick(int64_t next_ns)
{
    struct timespec ts;
    int woke;

    deadline_at(&ts, next_ns);
    pthread_mutex_lock(&g.mu);
    for (;;) {
        if (atomic_load(&g.exit_requested) != 0) {
            woke = WOKE_EXIT;
            break;
        }
        if (g.db_open && atomic_load(&g.forking) != 0) {
            woke = WOKE_FORK;
            break;
        }
        if (pthread_cond_timedwait(&g.wake, &g.mu, &ts) == ETIMEDOUT) {
            woke = WOKE_TICK;
            break;
        }
    }
    pthread_mutex_unlock(&g.mu);
    return woke;
}

static int open_db(ms_fmt_t *why)
{
    int err;

    if (g.db_open)
        return 0;
    if (ms__vfs_claim(ms__vfs_may_open_low()) != 0) {
        ms__fmt_str(why, MS__WHY_NO_SPARE);
        return -EBUSY;
    }
    wait_forks_over();
    pthread_mutex_lock(&g.db_lock);
    /*
     * Until the process is registered the file may be created (a run of our own, or a run
     * id that names nothing); afterwards a missing file was deleted, and is not recreated.
     */
    err = ms__store_open(&g.store, g.cfg.db_path, g.dest.run_id == 0 || !g.registered,
                         &g.forking, why);
    if (err != 0) {
        pthread_mutex_unlock(&g.db_lock);
        ms__vfs_release(err == -EBUSY);
        return err;
    }
    g.db_open = 1;
    return 0;
}

static void mark_gave_up(void)
{
    pthread_mutex_lock(&g.mu);
    g.gave_up = 1;
    pthread_cond_broadcast(&g.done);
    pthread_mutex_unlock(&g.mu);
}

/*
 * Closes the connection and lets forks through. Closing is safe even when the program has
 * closed or replaced SQLite's descriptors: the calls on those fail (shim_vfs.c).
 */
static void close_db(void)
{
    if (!g.db_open)
        return;
    ms__store_close(&g.store);
    g.db_open = 0;
    pthread_mutex_unlock(&g.db_lock);
    ms__vfs_release(0);
}

/*
 * Writes the pending readings, and the end when *end_taken, in one transaction. A process
 * found exiting once the database is open gets its end in that same transaction. On error
 * the connection is closed: a fork may be waiting for it, or it may be unusable.
 */
static int flush(int *end_taken, ms_fmt_t *why)
{
    ms_alloc_stats_t stats;
    int err;

    err = open_db(why);
    if (err != 0)
        return err;
    if (!*end_taken && atomic_load(&g.exit_requested) != 0) {
        take_end();
        *end_taken = 1;
    }
    drain();
    alloc_stats(&stats);
    g.writing_end = *end_taken;
    err = ms__store_write(&g.store, &g.dest, &g.ident, g.pending, g.npending, g.stacks,
                          &stats, *end_taken ? &g.end : NULL, why);
    if (err != 0)
        close_db();
    return err;
}

static void publish(int *flag)
{
    pthread_mutex_lock(&g.mu);
    *flag = 1;
    g.run_id = g.dest.run_id;
    pthread_cond_broadcast(&g.done);
    pthread_mutex_unlock(&g.mu);
}

/*
 * Keeps the readings for the next attempt after an error that may pass (a full or
 * read-only filesystem, a deleted database, descriptors the program closed), and
 * remembers the first such reason for the processes row.
 */
static void note_failure(const char *why)
{
    if (g.note[0] == '\0') {
        ms_fmt_t f;
        ms__fmt_init(&f, g.note, sizeof(g.note));
        ms__fmt_str(&f, why[0] != '\0' ? why : "could not write to the database");
    }
    debug_line("could not write; the readings wait for the next attempt", -1);
}

/* Starts a line of the shim's for the program's stderr: "memsweep: DB: why". */
static void line_start(ms_fmt_t *f, char *buf, size_t cap, const char *why)
{
    ms__fmt_init(f, buf, cap);
    ms__fmt_str(f, "memsweep: ");
    ms__fmt_str(f, g.cfg.db_path);
    ms__fmt_str(f, ": ");
    ms__fmt_str(f, why);
}

/* At exit, when the last attempt failed: one line saying what was lost. */
static void report_unstored(const char *why)
{
    char buf[MS__PATH_MAX + 256];
    ms_fmt_t f;

    g.unstored += (int64_t)g.npending;
    line_start(&f, buf, sizeof(buf), why[0] != '\0' ? why : "cannot write");
    ms__fmt_str(&f, "; ");
    ms__fmt_i64(&f, g.unstored);
    ms__fmt_str(&f, g.unstored == 1 ? " reading of this process not stored"
                                    : " readings of this process not stored");
    ms__diag_line(&f);
}

/* The one line a program ever sees from the shim without MEMSWEEP_DEBUG. */
static void give_up(const char *why)
{
    char buf[MS__PATH_MAX + 256];
    ms_fmt_t f;

    line_start(&f, buf, sizeof(buf), why[0] != '\0' ? why : "cannot write");
    ms__fmt_str(&f, "; not measuring");
    ms__diag_line(&f);
    ms__alloc_stop();
    mark_gave_up();
}

/*
 * Moves the next tick on by one interval. After a stall (the thread was not scheduled in
 * time), the ticks that fell due meanwhile are counted as lost, and the next is one
 * interval from now, not a burst.
 */
static void advance_tick(int64_t now)
{
    g.next_tick_ns += g.interval_ns;
    if (g.next_tick_ns <= now) {
        g.unstored += (now - g.next_tick_ns) / g.interval_ns + 1;
        g.next_tick_ns = now + g.interval_ns;
    }
}

/*
 * Called while a write waits for the database's lock (shim_store.c's busy handler):
 * takes the ticks that fall due meanwhile, so that a busy database delays readings'
 * writing, never their taking. They join the pending readings after the write.
 */
static int tick_while_waiting(void)
{
    const int64_t now = ms__clock_ns(CLOCK_MONOTONIC);

    if (atomic_load(&g.abandoned) != 0)
        return 1;
    /*
     * Once the exit is asked for, a write without the end gives up its wait: the end then
     * goes with the same readings in the next transaction, one wait for the lock instead
     * of two. No later reading could be stored before the end.
     */
    if (atomic_load(&g.exit_requested) != 0)
        return !g.writing_end;
    if (now < g.next_tick_ns || g.nlate == LATE_MAX)
        return 0;
    if (read_now(&g.late[g.nlate], MS_KIND_TICK) == 0)
        g.nlate++;
    else
        g.unstored++;
    publish_held();
    advance_tick(now);
    return 0;
}

/* The commit gate (see the top of this file), with the write lock held. */
static int may_commit(void)
{
    int ok;

    pthread_mutex_lock(&g.mu);
    ok = atomic_load(&g.abandoned) == 0;
    g.committing = ok;
    pthread_mutex_unlock(&g.mu);
    return ok;
}

static void commit_done(int committed)
{
    pthread_mutex_lock(&g.mu);
    g.committing = 0;
    if (committed && g.writing_end)
        g.end_stored = 1;
    pthread_cond_broadcast(&g.done);
    pthread_mutex_unlock(&g.mu);
}

static void merge_late(void)
{
    const size_t n = g.nlate;

    /* Each is counted once, late or pending, as push() publishes the count. */
    for (size_t i = 0; i < n; i++) {
        g.nlate = n - i - 1;
        push(&g.late[i]);
    }
}

static void *sampler_main(void *arg)
{
    char whybuf[512];
    ms_fmt_t why;
    int64_t last_flush_ns = 0;
    int end_taken = 0;
    int flush_due;
    int err;

    (void)arg;
    ms__alloc_exclude_thread();
    prctl(PR_SET_NAME, "memsweep", 0, 0, 0);
    /* Without stderr in its own table, its lines wait for a program thread at exit. */
    if (g.cfg.private_fds && ms__vfs_go_private(ms__diag_debug()) == 0)
        ms__diag_relay(1);
    ms__procfd_sampler_start();
    ms__store_on_wait(tick_while_waiting);
    ms__store_on_commit(may_commit, commit_done);
    take(MS_KIND_START);
    g.interval_ns = (int64_t)g.cfg.interval_ms * 1000000;
    /*
     * Ticks are due from the process's start, not from this thread's: on a busy machine
     * the thread may start intervals late, and the ticks due meanwhile count as lost.
     */
    {
        const int64_t late = ms__clock_ns(CLOCK_MONOTONIC) - g.start_mono_ns;
        const int64_t due = late > 0 ? late / g.interval_ns : 0;
        g.unstored += due;
        g.next_tick_ns = g.start_mono_ns + (due + 1) * g.interval_ns;
    }
    flush_due = !g.defer_first;
    for (;;) {
        if (!flush_due) {
            const int woke = wait_tick(g.next_tick_ns);
            if (woke == WOKE_FORK) {
                close_db();
                continue;
            }
            if (woke == WOKE_TICK) {
                const int64_t now = ms__clock_ns(CLOCK_MONOTONIC);
                take(MS_KIND_TICK);
                advance_tick(now);
                if (g.registered && now - last_flush_ns < FLUSH_GAP_NS &&
                    g.npending < MS__PENDING_OWN / 2)
                    continue;
            }
        }
        if (!end_taken && atomic_load(&g.exit_requested) != 0) {
            take_end();
            end_taken = 1;
        }
        ms__fmt_init(&why, whybuf, sizeof(whybuf));
        err = flush(&end_taken, &why);
        last_flush_ns = ms__clock_ns(CLOCK_MONOTONIC);
        flush_due = 0;
        if (err == 0) {
            g.npending = 0;
            g.nstacks = 0;
            publish_held();
            merge_late();
            if (!g.registered) {
                publish(&g.registered);
                debug_line("registered as processes row ", g.dest.proc_id);
            }
            if (end_taken)
                break;
        } else if (err == -ECANCELED || atomic_load(&g.abandoned) != 0) {
            /* The exit stopped waiting and counted what is here as not stored. */
            close_db();
            return NULL;
        } else if (err == -EAGAIN) {
            merge_late();
            /*
             * A fork, or a database busy for MS_BUSY_TIMEOUT_MS: the readings wait for
             * the next attempt, right after the fork or at the next tick. At exit, keep
             * trying; the destructor's bounded wait decides how long.
             */
            const int forking = atomic_load(&g.forking) != 0;
            flush_due = forking || end_taken;
            if (!forking) {
                debug_line("database busy; the readings wait for the next attempt", -1);
                if (end_taken) {
                    const struct timespec pause = {0, 10000000};
                    nanosleep(&pause, NULL);
                }
            }
        } else if (err == -EPROTO || err == -EPROTONOSUPPORT) {
            /* Not our database, or a newer one: no retry changes that. */
            give_up(why.buf);
            return NULL;
        } else if (end_taken) {
            /*
             * The line is this thread's to write unless the exit stopped waiting; marked
             * as a commit under way, it is let finish (the exit flushes it afterwards).
             */
            if (!may_commit()) {
                close_db();
                return NULL;
            }
            /* The first reason says more than the last ("deleted" than "cannot open"). */
            report_unstored(g.note[0] != '\0' ? g.note : why.buf);
            break;
        } else {
            merge_late();
            note_failure(why.buf);
        }
    }
    if (err == 0)
        debug_line("end sample written", -1);
    if (ms__maptable_overflows() > 0)
        debug_line("anonymous mappings not counted (their table was full): ",
                   ms__maptable_overflows());
    /* Closing costs the exiting program nothing once it has been let go. */
    publish(&g.finished);
    close_db();
    return NULL;
}

/*
 * Starts the thread with every signal blocked, so that no signal meant for the program is
 * ever delivered to it.
 */
static int spawn(int defer_first)
{
    sigset_t all, old;
    pthread_attr_t attr;
    pthread_t tid;
    int rc;

    g.defer_first = defer_first;
    g.registered = g.finished = g.gave_up = 0;
    g.committing = g.end_stored = 0;
    atomic_store(&g.abandoned, 0);
    atomic_store(&g.held, 0);
    atomic_store(&g.end_held, 0);
    g.npending = 0;
    g.nlate = 0;
    g.unstored = 0;
    g.note[0] = '\0';
    g.nstacks = 0;
    g.db_open = 0;
    /*
     * A fork child's parent is the process that owned the sampler until now: asking the
     * kernel could already give 1, since daemon() makes the parent exit at once.
     */
    g.ident.ppid = defer_first ? g.owner : getppid();
    g.owner = getpid();
    g.ident.pid = g.owner;
    memset(&g.store, 0, sizeof(g.store));

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_attr_init(&attr);
    if (rc == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, SAMPLER_STACK_BYTES);
        rc = pthread_create(&tid, &attr, sampler_main, NULL);
        pthread_attr_destroy(&attr);
        if (rc == EINVAL && pthread_attr_init(&attr) == 0) {
            /* The stack was too small for the program's static TLS: take the default. */
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            rc = pthread_create(&tid, &attr, sampler_main, NULL);
            pthread_attr_destroy(&attr);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    g.active = rc == 0;
    if (rc != 0)
        debug_line("could not start the sampler thread; not measuring", -1);
    return -rc;
}

int ms__sampler_start(const ms_config_t *cfg)
{
    g.cfg = *cfg;
    /* Read here, before main: it opens /proc files (a fork child keeps its parent's). */
    ms__proc_ident(&g.ident);
    g.ident.started_ns = cfg->started_ns;
    g.start_mono_ns = ms__clock_ns(CLOCK_MONOTONIC);
    g.dest.run_id = cfg->run_id;
    g.dest.proc_id = 0;
    g.dest.created_run = 0;
    g.dest.interval_ms = cfg->interval_ms;
    init_mutexes();
    init_conds();
    return spawn(0);
}

int ms__sampler_wait_registered(int64_t *run_id, unsigned timeout_ms)
{
    struct timespec ts;
    int err = -ETIMEDOUT;

    if (!g.active)
        return -ECANCELED;
    deadline_after(&ts, (int64_t)timeout_ms * 1000000);
    pthread_mutex_lock(&g.mu);
    for (;;) {
        if (g.registered) {
            *run_id = g.run_id;
            err = 0;
            break;
        }
        if (g.gave_up || g.finished) {
            err = -ECANCELED;
            break;
        }
        if (pthread_cond_timedwait(&g.done, &g.mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&g.mu);
    return err;
}

/* Under mu: the sampler has nothing left to do for the exit. */
static int stopped(void)
{
    return g.finished || g.gave_up || g.end_stored;
}

/*
 * The line of an exit that stopped waiting (see the top of this file), written by the
 * exiting thread. lost is -1 when it cannot be known: a commit still under way may yet
 * store them.
 */
static void report_abandoned(long lost, const char *why)
{
    char buf[MS__PATH_MAX + 256];
    ms_fmt_t f;

    line_start(&f, buf, sizeof(buf), why);
    if (lost >= 0) {
        ms__fmt_str(&f, "; ");
        ms__fmt_i64(&f, lost);
        ms__fmt_str(&f, lost == 1 ? " reading of this process not stored"
                                  : " readings of this process not stored");
    } else {
        ms__fmt_str(&f, "; the last readings of this process may not be stored");
    }
    ms__diag_line(&f);
}

void ms__sampler_stop(unsigned timeout_ms)
{
    struct timespec ts;

    /*
     * owner is written before the thread starts and never while it runs, so this check
     * needs no lock; a vfork child that calls exit() leaves here without touching mu.
     */
    if (!g.active || g.owner != getpid())
        return;
    /* No more allocation-driven samples: those queued go out with the end. */
    ms__alloc_stop();
    /*
     * The program is exiting: descriptors it closed may now be reopened for the end
     * sample and the readings still waiting, at whatever numbers are free.
     */
    ms__vfs_low_ok(1);
    deadline_after(&ts, (int64_t)timeout_ms * 1000000);
    if (pthread_mutex_clocklock(&g.mu, CLOCK_MONOTONIC, &ts) != 0) {
        report_abandoned(-1, "the shim's state was locked");
        return;
    }
    atomic_store(&g.exit_requested, 1);
    pthread_cond_broadcast(&g.wake);
    while (!stopped()) {
        if (pthread_cond_timedwait(&g.done, &g.mu, &ts) == ETIMEDOUT)
            break;
    }
    if (!stopped()) {
        /* A commit under way holds the lock already and needs only CPU: let it end. */
        deadline_after(&ts, (int64_t)timeout_ms * 1000000);
        while (g.committing && !stopped()) {
            if (pthread_cond_timedwait(&g.done, &g.mu, &ts) == ETIMEDOUT)
                break;
        }
    }
    if (stopped()) {
        pthread_mutex_unlock(&g.mu);
        return;
    }
    /* From here on the sampler commits nothing: what it holds is lost, and counted. */
    atomic_store(&g.abandoned, 1);
    {
        const int committing = g.committing;
        const long lost = atomic_load(&g.held) + (long)ms__allocq_waiting() +
                          (atomic_load(&g.end_held) ? 0 : 1);
        pthread_mutex_unlock(&g.mu);
        report_abandoned(committing ? -1 : lost,
                         "its last write did not finish within the time an exit may wait "
                         "(a busy database or an overloaded machine)");
    }
}

/*
 * Wakes the sampler. Bounded, like every wait of a program thread: a fork from a signal
 * handler that interrupted this very thread inside mu must not hang.
 */
static void wake_sampler(void)
{
    struct timespec ts;

    deadline_after(&ts, (int64_t)MS__WAIT_MS * 1000000);
    if (pthread_mutex_clocklock(&g.mu, CLOCK_MONOTONIC, &ts) != 0)
        return;
    pthread_cond_broadcast(&g.wake);
    pthread_mutex_unlock(&g.mu);
}

/*
 * The forking thread holds both mutexes across fork(), so that the child finds them in a
 * known state: db_lock once the sampler has closed its connection, then mu. Both waits
 * are bounded; a child forked without db_lock is not measured.
 */
void ms__sampler_fork_prepare(void)
{
    struct timespec ts;
    int held = 0;

    atomic_fetch_add(&g.forking, 1);
    wake_sampler();
    deadline_after(&ts, (int64_t)MS__WAIT_MS * 1000000);
    if (pthread_mutex_clocklock(&g.db_lock, CLOCK_MONOTONIC, &ts) == 0)
        held |= HELD_DB;
    if (pthread_mutex_clocklock(&g.mu, CLOCK_MONOTONIC, &ts) == 0)
        held |= HELD_MU;
    fork_held = held;
}

void ms__sampler_fork_parent(void)
{
    const int held = fork_held;

    fork_held = 0;
    if (held & HELD_MU)
        pthread_mutex_unlock(&g.mu);
    if (held & HELD_DB)
        pthread_mutex_unlock(&g.db_lock);
    atomic_fetch_sub(&g.forking, 1);
    wake_sampler();
}

void ms__sampler_fork_child(void)
{
    const int held = fork_held;

    ms__diag_fork_child();
    fork_held = 0;
    /* A mutex this thread could not take may be held by a thread the child lacks. */
    if (held == (HELD_DB | HELD_MU)) {
        pthread_mutex_unlock(&g.mu);
        pthread_mutex_unlock(&g.db_lock);
    } else {
        init_mutexes();
    }
    init_conds();
    atomic_store(&g.exit_requested, 0);
    atomic_store(&g.forking, 0);
    if (!g.active || g.gave_up) {
        ms__alloc_fork_child(0);
        return;
    }
    if (!(held & HELD_DB)) {
        /* The parent's sampler may have been inside SQLite: its state is not ours to use. */
        g.active = 0;
        ms__alloc_fork_child(0);
        debug_line("forked while the database was busy; the child is not measured", -1);
        return;
    }
    ms__alloc_fork_child(1);
    /* Nothing of the program runs until fork returns: spares the parent lost are renewed. */
    ms__vfs_fork_child(g.cfg.db_path);
    /* A child belongs to its parent's run; it gets its own processes row. */
    if (g.dest.run_id == 0)
        g.dest.run_id = g.cfg.run_id;
    g.dest.proc_id = 0;
    g.dest.created_run = 0;
    g.ident.started_ns = ms__clock_ns(CLOCK_REALTIME);
    g.start_mono_ns = ms__clock_ns(CLOCK_MONOTONIC);
    spawn(1);
    debug_line("forked from ", g.ident.ppid);
}
