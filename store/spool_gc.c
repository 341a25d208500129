/* The removal rule of pools (see spool_gc.h). */
#include "spool_gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "memsweep/procfs.h"

int ms_spool_parse_boot_id(const char *text, size_t len, uint64_t *hi, uint64_t *lo)
{
    uint64_t v[2] = {0, 0};
    unsigned digits = 0;

    for (size_t i = 0; i < len && text[i] != '\n' && text[i] != '\0'; i++) {
        const char ch = text[i];
        unsigned d;
        if (ch == '-')
            continue;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            d = (unsigned)(ch - 'A' + 10);
        else
            return -EINVAL;
        if (digits >= 32)
            return -EINVAL;
        v[digits / 16] = v[digits / 16] << 4 | d;
        digits++;
    }
    if (digits != 32)
        return -EINVAL;
    *hi = v[0];
    *lo = v[1];
    return 0;
}

int ms_spool_host_self(ms_spool_host_t *h)
{
    char buf[64];
    struct stat st;
    ssize_t n;
    int fd;

    memset(h, 0, sizeof *h);
    if (stat("/proc/self/ns/pid", &st) != 0)
        return -errno;
    h->pidns_ino = (uint64_t)st.st_ino;
    fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof buf);
    close(fd);
    if (n > 0 && ms_spool_parse_boot_id(buf, (size_t)n, &h->boot_hi, &h->boot_lo) == 0)
        h->have_boot = 1;
    return h->have_boot ? 0 : -EINVAL;
}

int ms_spool_parse_stat_field(const char *stat, size_t len, int want, unsigned long long *out)
{
    size_t i = len;
    size_t pos;
    int field = 2; /* the command name's field */

    if (want < 3)
        return -EINVAL;
    /* The command name may hold spaces and parentheses: fields count from the last ')'. */
    while (i > 0 && stat[i - 1] != ')')
        i--;
    if (i == 0)
        return -EINVAL;
    pos = i;
    while (field < want - 1) {
        while (pos < len && stat[pos] == ' ')
            pos++;
        if (pos >= len)
            return -EINVAL;
        while (pos < len && stat[pos] != ' ')
            pos++;
        field++;
    }
    return ms_procfs_number(stat, len, &pos, out) == 0 ? 0 : -EINVAL;
}

int ms_spool_parse_start_ticks(const char *stat, size_t len, unsigned long long *ticks)
{
    return ms_spool_parse_stat_field(stat, len, 22, ticks);
}

int ms_spool_pid_alive(int32_t pid, uint64_t start_ticks)
{
    char path[64];
    char buf[1024];
    unsigned long long ticks;
    ssize_t n;
    int fd, rc;

    if (pid <= 0)
        return 0;
    /* Without its start time a reused pid cannot be told from the process. */
    if (start_ticks == 0)
        return -EINVAL;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        /*
         * Only "no such process" says it is gone. Running out of descriptors or memory,
         * or a /proc that hides other processes (hidepid), says nothing about it, and
         * taking it for gone would remove the pool of a process still writing.
         */
        rc = errno;
        return rc == ENOENT || rc == ESRCH ? 0 : -rc;
    }
    n = read(fd, buf, sizeof buf);
    rc = n < 0 ? errno : 0;
    close(fd);
    if (n < 0)
        return rc == ENOENT || rc == ESRCH ? 0 : -rc; /* ESRCH: it died since the open */
    if (n == 0 || ms_spool_parse_start_ticks(buf, (size_t)n, &ticks) != 0)
        return -EIO;
    if (ticks != start_ticks)
        return 0;
    /* A zombie writes nothing more: the state is the field after the name. */
    for (ssize_t i = n - 1; i > 0; i--) {
        if (buf[i] == ')') {
            if (i + 2 < n && (buf[i + 2] == 'Z' || buf[i + 2] == 'X'))
                return 0;
            break;
        }
    }
    return 1;
}

