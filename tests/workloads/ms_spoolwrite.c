/*
 * A spool writer for tests: writes a pool the way include/memsweep/spool.h says the shim
 * does (chunks claimed with an atomic add on next_chunk, allocated before they are
 * mapped, records published by a release store of committed, the end in the process
 * header), so that memsweep's side can be tested with real processes and real files.
 *
 *   ms_spoolwrite [--samples N] [--allocs N] [--rss KB] [--note TEXT] [--children N]
 *                 [--wait-file PATH] [--kill-after N] [--no-end] [--self-sampled]
 *                 [--tick-ms MS] [--hold-ms MS] [--started-file PATH] [--pool PATH]
 *
 * The pool is --pool, else MEMSWEEP_SPOOL, else a new pool of a run of its own in
 * MEMSWEEP_SPOOL_DIR or the default spool directory of MEMSWEEP_DB (spooldir.h), whose
 * path it exports in MEMSWEEP_SPOOL to its children. Each process image writes an
 * identity, a start sample, N tick samples (rss KB + 8 * i), N allocation samples with one
 * stack, the note, and its end. --children N forks N children that do the same after the
 * parent's start sample, and waits for them; --hold-ms MS keeps each image alive that long
 * after its samples (children too); --started-file is created once its first chunk and
 * start sample are in place. --wait-file holds before the end until the
 * file exists; --kill-after N dies of SIGKILL after N ticks, leaving no end.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memsweep/env.h"
#include "memsweep/spool.h"
#include "memsweep/spooldir.h"
#include "wl_common.h"

typedef struct writer {
    int fd;
    ms_spool_pool_t *pool; /* the mapped header */
    uint32_t chunk_bytes;
    uint64_t key;
    uint32_t seq;
    unsigned char *chunk;  /* the mapped current chunk */
    ms_spool_proc_t *proc; /* in the first chunk, which stays mapped */
    uint32_t used;
} writer_t;

