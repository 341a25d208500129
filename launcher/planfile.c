/* A sweep's plan written to a file and read back (see planfile.h). */
#include "planfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "numparse.h"

#define MAGIC "memsweep-plan 1"
#define MAX_PLAN_BYTES (256u << 20)

static int put_str(FILE *f, const char *s)
{
    return fwrite(s, 1, strlen(s) + 1, f) == strlen(s) + 1 ? 0 : -EIO;
}

static int put_num(FILE *f, size_t n)
{
    char b[32];

    snprintf(b, sizeof b, "%zu", n);
    return put_str(f, b);
}

int ms_planfile_write(const char *path, const ms_plan_source_t *src, char *err, size_t errlen)
{
    char *tmp = NULL;
    FILE *f;
    int rc = 0;

    if (access(path, F_OK) == 0) {
        ms_set_err(err, errlen, "%s: %s", path, strerror(EEXIST));
        return -EEXIST;
    }
    if (asprintf(&tmp, "%s.new", path) < 0) {
        ms_set_err(err, errlen, "%s", strerror(ENOMEM));
        return -ENOMEM;
    }
    f = fopen(tmp, "wxe");
    if (f == NULL) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", tmp, strerror(-rc));
        free(tmp);
        return rc;
    }
    rc = put_str(f, MAGIC);
    if (src->commands != NULL) {
        rc = rc ? rc : put_str(f, "commands");
        rc = rc ? rc : put_num(f, src->commands->n);
        for (size_t i = 0; rc == 0 && i < src->commands->n; i++)
            rc = put_str(f, src->commands->lines[i]);
    } else {
        rc = rc ? rc : put_str(f, "template");
        rc = rc ? rc : put_num(f, src->n_param_specs);
        for (size_t i = 0; rc == 0 && i < src->n_param_specs; i++)
            rc = put_str(f, src->param_specs[i]);
        rc = rc ? rc : put_num(f, src->argc);
        for (size_t i = 0; rc == 0 && i < src->argc; i++)
            rc = put_str(f, src->argv[i]);
    }
    if (fflush(f) != 0 || ferror(f))
        rc = -EIO;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0) {
        ms_set_err(err, errlen, "%s: %s", path, strerror(-rc));
        (void)unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* The next string of the text, or NULL past its end (or without a NUL). */
static const char *next(char *text, size_t len, size_t *pos)
{
    const char *s;
    const char *nul;

    if (*pos >= len)
        return NULL;
    s = text + *pos;
    nul = memchr(s, '\0', len - *pos);
    if (nul == NULL)
        return NULL;
    *pos += (size_t)(nul - s) + 1;
    return s;
}

static int next_count(char *text, size_t len, size_t *pos, size_t max, size_t *n)
{
    const char *s = next(text, len, pos);
    long long v;

    if (s == NULL || ms_parse_ll(s, 0, (long long)max, &v) != 0)
        return -EINVAL;
    *n = (size_t)v;
    return 0;
}

void ms_planfile_free(ms_planfile_t *p)
{
    ms_params_free(&p->params);
    ms_commands_free(&p->commands);
    free(p->argv);
    free(p->text);
    memset(p, 0, sizeof *p);
}

int ms_planfile_parse(char *text, size_t len, ms_planfile_t *out, char *err, size_t errlen)
{
    size_t pos = 0, n = 0;
    const char *kind;
    const char *magic;
    int rc = -EINVAL;

    memset(out, 0, sizeof *out);
    out->text = text;
    magic = next(text, len, &pos);
    kind = next(text, len, &pos);
    if (magic == NULL || strcmp(magic, MAGIC) != 0 || kind == NULL)
        goto bad;
    if (strcmp(kind, "commands") == 0) {
        if (next_count(text, len, &pos, len, &n) != 0 || n == 0)
            goto bad;
        out->commands.lines = calloc(n, sizeof *out->commands.lines);
        if (out->commands.lines == NULL)
            goto nomem;
        for (size_t i = 0; i < n; i++) {
            const char *s = next(text, len, &pos);
            if (s == NULL)
                goto bad;
            out->commands.lines[i] = strdup(s);
            if (out->commands.lines[i] == NULL)
                goto nomem;
            out->commands.n++;
        }
        out->plan.commands = &out->commands;
    } else if (strcmp(kind, "template") == 0) {
        if (next_count(text, len, &pos, len, &n) != 0)
            goto bad;
        for (size_t i = 0; i < n; i++) {
            const char *s = next(text, len, &pos);
            if (s == NULL)
                goto bad;
            rc = ms_params_add(&out->params, s, err, errlen);
            if (rc != 0)
                goto fail;
        }
        if (next_count(text, len, &pos, len, &n) != 0 || n == 0)
            goto bad;
        out->argv = calloc(n + 1, sizeof *out->argv);
        if (out->argv == NULL)
            goto nomem;
        for (size_t i = 0; i < n; i++) {
            const char *s = next(text, len, &pos);
            if (s == NULL)
                goto bad;
            out->argv[i] = (char *)s;
        }
        out->argc = n;
        out->plan.params = &out->params;
        out->plan.argv = out->argv;
        out->plan.argc = n;
    } else {
        goto bad;
    }
    if (pos != len)
        goto bad;
    if (out->plan.params == NULL)
        out->plan.params = &out->params;
    rc = ms_plan_init(&out->plan, err, errlen);
    if (rc != 0)
        goto fail;
    return 0;
bad:
    rc = -EINVAL;
    ms_set_err(err, errlen, "not a plan of memsweep run --slurm");
    goto fail;
nomem:
    rc = -ENOMEM;
    ms_set_err(err, errlen, "%s", strerror(ENOMEM));
fail:
    out->text = NULL;
    ms_planfile_free(out);
    out->text = text;
    return rc;
}

int ms_planfile_read(const char *path, ms_planfile_t *out, char *err, size_t errlen)
{
    struct stat st;
    char *text;
    ssize_t got;
    size_t len = 0;
    int rc;
    const int fd = open(path, O_RDONLY | O_CLOEXEC);

    memset(out, 0, sizeof *out);
    if (fd < 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_PLAN_BYTES) {
        close(fd);
        ms_set_err(err, errlen, "%s: not a plan of memsweep run --slurm", path);
        return -EINVAL;
    }
    text = malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        close(fd);
        ms_set_err(err, errlen, "%s", strerror(ENOMEM));
        return -ENOMEM;
    }
    while (len < (size_t)st.st_size &&
           (got = read(fd, text + len, (size_t)st.st_size - len)) > 0)
        len += (size_t)got;
    close(fd);
    rc = ms_planfile_parse(text, len, out, err, errlen);
    if (rc != 0) {
        char why[256];
        snprintf(why, sizeof why, "%s", err);
        ms_set_err(err, errlen, "%s: %s", path, why);
        free(text);
        out->text = NULL;
    }
    return rc;
}
