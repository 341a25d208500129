/*
 * The texts the reduction leaves out, looked up one run or stack at a time after
 * ms_sweep_read: a run's label and why it was not measured, a stack's frames, the notes
 * of a run's processes, and how a run's main process ended when it left no exit record.
 */
#include "sweepread.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sweepdecode.h"
#include "sweepread_internal.h"

int ms_sweep_texts_open(sqlite3 *db, const char *name, ms_sweep_texts_t *t, char *err,
                        size_t errlen)
{
    int has_stacks = 0, has_label = 0, has_note = 0, has_reason = 0;
    int has_command = 0, has_exit = 0, has_signal = 0, has_cmdline = 0, has_batch = 0;

    memset(t, 0, sizeof *t);
    /* Schema version 1 has no stacks table, version 2 no note column; those texts are
     * then never found, as a damaged database's missing label column gives no labels. */
    if (ms__sweep_has_column(db, "stacks", "frames", &has_stacks) != 0 ||
        ms__sweep_has_column(db, "runs", "label", &has_label) != 0 ||
        ms__sweep_has_column(db, "processes", "note", &has_note) != 0 ||
        ms__sweep_has_column(db, "runs", "uninstrumented", &has_reason) != 0 ||
        ms__sweep_has_column(db, "runs", "command", &has_command) != 0 ||
        ms__sweep_has_column(db, "runs", "exit_code", &has_exit) != 0 ||
        ms__sweep_has_column(db, "runs", "term_signal", &has_signal) != 0 ||
        ms__sweep_has_column(db, "processes", "cmdline", &has_cmdline) != 0 ||
        ms__sweep_has_column(db, "runs", "batch_state", &has_batch) != 0)
        goto sql_error;
    if (has_batch && sqlite3_prepare_v2(db, "SELECT batch_state FROM runs WHERE run_id = ?", -1,
                                        &t->batch, NULL) != SQLITE_OK)
        goto sql_error;
    if (has_command && has_exit && has_signal && has_cmdline &&
        sqlite3_prepare_v2(db,
                           "SELECT r.exit_code, r.term_signal, CAST(p.cmdline AS BLOB),"
                           " CAST(r.command AS BLOB)"
                           " FROM runs r JOIN processes p ON p.run_id = r.run_id"
                           " WHERE r.run_id = ?1 AND p.proc_id = ?2",
                           -1, &t->main_end, NULL) != SQLITE_OK)
        goto sql_error;
    if (has_label && sqlite3_prepare_v2(db, "SELECT label FROM runs WHERE run_id = ?", -1,
                                        &t->label, NULL) != SQLITE_OK)
        goto sql_error;
    if (has_stacks && sqlite3_prepare_v2(db, "SELECT frames FROM stacks WHERE stack_id = ?", -1,
                                         &t->frames, NULL) != SQLITE_OK)
        goto sql_error;
    if (has_reason && sqlite3_prepare_v2(db, "SELECT uninstrumented FROM runs WHERE run_id = ?",
                                         -1, &t->reason, NULL) != SQLITE_OK)
        goto sql_error;
    if (has_note &&
        sqlite3_prepare_v2(db,
                           /* With min(), SQLite takes pid from the row that has it. */
                           "SELECT note, count(*), pid, min(proc_id) FROM processes"
                           " WHERE run_id = ? AND note IS NOT NULL AND note <> ''"
                           " GROUP BY note ORDER BY min(proc_id), note",
                           -1, &t->notes, NULL) != SQLITE_OK)
        goto sql_error;
    return 0;
sql_error:
    ms__sweep_db_error(db, ms__sweep_db_name(db, name), err, errlen);
    ms_sweep_texts_close(t);
    return -EIO;
}

void ms_sweep_texts_close(ms_sweep_texts_t *t)
{
    sqlite3_finalize(t->label);
    sqlite3_finalize(t->frames);
    sqlite3_finalize(t->notes);
    sqlite3_finalize(t->reason);
    sqlite3_finalize(t->main_end);
    sqlite3_finalize(t->batch);
    memset(t, 0, sizeof *t);
}

/* Steps a one-column lookup by key and copies the text found, or sets NULL. */
static int lookup_text(sqlite3_stmt *st, long long key, char **text)
{
    int s, rc = 0;

    *text = NULL;
    if (st == NULL)
        return 0;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, key);
    s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        if (v != NULL && (*text = strdup((const char *)v)) == NULL)
            rc = -ENOMEM;
    } else if (s != SQLITE_DONE) {
        rc = -EIO;
    }
    sqlite3_reset(st);
    return rc;
}

int ms_sweep_run_label(ms_sweep_texts_t *t, long long run_id, char **label)
{
    return lookup_text(t->label, run_id, label);
}

