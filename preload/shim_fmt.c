/*
 * Fixed-buffer text and the shim's only output path. stdio is off limits inside another
 * program: it allocates, takes locks the program may hold, and shares buffers with the
 * program's own output. Lines go out whole with one write(2) each.
 */
#include "shim_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

void ms__fmt_init(ms_fmt_t *f, char *buf, size_t cap)
{
    f->buf = buf;
    f->cap = cap;
    f->len = 0;
    f->truncated = 0;
    if (cap > 0)
        buf[0] = '\0';
}

void ms__fmt_mem(ms_fmt_t *f, const char *s, size_t n)
{
    size_t room;

    if (f->cap == 0) {
        f->truncated = 1;
        return;
    }
    room = f->cap - 1 - f->len;
    if (n > room) {
        n = room;
        f->truncated = 1;
    }
    memcpy(f->buf + f->len, s, n);
    f->len += n;
    f->buf[f->len] = '\0';
}

void ms__fmt_str(ms_fmt_t *f, const char *s)
{
    ms__fmt_mem(f, s, strlen(s));
}

void ms__fmt_i64(ms_fmt_t *f, int64_t v)
{
    char digits[24];
    size_t i = sizeof(digits);
    /* Negate in unsigned arithmetic so that INT64_MIN does not overflow. */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        digits[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        digits[--i] = '-';
    ms__fmt_mem(f, digits + i, sizeof(digits) - i);
}

void ms__fmt_hex(ms_fmt_t *f, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    char digits[18];
    size_t i = sizeof(digits);

    do {
        digits[--i] = hex[v & 0xf];
        v >>= 4;
    } while (v != 0);
    digits[--i] = 'x';
    digits[--i] = '0';
    ms__fmt_mem(f, digits + i, sizeof(digits) - i);
}

/* Identity of descriptor 2 at load time; stderr_known is 0 when it was not open. */
static int stderr_known;
static dev_t stderr_dev;
static ino_t stderr_ino;
static int debug_on;

/*
 * Here, in the last file of the shim's call order, so that the diagnostics use it too: the
 * raw system call on x86-64; elsewhere libc's wrapper, whose struct stat may not be the
 * kernel's (32-bit) and which knows where fstat is missing.
 */
int ms__sys_fstat(int fd, struct stat *st)
{
#if defined(__x86_64__)
    return (int)syscall(SYS_fstat, fd, st);
#else
    return fstat(fd, st);
#endif
}

void ms__diag_init(int debug)
{
    struct stat st;

    debug_on = debug;
    stderr_known = ms__sys_fstat(STDERR_FILENO, &st) == 0;
    if (stderr_known) {
        stderr_dev = st.st_dev;
        stderr_ino = st.st_ino;
    }
}

int ms__diag_debug(void)
{
    return debug_on;
}

void ms__diag_debug_start(ms_fmt_t *f, char *buf, size_t cap)
{
    ms__fmt_init(f, buf, cap);
    ms__fmt_str(f, "memsweep[");
    ms__fmt_i64(f, getpid());
    ms__fmt_str(f, "]: ");
}

static void write_all(const char *buf, size_t len)
{
    struct stat st;
    size_t off = 0;

    if (!stderr_known)
        return;
    if (ms__sys_fstat(STDERR_FILENO, &st) != 0 || st.st_dev != stderr_dev ||
        st.st_ino != stderr_ino)
        return;
    while (off < len) {
        const ssize_t n = write(STDERR_FILENO, buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

void ms__diag_line(ms_fmt_t *f)
{
    if (f->cap < 2)
        return;
    /* Keep the newline even when the text was cut, so lines never run together. */
    if (f->len > f->cap - 2)
        f->len = f->cap - 2;
    f->buf[f->len++] = '\n';
    f->buf[f->len] = '\0';
    write_all(f->buf, f->len);
}

void ms__diag_debug_line(const char *what, int64_t n)
{
    char buf[256];
    ms_fmt_t f;

    if (!debug_on)
        return;
    ms__diag_debug_start(&f, buf, sizeof(buf));
    ms__fmt_str(&f, what);
    if (n >= 0)
        ms__fmt_i64(&f, n);
    ms__diag_line(&f);
}
