/*
 * When a pool may be removed: all its chunks are folded and committed, and every process
 * image in it is gone. Liveness is decided only where it can be: on the machine the pool
 * was written on (its boot_id), for processes in this pid namespace, by pid and start time
 * (so that a reused pid is not taken for the process). Anything undecidable keeps the pool.
 */
#ifndef MS_STORE_SPOOL_GC_H
#define MS_STORE_SPOOL_GC_H

#include <stddef.h>
#include <stdint.h>

#include "spool_read.h"

/*
 * A pool with chunks claimed but never written (a process killed between its claim and
 * its chunk's header) is removed once all its known processes are gone and the file has
 * not changed for this long: a process that is claiming a chunk writes it at once.
 */
#define MS_SPOOL_STALE_S 60

/* This machine and namespace, as pool headers name them. */
typedef struct ms_spool_host {
    int have_boot;
    uint64_t boot_hi, boot_lo; /* /proc/sys/kernel/random/boot_id */
    uint64_t pidns_ino;        /* st_ino of /proc/self/ns/pid */
} ms_spool_host_t;

/* Reads this machine's boot id and pid namespace. Returns 0 or -errno. */
int ms_spool_host_self(ms_spool_host_t *h);

/*
 * Parses a boot id ("8-4-4-4-12" hex digits, as /proc/sys/kernel/random/boot_id holds it):
 * its first 16 hex digits, read as one big-endian number, are *hi, the last 16 *lo.
 * Returns 0, or -EINVAL.
 */
int ms_spool_parse_boot_id(const char *text, size_t len, uint64_t *hi, uint64_t *lo);

/*
 * Field `want` (numbered as proc(5) numbers them, from 3) of a /proc/<pid>/stat text: 0,
 * or -EINVAL when the text has no such unsigned field.
 */
int ms_spool_parse_stat_field(const char *stat, size_t len, int want, unsigned long long *out);

/*
 * The start time (field 22, clock ticks since boot) in the text of /proc/<pid>/stat,
 * counted after the command name's closing parenthesis, which may itself hold spaces and
 * parentheses. Returns 0, or -EINVAL when the text is malformed.
 */
int ms_spool_parse_start_ticks(const char *stat, size_t len, unsigned long long *ticks);

/*
 * Whether the process pid that started at start_ticks is still there (a zombie counts as
 * gone: it will write nothing more). Returns 1 alive, 0 gone (no such process, or another
 * process under that pid: another start time), or a negative errno code when it cannot
 * be decided (no start time, no descriptor or memory left, /proc hiding other users'
 * processes): the caller keeps what the process may still write to.
 */
int ms_spool_pid_alive(int32_t pid, uint64_t start_ticks);

/*
 * Whether every process image of sp is gone, decided here (see above). Returns 1, or 0
 * with the reason it is kept in why.
 */
int ms_spool_all_gone(const ms_spool_t *sp, const ms_spool_host_t *h, char *why, size_t len);

/*
 * The first half of the removal rule: folded_all (every written chunk of the scan sp holds
 * folded to its committed bytes or found bad: ms_fold_stats_t), all processes of that scan
 * gone now, and no chunk claimed but unwritten unless the file is stale. Returns 1, or 0
 * with why.
 *
 * This alone never allows a removal. A process alive while sp was scanned may have written
 * more records, or its end, between the scan and the moment it was found gone; a process
 * that had not yet claimed its first chunk at the scan is not in it at all (a run whose
 * worker has not reached the shim's constructor looks empty). Only a scan taken after
 * this check, folded, is known to hold everything: see ms_spool_removal_confirmed.
 */
int ms_spool_removable(const ms_spool_t *sp, const ms_spool_host_t *h, int folded_all,
                       char *why, size_t len);

/*
 * The second half: ms_spool_removable said 1 for a scan of `claimed_then` claimed chunks,
 * and sp has been scanned again since and folded (folded_all as ms_fold_stats_t says).
 * Every process of the earlier scan was gone before this one began, so this scan holds all
 * it wrote; the pool may go when no chunk was claimed meanwhile (a newer process might
 * still be writing), all of this scan is folded and its processes are gone. Returns 1
 * when the pool may be removed, or 0 with why.
 */
int ms_spool_removal_confirmed(const ms_spool_t *sp, const ms_spool_host_t *h,
                               uint64_t claimed_then, int folded_all, char *why, size_t len);

#endif