static void die(const char *what)
{
    fprintf(stderr, "ms_spoolwrite: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t start_ticks(void)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    char *p;
    int field = 2;

    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    p = strrchr(buf, ')');
    while (p != NULL && field < 22) {
        p = strchr(p + 1, ' ');
        field++;
    }
    return p != NULL ? strtoull(p + 1, NULL, 10) : 0;
}

static uint64_t ns_ino(void)
{
    struct stat st;

    return stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Claims the next chunk for this image: add, allocate, map, then write its header. */
static void claim(writer_t *w)
{
    const uint64_t i = __atomic_fetch_add(&w->pool->next_chunk, 1, __ATOMIC_ACQ_REL);
    const off_t off = (off_t)(MS_SPOOL_HEADER_BYTES + i * w->chunk_bytes);
    unsigned char *c;
    ms_spool_chunk_t *h;

    if (posix_fallocate(w->fd, off, w->chunk_bytes) != 0)
        die("fallocate");
    c = mmap(NULL, w->chunk_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd, off);
    if (c == MAP_FAILED)
        die("mmap");
    /* The first chunk stays mapped: the process header lives there. */
    if (w->chunk != NULL && w->seq > 1)
        munmap(w->chunk, w->chunk_bytes);
    h = (ms_spool_chunk_t *)c;
    h->seq = w->seq;
    h->key = w->key;
    h->committed = 0;
    if (w->seq == 0) {
        ms_spool_proc_t *p = (ms_spool_proc_t *)(c + sizeof *h);
        p->pid = (int32_t)getpid();
        p->ppid = (int32_t)getppid();
        p->start_ticks = start_ticks();
        p->started_ns = now_ns();
        p->pidns_ino = ns_ino();
        p->interval_ms = w->pool->interval_ms;
        p->heap_kb = -1;
        w->proc = p;
    }
    __atomic_store_n(&h->magic, MS_SPOOL_CHUNK_MAGIC, __ATOMIC_RELEASE);
    w->chunk = c;
    w->used = 0;
}

/* Appends one record, in a new chunk when it does not fit. */
static void append(writer_t *w, const void *rec, size_t len)
{
    ms_spool_chunk_t *h;

    if (ms_spool_records_at(w->seq) + w->used + len > w->chunk_bytes) {
        w->seq++;
        claim(w);
    }
    h = (ms_spool_chunk_t *)w->chunk;
    memcpy(w->chunk + ms_spool_records_at(w->seq) + w->used, rec, len);
    w->used += (uint32_t)len;
    __atomic_store_n(&h->committed, w->used, __ATOMIC_RELEASE);
}

static void sample(writer_t *w, uint32_t kind, int64_t rss, int64_t hwm, uint64_t stack)
{
    ms_spool_sample_t s;

    memset(&s, 0, sizeof s);
    s.h.type = MS_SPOOL_REC_SAMPLE;
    s.h.bytes = sizeof s;
    s.t_ns = now_ns();
    s.rss_kb = rss;
    s.hwm_kb = hwm;
    s.heap_kb = rss / 2;
    s.stack_hash = stack;
    s.kind = kind;
    /* No breakdown and no PSS: not reported, not read. */
    s.anon_kb = s.file_kb = s.shmem_kb = -1;
    s.pss_kb = s.pss_anon_kb = s.pss_shmem_kb = -1;
    append(w, &s, sizeof s);
}

/* A record of a fixed part and text, padded to a multiple of 8. */
static void text_record(writer_t *w, const void *fixed, size_t flen, const char *t1,
                        size_t l1, const char *t2, size_t l2)
{
    unsigned char buf[8192];
    const size_t len = (flen + l1 + l2 + 7) / 8 * 8;
    ms_spool_rec_t *h = (ms_spool_rec_t *)buf;

    memset(buf, 0, len);
    memcpy(buf, fixed, flen);
    memcpy(buf + flen, t1, l1);
    if (l2 > 0)
        memcpy(buf + flen + l1, t2, l2);
    h->bytes = (uint16_t)len;
    append(w, buf, len);
}

static void ident(writer_t *w)
{
    char exe[PATH_MAX];
    char cmd[4096];
    ms_spool_ident_t id;
    ssize_t elen = readlink("/proc/self/exe", exe, sizeof exe);
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t clen = fd >= 0 ? read(fd, cmd, sizeof cmd) : 0;

    if (fd >= 0)
        close(fd);
    memset(&id, 0, sizeof id);
    id.h.type = MS_SPOOL_REC_IDENT;
    id.exe_len = (uint16_t)(elen > 0 ? elen : 0);
    id.cmdline_len = (uint16_t)(clen > 0 ? clen : 0);
    text_record(w, &id, sizeof id, exe, id.exe_len, cmd, id.cmdline_len);
}

static uint64_t stack_record(writer_t *w)
{
    static const char frames[] = "/proc/self/exe+0x1234 grow\n/lib/libc.so.6+0x2a ?";
    ms_spool_stack_t s;

    memset(&s, 0, sizeof s);
    s.h.type = MS_SPOOL_REC_STACK;
    s.hash = 0x5eed5eed12345678ULL;
    s.depth = 2;
    s.text_len = sizeof frames - 1;
    text_record(w, &s, sizeof s, frames, s.text_len, NULL, 0);
    return s.hash;
}

static void note(writer_t *w, const char *text)
{
    ms_spool_note_t n;

    memset(&n, 0, sizeof n);
    n.h.type = MS_SPOOL_REC_NOTE;
    n.len = (uint32_t)strlen(text);
    text_record(w, &n, sizeof n, text, n.len, NULL, 0);
}

/* Creates a pool of a run of its own, as the first measured process of a program does. */
static char *create_pool(void)
{
    const char *db = getenv(MS_ENV_DB);
    const char *env_dir = getenv(MS_ENV_SPOOL_DIR);
    char dir[PATH_MAX];
    char *path = NULL;
    ms_spool_pool_t h;
    uint64_t r;
    char boot[64];
    int fd;

    if (env_dir != NULL && env_dir[0] != '\0')
        snprintf(dir, sizeof dir, "%s", env_dir);
    else if (db == NULL || ms_spooldir_for_db(dir, sizeof dir, db, NULL) != 0)
        die("no MEMSWEEP_SPOOL, MEMSWEEP_SPOOL_DIR or MEMSWEEP_DB");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        die(dir);
    if (getrandom(&r, sizeof r, 0) != sizeof r)
        die("getrandom");
    if (asprintf(&path, "%s/%016llx%s", dir, (unsigned long long)r, MS_SPOOL_SUFFIX) < 0)
        die("asprintf");
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        die(path);
    memset(&h, 0, sizeof h);
    h.magic = MS_SPOOL_MAGIC;
    h.version = MS_SPOOL_VERSION;
    h.header_bytes = MS_SPOOL_HEADER_BYTES;
    h.chunk_bytes = MS_SPOOL_CHUNK_BYTES;
    h.created_ns = now_ns();
    h.interval_ms = 50;
    {
        int bfd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
        ssize_t n = bfd >= 0 ? read(bfd, boot, sizeof boot) : -1;
        uint64_t v[2] = {0, 0};
        unsigned d = 0;
        if (bfd >= 0)
            close(bfd);
        for (ssize_t i = 0; i < n && d < 32; i++) {
            const char c = boot[i];
            if (c == '-' || c == '\n')
                continue;
            v[d / 16] = v[d / 16] << 4 | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
            d++;
        }
        h.boot_id_hi = v[0];
        h.boot_id_lo = v[1];
    }
    gethostname(h.host, sizeof h.host - 1);
    if (ftruncate(fd, MS_SPOOL_HEADER_BYTES) != 0 || pwrite(fd, &h, sizeof h, 0) != sizeof h)
        die(path);
    close(fd);
    setenv(MS_ENV_SPOOL, path, 1);
    return path;
}

static void open_pool(writer_t *w, const char *path)
{
    memset(w, 0, sizeof *w);
    w->fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (w->fd < 0)
        die(path);
    w->pool = mmap(NULL, MS_SPOOL_HEADER_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd, 0);
    if (w->pool == MAP_FAILED)
        die("mmap");
    w->chunk_bytes = w->pool->chunk_bytes;
    if (getrandom(&w->key, sizeof w->key, 0) != sizeof w->key)
        die("getrandom");
    w->key |= 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"samples", required_argument, NULL, 's'},  {"allocs", required_argument, NULL, 'a'},
        {"rss", required_argument, NULL, 'r'},      {"note", required_argument, NULL, 'n'},
        {"children", required_argument, NULL, 'c'}, {"wait-file", required_argument, NULL, 'w'},
        {"kill-after", required_argument, NULL, 'k'}, {"no-end", no_argument, NULL, 'E'},
        {"self-sampled", no_argument, NULL, 'S'},   {"tick-ms", required_argument, NULL, 't'},
        {"pool", required_argument, NULL, 'p'},     {"hold-ms", required_argument, NULL, 'H'},
        {"started-file", required_argument, NULL, 'F'}, {NULL, 0, NULL, 0},
    };
    long samples = 5, allocs = 0, rss = 10000, children = 0, kill_after = -1, tick_ms = 0;
    long hold_ms = 0;
    const char *note_text = NULL, *wait_path = NULL, *pool = NULL, *started_path = NULL;
    int end = 1, self_sampled = 0;
    int64_t hwm = 0;
    uint64_t stack = 0;
    writer_t w;
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        long *target = NULL;
        switch (c) {
        case 's': target = &samples; break;
        case 'a': target = &allocs; break;
        case 'r': target = &rss; break;
        case 'c': target = &children; break;
        case 'k': target = &kill_after; break;
        case 't': target = &tick_ms; break;
        case 'H': target = &hold_ms; break;
        case 'n': note_text = optarg; break;
        case 'w': wait_path = optarg; break;
        case 'p': pool = optarg; break;
        case 'F': started_path = optarg; break;
        case 'E': end = 0; break;
        case 'S': self_sampled = 1; break;
        default:
            return 2;
        }
        if (target != NULL && parse_long(optarg, 0, 100000000, target) != 0) {
            fprintf(stderr, "ms_spoolwrite: bad number '%s'\n", optarg);
            return 2;
        }
    }
    if (pool == NULL)
        pool = getenv(MS_ENV_SPOOL);
    if (pool == NULL || pool[0] == '\0')
        pool = create_pool();
    open_pool(&w, pool);
    claim(&w);
    if (self_sampled)
        w.proc->flags |= MS_SPOOL_SELF_SAMPLED;
    ident(&w);
    hwm = rss;
    sample(&w, MS_SPOOL_KIND_START, rss, hwm, 0);
    if (started_path != NULL) {
        const int fd = open(started_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    for (long i = 0; i < children; i++) {
        const pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            /* A child is a new process image: a chunk and a key of its own. */
            char hold[32];
            char *args[] = {argv[0], "--samples", "3", "--rss", "5000", "--hold-ms", hold, NULL};
            snprintf(hold, sizeof hold, "%ld", hold_ms);
            execv("/proc/self/exe", args);
            die("exec");
        }
    }
    if (allocs > 0)
        stack = stack_record(&w);
    for (long i = 0; i < samples; i++) {
        const int64_t r = rss + 8 * i;
        if (r > hwm)
            hwm = r;
        sample(&w, MS_SPOOL_KIND_TICK, r, hwm, 0);
        __atomic_store_n(&w.proc->heap_kb, r / 2, __ATOMIC_RELAXED);
        if (kill_after >= 0 && i + 1 >= kill_after)
            raise(SIGKILL);
        if (tick_ms > 0)
            sleep_ms(tick_ms);
    }
    for (long i = 0; i < allocs; i++) {
        const int64_t r = rss + 4096 + 16 * i;
        if (r > hwm)
            hwm = r;
        sample(&w, i % 2 == 0 ? MS_SPOOL_KIND_ALLOC : MS_SPOOL_KIND_RELEASE, r, hwm,
               i == 0 ? stack : 0);
    }
    if (note_text != NULL)
        note(&w, note_text);
    w.proc->alloc_tracking = 1;
    w.proc->alloc_dropped_rate = allocs / 3;
    if (hold_ms > 0)
        sleep_ms(hold_ms);
    while (children > 0) {
        if (wait(NULL) < 0 && errno != EINTR)
            break;
        children--;
    }
    wait_file(wait_path);
    if (end) {
        ms_spool_proc_t *p = w.proc;
        __atomic_store_n(&p->end_state, MS_SPOOL_END_WRITING, __ATOMIC_RELAXED);
        p->end_t_ns = now_ns();
        p->end_rss_kb = rss;
        p->end_hwm_kb = hwm;
        p->end_heap_kb = rss / 2;
        __atomic_store_n(&p->end_state, MS_SPOOL_END_DONE, __ATOMIC_RELEASE);
    }
    return 0;
}