/*
 * The pid of a live process, other than this one, whose environment names the pool `name`
 * in MEMSWEEP_SPOOL (any directory: the file name is random and so unique); 0 for none. A
 * fork child that has not written yet is in no chunk of the pool, but it inherited the
 * variable, and may still claim a chunk: its pool must stay. A process of another user
 * cannot be read and cannot write to the pool either (mode 0600).
 */
static long attached_pid(const char *name)
{
    static const char var[] = "MEMSWEEP_SPOOL=";
    const size_t name_len = strlen(name);
    const long self = (long)getpid();
    char buf[65536];
    DIR *d = opendir("/proc");
    struct dirent *e;
    long found = 0;

    if (d == NULL || name_len == 0)
        goto out;
    while (found == 0 && (e = readdir(d)) != NULL) {
        char path[64];
        char *end;
        const long pid = strtol(e->d_name, &end, 10);
        ssize_t n;
        int fd;

        if (*end != '\0' || pid <= 0 || pid == self)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/environ", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
            continue; /* a zombie's, or not ours to read */
        buf[n] = '\0';
        for (char *v = buf; v < buf + n; v += strlen(v) + 1) {
            if (strncmp(v, var, sizeof var - 1) != 0)
                continue;
            const char *val = v + sizeof var - 1;
            const char *slash = strrchr(val, '/');
            const char *base = slash != NULL ? slash + 1 : val;
            if (strcmp(base, name) == 0)
                found = pid;
            break;
        }
    }
out:
    if (d != NULL)
        closedir(d);
    return found;
}

int ms_spool_all_gone(const ms_spool_t *sp, const ms_spool_host_t *h, char *why, size_t len)
{
    if (!h->have_boot || sp->hdr.boot_id_hi != h->boot_hi || sp->hdr.boot_id_lo != h->boot_lo) {
        snprintf(why, len, "written on another machine or boot (%s)", sp->hdr.host);
        return 0;
    }
    for (size_t i = 0; i < sp->n_procs; i++) {
        const ms_spool_proc_info_t *p = &sp->procs[i];
        if (!p->have_proc)
            continue;
        if (p->proc.pidns_ino != h->pidns_ino) {
            snprintf(why, len, "process %d is in another pid namespace", (int)p->proc.pid);
            return 0;
        }
        const int alive = ms_spool_pid_alive(p->proc.pid, p->proc.start_ticks);
        if (alive > 0) {
            snprintf(why, len, "process %d is still running", (int)p->proc.pid);
            return 0;
        }
        if (alive < 0) {
            snprintf(why, len, "cannot tell whether process %d is gone: %s",
                     (int)p->proc.pid, strerror(-alive));
            return 0;
        }
    }
    {
        const long pid = attached_pid(sp->name);
        if (pid > 0) {
            snprintf(why, len, "process %ld may still write to it (its environment names it)",
                     pid);
            return 0;
        }
    }
    return 1;
}

int ms_spool_removable(const ms_spool_t *sp, const ms_spool_host_t *h, int folded_all,
                       char *why, size_t len)
{
    struct stat st;

    if (!folded_all) {
        snprintf(why, len, "not folded completely");
        return 0;
    }
    if (!ms_spool_all_gone(sp, h, why, len))
        return 0;
    if (sp->n_unwritten > 0) {
        const time_t now = time(NULL);
        if (fstat(sp->fd, &st) != 0 || now - st.st_mtime < MS_SPOOL_STALE_S ||
            now - st.st_ctime < MS_SPOOL_STALE_S) {
            snprintf(why, len, "%llu chunks claimed but not written yet",
                     (unsigned long long)sp->n_unwritten);
            return 0;
        }
    }
    return 1;
}

int ms_spool_removal_confirmed(const ms_spool_t *sp, const ms_spool_host_t *h,
                               uint64_t claimed_then, int folded_all, char *why, size_t len)
{
    if (sp->claimed != claimed_then) {
        snprintf(why, len, "chunks claimed since its processes were found gone");
        return 0;
    }
    return ms_spool_removable(sp, h, folded_all, why, len);
}
