/*
 * The pool file of the run (include/memsweep/spool.h): opened from MEMSWEEP_SPOOL, or
 * created for a program measured without the launcher, and the claiming of its chunks.
 *
 * Nothing of the pool stays open: the constructor's descriptor is closed once the first
 * chunk is written, and a later claim or mapping opens the file by its path again,
 * checking that the path still names the same file. A claim runs in the sampler thread
 * (in its own descriptor table) or in a program thread inside one of the program's own
 * calls, with that thread's signals blocked, so that no handler of the program sees the
 * moment its lowest free descriptor number is taken.
 *
 * A page of a shared file mapping whose blocks do not exist is allocated when it is first
 * written; on a full filesystem that write raises SIGBUS in the program. So every chunk's
 * blocks are allocated (fallocate, or writing zeros where the filesystem cannot) before
 * the chunk is mapped, and a chunk that cannot be allocated is never mapped.
 */
#include "shim_internal.h"

#include "memsweep/env.h"
#include "memsweep/spooldir.h"
#include "memsweep/spoolpub.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Random bytes in a pool's file name (twice as many hex digits). */
#define NAME_RANDOM_BYTES 12

/*
 * The pool's path: in the page of the variables every process writes when it is short
 * enough, as the paths memsweep gives are, else in pool_path, whose page a process then
 * touches only for this.
 */
static char short_path[256];
static MS__COLD char pool_path[MS__PATH_MAX];
static const char *path_now = pool_path;
static MS__COLD char tmp_path[MS__PATH_MAX]; /* pool_path while it is written */
static ms_pool_info_t info;
static dev_t pool_dev;
static ino_t pool_ino;

/* The constructor's descriptor until the first chunk is mapped; -1 afterwards. */
static int kept_fd = -1;

const char *ms__pool_path(void)
{
    return path_now;
}

const ms_pool_info_t *ms__pool_info(void)
{
    return &info;
}

static int copy_path(const char *path)
{
    ms_fmt_t f;

    if (strnlen(path, sizeof(short_path)) < sizeof(short_path)) {
        ms__fmt_init(&f, short_path, sizeof(short_path));
        path_now = short_path;
    } else {
        ms__fmt_init(&f, pool_path, sizeof(pool_path));
        path_now = pool_path;
    }
    ms__fmt_str(&f, path);
    return f.truncated ? -ENAMETOOLONG : 0;
}

/* A file or directory only this user can reach. */
static int private_to_user(const struct stat *st, ms_fmt_t *why)
{
    if (st->st_uid != ms__sys_geteuid()) {
        ms__fmt_str(why, "not owned by this user");
        return -EPERM;
    }
    if ((st->st_mode & 077) != 0) {
        ms__fmt_str(why, "group or others have permissions on it");
        return -EPERM;
    }
    return 0;
}

static void take_header(const ms_spool_pool_t *h)
{
    info.flags = h->flags;
    info.interval_ms = h->interval_ms >= MS_MIN_INTERVAL_MS &&
                               h->interval_ms <= MS_MAX_INTERVAL_MS
                           ? h->interval_ms
                           : 0;
    info.chunk_bytes = h->chunk_bytes;
    info.pidns_ino = h->pidns_ino;
    info.watcher_pid = h->watcher_pid;
}

int ms__pool_open(const char *path, ms_fmt_t *why)
{
    ms_spool_pool_t h;
    struct stat st;
    ssize_t got;
    int fd, err;

    err = copy_path(path);
    if (err != 0) {
        ms__fmt_str(why, "path too long");
        return err;
    }
    fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        err = -errno;
        ms__fmt_str(why, strerror(errno));
        return err;
    }
    if (ms__sys_fstat(fd, &st) != 0) {
        err = -errno;
        ms__fmt_str(why, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        ms__fmt_str(why, "not a regular file");
        err = -EINVAL;
        goto fail;
    }
    err = private_to_user(&st, why);
    if (err != 0)
        goto fail;
    /* pread, never the mapping, to validate: a short file would fault. */
    got = pread(fd, &h, sizeof(h), 0);
    if (got != (ssize_t)sizeof(h) || st.st_size < MS_SPOOL_HEADER_BYTES) {
        ms__fmt_str(why, "too short for a pool header");
        err = -EPROTO;
        goto fail;
    }
    if (h.magic != MS_SPOOL_MAGIC || h.version != MS_SPOOL_VERSION ||
        h.header_bytes != MS_SPOOL_HEADER_BYTES) {
        ms__fmt_str(why, "not a pool of this version of memsweep");
        err = -EPROTO;
        goto fail;
    }
    if (h.chunk_bytes < MS_SPOOL_CHUNK_MIN || h.chunk_bytes > MS_SPOOL_CHUNK_MAX ||
        h.chunk_bytes % 4096 != 0) {
        ms__fmt_str(why, "its chunk size is out of range");
        err = -EPROTO;
        goto fail;
    }
    take_header(&h);
    pool_dev = st.st_dev;
    pool_ino = st.st_ino;
    kept_fd = fd;
    return 0;
fail:
    close(fd);
    return err;
}