int ms_sweep_stack_frames(ms_sweep_texts_t *t, long long stack_id, char **frames)
{
    return lookup_text(t->frames, stack_id, frames);
}

int ms_sweep_run_reason(ms_sweep_texts_t *t, long long run_id, char **reason)
{
    return lookup_text(t->reason, run_id, reason);
}

int ms_sweep_run_batch_state(ms_sweep_texts_t *t, long long run_id, char **state)
{
    return lookup_text(t->batch, run_id, state);
}

/*
 * Whether a process's command line (cmdline, clen bytes: its arguments joined by spaces) is
 * that of the program the launcher started for a run whose command is command (mlen
 * bytes): the command itself (COMMAND's arguments, or env and its program), "sh -c" and
 * the line (--commands), or the command after the interpreter the kernel runs for a "#!"
 * script: an absolute path and at most one argument ("/usr/bin/python3 ./train.py").
 * Anything else is not taken for the main process: its status must not be lent to a
 * child. A command line cut at the shim's limit never matches.
 */
static int is_launched_cmdline(const unsigned char *cmdline, size_t clen,
                               const unsigned char *command, size_t mlen)
{
    static const char sh_c[] = "sh -c ";
    size_t plen, blanks = 0;

    if (cmdline == NULL || command == NULL || mlen == 0 || clen < mlen ||
        memcmp(cmdline + clen - mlen, command, mlen) != 0)
        return 0;
    if (clen == mlen)
        return 1;
    /* The prefix before the command, its separating blank included. */
    plen = clen - mlen;
    if (cmdline[plen - 1] != ' ')
        return 0;
    if (plen == sizeof sh_c - 1 && memcmp(cmdline, sh_c, plen) == 0)
        return 1;
    if (cmdline[0] != '/')
        return 0;
    for (size_t i = 0; i < plen - 1; i++)
        blanks += cmdline[i] == ' ';
    return blanks <= 1;
}

int ms_sweep_main_end(ms_sweep_texts_t *t, const ms_run_mem_t *r, ms_main_end_t *out,
                      int *known)
{
    long long v;
    int s;

    *known = 0;
    memset(out, 0, sizeof *out);
    if (t->main_end == NULL || r->main_no_exit == 0 || r->first_proc == 0)
        return 0;
    sqlite3_reset(t->main_end);
    sqlite3_bind_int64(t->main_end, 1, r->run_id);
    sqlite3_bind_int64(t->main_end, 2, r->first_proc);
    s = sqlite3_step(t->main_end);
    if (s == SQLITE_ROW &&
        is_launched_cmdline(sqlite3_column_blob(t->main_end, 2),
                            (size_t)sqlite3_column_bytes(t->main_end, 2),
                            sqlite3_column_blob(t->main_end, 3),
                            (size_t)sqlite3_column_bytes(t->main_end, 3))) {
        out->pid = r->main_pid;
        /* What wait() gave: a signal number, or an exit status; anything else says nothing. */
        if (ms__int_col(t->main_end, 1, 1, 64, &v) == MS__V_OK) {
            out->have_signal = 1;
            out->signal = (int)v;
            *known = 1;
        } else if (ms__int_col(t->main_end, 0, 0, 255, &v) == MS__V_OK) {
            out->exit_code = (int)v;
            *known = 1;
        }
    }
    sqlite3_reset(t->main_end);
    return s == SQLITE_ROW || s == SQLITE_DONE ? 0 : -EIO;
}

int ms_sweep_run_notes(ms_sweep_texts_t *t, long long run_id, ms_proc_note_t *notes, size_t max,
                       size_t *n, size_t *more)
{
    int s, rc = 0;

    *n = 0;
    *more = 0;
    if (t->notes == NULL)
        return 0;
    sqlite3_reset(t->notes);
    sqlite3_bind_int64(t->notes, 1, run_id);
    while ((s = sqlite3_step(t->notes)) == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(t->notes, 0);
        ms_proc_note_t *note;
        if (text == NULL || text[0] == '\0')
            continue; /* a blob that starts with a NUL byte */
        if (*n == max) {
            (*more)++;
            continue;
        }
        note = &notes[*n];
        note->text = strdup((const char *)text);
        if (note->text == NULL) {
            rc = -ENOMEM;
            break;
        }
        note->processes = (size_t)sqlite3_column_int64(t->notes, 1);
        note->pid = sqlite3_column_int64(t->notes, 2);
        (*n)++;
    }
    if (rc == 0 && s != SQLITE_DONE)
        rc = -EIO;
    sqlite3_reset(t->notes);
    if (rc != 0) {
        ms_sweep_notes_free(notes, *n);
        *n = 0;
        *more = 0;
    }
    return rc;
}

void ms_sweep_notes_free(ms_proc_note_t *notes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(notes[i].text);
        notes[i].text = NULL;
    }
}