/* mkdir 0700 unless it exists, then: a real directory of this user's, private to them. */
static int own_dir(const char *dir, ms_fmt_t *why)
{
    struct stat st;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        const int err = -errno;
        ms__fmt_str(why, strerror(errno));
        return err;
    }
    if (lstat(dir, &st) != 0) {
        const int err = -errno;
        ms__fmt_str(why, strerror(errno));
        return err;
    }
    if (S_ISLNK(st.st_mode)) {
        ms__fmt_str(why, "a symbolic link");
        return -ELOOP;
    }
    if (!S_ISDIR(st.st_mode)) {
        ms__fmt_str(why, "not a directory");
        return -ENOTDIR;
    }
    return private_to_user(&st, why);
}

/* "<hi>-<lo>" of /proc/sys/kernel/random/boot_id as two numbers; zeros when unreadable. */
static void boot_id(uint64_t *hi, uint64_t *lo)
{
    char buf[64];
    size_t len;
    int digits = 0;

    *hi = *lo = 0;
    if (ms__proc_read("/proc/sys/kernel/random/boot_id", buf, sizeof(buf), &len) != 0)
        return;
    for (size_t i = 0; i < len && digits < 32; i++) {
        const char c = buf[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            continue;
        if (digits < 16)
            *hi = *hi << 4 | d;
        else
            *lo = *lo << 4 | d;
        digits++;
    }
}

static int write_header(int fd, unsigned interval_ms)
{
    union {
        ms_spool_pool_t h;
        unsigned char bytes[MS_SPOOL_HEADER_BYTES];
    } u;
    struct utsname uts;
    size_t off = 0;

    memset(&u, 0, sizeof(u));
    u.h.magic = MS_SPOOL_MAGIC;
    u.h.version = MS_SPOOL_VERSION;
    u.h.header_bytes = MS_SPOOL_HEADER_BYTES;
    u.h.chunk_bytes = MS_SPOOL_CHUNK_BYTES;
    u.h.flags = 0;
    u.h.run_id = 0;
    u.h.created_ns = ms__clock_ns(CLOCK_REALTIME);
    u.h.interval_ms = interval_ms;
    boot_id(&u.h.boot_id_hi, &u.h.boot_id_lo);
    if (uname(&uts) == 0) {
        ms_fmt_t f;
        ms__fmt_init(&f, u.h.host, sizeof(u.h.host));
        ms__fmt_str(&f, uts.nodename);
    }
    /* The whole header is written, so that its blocks exist before anyone maps it. */
    while (off < sizeof(u.bytes)) {
        const ssize_t n = pwrite(fd, u.bytes + off, sizeof(u.bytes) - off, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        off += (size_t)n;
    }
    take_header(&u.h);
    return 0;
}

/* Makes relative absolute (MEMSWEEP_SPOOL_DIR may be given relative to the start dir). */
static int absolute(const char *path, char *out, size_t cap)
{
    ms_fmt_t f;

    ms__fmt_init(&f, out, cap);
    if (path[0] != '/') {
        if (getcwd(out, cap) == NULL)
            return -errno;
        f.len = strlen(out);
        ms__fmt_str(&f, "/");
    }
    ms__fmt_str(&f, path);
    return f.truncated ? -ENAMETOOLONG : 0;
}

/* A new random pool name in dir, into pool_path. */
static int pool_name(const char *dir, unsigned char *rnd, size_t n, ms_fmt_t *why)
{
    static const char hex[] = "0123456789abcdef";
    ms_fmt_t f;

    for (size_t i = 0; i < n; i += 8) {
        const uint64_t v = ms__random64();
        memcpy(rnd + i, &v, n - i < 8 ? n - i : 8);
    }
    ms__fmt_init(&f, pool_path, sizeof(pool_path));
    path_now = pool_path;
    ms__fmt_str(&f, dir);
    ms__fmt_str(&f, "/");
    for (size_t i = 0; i < n; i++) {
        ms__fmt_mem(&f, &hex[rnd[i] >> 4], 1);
        ms__fmt_mem(&f, &hex[rnd[i] & 15], 1);
    }
    ms__fmt_str(&f, MS_SPOOL_SUFFIX);
    /* Room for the suffix of the name it is written under, too. */
    if (f.truncated || f.len + sizeof(MS_SPOOL_NEW_SUFFIX) > sizeof(pool_path)) {
        ms__fmt_str(why, dir);
        ms__fmt_str(why, ": path too long");
        return -ENAMETOOLONG;
    }
    return 0;
}

int ms__pool_create(const char *db, unsigned interval_ms, ms_fmt_t *why)
{
    char dir[MS__PATH_MAX];
    char env_abs[MS__PATH_MAX];
    const char *env = getenv(MS_ENV_SPOOL_DIR);
    unsigned char rnd[NAME_RANDOM_BYTES];
    ms_fmt_t f;
    int on_network = 0;
    int fd, err, published;
    struct stat st;

    if (env != NULL && env[0] != '\0') {
        err = absolute(env, env_abs, sizeof(env_abs));
        if (err != 0) {
            ms__fmt_str(why, env);
            ms__fmt_str(why, ": path too long or no working directory");
            return err;
        }
        env = env_abs;
    } else {
        env = NULL;
    }
    err = ms_spooldir_for_db(dir, sizeof(dir), db, env);
    if (err != 0) {
        ms__fmt_str(why, db);
        ms__fmt_str(why, ": path too long");
        return err;
    }
    if (env == NULL) {
        /* The rule chose the node-local directory: the database is on a network filesystem. */
        char parent[64];
        size_t n;
        ms_spooldir_local_parent(parent, sizeof(parent), (unsigned)geteuid());
        n = strlen(parent);
        on_network = strncmp(dir, parent, n) == 0 && dir[n] == '/';
    }
    if (on_network) {
        char parent[64];
        ms_spooldir_local_parent(parent, sizeof(parent), (unsigned)geteuid());
        ms__fmt_str(why, parent);
        ms__fmt_str(why, ": ");
        err = own_dir(parent, why);
        if (err != 0)
            return err;
        ms__fmt_init(why, why->buf, why->cap);
    }
    ms__fmt_str(why, dir);
    ms__fmt_str(why, ": ");
    err = own_dir(dir, why);
    if (err != 0)
        return err;
    ms__fmt_init(why, why->buf, why->cap);

    /*
     * Written under a name no reader lists, then published whole (spoolpub.h): the file is
     * created once, and only the final name is drawn again if it is taken.
     */
    fd = -1;
    err = 0;
    published = 0; /* the failure, if any, is the publication's */
    for (int attempt = 0; attempt < 4; attempt++) {
        err = pool_name(dir, rnd, sizeof(rnd), why);
        if (err != 0) {
            if (fd >= 0) {
                close(fd);
                unlink(tmp_path);
            }
            return err;
        }
        if (fd < 0) {
            ms__fmt_init(&f, tmp_path, sizeof(tmp_path));
            ms__fmt_str(&f, pool_path);
            ms__fmt_str(&f, MS_SPOOL_NEW_SUFFIX);
            fd = open(tmp_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd < 0) {
                err = -errno;
                if (err == -EEXIST)
                    continue;
                break;
            }
            err = write_header(fd, interval_ms);
            if (err == 0 && fstat(fd, &st) != 0)
                err = -errno;
            if (err != 0) {
                published = 0;
                break;
            }
        }
        published = 1;
        err = ms_spool_publish(tmp_path, pool_path);
        if (err != -EEXIST)
            break;
    }
    if (err != 0) {
        ms__fmt_str(why, published ? pool_path : tmp_path);
        ms__fmt_str(why, ": ");
        ms__fmt_str(why, strerror(-err));
        if (fd >= 0) {
            close(fd);
            unlink(tmp_path);
        }
        return err;
    }
    pool_dev = st.st_dev;
    pool_ino = st.st_ino;
    kept_fd = fd;
    return 0;
}

/* The pool again, by its path, checked to be the file opened first. */
static int reopen(void)
{
    struct stat st;
    int fd = open(path_now, O_RDWR | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    if (ms__sys_fstat(fd, &st) != 0 || st.st_dev != pool_dev || st.st_ino != pool_ino) {
        close(fd);
        return -ESTALE;
    }
    return fd;
}

/*
 * Blocks exist for the chunk at [off, off + len): fallocate, or zeros written where the
 * filesystem has no fallocate. Both run whatever the file's size: another process that
 * claimed a later chunk first has already extended the file past this one, so the size
 * says nothing about whether this chunk's blocks exist. fallocate of blocks that exist
 * costs next to nothing, and the zeros go into a chunk nobody else writes.
 *
 * Where a page is larger than 4 KiB the mapping also covers [map_off, off) and the rest
 * of the chunk's last page, parts of the neighbouring chunks (or of the pool's header):
 * a store into this chunk makes the kernel allocate the whole page, and a hole anywhere
 * in it raises SIGBUS on a full filesystem. fallocate never changes data, so it covers
 * the whole page range (the file may then end up to a page past its last chunk, which
 * readers allow). Zeros would overwrite a neighbour's records, so without fallocate only
 * this chunk's own blocks are written, and of them only those past the first `keep`
 * bytes, which the image wrote already (a first chunk written with pwrite).
 */
static int allocate(int fd, off_t map_off, off_t off, size_t len, size_t keep, size_t page)
{
    static const unsigned char zeros[4096];
    const off_t end = (off_t)(((uint64_t)off + len + page - 1) & ~(uint64_t)(page - 1));
    size_t done = keep < len ? keep : len;

    if (fallocate(fd, 0, map_off, end - map_off) == 0)
        return 0;
    if (errno != EOPNOTSUPP && errno != ENOSYS)
        return -errno;
    while (done < len) {
        const size_t n = len - done < sizeof(zeros) ? len - done : sizeof(zeros);
        const ssize_t w = pwrite(fd, zeros, n, off + (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -ENOSPC;
        done += (size_t)w;
    }
    return 0;
}

/* Bytes of the mapping of the pool's header: its pages. */
static size_t header_len(void)
{
    const size_t page = (size_t)getpagesize();

    return (MS_SPOOL_HEADER_BYTES + page - 1) & ~(page - 1);
}

/* The pool's header, mapped for its shared counters; MAP_FAILED on failure. */
static ms_spool_pool_t *map_header(int fd)
{
    return ms__sys_mmap(NULL, header_len(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

static void add_lost(ms_spool_pool_t *h, int first)
{
    __atomic_fetch_add(first ? &h->lost_processes : &h->lost_chunks, 1, __ATOMIC_RELAXED);
}

/* Counts an image or a chunk that could not be had in the pool's header. */
static void count_lost(int fd, int first)
{
    ms_spool_pool_t *const h = map_header(fd);

    if (h == MAP_FAILED)
        return;
    add_lost(h, first);
    ms__sys_munmap(h, header_len());
}

/* Takes the next chunk's index by the atomic add on the header's next_chunk. */
static int claim_index(int fd, uint64_t *idx, int first)
{
    ms_spool_pool_t *const h = map_header(fd);
    int err = 0;

    if (h == MAP_FAILED)
        return -errno;
    *idx = __atomic_fetch_add(&h->next_chunk, 1, __ATOMIC_RELAXED);
    if (*idx >= MS_SPOOL_CHUNKS_MAX) {
        err = -ENOSPC;
        add_lost(h, first);
    }
    ms__sys_munmap(h, header_len());
    return err;
}

/* Allocates the blocks of chunk idx (past its first keep bytes, written) and maps it. */
static int map_index(int fd, uint64_t idx, size_t keep, ms_chunk_map_t *out)
{
    const size_t page = (size_t)getpagesize();
    const uint64_t off = ms__pool_offset(idx);
    /* Pages larger than a chunk's alignment: the mapping starts at the page below. */
    const uint64_t map_off = off & ~(uint64_t)(page - 1);
    int err;

    err = allocate(fd, (off_t)map_off, (off_t)off, info.chunk_bytes, keep, page);
    if (err != 0)
        return err;
    out->map_len = (size_t)(off - map_off) + info.chunk_bytes;
    out->map = ms__sys_mmap(NULL, out->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                            (off_t)map_off);
    if (out->map == MAP_FAILED)
        return -errno;
    out->chunk = (unsigned char *)out->map + (off - map_off);
    out->index = idx;
    return 0;
}

static int claim_on(int fd, ms_chunk_map_t *out, int first)
{
    uint64_t idx;
    int err = claim_index(fd, &idx, first);

    if (err != 0)
        return err;
    err = map_index(fd, idx, 0, out);
    if (err != 0)
        count_lost(fd, first);
    return err;
}

/* The watcher's FIFO: built at the first request; "" when the pool has none. */
static MS__COLD char follow_path[MS__PATH_MAX];
static atomic_int follow_state; /* 0 not built, 1 built, 2 none */

static int build_follow_path(void)
{
    const char *const pool = path_now;
    size_t dir = 0;
    ms_fmt_t f;

    if ((info.flags & MS_SPOOL_WATCHED) == 0 || info.watcher_pid <= 0)
        return -ENOENT;
    for (size_t i = 0; pool[i] != '\0'; i++)
        if (pool[i] == '/')
            dir = i + 1;
    ms__fmt_init(&f, follow_path, sizeof(follow_path));
    ms__fmt_mem(&f, pool, dir);
    ms__fmt_str(&f, MS_SPOOL_FOLLOW_PREFIX);
    ms__fmt_i64(&f, info.watcher_pid);
    return f.truncated ? -ENAMETOOLONG : 0;
}

int ms__pool_follow_request(const ms_spool_follow_t *msg)
{
    struct stat st;
    sigset_t before;
    int state = atomic_load(&follow_state);
    int fd, err = 0;

    if (state == 0) {
        /* Two threads may build it at once: each writes the same bytes. */
        state = build_follow_path() == 0 ? 1 : 2;
        atomic_store(&follow_state, state);
    }
    if (state != 1)
        return -ENOENT;
    fd = open(follow_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    /* Only the collector's FIFO: never a file someone put in its place. */
    sigemptyset(&before);
    (void)sigpending(&before);
    if (ms__sys_fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode) || st.st_uid != ms__sys_geteuid())
        err = -EINVAL;
    else if (write(fd, msg, sizeof(*msg)) != (ssize_t)sizeof(*msg))
        err = errno == EPIPE ? -EPIPE : -EAGAIN;
    close(fd);
    if (err == -EPIPE && !sigismember(&before, SIGPIPE)) {
        /*
         * The collector closed the FIFO between the open and the write: the kernel sent
         * this thread a SIGPIPE, held by its blocked signals, which would kill the
         * program once they are unblocked. It is the shim's, and taken back here.
         */
        const struct timespec none = {0, 0};
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        (void)sigtimedwait(&pipe, NULL, &none);
    }
    return err;
}

uint64_t ms__pool_offset(uint64_t idx)
{
    return MS_SPOOL_HEADER_BYTES + idx * (uint64_t)info.chunk_bytes;
}

int ms__pool_fd(void)
{
    const int fd = kept_fd;

    kept_fd = -1;
    return fd >= 0 ? fd : reopen();
}

int ms__pool_claim_index(int fd, uint64_t *idx)
{
    return claim_index(fd, idx, 1);
}

void ms__pool_lost(int fd, int first)
{
    count_lost(fd, first);
}

/* Runs fn on a descriptor of the pool, opened and closed with the thread's signals blocked. */
static int on_pool(int (*fn)(int fd, void *arg), void *arg)
{
    sigset_t all, old;
    int fd, err;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    fd = ms__pool_fd();
    err = fd < 0 ? fd : fn(fd, arg);
    if (fd >= 0)
        close(fd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

typedef struct {
    ms_chunk_map_t *out;
    uint64_t idx;
    size_t keep;
    int first;
} chunk_job_t;

static int map_job(int fd, void *arg)
{
    chunk_job_t *const j = arg;
    const int err = map_index(fd, j->idx, j->keep, j->out);

    if (err != 0)
        count_lost(fd, 0);
    return err;
}

static int claim_job(int fd, void *arg)
{
    chunk_job_t *const j = arg;

    return claim_on(fd, j->out, j->first);
}

int ms__pool_map(uint64_t idx, size_t keep, ms_chunk_map_t *out)
{
    chunk_job_t j = {out, idx, keep, 0};

    return on_pool(map_job, &j);
}

int ms__pool_claim(ms_chunk_map_t *out, int first)
{
    chunk_job_t j = {out, 0, 0, first};

    return on_pool(claim_job, &j);
}
